//! The one error type of the worker, [`WorkerError`].

use std::path::PathBuf;

/// Why the worker could not start, load its model or translate.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The `[worker]` settings are invalid.
    #[error("invalid worker settings")]
    Settings(#[from] relais_config::ConfigError),
    /// The model directory is missing, incomplete or corrupt.
    #[error("cannot load the model from {dir}")]
    Model {
        dir: PathBuf,
        #[source]
        source: relais_model::ModelError,
    },
    /// The tokenizer of the model directory is missing or unreadable.
    #[error("cannot load the tokenizer {path}")]
    Tokenizer {
        path: PathBuf,
        #[source]
        source: relais_text::TextError,
    },
    /// The tokenizer and the model disagree on the vocabulary.
    #[error("model directory {dir}: tokenizer has {tokenizer} entries, the model {model}")]
    VocabMismatch {
        dir: PathBuf,
        tokenizer: usize,
        model: usize,
    },
    /// Encoding or decoding text failed.
    #[error("tokenizing failed")]
    Text(#[from] relais_text::TextError),
    /// The decoder failed.
    #[error("decoding failed")]
    Decode(#[from] candle_core::Error),
    /// A blocking or background task panicked or was cancelled.
    #[error("the {task} task failed")]
    Task {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// NATS: declaring, consuming or publishing failed.
    #[error(transparent)]
    Bus(#[from] relais_bus::BusError),
}
