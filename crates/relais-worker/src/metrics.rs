//! The worker's Prometheus metrics, through the `metrics` facade.

use std::time::Duration;

/// Histogram: decode time of the batch each request was translated in, seconds.
pub const TRANSLATE_LATENCY_SECONDS: &str = "relais_translate_latency_seconds";
/// Histogram: requests per decoded batch.
pub const BATCH_SIZE: &str = "relais_worker_batch_size";
/// Histogram: time from a request's arrival in the stream to its batch, seconds.
pub const QUEUE_WAIT_SECONDS: &str = "relais_worker_queue_wait_seconds";
/// Gauge, 1, labelled with the `version` of the loaded model.
pub const MODEL_INFO: &str = "relais_model_info";
/// Counter: requests finished, labelled `outcome` (`completed`, `failed`).
pub const REQUESTS_TOTAL: &str = "relais_worker_requests_total";

pub(crate) fn describe() {
    metrics::describe_histogram!(
        TRANSLATE_LATENCY_SECONDS,
        metrics::Unit::Seconds,
        "Decode time of the batch each request was translated in"
    );
    metrics::describe_histogram!(BATCH_SIZE, "Requests per decoded batch");
    metrics::describe_histogram!(
        QUEUE_WAIT_SECONDS,
        metrics::Unit::Seconds,
        "Time from a request's arrival in the TRANSLATE stream to its batch"
    );
    metrics::describe_gauge!(MODEL_INFO, "The loaded model version (value 1)");
    metrics::describe_counter!(REQUESTS_TOTAL, "Requests finished, by outcome");
}

pub(crate) fn model_loaded(version: &str) {
    metrics::gauge!(MODEL_INFO, "version" => version.to_owned()).set(1.0);
}

pub(crate) fn model_swapped(old: &str, new: &str) {
    metrics::gauge!(MODEL_INFO, "version" => old.to_owned()).set(0.0);
    model_loaded(new);
}

pub(crate) fn batch(size: usize, latency: Duration) {
    metrics::histogram!(BATCH_SIZE).record(size as f64);
    let latency_hist = metrics::histogram!(TRANSLATE_LATENCY_SECONDS);
    for _ in 0..size {
        latency_hist.record(latency.as_secs_f64());
    }
}

pub(crate) fn queue_wait(wait: Duration) {
    metrics::histogram!(QUEUE_WAIT_SECONDS).record(wait.as_secs_f64());
}

pub(crate) fn finished(outcome: &'static str) {
    metrics::counter!(REQUESTS_TOTAL, "outcome" => outcome).increment(1);
}
