//! `relais trainer`: the system improves itself.
//!
//! - [`service`]: the service. A durable consumer of `events.dataset.updated`
//!   (bursts coalesce into one run) plus a schedule; at start it resumes a run
//!   a kill interrupted and catches up with a dataset newer than its last run.
//! - [`run`]: one training run, blocking: export → train (warm-started from
//!   production when it has the configured shape) → judge candidate and
//!   production on the same held-out test split.
//! - [`judge`]: the promotion rule, pure.
//! - [`heldout`]: the fixed valid/test splits no training pair may touch.
//!
//! Every run publishes `TrainingProgress` events, registers its candidate
//! (with test metrics and the decision in its note) and promotes it only when
//! it beats production.

mod error;
pub mod heldout;
pub mod judge;
pub mod run;
pub mod service;

pub use error::TrainerError;
pub use heldout::Heldout;
pub use judge::{decide, Decision, Judged};
pub use service::{RunReport, TrainerService};
