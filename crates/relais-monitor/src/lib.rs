//! The monitor of Relais (`relais monitor`): probes the running system on a
//! schedule, publishes every result, and pages an operator by e-mail.
//!
//! Liveness checks run every `monitor.liveness_every` (`smoke_translation`,
//! `edge_health`, `nats`, `translate_backlog`, `events_backlog`), deep checks
//! every `monitor.deep_every` (`model_version`, `training_fresh`). Each result
//! becomes a `MonitorCheck` event on `events.monitor.check.<check>` and the
//! metrics `relais_monitor_check_status{check}` and
//! `relais_monitor_check_duration_seconds{check}`; an alert that starts or
//! ends becomes a `MonitorAlert` on `events.monitor.alert.<check>` and, when
//! recipients are configured, an e-mail.
//!
//! Layout:
//! - [`app`]: [`Application::build`] → [`Application::run_until_stopped`], the
//!   scheduler that ties the rest together.
//! - [`check`]: [`Check`], what each check probes and how it judges ([`Outcome`]).
//! - [`policy`]: [`AlertTracker`], the pure alert state machine (fail_after,
//!   renotify_every, recovery, retry of undelivered pages).
//! - [`mail`]: [`compose`] (what a page says) and [`Mailer`] (SMTP via lettre).
//! - `error`: [`MonitorError`].
//!
//! Settings are [`relais_config::MonitorSettings`] (the `[monitor]` section).

pub mod app;
pub mod check;
mod error;
pub mod mail;
pub mod policy;

pub use app::{Application, CHECK_DURATION_SECONDS, CHECK_STATUS, PAGES_TOTAL, SOURCE};
pub use check::{Check, Outcome};
pub use error::MonitorError;
pub use mail::{compose, Letter, Mailer};
pub use policy::{AlertPolicy, AlertTracker, Page, Step, Transition};
pub use relais_config::MonitorSettings;
