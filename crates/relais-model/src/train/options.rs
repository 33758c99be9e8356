//! What the trainer is asked to do and what it reports back.

use serde::{Deserialize, Serialize};

use super::ValidPoint;
use crate::artifacts::Provenance;
use crate::batch::Pair;
use crate::optim::AdamWParams;

/// How to train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Padded tokens per batch (the longer of source and target, times rows).
    pub max_tokens: usize,
    pub peak_lr: f64,
    pub warmup_steps: u64,
    pub adamw: AdamWParams,
    /// Clip gradients to this global L2 norm.
    pub clip_norm: f64,
    /// Stop once the run (over all sessions) has done this many steps.
    pub max_steps: Option<u64>,
    /// Stop after this many minutes of this session.
    pub max_minutes: Option<f64>,
    /// Record a training-curve point every this many steps.
    pub log_every: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    /// Checkpoints kept on disk.
    pub keep_checkpoints: usize,
    /// Stop after this many validations without improvement of loss or BLEU.
    pub patience: Option<usize>,
    /// Validation pairs scored for the loss.
    pub valid_loss_pairs: usize,
    /// Validation pairs translated for BLEU/chrF.
    pub valid_bleu_pairs: usize,
    pub seed: u64,
    pub progress_bar: bool,
    /// Copied into `model.json`.
    pub provenance: Provenance,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            max_tokens: 4096,
            peak_lr: 1e-3,
            warmup_steps: 300,
            adamw: AdamWParams::default(),
            clip_norm: 1.0,
            max_steps: None,
            max_minutes: None,
            log_every: 25,
            eval_every: 500,
            checkpoint_every: 200,
            keep_checkpoints: 2,
            patience: Some(10),
            valid_loss_pairs: 2000,
            valid_bleu_pairs: 500,
            seed: 1,
            progress_bar: true,
            provenance: Provenance::default(),
        }
    }
}

/// Corpus-level quality of greedy translations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub bleu: f64,
    pub chrf: f64,
}

/// Scores hypotheses `hyps[i]` (token ids) against the reference of `valid[i]`.
pub type ScoreFn<'a> = dyn Fn(&[Vec<u32>]) -> Scores + 'a;

/// Token-id data the trainer works on.
pub struct TrainData<'a> {
    pub train: &'a [Pair],
    pub valid: &'a [Pair],
    /// BLEU/chrF of greedy output on the first `valid_bleu_pairs` of `valid`;
    /// without a scorer only the validation loss is tracked.
    pub score: Option<&'a ScoreFn<'a>>,
}

/// Why training stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StopReason {
    MaxSteps,
    TimeBudget,
    EarlyStopping,
}

/// The result of [`Trainer::train`](super::Trainer::train).
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub reason: StopReason,
    pub steps: u64,
    pub last_valid: Option<ValidPoint>,
    pub tokens_per_sec: f64,
}
