//! The scheduler: [`Application::build`] → [`Application::run_until_stopped`].
//! Runs the checks on their schedules, feeds each result to its
//! [`AlertTracker`], sends the pages it asks for, publishes the events and
//! records the metrics.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use relais_bus::Bus;
use relais_config::MonitorSettings;
use relais_events::{AlertState, CheckStatus, Envelope, Event, MonitorAlert, MonitorCheck};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::check::{chain, Check, Outcome, Probe};
use crate::mail::{compose, Mailer, PageFacts};
use crate::policy::{AlertPolicy, AlertTracker, Step};
use crate::MonitorError;

/// CloudEvents `source` of what the monitor publishes.
pub const SOURCE: &str = "relais/monitor";
/// Gauge per check: 1 passing, 0 failing.
pub const CHECK_STATUS: &str = "relais_monitor_check_status";
/// Histogram per check: how long it took, seconds.
pub const CHECK_DURATION_SECONDS: &str = "relais_monitor_check_duration_seconds";
/// Counter of pages by `result` (`sent`, `failed`).
pub const PAGES_TOTAL: &str = "relais_monitor_pages_total";

/// A ready monitor: HTTP client and mailer built, nothing run yet.
#[derive(Debug)]
pub struct Application {
    liveness_every: Duration,
    deep_every: Duration,
    publish_timeout: Duration,
    bus: Bus,
    probe: Probe,
    pager: Pager,
}

/// The alert state of every check and the way out to the operator.
#[derive(Debug)]
struct Pager {
    policy: AlertPolicy,
    trackers: BTreeMap<Check, AlertTracker>,
    mailer: Option<Mailer>,
    send_timeout: Duration,
}

impl Application {
    /// Validates `settings` and builds the HTTP client and the mailer. Needs
    /// no server to answer yet: an unreachable edge or mail server is what the
    /// monitor reports, not a reason not to start.
    pub async fn build(settings: MonitorSettings, bus: Bus) -> Result<Application, MonitorError> {
        settings.validate()?;
        // reqwest (https edges) and lettre use rustls with ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.check_timeout)
            .build()
            .map_err(MonitorError::Http)?;
        let mailer = Mailer::from_settings(&settings.smtp)?;
        match &mailer {
            Some(m) => info!(mailer = ?m, "paging by e-mail"),
            None => warn!("monitor.smtp.to is empty: alerts are published and logged, not mailed"),
        }
        Ok(Application {
            liveness_every: settings.liveness_every,
            deep_every: settings.deep_every,
            publish_timeout: settings.check_timeout,
            bus: bus.clone(),
            pager: Pager {
                policy: AlertPolicy {
                    fail_after: settings.fail_after,
                    renotify_every: settings.renotify_every,
                },
                trackers: BTreeMap::new(),
                mailer,
                send_timeout: settings.smtp.timeout,
            },
            probe: Probe::new(http, bus, settings),
        })
    }

    /// Runs liveness checks every `liveness_every` and deep checks every
    /// `deep_every` (both at once at start, liveness first) until `stop`
    /// fires; a round in flight is abandoned then.
    pub async fn run_until_stopped(mut self, stop: CancellationToken) -> Result<(), MonitorError> {
        let mut liveness = tokio::time::interval(self.liveness_every);
        liveness.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut deep = tokio::time::interval(self.deep_every);
        deep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        info!(
            liveness_every = ?self.liveness_every,
            deep_every = ?self.deep_every,
            "monitor running"
        );
        loop {
            let checks: &[Check] = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                _ = liveness.tick() => &Check::LIVENESS,
                _ = deep.tick() => &Check::DEEP,
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.round(checks) => {}
            }
        }
        info!("monitor stopped");
        Ok(())
    }

    async fn round(&mut self, checks: &[Check]) {
        for &check in checks {
            let started = Instant::now();
            let Some(outcome) = self.probe.run(check).await else {
                debug!(%check, "skipped: nothing to judge it by this round");
                continue;
            };
            let took = started.elapsed();
            self.record(check, outcome, took).await;
        }
    }

    async fn record(&mut self, check: Check, outcome: Outcome, took: Duration) {
        let name = check.name();
        let passing = outcome.status == CheckStatus::Pass;
        metrics::gauge!(CHECK_STATUS, "check" => name).set(if passing { 1.0 } else { 0.0 });
        metrics::histogram!(CHECK_DURATION_SECONDS, "check" => name).record(took.as_secs_f64());
        let now = Utc::now();
        let step = self.pager.observe(check, &outcome, now).await;
        if passing {
            debug!(check = name, detail = %outcome.detail, "check passed");
        } else {
            let failures = step.consecutive_failures;
            warn!(check = name, failures, detail = %outcome.detail, "check failed");
        }
        self.publish(MonitorCheck {
            check: name.to_owned(),
            status: outcome.status,
            detail: outcome.detail.clone(),
            latency_ms: took.as_secs_f64() * 1000.0,
            consecutive_failures: step.consecutive_failures,
        })
        .await;
        if let Some(transition) = step.transition {
            match transition.state {
                AlertState::Firing => warn!(check = name, detail = %outcome.detail, "alert firing"),
                AlertState::Resolved => info!(check = name, "alert resolved"),
            }
            self.publish(MonitorAlert {
                check: name.to_owned(),
                state: transition.state,
                message: outcome.detail,
                since: transition.since,
            })
            .await;
        }
    }

    /// Publishes an event, bounded so that a NATS outage (which the checks
    /// report) never stalls the schedule or the pages.
    async fn publish<T: Event>(&self, data: T) {
        let event = Envelope::new(SOURCE, data);
        match tokio::time::timeout(self.publish_timeout, self.bus.publish_event(&event)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                warn!(subject = %event.subject(), error = %chain(&e), "event not published")
            }
            Err(_) => warn!(subject = %event.subject(), "event not published in time"),
        }
    }
}

impl Pager {
    /// Feeds the result to the check's tracker and sends the page it wants,
    /// first: the page matters more than the event.
    async fn observe(&mut self, check: Check, outcome: &Outcome, now: DateTime<Utc>) -> Step {
        let tracker = self.trackers.entry(check).or_default();
        let step = tracker.observe(&self.policy, outcome.status, now);
        let (Some(page), Some(mailer)) = (step.page, &self.mailer) else {
            return step;
        };
        let letter = compose(&PageFacts {
            check,
            page,
            detail: &outcome.detail,
            consecutive_failures: step.consecutive_failures,
            since: tracker.firing_since(),
            now,
        });
        let sent = match tokio::time::timeout(self.send_timeout, mailer.send(&letter)).await {
            Ok(result) => result.map_err(|e| chain(&e)),
            Err(_) => Err(format!(
                "no answer within {} ms (monitor.smtp.timeout)",
                self.send_timeout.as_millis()
            )),
        };
        match sent {
            Ok(()) => {
                tracker.delivered(page, now);
                metrics::counter!(PAGES_TOTAL, "result" => "sent").increment(1);
                info!(check = %check, subject = %letter.subject, "page sent");
            }
            Err(error) => {
                metrics::counter!(PAGES_TOTAL, "result" => "failed").increment(1);
                warn!(check = %check, subject = %letter.subject, %error, "page not sent; retrying at the next check");
            }
        }
        step
    }
}
