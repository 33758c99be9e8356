//! Progress of training runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names::subject;
use crate::Event;

/// Where a training run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrainingPhase {
    /// The run began (or resumed from a checkpoint).
    Started,
    /// Optimisation steps are running.
    Training,
    /// The run is measuring itself on the validation split.
    Validating,
    /// The run ended normally.
    Finished,
    /// The run stopped on an error.
    Failed,
}

/// A training run reports where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrainingProgress {
    /// Id of the run.
    pub run_id: String,
    /// Current phase.
    pub phase: TrainingPhase,
    /// Optimiser steps done.
    pub step: u64,
    /// Planned steps, when bounded.
    pub total_steps: Option<u64>,
    /// Recent training loss.
    pub train_loss: Option<f64>,
    /// Latest validation loss.
    pub valid_loss: Option<f64>,
    /// Latest validation BLEU.
    pub valid_bleu: Option<f64>,
    /// Recent throughput, tokens per second.
    pub tokens_per_s: Option<f64>,
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// Detail, e.g. the error of a failed run.
    pub message: Option<String>,
}

impl Event for TrainingProgress {
    const TYPE: &'static str = "relais.training.progress.v1";

    fn subject(&self) -> String {
        subject::TRAINING_PROGRESS.to_owned()
    }
}
