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
/// Counter: input subwords given to the model.
pub const INPUT_SUBWORDS: &str = "relais_input_subwords_total";
/// Counter: input subwords that are raw-byte fallbacks (unknown to the vocabulary).
pub const INPUT_UNKNOWN_SUBWORDS: &str = "relais_input_unknown_subwords_total";
/// Gauge: moving share of raw-byte fallback subwords in the input (drift).
pub const UNKNOWN_SUBWORD_RATIO: &str = "relais_drift_unknown_subword_ratio";
/// Histogram: input sentence pieces' length in subwords (drift).
pub const INPUT_LENGTH: &str = "relais_input_length_subwords";

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
    metrics::describe_counter!(INPUT_SUBWORDS, "Input subwords given to the model");
    metrics::describe_counter!(
        INPUT_UNKNOWN_SUBWORDS,
        "Input subwords that are raw-byte fallbacks (characters the training data never showed)"
    );
    metrics::describe_gauge!(
        UNKNOWN_SUBWORD_RATIO,
        "Moving share of raw-byte fallback subwords in the input (data drift; near 0 on training-like text)"
    );
    metrics::describe_histogram!(
        INPUT_LENGTH,
        "Input sentence length in subwords (data drift)"
    );
}

pub(crate) fn model_loaded(version: &str) {
    metrics::gauge!(MODEL_INFO, "version" => version.to_owned()).set(1.0);
}

pub(crate) fn model_swapped(old: &str, new: &str) {
    metrics::gauge!(MODEL_INFO, "version" => old.to_owned()).set(0.0);
    model_loaded(new);
}

pub(crate) fn input_drift(fallback: usize, lengths: &[usize]) {
    let total: usize = lengths.iter().sum();
    if total == 0 {
        return;
    }
    metrics::counter!(INPUT_SUBWORDS).increment(total as u64);
    metrics::counter!(INPUT_UNKNOWN_SUBWORDS).increment(fallback as u64);
    let lengths_hist = metrics::histogram!(INPUT_LENGTH);
    for &n in lengths {
        lengths_hist.record(n as f64);
    }
    // A moving share (about the last few hundred subwords) for dashboards
    // and the drift alert.
    let share = fallback as f64 / total as f64;
    let mut ratio = DRIFT_RATIO.lock().unwrap_or_else(|p| p.into_inner());
    let weight = (total as f64 / 500.0).min(1.0);
    *ratio = *ratio * (1.0 - weight) + share * weight;
    metrics::gauge!(UNKNOWN_SUBWORD_RATIO).set(*ratio);
}

static DRIFT_RATIO: std::sync::Mutex<f64> = std::sync::Mutex::new(0.0);

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
