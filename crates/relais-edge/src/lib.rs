//! The HTTP front of Relais: the website, its JSON API and a LibreTranslate-
//! compatible API. It never translates: each request becomes a
//! `TranslationRequested` on the `TRANSLATE` work queue, and the answer comes
//! back on this edge's own results subjects (`events.translation.*.<edge-id>`).
//!
//! Layout:
//! - [`startup`]: [`Application`] (`build` → `port` → `run_until_stopped`).
//! - `routes`: the routes ([`ROUTES`]) and the request metrics middleware;
//!   `api` (website API), `libre` (LibreTranslate), `health`, `site` (static files).
//! - [`domain`]: validated inputs, [`SourceText`] and [`Correction`].
//! - `translator`: publish with a bounded wait, then wait for the answer.
//! - `results`: the one results subscription and the map of waiting requests.
//! - `limit`: API keys and per-client token buckets.
//! - `extract`: body extractors whose rejections are JSON errors.
//! - [`telemetry`]: the Prometheus recorder behind `/metrics`.
//! - [`error`]: [`EdgeError`], mapped to status codes once.
//!
//! Settings are [`relais_config::EdgeSettings`] (the `[edge]` section).

pub mod domain;
pub mod error;
mod extract;
mod limit;
mod results;
mod routes;
pub mod startup;
mod state;
pub mod telemetry;
mod translator;

pub use domain::{Correction, SourceText, TextLimits};
pub use error::EdgeError;
pub use relais_config::EdgeSettings;
pub use routes::{OPENAPI_JSON, ROUTES};
pub use startup::Application;
