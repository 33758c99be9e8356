//! The audit logger of Relais and the dataset operator commands.
//!
//! `relais audit` reads every event of the `EVENTS` stream through the durable
//! consumer `audit` and writes it to SQL (PostgreSQL or SQLite) in one
//! transaction, acknowledging only after the commit. Replays and redeliveries
//! change nothing; a database outage delays acknowledgements (growing nak
//! delays, a very high `max_deliver`) and loses nothing; bytes that are no
//! event are dead-lettered. It also answers translation lookups over core
//! request/reply (the edge checks a feedback's id before accepting it). Accepted corrections become dataset versions,
//! announced with `events.dataset.updated` in batches.
//!
//! Layout:
//! - `app`: [`Application::build`] → [`Application::run_until_stopped`].
//! - `layout`: [`Layout`], the stream, consumer and subjects (prefixable for tests).
//! - `record`: one delivery → store → ack / retry / dead letter; metrics
//!   ([`EVENTS_TOTAL`], [`WRITE_SECONDS`]).
//! - `batch`: accepted corrections → a dataset version + `DatasetUpdated`.
//! - `announce`: [`announce`], publishing `DatasetUpdated` with a stable id.
//! - `lookup`: answers `audit.lookup.translation` requests (queue group
//!   `audit`) from the store, so the edge can refuse feedback on unknown ids.
//! - [`dataset`]: import (path or URL, progress bars), export, stats.
//! - `error`: [`AuditError`].

mod announce;
mod app;
mod batch;
pub mod dataset;
mod error;
mod layout;
mod lookup;
mod record;

pub use announce::{announce, event_id};
pub use app::{Application, SOURCE};
pub use error::AuditError;
pub use layout::Layout;
pub use record::{EVENTS_TOTAL, WRITE_SECONDS};
pub use relais_events::DatasetUpdated;
pub use relais_store::{DatasetStats, ImportReport, Store};
