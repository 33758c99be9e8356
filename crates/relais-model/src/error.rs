//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A tensor operation failed (shape mismatch, unsupported op, ...).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON file could not be read or written.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A model directory is missing a file or holds one that does not fit.
    #[error("model directory {dir}: {reason}")]
    ModelDir { dir: PathBuf, reason: String },
    /// A configuration value is out of range.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// No checkpoint exists where a resume was asked for.
    #[error("no checkpoint to resume from in {0}")]
    NoCheckpoint(PathBuf),
    /// The training data cannot be used (empty, too long, ...).
    #[error("training data: {0}")]
    Data(String),
    /// Training diverged (the loss became NaN or infinite).
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged { step: u64, loss: f32 },
}

impl ModelError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
