//! Replay of the `EVENTS` stream for operators (`relais replay`).
//!
//! Every function reads through [`relais_bus::Bus::replay`], an ordered
//! ephemeral consumer: no durable consumer moves, and nothing is published
//! except by [`republish`], which operators ask for explicitly.
//!
//! Layout:
//! - `range`: [`query`] builds a [`ReplayQuery`] from `--since` / `--from-seq`
//!   / `--until` / `--subject` text; [`parse_time`], [`parse_until`].
//! - `export`: [`export_jsonl`], [`export_jsonl_file`] (temporary file + rename).
//! - `rebuild`: [`rebuild_audit`] → [`RebuildReport`], through the audit
//!   logger's write path.
//! - `shadow`: [`shadow`] = [`recorded_requests`] + [`score`] → [`ShadowReport`].
//! - `republish`: [`republish`] → [`RepublishReport`].
//! - `error`: [`ReplayError`].

mod error;
mod export;
mod range;
mod rebuild;
mod republish;
mod shadow;

/// The stream replay reads by default.
pub const EVENTS_STREAM: &str = relais_events::names::stream::EVENTS;

pub use error::ReplayError;
pub use export::{export_jsonl, export_jsonl_file};
pub use range::{parse_time, parse_until, query};
pub use rebuild::{rebuild_audit, RebuildReport};
pub use relais_bus::{ReplayFrom, ReplayQuery, ReplayUntil};
pub use republish::{republish, RepublishReport};
pub use shadow::{recorded_requests, score, shadow, RecordedRequest, Scores, ShadowReport};
