//! Telemetry shared by every Relais service: `tracing` logs (human text or JSON
//! lines) and a Prometheus endpoint fed by the `metrics` facade.
//!
//! Layout:
//! - [`TelemetrySettings`]: the `[telemetry]` section of the configuration.
//! - [`init_logging`]: installs the global `tracing` subscriber once per process.
//! - [`start_metrics_exporter`]: serves `/metrics` on the configured address.
//!
//! Request ids travel in NATS headers (see `relais-bus`); services put them in
//! span fields so one translation can be followed across processes.

use std::net::SocketAddr;

use serde::Deserialize;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default for `relais dev`).
    #[default]
    Text,
    /// One JSON object per line, for log shippers in production.
    Json,
}

/// The `[telemetry]` configuration section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `relais=debug,async_nats=warn`.
    /// `RUST_LOG`, when set, wins.
    pub log_level: String,
    /// Where `/metrics` is served; `None` (empty string in config) turns it off.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub metrics_addr: Option<SocketAddr>,
}

fn empty_as_none<'de, D>(de: D) -> Result<Option<SocketAddr>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: Option<String> = Option::deserialize(de)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Failures while installing telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}")]
    Filter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("cannot serve metrics on {addr}")]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: metrics_exporter_prometheus::BuildError,
    },
}

/// Installs the global `tracing` subscriber. Calling it twice is harmless:
/// the second call keeps the first subscriber (tests call it from many places).
pub fn init_logging(settings: &TelemetrySettings) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(from_env) if !from_env.trim().is_empty() => from_env,
        _ => settings.log_level.clone(),
    };
    let env_filter = EnvFilter::builder()
        .parse(&filter)
        .map_err(|source| TelemetryError::Filter { filter, source })?;
    let registry = tracing_subscriber::registry().with(env_filter);
    let result = match settings.log_format {
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // An already-installed subscriber is not an error worth failing a service for.
    drop(result);
    Ok(())
}

/// Buckets of every `*_seconds` histogram: from 1 ms to 10 s, so
/// Prometheus can compute latency quantiles (p50, p99) across instances.
pub const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Starts the Prometheus exporter when an address is configured. Must be called
/// from inside a Tokio runtime (the exporter's HTTP listener runs on it).
pub fn start_metrics_exporter(settings: &TelemetrySettings) -> Result<(), TelemetryError> {
    let Some(addr) = settings.metrics_addr else {
        return Ok(());
    };
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_owned()),
            LATENCY_BUCKETS_SECONDS,
        )
        .and_then(|builder| builder.with_http_listener(addr).install())
        .map_err(|source| TelemetryError::Metrics { addr, source })?;
    tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrapper {
        telemetry: TelemetrySettings,
    }

    fn parse(text: &str) -> Result<TelemetrySettings, serde_json::Error> {
        serde_json::from_str::<Wrapper>(text).map(|w| w.telemetry)
    }

    #[test]
    fn empty_metrics_address_turns_the_exporter_off() {
        let s =
            parse(r#"{"telemetry":{"log_format":"json","log_level":"info","metrics_addr":""}}"#)
                .expect("valid settings");
        assert_eq!(s.metrics_addr, None);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn a_bad_metrics_address_is_rejected() {
        let err = parse(
            r#"{"telemetry":{"log_format":"text","log_level":"info","metrics_addr":"nope"}}"#,
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("invalid socket address"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(
            parse(r#"{"telemetry":{"log_format":"text","log_level":"info","colour":true}}"#)
                .is_err()
        );
    }
}
