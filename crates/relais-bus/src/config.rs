//! Connection settings, embeddable in a service's configuration.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Default server URL.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// How to reach NATS.
///
/// Durations are written as text with a unit: `"500ms"`, `"5s"`, `"2m"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The service's NATS user.
    pub user: Option<String>,
    /// That user's password; never logged.
    pub password: Option<Secret>,
    /// Connection name shown by the server, e.g. `relais-worker`.
    pub name: String,
    /// Prefix of reply subjects (`_INBOX_worker`); must match the server's permissions.
    pub inbox_prefix: Option<String>,
    /// Bound on the first connection attempt.
    #[serde(deserialize_with = "de_duration")]
    pub connect_timeout: Duration,
    /// How long a JetStream publish keeps retrying before giving up.
    #[serde(deserialize_with = "de_duration")]
    pub publish_retry_for: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: DEFAULT_URL.to_owned(),
            user: None,
            password: None,
            name: "relais".to_owned(),
            inbox_prefix: None,
            connect_timeout: Duration::from_secs(5),
            publish_retry_for: Duration::from_secs(30),
        }
    }
}

impl BusConfig {
    /// Defaults with another URL.
    pub fn with_url(url: impl Into<String>) -> Self {
        BusConfig {
            url: url.into(),
            ..BusConfig::default()
        }
    }

    /// Sets user and password.
    #[must_use]
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self.password = Some(Secret::new(password));
        self
    }

    /// Sets the connection name.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the inbox prefix.
    #[must_use]
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = Some(prefix.into());
        self
    }
}

/// A secret string: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Parses `"250ms"`, `"5s"`, `"2m"`, `"1h"` (a whole number and a unit).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: write a whole number and a unit (ms, s, m, h), e.g. \"5s\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let cfg = BusConfig::default().credentials("worker", "hunter2");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(cfg.password.as_ref().map(Secret::expose), Some("hunter2"));
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_unknown_fields() {
        let cfg: BusConfig =
            serde_json::from_str(r#"{"user":"edge","password":"p","connect_timeout":"250ms"}"#)
                .expect("valid");
        assert_eq!(cfg.url, DEFAULT_URL);
        assert_eq!(cfg.connect_timeout, Duration::from_millis(250));
        assert_eq!(cfg.user.as_deref(), Some("edge"));
        assert!(serde_json::from_str::<BusConfig>(r#"{"pasword":"x"}"#).is_err());
        assert!(serde_json::from_str::<BusConfig>(r#"{"connect_timeout":"5"}"#).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("10ms"), Some(Duration::from_millis(10)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        for bad in ["", "s", "5", "5 days", "-1s", "1.5s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
