//! SQL storage of Relais: the event log, translations, feedback, the training
//! dataset and model versions, on PostgreSQL (production) or SQLite (the
//! embedded default) with the same migrations and queries.
//!
//! This is the only crate that knows SQL. It does not know the bus: services
//! hand it event bytes and act on what it returns.
//!
//! Layout:
//! - `store`: [`Store::connect`] / [`Store::connect_with`] (URL → backend,
//!   pool, migrations), [`Store::count`].
//! - `events`: [`Store::record_event`], the idempotent event log and its
//!   projection into `translations`, `feedback`, `model_versions`.
//! - `curation`: [`curate`], the pure rules that accept or reject a correction.
//! - `feedback`: feedback rows, [`Store::record_feedback_curation`].
//! - `dataset`: [`Store::import_pairs`], dataset versions
//!   ([`Store::publish_feedback_version`]), export ([`Store::write_tsv`]), stats.
//! - `records`: reading translations and model versions back.
//! - `migrations/` (crate root): the schema, embedded in the binary.
//!
//! Both backends go through sqlx's `Any` driver: portable SQL only (`$N`
//! parameters, `ON CONFLICT`, `RETURNING`; text for timestamps, UUIDs and JSON).

mod curation;
mod dataset;
mod error;
mod events;
mod feedback;
mod records;
mod store;

pub use curation::{curate, Rejection, RejectionCode};
pub use dataset::{
    pair_key, DatasetStats, DatasetVersion, ImportReport, PairFilter, PairRecord, IMPORT_CHUNK_ROWS,
};
pub use error::StoreError;
pub use events::Recorded;
pub use feedback::{CurationRecorded, FeedbackRecord, FeedbackStatus, FeedbackToCurate};
pub use records::{ModelVersionRecord, TranslationRecord};
pub use store::{Backend, Store, StoreOptions, Table};
