//! The NATS JetStream layer of Relais; the only crate that imports async-nats.
//!
//! Services publish and consume through [`Bus`] and never see the client library.
//!
//! Layout:
//! - [`config`]: [`BusConfig`] (serde, secrets redacted) and [`Secret`].
//! - [`client`]: [`Bus::connect`], JetStream [`Bus::publish`] (awaits the PubAck,
//!   `Nats-Msg-Id`, bounded retries, fast [`BusError::PermissionDenied`]),
//!   [`Bus::publish_event`].
//! - [`subscription`]: core traffic, [`Bus::publish_core`], [`Bus::subscribe`],
//!   request/reply ([`Bus::request`], [`Bus::respond`]).
//! - [`headers`]: [`Headers`], request id and `traceparent` propagation.
//! - [`topology`]: [`Topology`], [`StreamSpec`], [`ConsumerSpec`]: what should exist.
//! - [`declare`]: idempotent declaration on the server, [`StreamState`], [`ConsumerState`].
//! - [`consumer`]: [`run_consumer`], [`Delivery`], [`Outcome`].
//! - [`deadletter`]: [`DeadLetterPolicy`] and [`watch_dead_letters`] (max-deliveries
//!   advisories): a given-up message always becomes an event.
//! - [`replay`]: [`Bus::replay`] ordered reads by sequence, time and subject.
//! - [`store`]: [`Bus::kv_bucket`] and [`Bus::object_bucket`] (work on nats-server 2.9).
//! - `info`: [`Bus::stream_exists`], [`Bus::existing_kv_bucket`]: look-ups that create nothing.
//! - [`error`]: the one error type, [`BusError`].

pub mod client;
pub mod config;
pub mod consumer;
pub mod deadletter;
pub mod declare;
mod denied;
pub mod error;
pub mod headers;
mod info;
pub mod replay;
pub mod store;
pub mod subscription;
pub mod topology;

pub use client::{Bus, PubAck};
pub use config::{BusConfig, Secret};
pub use consumer::{run_consumer, run_consumer_with, ConsumerOptions, Delivery, Outcome};
pub use deadletter::{
    max_deliveries_subject, watch_dead_letters, DeadLetter, DeadLetterHook, DeadLetterPolicy,
};
pub use declare::{declare_consumer, declare_stream, ConsumerState, StreamState};
pub use error::BusError;
pub use headers::Headers;
pub use replay::{Replay, ReplayFrom, ReplayItem, ReplayQuery, ReplayUntil};
pub use store::{KvBucket, KvEntry, KvWatch, ObjectBucket, ObjectMeta};
pub use subscription::{CoreMessage, Subscription};
pub use topology::{ConsumerSpec, Retention, StreamSpec, Topology};
