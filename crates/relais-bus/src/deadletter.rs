//! The dead-letter path: a message that is given up becomes an event, never a
//! silent drop.
//!
//! Two ways in: the consumer loop gives up (poison, or retry on the last
//! delivery), or the server gives up (the ack wait expired on the last delivery,
//! e.g. the consumer crashed) and announces it with a max-deliveries advisory that
//! [`watch_dead_letters`] turns into the same event.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream::RetentionPolicy;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use relais_events::{DeadLettered, Envelope, Event};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::error::BusError;
use crate::{Bus, ConsumerSpec, Headers};

/// A message a consumer gave up on, with everything needed to report it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The stream it is in.
    pub stream: String,
    /// The consumer that gave up.
    pub consumer: String,
    /// The subject it was published on.
    pub subject: String,
    /// Its stream sequence.
    pub stream_sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// Why it was given up.
    pub reason: String,
    /// Its headers (request id, traceparent).
    pub headers: Headers,
    /// Its payload.
    pub payload: Bytes,
    /// When the stream stored it.
    pub published: DateTime<Utc>,
}

impl DeadLetter {
    /// The `DeadLettered` record of this message.
    pub fn to_event(&self) -> DeadLettered {
        let (payload, original_id) = DeadLettered::describe_payload(&self.payload);
        DeadLettered {
            stream: self.stream.clone(),
            consumer: self.consumer.clone(),
            subject: self.subject.clone(),
            stream_sequence: self.stream_sequence,
            deliveries: self.deliveries,
            reason: self.reason.clone(),
            payload,
            original_id,
        }
    }

    /// A UUID that is the same every time this message is given up, for the event
    /// published about it under `purpose`: both dead-letter paths may report the
    /// same message, and the equal `Nats-Msg-Id` makes the stream keep one event.
    pub fn derived_id(&self, purpose: &str) -> Uuid {
        let nanos = self.published.timestamp_nanos_opt().unwrap_or_default();
        let key = format!(
            "{purpose}\n{}\n{}\n{nanos}",
            self.stream, self.stream_sequence
        );
        let hi = fnv1a(0xcbf2_9ce4_8422_2325, key.as_bytes());
        let lo = fnv1a(0x84222325_cbf29ce4, key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}

fn fnv1a(seed: u64, data: &[u8]) -> u64 {
    data.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A service's own reaction to a dead letter, e.g. the worker publishing
/// `translation.failed` for an exhausted `translate.request`. Use
/// [`DeadLetter::derived_id`] as the event id so both paths publish it once.
pub type DeadLetterHook =
    Arc<dyn Fn(Bus, DeadLetter) -> BoxFuture<'static, Result<(), BusError>> + Send + Sync>;

/// What happens when a message is given up: the hook (if any) runs, then a
/// `DeadLettered` event is published on `events.deadletter.<stream>`. Only when
/// both succeed is the message terminated (and, from a work queue, deleted).
#[derive(Clone)]
pub struct DeadLetterPolicy {
    source: String,
    subject: Option<String>,
    hook: Option<DeadLetterHook>,
}

impl std::fmt::Debug for DeadLetterPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterPolicy")
            .field("source", &self.source)
            .field("subject", &self.subject)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl Default for DeadLetterPolicy {
    fn default() -> Self {
        DeadLetterPolicy::new("relais/bus")
    }
}

impl DeadLetterPolicy {
    /// Events are published with CloudEvents `source` = `source`.
    pub fn new(source: impl Into<String>) -> Self {
        DeadLetterPolicy {
            source: source.into(),
            subject: None,
            hook: None,
        }
    }

    /// Publishes the `DeadLettered` record on `subject` instead of its own subject
    /// (prefixed test topologies).
    #[must_use]
    pub fn on_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Runs `hook` for every dead letter, before the `DeadLettered` record.
    #[must_use]
    pub fn with_hook<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Bus, DeadLetter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BusError>> + Send + 'static,
    {
        self.hook = Some(Arc::new(move |bus, dl| hook(bus, dl).boxed()));
        self
    }

    /// Runs the hook, then publishes the `DeadLettered` event (id derived from the
    /// message, so both paths store it once).
    pub async fn publish(&self, bus: &Bus, dl: &DeadLetter) -> Result<(), BusError> {
        if let Some(hook) = &self.hook {
            hook(bus.clone(), dl.clone()).await?;
        }
        let event = dl.to_event();
        let subject = self.subject.clone().unwrap_or_else(|| event.subject());
        let mut envelope = Envelope::new(self.source.clone(), event);
        envelope.id = dl.derived_id(DeadLettered::TYPE);
        if let Some(tp) = dl.headers.traceparent() {
            envelope.traceparent = Some(tp.to_owned());
        }
        bus.publish_envelope_on(&subject, &envelope, &dl.headers.propagated())
            .await
            .map(|_| ())
    }
}

/// The server's `io.nats.jetstream.advisory.v1.max_deliver` advisory.
#[derive(Debug, Deserialize)]
struct MaxDeliverAdvisory {
    stream: String,
    consumer: String,
    stream_seq: u64,
    deliveries: u64,
}

/// The subject of max-deliveries advisories for one consumer.
pub fn max_deliveries_subject(stream: &str, consumer: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}")
}

/// Turns the server's max-deliveries advisories for `spec` into dead letters until
/// `cancel` fires: fetches the message by sequence, applies `policy` and, when the
/// stream is a work queue, deletes the message (it would otherwise stay forever).
///
/// Services run one per consumer they own, beside [`crate::run_consumer`]; instances
/// share a queue group, so each advisory is handled once. Advisories are core NATS
/// messages: one sent while no watcher runs is not seen.
pub async fn watch_dead_letters(
    bus: &Bus,
    spec: &ConsumerSpec,
    policy: DeadLetterPolicy,
    cancel: CancellationToken,
) -> Result<(), BusError> {
    let subject = max_deliveries_subject(&spec.stream, &spec.name);
    let mut sub = bus.queue_subscribe(&subject, "relais-deadletter").await?;
    bus.flush().await?;
    let stream = bus
        .js()
        .get_stream(&spec.stream)
        .await
        .map_err(|e| BusError::js(format!("get stream {}", spec.stream), e))?;
    let work_queue = stream.cached_info().config.retention == RetentionPolicy::WorkQueue;
    info!(%subject, work_queue, "dead-letter watcher started");
    loop {
        let message = tokio::select! {
            _ = cancel.cancelled() => break,
            m = sub.next() => m,
        };
        let Some(message) = message else { break };
        let advisory: MaxDeliverAdvisory = match serde_json::from_slice(&message.payload) {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "unreadable max-deliveries advisory, skipped");
                continue;
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match handle_advisory(bus, &stream, work_queue, &policy, &advisory).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => {
                    warn!(seq = advisory.stream_seq, error = %e, attempt, "dead-lettering failed, retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    error!(seq = advisory.stream_seq, error = %e, "dead-lettering failed, giving up on this advisory");
                    break;
                }
            }
        }
    }
    info!(%subject, "dead-letter watcher stopped");
    Ok(())
}

async fn handle_advisory(
    bus: &Bus,
    stream: &async_nats::jetstream::stream::Stream,
    work_queue: bool,
    policy: &DeadLetterPolicy,
    advisory: &MaxDeliverAdvisory,
) -> Result<(), BusError> {
    let seq = advisory.stream_seq;
    let raw = match stream.get_raw_message(seq).await {
        Ok(raw) => raw,
        Err(e) => {
            // Gone already: acknowledged late, or another path dead-lettered it.
            info!(seq, error = %e, "exhausted message no longer in the stream, nothing to do");
            return Ok(());
        }
    };
    let dl = DeadLetter {
        stream: advisory.stream.clone(),
        consumer: advisory.consumer.clone(),
        subject: raw.subject.to_string(),
        stream_sequence: seq,
        deliveries: advisory.deliveries,
        reason: format!(
            "not acknowledged after {} deliveries (ack wait expired; consumer stopped or crashed)",
            advisory.deliveries
        ),
        headers: Headers::from_nats(Some(&raw.headers)),
        payload: raw.payload,
        published: raw.time,
    };
    policy.publish(bus, &dl).await?;
    warn!(seq, stream = %dl.stream, consumer = %dl.consumer, "exhausted message dead-lettered");
    if work_queue {
        stream
            .delete_message(seq)
            .await
            .map_err(|e| BusError::js(format!("delete message {seq} from {}", dl.stream), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DeadLetter {
        DeadLetter {
            stream: "TRANSLATE".into(),
            consumer: "workers".into(),
            subject: "translate.request".into(),
            stream_sequence: 7,
            deliveries: 3,
            reason: "x".into(),
            headers: Headers::new(),
            payload: Bytes::from_static(b"not json"),
            published: DateTime::from_timestamp(1_700_000_000, 5).unwrap_or_default(),
        }
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = sample();
        let mut b = sample();
        b.reason = "another path".into();
        assert_eq!(a.derived_id("p"), b.derived_id("p"));
        assert_ne!(a.derived_id("p"), a.derived_id("q"));
        b.stream_sequence = 8;
        assert_ne!(a.derived_id("p"), b.derived_id("p"));
    }

    #[test]
    fn event_describes_the_message() {
        let e = sample().to_event();
        assert_eq!(e.subject(), "events.deadletter.TRANSLATE");
        assert_eq!(e.payload, "not json");
        assert_eq!(e.original_id, None);
        assert_eq!(e.deliveries, 3);
    }
}
