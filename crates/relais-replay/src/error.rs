//! The one error type of the crate.

use std::path::PathBuf;

/// What can go wrong while replaying.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A replay bound given on the command line could not be read.
    #[error("{flag}: {value:?} is {expected}")]
    InvalidBound {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// Reading the stream (or republishing) failed.
    #[error(transparent)]
    Bus(#[from] relais_bus::BusError),
    /// Writing to the database failed.
    #[error("writing the replayed event at sequence {sequence} to the database failed")]
    Store {
        /// The stream sequence of the event.
        sequence: u64,
        /// The cause.
        #[source]
        source: relais_store::StoreError,
    },
    /// Writing the export failed.
    #[error("writing the export to {path} failed")]
    Write {
        /// Where it was written (`-` for stdout).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Encoding a JSON line failed.
    #[error("encoding a JSON line failed")]
    Json(#[from] serde_json::Error),
    /// An event could not be read back for republishing.
    #[error("the event at sequence {sequence} cannot be republished")]
    Event {
        /// The stream sequence of the event.
        sequence: u64,
        /// The cause.
        #[source]
        source: relais_events::EventError,
    },
    /// The candidate model failed.
    #[error(transparent)]
    Model(#[from] relais_worker::WorkerError),
    /// Scoring failed.
    #[error("scoring the candidate failed")]
    Score(#[from] relais_text::TextError),
}
