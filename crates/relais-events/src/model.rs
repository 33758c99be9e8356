//! The model registry: versions registered, promoted, rolled back.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names::subject;
use crate::Event;

/// Quality of a model version on the held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelMetrics {
    /// Corpus BLEU (sacreBLEU-compatible), 0–100; absent when not measured.
    pub bleu: Option<f64>,
    /// chrF, 0–100; absent when not measured.
    pub chrf: Option<f64>,
    /// Validation loss (cross-entropy per target token); absent when not measured.
    pub valid_loss: Option<f64>,
}

/// A model version was stored in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRegistered {
    /// The new version.
    pub version: String,
    /// Its quality.
    pub metrics: ModelMetrics,
    /// The version it was trained from, if fine-tuned.
    pub parent: Option<String>,
    /// Dataset version it was trained on.
    pub dataset_version: i64,
    /// Hash of the exact training corpus.
    pub corpus_hash: String,
    /// When training produced it.
    pub created_at: DateTime<Utc>,
}

impl Event for ModelRegistered {
    const TYPE: &'static str = "relais.model.registered.v1";

    fn subject(&self) -> String {
        subject::MODEL_REGISTERED.to_owned()
    }
}

/// A version became the `production` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelPromoted {
    /// The version now in production.
    pub version: String,
    /// The version it replaced, if any.
    pub previous: Option<String>,
    /// Who promoted it (an operator, or `trainer` for automatic promotion).
    pub actor: String,
    /// Why.
    pub reason: String,
}

impl Event for ModelPromoted {
    const TYPE: &'static str = "relais.model.promoted.v1";

    fn subject(&self) -> String {
        subject::MODEL_PROMOTED.to_owned()
    }
}

/// The `production` model was moved back to an earlier version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRolledBack {
    /// The version taken out of production.
    pub from_version: String,
    /// The version now in production.
    pub to_version: String,
    /// Who rolled back.
    pub actor: String,
    /// Why.
    pub reason: String,
}

impl Event for ModelRolledBack {
    const TYPE: &'static str = "relais.model.rolled_back.v1";

    fn subject(&self) -> String {
        subject::MODEL_ROLLED_BACK.to_owned()
    }
}

/// A worker refused to switch to a model version (bad checksum, unloadable
/// files, a failed smoke translation) and kept serving the one it had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRejected {
    /// The version that was refused.
    pub version: String,
    /// The worker that refused it.
    pub worker_id: String,
    /// The version the worker keeps serving, if it has one.
    pub serving: Option<String>,
    /// What was wrong.
    pub reason: String,
}

impl Event for ModelRejected {
    const TYPE: &'static str = "relais.model.rejected.v1";

    fn subject(&self) -> String {
        subject::MODEL_REJECTED.to_owned()
    }
}
