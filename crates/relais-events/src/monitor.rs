//! Health checks and alerts from the monitor.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names::subject;
use crate::Event;

/// Outcome of one health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check succeeded.
    Pass,
    /// The check failed.
    Fail,
}

/// The monitor ran a health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitorCheck {
    /// Name of the check; the last subject token.
    pub check: String,
    /// Outcome.
    pub status: CheckStatus,
    /// What was checked and what was seen.
    pub detail: String,
    /// How long the check took, milliseconds.
    pub latency_ms: f64,
    /// Failures in a row, this one included (0 when passing).
    pub consecutive_failures: u32,
}

impl Event for MonitorCheck {
    const TYPE: &'static str = "relais.monitor.check.v1";

    fn subject(&self) -> String {
        subject::monitor_check(&self.check)
    }
}

/// State of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The alert started.
    Firing,
    /// The alert ended.
    Resolved,
}

/// An alert changed state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitorAlert {
    /// Name of the check behind the alert; the last subject token.
    pub check: String,
    /// New state.
    pub state: AlertState,
    /// What is wrong (or that it is fixed).
    pub message: String,
    /// When the alert started firing.
    pub since: DateTime<Utc>,
}

impl Event for MonitorAlert {
    const TYPE: &'static str = "relais.monitor.alert.v1";

    fn subject(&self) -> String {
        subject::monitor_alert(&self.check)
    }
}
