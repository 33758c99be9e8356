//! The one error type of the trainer.

use std::path::PathBuf;

/// Why a run or the service failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    #[error("invalid trainer settings")]
    Settings(#[from] relais_config::ConfigError),
    #[error("held-out corpus {path}")]
    Heldout {
        path: PathBuf,
        #[source]
        source: relais_text::TextError,
    },
    #[error(transparent)]
    Text(#[from] relais_text::TextError),
    #[error(transparent)]
    Model(#[from] relais_model::ModelError),
    #[error(transparent)]
    Store(#[from] relais_store::StoreError),
    #[error(transparent)]
    Registry(#[from] relais_registry::RegistryError),
    #[error(transparent)]
    Bus(#[from] relais_bus::BusError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the dataset holds no pair to train on (after removing held-out sentences)")]
    NoData,
    #[error("the training task failed: {0}")]
    Task(String),
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainerError + '_ {
    move |source| TrainerError::Io {
        path: path.to_path_buf(),
        source,
    }
}
