//! What can go wrong with the registry.

use std::path::PathBuf;

use relais_bus::BusError;

/// A registry failure; every variant names what it was about.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model directory {dir}: missing {file}")]
    MissingFile { dir: PathBuf, file: &'static str },
    #[error("no model version {0} in the registry")]
    UnknownVersion(String),
    #[error("{version}/{file}: checksum {actual} does not match the registered {expected}")]
    Checksum {
        version: String,
        file: String,
        expected: String,
        actual: String,
    },
    #[error("registry entry {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("there is no previous version to roll back to")]
    NothingToRollBack,
    #[error("{0} is already the production version")]
    AlreadyProduction(String),
    #[error("the aliases kept changing under this operation; try again")]
    Contended,
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}
