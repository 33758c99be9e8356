//! Event contracts of Relais: every message that crosses NATS is described here.
//!
//! Services talk only through the bus, so this crate is the one place where the
//! shape of a message is written down. It depends on no other crate of ours.
//!
//! Layout:
//! - [`envelope`]: the CloudEvents 1.0 [`Envelope`], the [`Event`] trait, decoding checks.
//! - [`any`]: [`AnyEvent`], reading an event of any known type (audit, replay).
//! - [`names`]: streams, consumers, buckets, subjects and header names on the bus.
//! - [`schema`]: JSON Schema generation for the files in `schemas/`.
//! - [`lookup`]: plain request/reply bodies of core lookups (not events, no envelope).
//! - payload modules, one per domain: [`translation`], [`feedback`], [`dataset`],
//!   [`model`], [`training`], [`monitor`], [`deadletter`].
//!
//! Versioning: an event type string ends in `.vN`. Adding an optional field is
//! compatible (readers ignore unknown fields); any change that breaks an existing
//! reader is a new type with the next version.

pub mod any;
pub mod dataset;
pub mod deadletter;
pub mod envelope;
mod error;
pub mod feedback;
pub mod lookup;
pub mod model;
pub mod monitor;
pub mod names;
pub mod schema;
pub mod training;
pub mod translation;

pub use any::{AnyEnvelope, AnyEvent};
pub use dataset::{DatasetSource, DatasetUpdated};
pub use deadletter::DeadLettered;
pub use envelope::{Envelope, Event, RawEnvelope, CONTENT_TYPE, SPEC_VERSION};
pub use error::EventError;
pub use feedback::FeedbackSubmitted;
pub use lookup::{TranslationLookup, TranslationLookupReply};
pub use model::{ModelMetrics, ModelPromoted, ModelRegistered, ModelRejected, ModelRolledBack};
pub use monitor::{AlertState, CheckStatus, MonitorAlert, MonitorCheck};
pub use training::{TrainingPhase, TrainingProgress};
pub use translation::{
    FailureReason, TranslationCompleted, TranslationFailed, TranslationRequested,
};
