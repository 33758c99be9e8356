//! Training checkpoints: `checkpoints/step-NNNNNNNN/` holding the weights, the
//! optimiser moments and the trainer state, plus a `checkpoints/latest` pointer.
//!
//! A checkpoint is written into a temporary directory that is renamed into
//! place, and only then does `latest` (itself replaced atomically) point at it,
//! so a kill at any moment leaves the previous checkpoint usable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::artifacts::{commit, io_err, read_json, tmp_path, write_atomic, write_json};
use crate::config::Config;
use crate::error::{ModelError, Result};

pub(crate) const WEIGHTS: &str = "model.safetensors";
pub(crate) const OPTIMIZER: &str = "optimizer.safetensors";
pub(crate) const STATE: &str = "state.json";
const LATEST: &str = "latest";

/// One point of the training-loss curve (averaged over the steps since the last point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainPoint {
    pub step: u64,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    pub tokens_per_sec: f64,
    pub elapsed_secs: f64,
}

/// One validation result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidPoint {
    pub step: u64,
    /// Negative log-likelihood per target token.
    pub loss: f64,
    pub bleu: Option<f64>,
    pub chrf: Option<f64>,
    pub elapsed_secs: f64,
}

/// Everything besides weights and optimiser moments needed to continue a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub config: Config,
    pub seed: u64,
    /// Optimiser updates done.
    pub step: u64,
    /// Current pass over the training data (its batches are a function of seed and epoch).
    pub epoch: u64,
    /// Next batch of the current epoch.
    pub batch_pos: usize,
    /// Target tokens trained on.
    pub target_tokens: u64,
    /// Training wall time over all sessions.
    pub train_secs: f64,
    pub best_valid_loss: Option<f64>,
    pub best_bleu: Option<f64>,
    pub best_step: Option<u64>,
    /// Validations since the last improvement (early-stopping patience).
    pub evals_since_best: usize,
    pub train_curve: Vec<TrainPoint>,
    pub valid_curve: Vec<ValidPoint>,
}

impl TrainState {
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            seed,
            step: 0,
            epoch: 0,
            batch_pos: 0,
            target_tokens: 0,
            train_secs: 0.0,
            best_valid_loss: None,
            best_bleu: None,
            best_step: None,
            evals_since_best: 0,
            train_curve: Vec::new(),
            valid_curve: Vec::new(),
        }
    }
}

/// The `checkpoints/` directory of a run.
pub(crate) fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

/// The directory of the newest complete checkpoint, if any.
pub(crate) fn latest(run_dir: &Path) -> Result<Option<PathBuf>> {
    let pointer = dir(run_dir).join(LATEST);
    if !pointer.is_file() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&pointer).map_err(io_err("read", &pointer))?;
    let path = dir(run_dir).join(name.trim());
    if !path.join(STATE).is_file() {
        return Err(ModelError::Data(format!(
            "{} points at {}, which is incomplete",
            pointer.display(),
            path.display()
        )));
    }
    Ok(Some(path))
}

/// Writes a checkpoint through `write_files(tmp_dir)` and points `latest` at it;
/// keeps the newest `keep` checkpoints.
pub(crate) fn save(
    run_dir: &Path,
    state: &TrainState,
    keep: usize,
    write_files: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let root = dir(run_dir);
    std::fs::create_dir_all(&root).map_err(io_err("create", &root))?;
    let name = format!("step-{:08}", state.step);
    let final_dir = root.join(&name);
    let tmp = tmp_path(&final_dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io_err("remove", &tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io_err("create", &tmp))?;
    write_files(&tmp)?;
    write_json(&tmp.join(STATE), state)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(io_err("remove", &final_dir))?;
    }
    commit(&tmp, &final_dir)?;
    write_atomic(&root.join(LATEST), name.as_bytes())?;
    prune(&root, &name, keep)?;
    Ok(final_dir)
}

fn prune(root: &Path, newest: &str, keep: usize) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map_err(io_err("list", root))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-") && n.as_str() <= newest)
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep.max(1));
    for n in &names[..excess] {
        let p = root.join(n);
        std::fs::remove_dir_all(&p).map_err(io_err("remove", &p))?;
    }
    Ok(())
}

/// Reads the trainer state of a checkpoint directory.
pub(crate) fn load_state(ckpt: &Path) -> Result<TrainState> {
    read_json(&ckpt.join(STATE))
}
