//! Results coming back to this edge: one core subscription on
//! `events.translation.*.<edge-id>`, routed to waiting requests by request id.
//!
//! A waiting request holds a [`Waiter`]; dropping it (answer received, timeout,
//! client gone) removes its entry, so the map never leaks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use relais_bus::Subscription;
use relais_events::{RawEnvelope, TranslationCompleted, TranslationFailed};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What a worker answered.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Completed(TranslationCompleted),
    Failed(TranslationFailed),
}

/// Requests waiting for an answer, and when a worker last answered.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pending: Mutex<HashMap<Uuid, oneshot::Sender<Answer>>>,
    last_answer: Mutex<Option<Instant>>,
}

impl Results {
    fn pending(&self) -> MutexGuard<'_, HashMap<Uuid, oneshot::Sender<Answer>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `request_id` before its request is published.
    pub(crate) fn register(self: &Arc<Self>, request_id: Uuid) -> Waiter {
        let (tx, rx) = oneshot::channel();
        self.pending().insert(request_id, tx);
        Waiter {
            request_id,
            rx: Some(rx),
            results: Arc::clone(self),
        }
    }

    /// Requests waiting right now.
    pub(crate) fn waiting(&self) -> usize {
        self.pending().len()
    }

    /// When a worker last answered this edge.
    pub(crate) fn last_answer(&self) -> Option<Instant> {
        *self.last_answer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deliver(&self, request_id: Uuid, answer: Answer) {
        *self.last_answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        match self.pending().remove(&request_id) {
            Some(tx) => {
                // The receiver may have just given up; nothing to do then.
                let _ = tx.send(answer);
            }
            None => {
                tracing::debug!(%request_id, "answer for a request no longer waiting");
            }
        }
    }
}

/// One request's claim on its answer; removes itself from the map on drop.
#[derive(Debug)]
pub(crate) struct Waiter {
    request_id: Uuid,
    rx: Option<oneshot::Receiver<Answer>>,
    results: Arc<Results>,
}

impl Waiter {
    /// Waits for the answer; `None` if the router stopped.
    pub(crate) async fn answer(&mut self) -> Option<Answer> {
        match self.rx.as_mut() {
            Some(rx) => rx.await.ok(),
            None => None,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.rx = None;
        self.results.pending().remove(&self.request_id);
    }
}

/// Reads the results subscription until `cancel` fires or it closes.
pub(crate) async fn route(
    mut subscription: Subscription,
    results: Arc<Results>,
    cancel: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            _ = cancel.cancelled() => break,
            m = subscription.next() => m,
        };
        let Some(message) = message else { break };
        match decode(&message.payload) {
            Ok((request_id, answer)) => results.deliver(request_id, answer),
            Err(e) => {
                tracing::warn!(subject = %message.subject, error = %e, "unreadable result event ignored");
            }
        }
    }
    if let Err(e) = subscription.unsubscribe().await {
        tracing::debug!(error = %e, "unsubscribe from results failed");
    }
    tracing::info!("results routing stopped");
}

fn decode(payload: &[u8]) -> Result<(Uuid, Answer), relais_events::EventError> {
    let raw = RawEnvelope::decode(payload)?;
    if raw.event_type == <TranslationFailed as relais_events::Event>::TYPE {
        let e = raw.into_typed::<TranslationFailed>()?;
        Ok((e.data.request_id, Answer::Failed(e.data)))
    } else {
        let e = raw.into_typed::<TranslationCompleted>()?;
        Ok((e.data.request_id, Answer::Completed(e.data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(id: Uuid) -> Answer {
        Answer::Completed(TranslationCompleted {
            request_id: id,
            edge_id: "e".into(),
            text: "hi".into(),
            translation: "salut".into(),
            model_version: "v1".into(),
            worker_id: "w".into(),
            latency_ms: 1.0,
            queue_ms: 0.0,
            batch_size: 1,
        })
    }

    #[tokio::test]
    async fn an_answer_reaches_its_waiter_and_dropped_waiters_leave_nothing() {
        let results = Arc::new(Results::default());
        let id = Uuid::new_v4();
        let mut waiter = results.register(id);
        let other = results.register(Uuid::new_v4());
        assert_eq!(results.waiting(), 2);
        results.deliver(id, completed(id));
        assert!(matches!(waiter.answer().await, Some(Answer::Completed(c)) if c.request_id == id));
        drop(waiter);
        drop(other);
        assert_eq!(results.waiting(), 0);
        assert!(results.last_answer().is_some());
    }

    #[test]
    fn decodes_both_outcomes_and_rejects_garbage() {
        let id = Uuid::new_v4();
        let Answer::Completed(c) = completed(id) else {
            unreachable!()
        };
        let env = relais_events::Envelope::new("test", c);
        let bytes = env.to_json().expect("encodes");
        assert!(matches!(decode(&bytes), Ok((got, Answer::Completed(_))) if got == id));
        let failed = relais_events::Envelope::new(
            "test",
            TranslationFailed {
                request_id: id,
                edge_id: "e".into(),
                text: "hi".into(),
                reason: relais_events::FailureReason::ModelError,
                message: "boom".into(),
                worker_id: None,
                model_version: None,
            },
        );
        let bytes = failed.to_json().expect("encodes");
        assert!(matches!(decode(&bytes), Ok((_, Answer::Failed(_)))));
        assert!(decode(b"not json").is_err());
    }
}
