//! One delivery of the `audit` consumer: write it, then decide ack / retry /
//! dead letter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use relais_bus::{Delivery, Outcome};
use relais_events::{AnyEvent, Event, FeedbackSubmitted, RawEnvelope};
use relais_store::{CurationRecorded, Recorded, Store, StoreError};
use tokio::sync::Notify;
use tracing::{debug, error, info, warn};

use crate::Layout;

/// Counter of handled deliveries, labelled `type` (the event type, `unknown`
/// or `undecodable`) and `outcome` (`recorded`, `duplicate`, `retry`,
/// `poison`, `dropped`).
pub const EVENTS_TOTAL: &str = "relais_audit_events_total";
/// Histogram of the time one `record_event` transaction took, in seconds.
pub const WRITE_SECONDS: &str = "relais_audit_write_seconds";

/// Writes deliveries to the store; shared by every handler call.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub store: Store,
    pub layout: Layout,
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Woken when a correction was accepted, so the batcher counts again.
    pub accepted: Arc<Notify>,
    /// Woken when a correction came before its translation: the batcher
    /// sweeps again soon (with concurrent handling the translation is usually
    /// being written at that very moment).
    pub orphans: Arc<Notify>,
}

impl Recorder {
    /// Records the event in one transaction. `Done` (ack) only once it is
    /// committed or was already there; a failed write asks for a redelivery
    /// after a growing delay; bytes that are no event are dead-lettered.
    pub(crate) async fn handle(&self, delivery: Delivery) -> Outcome {
        let payload = delivery.payload();
        let raw = match RawEnvelope::decode(payload) {
            Ok(raw) => raw,
            Err(e) => return self.poison(&delivery, "undecodable", &e),
        };
        let label = type_label(&raw.event_type);
        let started = Instant::now();
        let result = self.store.record_event(payload).await;
        metrics::histogram!(WRITE_SECONDS).record(started.elapsed().as_secs_f64());
        match result {
            Ok(recorded) => {
                let outcome = match recorded {
                    Recorded::New => "recorded",
                    Recorded::Duplicate => "duplicate",
                };
                count(label, outcome);
                debug!(id = %raw.id, event_type = %raw.event_type, outcome, "event stored");
                if raw.event_type == FeedbackSubmitted::TYPE {
                    self.curate(raw).await;
                }
                Outcome::Done
            }
            Err(e) if e.is_poison() => self.poison(&delivery, label, &e),
            Err(e) => {
                count(label, "retry");
                let delay = backoff(delivery.delivery_count(), self.retry_min, self.retry_max);
                let error = chain(&e);
                if e.is_transient() {
                    warn!(seq = delivery.stream_sequence(), deliveries = delivery.delivery_count(),
                        retry_in = ?delay, %error, "database unavailable, event will be redelivered");
                } else {
                    error!(seq = delivery.stream_sequence(), deliveries = delivery.delivery_count(),
                        retry_in = ?delay, %error, "writing the event failed, it will be redelivered");
                }
                Outcome::Retry(delay)
            }
        }
    }

    /// Dead-letters an event that can never be written, except a dead letter
    /// itself: that one is logged and acknowledged, so a broken dead letter
    /// cannot produce dead letters forever.
    fn poison(
        &self,
        delivery: &Delivery,
        label: &'static str,
        e: &dyn std::error::Error,
    ) -> Outcome {
        let reason = format!("audit cannot record this event: {}", chain(e));
        if self.layout.is_dead_letter_subject(delivery.subject()) {
            count(label, "dropped");
            error!(seq = delivery.stream_sequence(), subject = delivery.subject(), %reason,
                "undecodable dead letter acknowledged without recording (not dead-lettered again)");
            return Outcome::Done;
        }
        count(label, "poison");
        error!(seq = delivery.stream_sequence(), subject = delivery.subject(), %reason,
            "undecodable event sent to the dead letters");
        Outcome::Poison(reason)
    }

    /// Curates a recorded correction. Failures are logged only: the event is
    /// stored, and the batcher's sweep curates what is still pending.
    async fn curate(&self, raw: RawEnvelope) {
        let feedback = match raw.into_typed::<FeedbackSubmitted>() {
            Ok(envelope) => envelope.data,
            Err(e) => {
                warn!(error = %e, "recorded feedback could not be read back for curation");
                return;
            }
        };
        curate_one(
            &self.store,
            feedback.feedback_id,
            &self.accepted,
            Some(&self.orphans),
        )
        .await;
    }
}

/// Curates one feedback row and wakes the batcher when a pair was added (and,
/// when `orphans` is given, when the translation is not recorded yet).
pub(crate) async fn curate_one(
    store: &Store,
    feedback_id: uuid::Uuid,
    accepted: &Notify,
    orphans: Option<&Notify>,
) {
    match store.curate_feedback(feedback_id).await {
        Ok(CurationRecorded::Accepted { added }) => {
            info!(%feedback_id, added, "correction accepted into the dataset");
            accepted.notify_one();
        }
        Ok(CurationRecorded::Rejected) => info!(%feedback_id, "correction rejected"),
        Ok(CurationRecorded::AlreadyCurated) => {}
        Err(StoreError::NotFound { what, .. }) => {
            debug!(%feedback_id, what, "correction waits for its translation");
            if let Some(orphans) = orphans {
                orphans.notify_one();
            }
        }
        Err(e) => {
            warn!(%feedback_id, error = %chain(&e), "curation failed, retried by the next sweep")
        }
    }
}

/// `min · 2^(deliveries-1)`, at most `max`.
pub(crate) fn backoff(deliveries: u64, min: Duration, max: Duration) -> Duration {
    let exponent = u32::try_from(deliveries.saturating_sub(1).min(20)).unwrap_or(20);
    min.saturating_mul(1u32 << exponent).min(max)
}

/// The event type as a metric label: known types only, so the label set stays bounded.
fn type_label(event_type: &str) -> &'static str {
    AnyEvent::TYPES
        .iter()
        .find(|known| **known == event_type)
        .copied()
        .unwrap_or("unknown")
}

fn count(event_type: &'static str, outcome: &'static str) {
    metrics::counter!(EVENTS_TOTAL, "type" => event_type, "outcome" => outcome).increment(1);
}

/// An error and its causes, `: `-separated.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(backoff(1, min, max), Duration::from_secs(1));
        assert_eq!(backoff(2, min, max), Duration::from_secs(2));
        assert_eq!(backoff(5, min, max), Duration::from_secs(16));
        assert_eq!(backoff(6, min, max), max);
        assert_eq!(backoff(100_000, min, max), max);
        assert_eq!(backoff(0, min, max), min);
    }

    #[test]
    fn only_known_types_become_labels() {
        assert_eq!(type_label(FeedbackSubmitted::TYPE), FeedbackSubmitted::TYPE);
        assert_eq!(type_label("evil.type.with.random.1234"), "unknown");
    }

    #[test]
    fn error_chains_name_every_cause() {
        let inner = std::io::Error::other("disk full");
        let outer = StoreError::Io(inner);
        assert_eq!(chain(&outer), "writing the export failed: disk full");
    }
}
