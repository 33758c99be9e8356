//! The crate's one error type.

use std::path::PathBuf;

use relais_events::EventError;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a scheme this crate does not serve.
    #[error("unsupported database URL {url:?}: expected postgres://… or sqlite://…")]
    UnsupportedUrl { url: String },
    /// The directory of a SQLite file could not be created.
    #[error("cannot create the directory {path} for the SQLite database")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an event this build can read: redelivering them will
    /// never help (the audit consumer terminates such a message).
    #[error("undecodable event")]
    Undecodable(#[from] EventError),
    /// A pair given to an import cannot be stored; nothing of that import was kept.
    #[error("pair #{index} of the import is invalid: {reason}")]
    InvalidPair { index: usize, reason: &'static str },
    /// A row the operation needs does not exist.
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    /// A stored value could not be read back.
    #[error("stored {column} value {value:?} is not valid")]
    Corrupt { column: &'static str, value: String },
    /// Writing an export failed.
    #[error("writing the export failed")]
    Io(#[from] std::io::Error),
    /// The schema migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed a query, or could not be reached.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True when trying again later may succeed: the database is unreachable,
    /// the pool timed out, or the database asked for a retry (serialization
    /// failure, deadlock, SQLite busy/locked). The audit consumer naks such a
    /// message with a delay instead of terminating it.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(error) => sqlx_error_is_transient(error),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(error)) => {
                sqlx_error_is_transient(error)
            }
            _ => false,
        }
    }

    /// True when the input itself is bad and no retry can help.
    pub fn is_poison(&self) -> bool {
        matches!(self, StoreError::Undecodable(_))
    }
}

fn sqlx_error_is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| {
                if sqlite {
                    sqlite_code_is_transient(&code)
                } else {
                    sqlstate_is_transient(&code)
                }
            })
        }
        _ => false,
    }
}

/// SQLite result codes that mean "try again": BUSY and LOCKED, with their
/// extended variants (the low byte is the primary code).
fn sqlite_code_is_transient(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

/// PostgreSQL SQLSTATEs that mean "try again": connection exceptions,
/// serialization failure, deadlock, too many connections, lock not available,
/// operator/admin shutdown.
fn sqlstate_is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("57P")
        || matches!(code, "40001" | "40P01" | "53300" | "55P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_loss_and_pool_timeout_are_transient() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::Database(sqlx::Error::Io(refused)).is_transient());
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
        assert!(!StoreError::UnsupportedUrl {
            url: "mysql://x".into()
        }
        .is_transient());
    }

    #[test]
    fn retryable_database_codes_are_recognised() {
        for code in ["08006", "40001", "40P01", "57P01", "53300"] {
            assert!(sqlstate_is_transient(code), "{code}");
        }
        for code in ["23505", "23514", "42P01"] {
            assert!(!sqlstate_is_transient(code), "{code}");
        }
        for code in ["5", "517", "6", "262"] {
            assert!(sqlite_code_is_transient(code), "{code}");
        }
        for code in ["19", "2067", "1", "14"] {
            assert!(!sqlite_code_is_transient(code), "{code}");
        }
    }

    #[test]
    fn only_undecodable_events_are_poison() {
        let bad = serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err();
        assert!(StoreError::Undecodable(EventError::Json(bad)).is_poison());
        assert!(!StoreError::Database(sqlx::Error::PoolTimedOut).is_poison());
    }
}
