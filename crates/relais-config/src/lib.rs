//! Layered configuration for every Relais process.
//!
//! Layout:
//! - [`Settings`]: the whole configuration, one section per concern.
//! - [`Settings::load`]: embedded defaults (`defaults.toml`, commented) → an
//!   optional TOML file → `RELAIS_<SECTION>__<KEY>` environment variables.
//! - [`EdgeSettings`] (module `edge`): the `[edge]` section of `relais edge`.
//! - [`AuditSettings`] (module `audit`): the `[audit]` section of `relais audit`
//!   and the default database of `relais dataset`.
//! - [`WorkerSettings`] (module `worker`): the `[worker]` section of `relais worker`.
//! - [`MonitorSettings`] (module `monitor`): the `[monitor]` section of `relais monitor`.
//! - [`TrainerSettings`] (module `trainer`): the `[trainer]` section of `relais trainer`.
//! - [`DEFAULTS_TOML`]: the embedded defaults, printed by `relais config defaults`.
//!
//! Unknown keys are rejected; values are validated once at start-up so a
//! service never starts half-configured. Secrets (NATS passwords) are redacted
//! by their types' `Debug` implementations and never logged.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

mod audit;
mod edge;
mod monitor;
mod trainer;
mod worker;

pub use audit::AuditSettings;
pub use edge::{ApiKeySettings, EdgeSettings, RateLimitSettings};
pub use monitor::{MonitorSettings, SmtpSecurity, SmtpSettings};
pub use relais_bus::BusConfig;
pub use relais_telemetry::TelemetrySettings;
pub use trainer::TrainerSettings;
pub use worker::WorkerSettings;

/// The commented defaults compiled into the binary.
pub const DEFAULTS_TOML: &str = include_str!("../defaults.toml");

/// Environment variables with this prefix override configuration keys.
pub const ENV_PREFIX: &str = "RELAIS_";

/// The whole configuration of a Relais process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub nats: BusConfig,
    pub telemetry: TelemetrySettings,
    pub dev: DevSettings,
    pub edge: EdgeSettings,
    pub audit: AuditSettings,
    pub worker: WorkerSettings,
    pub monitor: MonitorSettings,
    pub trainer: TrainerSettings,
}

/// The `[dev]` section: how `relais dev` runs the stack on one machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSettings {
    pub nats_server_bin: String,
    pub data_dir: PathBuf,
    #[serde(default)]
    pub metrics_addr: String,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {key}: {reason}")]
    Value { key: &'static str, reason: String },
}

impl Settings {
    /// Loads defaults, then `file` when given, then `RELAIS_…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    /// The layered sources, before extraction (exposed for tests and for
    /// sections that later crates add).
    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only `SECTION__KEY` variables are configuration; others such as
        // RELAIS_CONFIG or RELAIS_TEST_NATS_URL are not keys.
        let env = Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains("__"))
            .split("__");
        Ok(figment.merge(env))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.nats.url.trim();
        let scheme_ok = ["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        if !scheme_ok {
            return Err(ConfigError::Value {
                key: "nats.url",
                reason: format!("{url:?} must start with nats://, tls://, ws:// or wss://"),
            });
        }
        if self.dev.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Value {
                key: "dev.data_dir",
                reason: "must not be empty".into(),
            });
        }
        let dev_metrics = self.dev.metrics_addr.trim();
        if !dev_metrics.is_empty() && dev_metrics.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Value {
                key: "dev.metrics_addr",
                reason: format!("{dev_metrics:?} is not an address such as 127.0.0.1:9464"),
            });
        }
        self.edge.validate()?;
        self.audit.validate()?;
        self.worker.validate()?;
        self.monitor.validate()?;
        self.trainer.validate()?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn embedded_defaults_are_valid() {
        Jail::expect_with(|_| {
            let s = Settings::load(None).expect("defaults load");
            assert_eq!(s.nats.url, "nats://127.0.0.1:4222");
            assert_eq!(s.dev.data_dir, PathBuf::from("var"));
            Ok(())
        });
    }

    #[test]
    fn a_file_overrides_defaults_and_env_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "relais.toml",
                "[nats]\nurl = \"nats://10.1.2.3:4222\"\n[telemetry]\nlog_format = \"json\"\n",
            )?;
            let s = Settings::load(Some(Path::new("relais.toml"))).expect("file loads");
            assert_eq!(s.nats.url, "nats://10.1.2.3:4222");
            assert_eq!(s.telemetry.log_format, relais_telemetry::LogFormat::Json);

            jail.set_env("RELAIS_NATS__URL", "nats://127.0.0.1:5555");
            jail.set_env("RELAIS_TEST_NATS_URL", "ignored, not a key");
            let s = Settings::load(Some(Path::new("relais.toml"))).expect("env loads");
            assert_eq!(s.nats.url, "nats://127.0.0.1:5555");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[nats]\nulr = \"nats://x\"\n")?;
            let err = Settings::load(Some(Path::new("typo.toml"))).expect_err("typo");
            assert!(err.to_string().contains("ulr"), "{err}");

            jail.set_env("RELAIS_NATS__URL", "http://localhost");
            let err = Settings::load(None).expect_err("bad scheme");
            assert!(err.to_string().contains("nats.url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = Settings::load(Some(Path::new("/nonexistent/relais.toml"))).expect_err("missing");
        assert!(
            err.to_string().contains("/nonexistent/relais.toml"),
            "{err}"
        );
    }
}
