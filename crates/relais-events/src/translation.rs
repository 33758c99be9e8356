//! Translation requests and their outcomes.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::names::subject;
use crate::Event;

/// An edge asks for a translation (work queue `translate.request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranslationRequested {
    /// Id of the request, echoed in its outcome.
    pub request_id: Uuid,
    /// The edge waiting for the outcome; the outcome's subject ends with it.
    pub edge_id: String,
    /// English source text.
    pub text: String,
    /// After this instant the caller has given up; a worker drops the request.
    pub deadline: DateTime<Utc>,
    /// The API client, when known.
    pub client: Option<String>,
}

impl Event for TranslationRequested {
    const TYPE: &'static str = "relais.translation.requested.v1";

    fn subject(&self) -> String {
        subject::TRANSLATE_REQUEST.to_owned()
    }
}

/// A worker translated a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranslationCompleted {
    /// Id of the request.
    pub request_id: Uuid,
    /// The edge that asked.
    pub edge_id: String,
    /// English source text.
    pub text: String,
    /// French translation.
    pub translation: String,
    /// Model version that produced the translation.
    pub model_version: String,
    /// Worker that produced the translation.
    pub worker_id: String,
    /// Worker compute time, milliseconds.
    pub latency_ms: f64,
    /// Time the request waited in the queue and batcher, milliseconds.
    pub queue_ms: f64,
    /// Number of requests in the batch this one was decoded with.
    pub batch_size: u32,
}

impl Event for TranslationCompleted {
    const TYPE: &'static str = "relais.translation.completed.v1";

    fn subject(&self) -> String {
        subject::translation_completed(&self.edge_id)
    }
}

/// Why a translation request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The caller's deadline passed before the work was done.
    DeadlineExceeded,
    /// The model failed on this input.
    ModelError,
    /// The request exhausted its deliveries on the work queue.
    DeliveriesExhausted,
    /// The request could not be read or is not acceptable.
    InvalidRequest,
}

/// A translation request ended without a translation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranslationFailed {
    /// Id of the request.
    pub request_id: Uuid,
    /// The edge that asked.
    pub edge_id: String,
    /// English source text.
    pub text: String,
    /// Category of failure.
    pub reason: FailureReason,
    /// Human-readable detail.
    pub message: String,
    /// Worker that gave up, when one did.
    pub worker_id: Option<String>,
    /// Model version involved, when one was.
    pub model_version: Option<String>,
}

impl Event for TranslationFailed {
    const TYPE: &'static str = "relais.translation.failed.v1";

    fn subject(&self) -> String {
        subject::translation_failed(&self.edge_id)
    }
}
