//! The Prometheus recorder behind `/metrics`.
//!
//! The `metrics` facade has one recorder per process; the edge installs it on
//! first use and every [`crate::Application`] in the process (tests start
//! several) renders from the same handle.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::EdgeError;

/// Latency buckets, seconds: 5 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on the first call.
pub fn prometheus_handle() -> Result<PrometheusHandle, EdgeError> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot install the Prometheus recorder");
                    None
                }
            }
        })
        .clone()
        .ok_or(EdgeError::MetricsRecorder)
}

fn describe() {
    metrics::describe_counter!(
        "relais_http_requests_total",
        "HTTP requests answered, by route, method and status."
    );
    metrics::describe_histogram!(
        "relais_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route, method and status."
    );
    metrics::describe_histogram!(
        "relais_edge_translate_latency_seconds",
        metrics::Unit::Seconds,
        "Round trip of a successful translation through the bus, seen by the edge."
    );
    metrics::describe_gauge!(
        "relais_edge_waiting_requests",
        "Requests waiting for a worker's answer."
    );
}
