//! The `[edge]` section: the HTTP front (`relais edge`).
//!
//! It lives here rather than in `relais-edge` so that loading the configuration
//! never compiles the HTTP stack into services that do not serve HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use relais_bus::config::parse_duration;
use relais_bus::Secret;
use serde::{Deserialize, Deserializer};

use crate::ConfigError;

/// How `relais edge` serves HTTP and bounds its clients.
///
/// Durations are text with a unit: `"500ms"`, `"10s"`, `"1m"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSettings {
    /// Address and port to listen on (`0` as port picks a free one).
    pub listen: SocketAddr,
    /// This edge's id, the last token of its results subjects; empty picks a
    /// random short id at start.
    #[serde(default)]
    pub edge_id: String,
    /// How long a translation may take before the caller gets a 504.
    #[serde(deserialize_with = "de_duration")]
    pub request_timeout: Duration,
    /// Bound on publishing a request to JetStream; past it the caller gets a 503.
    #[serde(deserialize_with = "de_duration")]
    pub publish_timeout: Duration,
    /// Bound on asking the audit service whether a feedback's translation id is
    /// known; past it (or with no audit service running) feedback gets a 503.
    #[serde(deserialize_with = "de_duration")]
    pub lookup_timeout: Duration,
    /// Largest request body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
    /// Most characters in one request's text (sum over a LibreTranslate batch).
    pub max_chars: usize,
    /// Most sentences in one text.
    pub max_sentences: usize,
    /// Most texts in one LibreTranslate batch (`q` as an array).
    pub max_batch: usize,
    /// Most characters in a feedback correction.
    pub max_correction_chars: usize,
    /// Per-client-IP rate limit for requests without an API key.
    pub rate_limit: RateLimitSettings,
    /// Accepted API keys, each with its own rate limit.
    #[serde(default)]
    pub api_keys: Vec<ApiKeySettings>,
    /// Refuse translation requests that carry no valid API key.
    #[serde(default)]
    pub require_api_key: bool,
    /// `/readyz` wants a worker answer (completion or failure) within this window.
    #[serde(deserialize_with = "de_duration")]
    pub ready_window: Duration,
    /// The built website served at `/`.
    pub static_dir: PathBuf,
}

/// A token bucket: `per_second` refill, `burst` capacity.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

/// One API key and its own limit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// Who holds the key (logged and sent on events as the client; the key never is).
    pub name: String,
    /// The key itself; never logged.
    pub key: Secret,
    /// This key's rate limit.
    pub rate_limit: RateLimitSettings,
}

impl EdgeSettings {
    /// Checks values serde cannot: positive limits, a valid edge id, distinct keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.to_owned(),
            })
        };
        let id_ok = self.edge_id.is_empty()
            || self
                .edge_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return bad(
                "edge.edge_id",
                "use only ASCII letters, digits, `-` and `_` (it is a NATS subject token)",
            );
        }
        for (key, value) in [
            ("edge.max_body_bytes", self.max_body_bytes),
            ("edge.max_chars", self.max_chars),
            ("edge.max_sentences", self.max_sentences),
            ("edge.max_batch", self.max_batch),
            ("edge.max_correction_chars", self.max_correction_chars),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1");
            }
        }
        for (key, d) in [
            ("edge.request_timeout", self.request_timeout),
            ("edge.publish_timeout", self.publish_timeout),
            ("edge.lookup_timeout", self.lookup_timeout),
            ("edge.ready_window", self.ready_window),
        ] {
            if d.is_zero() {
                return bad(key, "must be longer than zero");
            }
        }
        self.rate_limit.validate("edge.rate_limit")?;
        for (i, k) in self.api_keys.iter().enumerate() {
            k.rate_limit.validate("edge.api_keys.rate_limit")?;
            if k.key.expose().trim().is_empty() || k.name.trim().is_empty() {
                return bad("edge.api_keys", "every key needs a non-empty name and key");
            }
            if self.api_keys[..i]
                .iter()
                .any(|o| o.key.expose() == k.key.expose())
            {
                return bad("edge.api_keys", "the same key is listed twice");
            }
        }
        if self.require_api_key && self.api_keys.is_empty() {
            return bad(
                "edge.require_api_key",
                "is true but edge.api_keys is empty: no client could translate",
            );
        }
        Ok(())
    }
}

impl RateLimitSettings {
    fn validate(&self, key: &'static str) -> Result<(), ConfigError> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) || self.burst == 0 {
            return Err(ConfigError::Value {
                key,
                reason: "per_second must be a positive number and burst at least 1".into(),
            });
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
        let figment = Settings::figment(None)
            .expect("defaults")
            .merge(Toml::string(extra));
        Settings::from_figment(figment)
    }

    #[test]
    fn defaults_describe_a_local_edge() {
        let s = load("").expect("defaults are valid");
        assert_eq!(s.edge.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.edge.request_timeout.as_secs(), 10);
        assert_eq!(s.edge.lookup_timeout.as_secs(), 1);
        assert!(s.edge.api_keys.is_empty());
        assert_eq!(s.edge.static_dir, std::path::PathBuf::from("frontend/dist"));
    }

    #[test]
    fn keys_load_and_bad_values_are_named() {
        let s = load(
            "[[edge.api_keys]]\nname = \"a\"\nkey = \"k\"\nrate_limit = { per_second = 1.0, burst = 2 }\n",
        )
        .expect("a key loads");
        assert_eq!(s.edge.api_keys[0].key.expose(), "k");
        assert!(
            !format!("{s:?}").contains("key: \"k\""),
            "keys are redacted"
        );
        for (toml, key) in [
            ("[edge]\nedge_id = \"a.b\"\n", "edge.edge_id"),
            ("[edge]\nmax_chars = 0\n", "edge.max_chars"),
            ("[edge]\nrequire_api_key = true\n", "edge.require_api_key"),
            ("[edge.rate_limit]\nburst = 0\n", "edge.rate_limit"),
        ] {
            let err = load(toml).expect_err(toml);
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
        let err = load("[edge]\nrequest_timeout = \"10\"\n").expect_err("no unit");
        assert!(err.to_string().contains("invalid duration"), "{err}");
    }
}
