//! Connecting, migrating, and the small queries every caller needs.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

use crate::StoreError;

/// The schema migrations, embedded in the binary: `(version, description, sql)`.
/// The same files run on PostgreSQL and SQLite.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (production).
    Postgres,
    /// SQLite (the embedded default).
    Sqlite,
}

/// How a [`Store`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size; `None` picks 10 for PostgreSQL, 4 for a SQLite file (1 in memory).
    pub max_connections: Option<u32>,
    /// How long getting a connection may take before the operation fails with a
    /// transient error (this includes the first connection, in `connect`).
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A table of the schema, for [`Store::count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Every event as received.
    Events,
    /// One row per translation request.
    Translations,
    /// User corrections.
    Feedback,
    /// Training pairs.
    DatasetPairs,
    /// Dataset versions.
    DatasetVersions,
    /// Model versions.
    ModelVersions,
}

impl Table {
    /// The table's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Translations => "translations",
            Table::Feedback => "feedback",
            Table::DatasetPairs => "dataset_pairs",
            Table::DatasetVersions => "dataset_versions",
            Table::ModelVersions => "model_versions",
        }
    }
}

/// The storage of Relais: a pool on PostgreSQL or SQLite with the schema migrated.
///
/// Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `postgres://…` (or `postgresql://…`) or `sqlite://path?mode=rwc`
    /// (the file's directory is created) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, settings: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let options = match backend {
            Backend::Postgres => {
                AnyPoolOptions::new().max_connections(settings.max_connections.unwrap_or(10))
            }
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(dir) = path.as_deref().and_then(Path::parent) {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                            path: dir.to_path_buf(),
                            source,
                        })?;
                    }
                }
                // An in-memory database exists once per connection: keep one.
                let max = match path {
                    None => 1,
                    Some(_) => settings.max_connections.unwrap_or(4),
                };
                AnyPoolOptions::new()
                    .max_connections(max)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
            }
        };
        let pool = options
            .acquire_timeout(settings.acquire_timeout)
            .connect(url)
            .await?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Number of rows in `table` (tests and the monitor).
    pub async fn count(&self, table: Table) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        let row = sqlx::query(&sql).fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = Migrator::new(Embedded).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }
}

/// The embedded [`MIGRATIONS`] as a sqlx migration source.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(StoreError::UnsupportedUrl { url: redact(url) })
    }
}

/// The URL without credentials, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The file of a `sqlite:` URL, `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// A timestamp as stored: RFC 3339, UTC, microseconds, so text order is time order.
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a stored timestamp back.
pub(crate) fn parse_timestamp(
    column: &'static str,
    text: Option<String>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| StoreError::Corrupt {
                column,
                value: text,
            })
    })
    .transpose()
}

/// Reads a text column that holds a UUID.
pub(crate) fn uuid_column(row: &AnyRow, column: &'static str) -> Result<uuid::Uuid, StoreError> {
    let text: String = row.try_get(column)?;
    uuid::Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt {
        column,
        value: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            backend_of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            backend_of("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            backend_of("sqlite://var/relais.db?mode=rwc").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(backend_of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        let err = backend_of("mysql://user:secret@host/db").unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl { .. }));
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://var/relais.db?mode=rwc"),
            Some(PathBuf::from("var/relais.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/y.db"),
            Some(PathBuf::from("/tmp/x/y.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://:memory:"), None);
    }

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let early = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.5Z")
            .unwrap()
            .to_utc();
        let late = early + chrono::Duration::microseconds(1);
        assert!(timestamp(early) < timestamp(late));
        assert_eq!(timestamp(early), "2026-01-02T03:04:05.500000Z");
        let back = parse_timestamp("t", Some(timestamp(late))).unwrap();
        assert_eq!(back, Some(late));
        assert!(parse_timestamp("t", Some("yesterday".into())).is_err());
    }
}
