//! The `[audit]` section: the audit logger (`relais audit`) and the database
//! that the `relais dataset` commands use by default.

use std::time::Duration;

use relais_bus::config::parse_duration;
use relais_bus::Secret;
use serde::{Deserialize, Deserializer};

use crate::ConfigError;

/// How `relais audit` stores events and batches dataset versions.
///
/// Durations are text with a unit: `"500ms"`, `"10s"`, `"10m"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// `sqlite://PATH?mode=rwc` or `postgres://user:password@host/db`; may hold
    /// a password, so it is a [`Secret`] and never logged.
    pub database_url: Secret,
    /// Events handled at once.
    pub concurrency: usize,
    /// Bound on getting a database connection; keep it under the consumer's
    /// ack wait (10 s) so a stuck write is retried, not redelivered in parallel.
    #[serde(deserialize_with = "de_duration")]
    pub db_acquire_timeout: Duration,
    /// Redelivery delay after a failed write: doubles per delivery from this...
    #[serde(deserialize_with = "de_duration")]
    pub retry_min: Duration,
    /// ...up to this.
    #[serde(deserialize_with = "de_duration")]
    pub retry_max: Duration,
    /// Deliveries of one event before it is dead-lettered.
    pub max_deliver: i64,
    /// Publish `DatasetUpdated` once this many accepted corrections wait...
    pub dataset_batch_pairs: u64,
    /// ...or once the first of them has waited this long.
    #[serde(deserialize_with = "de_duration")]
    pub dataset_batch_window: Duration,
    /// How often corrections still pending are curated again (a correction
    /// recorded before the translation it corrects).
    #[serde(deserialize_with = "de_duration")]
    pub curation_sweep: Duration,
}

impl AuditSettings {
    /// Checks values serde cannot: a supported URL, positive limits, ordered delays.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.to_owned(),
            })
        };
        let url = self.database_url.expose();
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return bad(
                "audit.database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            );
        }
        if self.concurrency == 0 {
            return bad("audit.concurrency", "must be at least 1");
        }
        if self.max_deliver < 1 {
            return bad("audit.max_deliver", "must be at least 1");
        }
        if self.dataset_batch_pairs == 0 {
            return bad("audit.dataset_batch_pairs", "must be at least 1");
        }
        for (key, d) in [
            ("audit.db_acquire_timeout", self.db_acquire_timeout),
            ("audit.retry_min", self.retry_min),
            ("audit.dataset_batch_window", self.dataset_batch_window),
            ("audit.curation_sweep", self.curation_sweep),
        ] {
            if d.is_zero() {
                return bad(key, "must be longer than zero");
            }
        }
        if self.retry_max < self.retry_min {
            return bad(
                "audit.retry_max",
                "must not be shorter than audit.retry_min",
            );
        }
        Ok(())
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: write a whole number and a unit (ms, s, m, h), e.g. \"10s\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Toml};

    use crate::Settings;

    fn load(extra: &str) -> Result<Settings, crate::ConfigError> {
        let figment = Settings::figment(None)?.merge(Toml::string(extra));
        Settings::from_figment(figment)
    }

    #[test]
    fn defaults_use_the_local_sqlite_file() {
        let s = load("").expect("defaults");
        assert_eq!(
            s.audit.database_url.expose(),
            "sqlite://var/relais.db?mode=rwc"
        );
        assert_eq!(s.audit.dataset_batch_pairs, 20);
        assert_eq!(
            s.audit.dataset_batch_window,
            std::time::Duration::from_secs(600)
        );
        assert!(!format!("{:?}", s.audit).contains("relais.db"));
    }

    #[test]
    fn bad_values_are_named() {
        let err = load("[audit]\ndatabase_url = \"mysql://x\"\n").expect_err("scheme");
        assert!(err.to_string().contains("audit.database_url"), "{err}");
        let err = load("[audit]\nretry_min = \"10s\"\nretry_max = \"1s\"\n").expect_err("order");
        assert!(err.to_string().contains("audit.retry_max"), "{err}");
        let err = load("[audit]\nmax_deliver = 0\n").expect_err("deliveries");
        assert!(err.to_string().contains("audit.max_deliver"), "{err}");
    }
}
