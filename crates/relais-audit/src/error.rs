//! The crate's one error type.

use std::path::PathBuf;

use relais_bus::BusError;
use relais_store::StoreError;
use relais_text::TextError;

/// Why the audit service or a dataset command failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The `[audit]` settings are not usable.
    #[error("invalid audit settings")]
    Settings(#[from] relais_config::ConfigError),
    /// The database refused or failed an operation.
    #[error("database operation failed")]
    Store(#[from] StoreError),
    /// NATS refused or failed an operation.
    #[error("NATS operation failed")]
    Bus(#[from] BusError),
    /// The corpus could not be read (the message names the line).
    #[error("cannot read the corpus")]
    Corpus(#[from] TextError),
    /// Downloading the corpus failed.
    #[error("cannot download {url}")]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered the download with an error status.
    #[error("downloading {url} failed with HTTP status {status}")]
    HttpStatus { url: String, status: u16 },
    /// Writing the export failed.
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A background task of the service failed.
    #[error("the {task} task stopped unexpectedly")]
    Task {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}
