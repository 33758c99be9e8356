//! The translation worker of Relais.
//!
//! `relais worker` loads a model directory, pulls `translate.request` from the
//! durable consumer `workers` of the `TRANSLATE` work queue (shared by every
//! worker), batches requests dynamically (up to `max_batch` or `max_wait`),
//! decodes each batch in one search (int8 greedy by default) on a blocking thread, publishes
//! `TranslationCompleted` (or `TranslationFailed`) on the asking edge's
//! subject and acknowledges a request only after that event's PubAck.
//! Expired requests get a `deadline_exceeded` failure, requests that exhaust
//! their deliveries a `deliveries_exhausted` one.
//!
//! Layout:
//! - [`translator`]: [`Translator`], model + tokenizer, whole texts in one decode.
//! - `app`: [`Application::build`] → [`Application::run_until_stopped`].
//! - `batch`: the consumer handler and the dynamic batcher.
//! - `publish`: outcome events ([`SOURCE`]) and the dead-letter hook.
//! - `layout`: [`Layout`], the stream, consumer and subjects (prefixable for tests).
//! - [`metrics`]: Prometheus metric names.
//! - `error`: [`WorkerError`].
//!
//! Settings are [`relais_config::WorkerSettings`] (the `[worker]` section).

mod app;
mod batch;
mod error;
pub mod follow;
mod layout;
pub mod metrics;
mod publish;
mod slot;
pub mod translator;

pub use app::Application;
pub use error::WorkerError;
pub use layout::Layout;
pub use publish::SOURCE;
pub use relais_config::WorkerSettings;
pub use slot::ModelSlot;
pub use translator::{DecodeOptions, Translator};
