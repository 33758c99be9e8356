//! The checks: what each one probes and how it judges the answer.
//!
//! - `http`: `edge_health`, `smoke_translation` (the edge over HTTP).
//! - `bus`: `nats`, `translate_backlog`, `events_backlog`, `model_version`,
//!   `training_fresh` (NATS, JetStream consumers, the KV registry).

mod bus;
mod http;

use std::fmt;
use std::time::Duration;

use relais_bus::Bus;
use relais_config::MonitorSettings;
use relais_events::names::{consumer, stream};
use relais_events::CheckStatus;

pub use bus::{training_outcome, LAST_TRAINING_KEY, PRODUCTION_ALIAS_KEY};

/// One check of the monitor; its name is the last token of its event subjects
/// and the `check` label of its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// `/healthz` and `/readyz` of the edge answer 200.
    EdgeHealth,
    /// A known sentence comes back translated, fast enough.
    SmokeTranslation,
    /// A round trip to the NATS server.
    Nats,
    /// Requests waiting for the `workers` consumer on `TRANSLATE`.
    TranslateBacklog,
    /// Events waiting for the `audit` consumer on `EVENTS`: whether audit keeps up.
    EventsBacklog,
    /// The model that answered the smoke translation is the registry's `production`.
    ModelVersion,
    /// The trainer succeeded recently.
    TrainingFresh,
}

impl Check {
    /// Run every `liveness_every`, in this order: the smoke translation comes
    /// first so a quiet edge has had a worker answer before `/readyz` is asked.
    pub const LIVENESS: [Check; 5] = [
        Check::SmokeTranslation,
        Check::EdgeHealth,
        Check::Nats,
        Check::TranslateBacklog,
        Check::EventsBacklog,
    ];
    /// Run every `deep_every`.
    pub const DEEP: [Check; 2] = [Check::ModelVersion, Check::TrainingFresh];

    /// The check's name, e.g. `smoke_translation`.
    pub fn name(self) -> &'static str {
        match self {
            Check::EdgeHealth => "edge_health",
            Check::SmokeTranslation => "smoke_translation",
            Check::Nats => "nats",
            Check::TranslateBacklog => "translate_backlog",
            Check::EventsBacklog => "events_backlog",
            Check::ModelVersion => "model_version",
            Check::TrainingFresh => "training_fresh",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Pass or fail.
    pub status: CheckStatus,
    /// What was checked and what was seen.
    pub detail: String,
}

impl Outcome {
    /// A pass.
    pub fn pass(detail: impl Into<String>) -> Self {
        Outcome {
            status: CheckStatus::Pass,
            detail: detail.into(),
        }
    }

    /// A failure.
    pub fn fail(detail: impl Into<String>) -> Self {
        Outcome {
            status: CheckStatus::Fail,
            detail: detail.into(),
        }
    }
}

/// What the checks probe with, and what one check tells a later one.
#[derive(Debug)]
pub(crate) struct Probe {
    http: reqwest::Client,
    bus: Bus,
    settings: MonitorSettings,
    /// The model version the last smoke translation reported; `None` when it failed.
    smoke_model: Option<String>,
}

impl Probe {
    pub(crate) fn new(http: reqwest::Client, bus: Bus, settings: MonitorSettings) -> Self {
        Probe {
            http,
            bus,
            settings,
            smoke_model: None,
        }
    }

    /// Runs `check`, failing it past `check_timeout`. `None`: the check could
    /// not be judged this time (the model version without a smoke answer).
    pub(crate) async fn run(&mut self, check: Check) -> Option<Outcome> {
        let limit = self.settings.check_timeout;
        let edge = self.settings.edge_url.trim_end_matches('/').to_owned();
        let s = &self.settings;
        let outcome = match check {
            Check::EdgeHealth => bounded(limit, http::edge_health(&self.http, &edge)).await,
            Check::SmokeTranslation => {
                let smoke = http::smoke(&self.http, &edge, &s.smoke_text, s.smoke_max_latency);
                let (outcome, model) = match tokio::time::timeout(limit, smoke).await {
                    Ok(answer) => answer,
                    Err(_) => (timed_out(limit), None),
                };
                self.smoke_model = model;
                outcome
            }
            Check::Nats => bounded(limit, bus::round_trip(&self.bus)).await,
            Check::TranslateBacklog => {
                let max = s.translate_backlog_max;
                let probe = bus::backlog(&self.bus, stream::TRANSLATE, consumer::WORKERS, max);
                bounded(limit, probe).await
            }
            Check::EventsBacklog => {
                let max = s.events_backlog_max;
                let probe = bus::backlog(&self.bus, stream::EVENTS, consumer::AUDIT, max);
                bounded(limit, probe).await
            }
            Check::ModelVersion => {
                let reported = self.smoke_model.as_deref()?;
                bounded(limit, bus::model_version(&self.bus, reported)).await
            }
            Check::TrainingFresh => {
                let probe = bus::training_fresh(&self.bus, s.training_max_age, s.require_training);
                bounded(limit, probe).await
            }
        };
        Some(outcome)
    }
}

async fn bounded(limit: Duration, check: impl std::future::Future<Output = Outcome>) -> Outcome {
    tokio::time::timeout(limit, check)
        .await
        .unwrap_or_else(|_| timed_out(limit))
}

fn timed_out(limit: Duration) -> Outcome {
    Outcome::fail(format!(
        "no result within {} ms (monitor.check_timeout)",
        limit.as_millis()
    ))
}

/// An error with its causes, `a: b: c`, for details and logs.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_subject_tokens() {
        let mut names: Vec<_> = Check::LIVENESS
            .iter()
            .chain(Check::DEEP.iter())
            .map(|c| c.name())
            .collect();
        assert!(names
            .iter()
            .all(|n| relais_events::names::is_valid_token(n)));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 7);
    }
}
