//! Publishing outcomes: `TranslationCompleted` / `TranslationFailed` on the
//! waiting edge's subjects, each awaited until its PubAck.

use relais_bus::{Bus, BusError, DeadLetter, Headers};
use relais_events::{
    Envelope, Event, FailureReason, TranslationCompleted, TranslationFailed, TranslationRequested,
};
use uuid::Uuid;

use crate::metrics;
use crate::{Layout, ModelSlot};

/// CloudEvents `source` of what the worker publishes.
pub const SOURCE: &str = "relais/worker";

/// Publishes this worker's outcomes; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Publisher {
    pub(crate) bus: Bus,
    pub(crate) layout: Layout,
    pub(crate) worker_id: String,
    /// Names the current model on failures.
    pub(crate) slot: ModelSlot,
}

/// Measurements carried on a completion.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) latency_ms: f64,
    pub(crate) queue_ms: f64,
    pub(crate) batch_size: u32,
}

impl Publisher {
    /// Publishes the completion of `request` and waits for its PubAck.
    pub(crate) async fn completed(
        &self,
        request: &Envelope<TranslationRequested>,
        headers: &Headers,
        translation: String,
        model_version: &str,
        timing: Timing,
    ) -> Result<(), BusError> {
        let req = &request.data;
        let event = TranslationCompleted {
            request_id: req.request_id,
            edge_id: req.edge_id.clone(),
            text: req.text.clone(),
            translation,
            model_version: model_version.to_owned(),
            worker_id: self.worker_id.clone(),
            latency_ms: timing.latency_ms,
            queue_ms: timing.queue_ms,
            batch_size: timing.batch_size,
        };
        self.publish(request, headers, event).await?;
        metrics::finished("completed");
        Ok(())
    }

    /// Publishes a failure of `request` and waits for its PubAck.
    pub(crate) async fn failed(
        &self,
        request: &Envelope<TranslationRequested>,
        headers: &Headers,
        reason: FailureReason,
        message: String,
    ) -> Result<(), BusError> {
        let event = self.failure(&request.data, reason, message);
        self.publish(request, headers, event).await?;
        metrics::finished("failed");
        Ok(())
    }

    /// The dead-letter hook: a `translate.request` that exhausted its
    /// deliveries becomes `TranslationFailed { deliveries_exhausted }`, with an
    /// id derived from the message so both dead-letter paths publish it once.
    /// Bytes that are no request have no edge to answer: nothing to publish.
    pub(crate) async fn exhausted(self, dl: DeadLetter) -> Result<(), BusError> {
        let Ok(request) = Envelope::<TranslationRequested>::decode(&dl.payload) else {
            return Ok(());
        };
        let message = format!("gave up after {} deliveries: {}", dl.deliveries, dl.reason);
        let event = self.failure(&request.data, FailureReason::DeliveriesExhausted, message);
        let subject = self.layout.subject(&event.subject());
        let mut envelope = Envelope::new(SOURCE, event);
        envelope.id = dl.derived_id(TranslationFailed::TYPE);
        envelope.traceparent = request.traceparent.clone();
        self.bus
            .publish_envelope_on(&subject, &envelope, &dl.headers.propagated())
            .await?;
        metrics::finished("failed");
        Ok(())
    }

    fn failure(
        &self,
        req: &TranslationRequested,
        reason: FailureReason,
        message: String,
    ) -> TranslationFailed {
        TranslationFailed {
            request_id: req.request_id,
            edge_id: req.edge_id.clone(),
            text: req.text.clone(),
            reason,
            message,
            worker_id: Some(self.worker_id.clone()),
            model_version: Some(self.slot.current().version().to_owned()),
        }
    }

    async fn publish<T: Event>(
        &self,
        request: &Envelope<TranslationRequested>,
        headers: &Headers,
        event: T,
    ) -> Result<(), BusError> {
        let subject = self.layout.subject(&event.subject());
        let mut envelope = Envelope::new(SOURCE, event);
        envelope.id = outcome_id(request.data.request_id, T::TYPE);
        envelope.traceparent = request.traceparent.clone();
        self.bus
            .publish_envelope_on(&subject, &envelope, &headers.propagated())
            .await
            .map(|_| ())
    }
}

/// The event id of the outcome of type `event_type` for `request_id`: the
/// same on every worker and every delivery, so an outcome published again
/// after a crash between PubAck and ack is stored once (the `EVENTS`
/// duplicate window drops the copy).
fn outcome_id(request_id: Uuid, event_type: &str) -> Uuid {
    let salt = event_type.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Uuid::from_u128(
        request_id.as_u128() ^ (u128::from(salt) << 64 | u128::from(salt.rotate_left(29))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_ids_are_stable_per_request_and_type() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let done = TranslationCompleted::TYPE;
        let failed = TranslationFailed::TYPE;
        assert_eq!(outcome_id(a, done), outcome_id(a, done));
        assert_ne!(outcome_id(a, done), outcome_id(a, failed));
        assert_ne!(outcome_id(a, done), outcome_id(b, done));
        assert_ne!(outcome_id(a, done), a);
    }
}
