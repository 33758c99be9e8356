//! The `[worker]` section: the translation worker (`relais worker`).

use std::path::PathBuf;
use std::time::Duration;

use relais_bus::config::parse_duration;
use serde::{Deserialize, Deserializer};

use crate::ConfigError;

/// How `relais worker` loads its model and batches requests.
///
/// Durations are text with a unit: `"20ms"`, `"3s"`, `"10s"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// The model directory (`model.safetensors`, `model.json`, `tokenizer.json`).
    pub model_dir: PathBuf,
    /// This worker's id, named on every event it publishes; empty picks a
    /// random short id at start.
    #[serde(default)]
    pub worker_id: String,
    /// Most requests decoded together in one batch.
    pub max_batch: usize,
    /// Longest a request waits for others to join its batch.
    #[serde(deserialize_with = "de_duration")]
    pub max_wait: Duration,
    /// While a batch decodes, an in-progress ack is sent this often so the
    /// server does not redeliver it; keep it well under `ack_wait`.
    #[serde(deserialize_with = "de_duration")]
    pub progress_every: Duration,
    /// The `workers` consumer's ack wait: a request not acknowledged (nor
    /// marked in progress) this long after delivery goes to another worker.
    #[serde(deserialize_with = "de_duration")]
    pub ack_wait: Duration,
    /// Deliveries of one request before it becomes a `deliveries_exhausted`
    /// failure event.
    pub max_deliver: i64,
    /// Serve the registry's production version and follow its promotions.
    #[serde(default)]
    pub follow_registry: bool,
    /// Where registry versions are downloaded.
    #[serde(default = "default_model_cache")]
    pub model_cache: PathBuf,
    /// How the model's weights are held in memory: `int8` (per-channel
    /// quantised, faster) or `f32` (as trained).
    #[serde(default = "default_precision")]
    pub precision: String,
    /// Beam width of the search: 1 is greedy (fastest), 4 a little better.
    #[serde(default = "default_beam")]
    pub beam: usize,
}

fn default_precision() -> String {
    "int8".to_owned()
}

fn default_beam() -> usize {
    1
}

fn default_model_cache() -> PathBuf {
    PathBuf::from(".relais/models")
}

impl WorkerSettings {
    /// Checks values serde cannot: a model directory, positive limits, a
    /// progress interval under the ack wait, a valid worker id.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.model_dir.as_os_str().is_empty() {
            return bad("worker.model_dir", "must not be empty");
        }
        let id_ok = self
            .worker_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return bad(
                "worker.worker_id",
                "use only ASCII letters, digits, `-` and `_`",
            );
        }
        if self.max_batch == 0 {
            return bad("worker.max_batch", "must be at least 1");
        }
        if !matches!(self.precision.as_str(), "int8" | "f32") {
            return bad("worker.precision", "must be \"int8\" or \"f32\"");
        }
        if !(1..=16).contains(&self.beam) {
            return bad("worker.beam", "must be between 1 and 16");
        }
        if self.max_deliver < 1 {
            return bad("worker.max_deliver", "must be at least 1");
        }
        for (key, d) in [
            ("worker.progress_every", self.progress_every),
            ("worker.ack_wait", self.ack_wait),
        ] {
            if d.is_zero() {
                return bad(key, "must be longer than zero");
            }
        }
        if self.progress_every >= self.ack_wait {
            return bad(
                "worker.progress_every",
                "must be shorter than worker.ack_wait, or long batches are redelivered",
            );
        }
        if self.max_wait >= self.ack_wait {
            return bad(
                "worker.max_wait",
                "must be shorter than worker.ack_wait, or waiting requests are redelivered",
            );
        }
        Ok(())
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: write a whole number and a unit (ms, s, m, h), e.g. \"20ms\""
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
    fn defaults_load_the_shipped_model() {
        let s = load("").expect("defaults");
        assert_eq!(
            s.worker.model_dir,
            std::path::PathBuf::from("models/default")
        );
        assert!(s.worker.worker_id.is_empty());
        assert_eq!(s.worker.max_batch, 16);
        assert_eq!(s.worker.max_wait, std::time::Duration::ZERO);
        assert_eq!(s.worker.max_deliver, 3);
        assert!(s.worker.follow_registry);
    }

    #[test]
    fn bad_values_are_named() {
        for (toml, key) in [
            ("[worker]\nmax_batch = 0\n", "worker.max_batch"),
            ("[worker]\nworker_id = \"a.b\"\n", "worker.worker_id"),
            (
                "[worker]\nprogress_every = \"10s\"\nack_wait = \"10s\"\n",
                "worker.progress_every",
            ),
            ("[worker]\nmax_wait = \"1m\"\n", "worker.max_wait"),
            ("[worker]\nmax_deliver = 0\n", "worker.max_deliver"),
        ] {
            let err = load(toml).expect_err(toml);
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
    }
}
