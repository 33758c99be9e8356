//! The `[monitor]` section: scheduled health checks and e-mail paging
//! (`relais monitor`).

use std::time::Duration;

use relais_bus::config::parse_duration;
use relais_bus::Secret;
use serde::{Deserialize, Deserializer};

use crate::ConfigError;

/// What `relais monitor` checks, how often, and whom it pages.
///
/// Durations are text with a unit: `"200ms"`, `"60s"`, `"1h"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSettings {
    /// Base URL of the edge to probe, e.g. `http://127.0.0.1:8080`.
    pub edge_url: String,
    /// Liveness checks (edge health, smoke translation, NATS, backlogs) run this often.
    #[serde(deserialize_with = "de_duration")]
    pub liveness_every: Duration,
    /// Deep checks (model version, training freshness) run this often.
    #[serde(deserialize_with = "de_duration")]
    pub deep_every: Duration,
    /// Bound on one check; a check that takes longer fails.
    #[serde(deserialize_with = "de_duration")]
    pub check_timeout: Duration,
    /// The English sentence of the smoke translation.
    pub smoke_text: String,
    /// The smoke translation fails when it takes longer than this.
    #[serde(deserialize_with = "de_duration")]
    pub smoke_max_latency: Duration,
    /// Most requests waiting on `TRANSLATE` for the `workers` consumer
    /// (undelivered plus unacknowledged) before `translate_backlog` fails.
    pub translate_backlog_max: u64,
    /// Most events waiting on `EVENTS` for the `audit` consumer (undelivered
    /// plus unacknowledged) before `events_backlog` fails.
    pub events_backlog_max: u64,
    /// `training_fresh` fails when the trainer's last success is older.
    #[serde(deserialize_with = "de_duration")]
    pub training_max_age: Duration,
    /// Whether a missing `trainer.last_success` fails `training_fresh`.
    pub require_training: bool,
    /// A check pages after failing this many times in a row.
    pub fail_after: u32,
    /// While a check keeps failing, page again after this long.
    #[serde(deserialize_with = "de_duration")]
    pub renotify_every: Duration,
    /// The mail server pages go through.
    pub smtp: SmtpSettings,
}

/// How the monitor reaches its mail server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Mail server host name.
    pub host: String,
    /// Mail server port (25, 587 for STARTTLS, 465 for TLS).
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: SmtpSecurity,
    /// Login, when the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for `username`; never logged.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender address, e.g. `Relais monitor <monitor@example.org>`.
    pub from: String,
    /// Recipients; empty turns paging off (checks, events and metrics go on).
    #[serde(default)]
    pub to: Vec<String>,
    /// Bound on one conversation with the mail server.
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
}

/// Transport security towards the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text (a relay on localhost or a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl MonitorSettings {
    /// Checks values serde cannot: an HTTP edge URL, positive durations and
    /// thresholds, a complete mail setup when recipients are listed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.to_owned(),
            })
        };
        let url = self.edge_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return bad("monitor.edge_url", "must start with http:// or https://");
        }
        if self.smoke_text.trim().is_empty() {
            return bad("monitor.smoke_text", "must not be empty");
        }
        if self.fail_after == 0 {
            return bad("monitor.fail_after", "must be at least 1");
        }
        for (key, d) in [
            ("monitor.liveness_every", self.liveness_every),
            ("monitor.deep_every", self.deep_every),
            ("monitor.check_timeout", self.check_timeout),
            ("monitor.smoke_max_latency", self.smoke_max_latency),
            ("monitor.training_max_age", self.training_max_age),
            ("monitor.renotify_every", self.renotify_every),
            ("monitor.smtp.timeout", self.smtp.timeout),
        ] {
            if d.is_zero() {
                return bad(key, "must be longer than zero");
            }
        }
        self.smtp.validate()
    }
}

impl SmtpSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.password.is_some() && self.username.is_none() {
            return bad(
                "monitor.smtp.password",
                "is set but monitor.smtp.username is not",
            );
        }
        if self.to.is_empty() {
            return Ok(());
        }
        if self.host.trim().is_empty() {
            return bad(
                "monitor.smtp.host",
                "must not be empty when recipients are set",
            );
        }
        if self.port == 0 {
            return bad("monitor.smtp.port", "must not be 0");
        }
        if !self.from.contains('@') {
            return bad("monitor.smtp.from", "must be an e-mail address");
        }
        if self.to.iter().any(|to| !to.contains('@')) {
            return bad(
                "monitor.smtp.to",
                "every recipient must be an e-mail address",
            );
        }
        Ok(())
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: write a whole number and a unit (ms, s, m, h), e.g. \"60s\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use figment::providers::{Format, Toml};

    use super::SmtpSecurity;
    use crate::Settings;

    fn load(extra: &str) -> Result<Settings, crate::ConfigError> {
        let figment = Settings::figment(None)?.merge(Toml::string(extra));
        Settings::from_figment(figment)
    }

    #[test]
    fn defaults_check_every_minute_and_page_nobody() {
        let s = load("").expect("defaults");
        let m = &s.monitor;
        assert_eq!(m.liveness_every, Duration::from_secs(60));
        assert_eq!(m.deep_every, Duration::from_secs(3600));
        assert_eq!(m.smoke_text, "I love cats.");
        assert_eq!(m.smoke_max_latency, Duration::from_secs(2));
        assert_eq!(m.training_max_age, Duration::from_secs(8 * 24 * 3600));
        assert!(!m.require_training);
        assert_eq!(m.fail_after, 2);
        assert_eq!(m.renotify_every, Duration::from_secs(6 * 3600));
        assert_eq!(m.smtp.security, SmtpSecurity::None);
        assert!(m.smtp.to.is_empty());
    }

    #[test]
    fn a_mail_setup_loads_with_its_password_redacted() {
        let s = load(
            "[monitor.smtp]\nhost = \"smtp.example.org\"\nport = 465\nsecurity = \"tls\"\n\
             username = \"relais\"\npassword = \"hunter2\"\nfrom = \"m@example.org\"\n\
             to = [\"a@example.org\", \"b@example.org\"]\n",
        )
        .expect("loads");
        assert_eq!(s.monitor.smtp.security, SmtpSecurity::Tls);
        assert_eq!(s.monitor.smtp.to.len(), 2);
        assert!(!format!("{:?}", s.monitor).contains("hunter2"));
    }

    #[test]
    fn bad_values_are_named() {
        for (toml, key) in [
            (
                "[monitor]\nedge_url = \"127.0.0.1:8080\"\n",
                "monitor.edge_url",
            ),
            ("[monitor]\nfail_after = 0\n", "monitor.fail_after"),
            (
                "[monitor]\nliveness_every = \"0s\"\n",
                "monitor.liveness_every",
            ),
            ("[monitor.smtp]\nto = [\"nobody\"]\n", "monitor.smtp.to"),
            (
                "[monitor.smtp]\npassword = \"p\"\n",
                "monitor.smtp.password",
            ),
        ] {
            let err = load(toml).expect_err(toml);
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
        let err = load("[monitor.smtp]\nsecurity = \"ssl\"\n").expect_err("security");
        assert!(err.to_string().contains("ssl"), "{err}");
    }
}
