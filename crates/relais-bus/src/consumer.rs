//! The consumer loop: pull, hand each delivery to a handler, map its outcome.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::Message;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use relais_events::{Envelope, Event};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::deadletter::{DeadLetter, DeadLetterPolicy};
use crate::error::BusError;
use crate::{Bus, ConsumerSpec, Headers};

/// What the handler decided about one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled: acknowledge.
    Done,
    /// Failed for now: redeliver after this delay (nak with delay). On the last
    /// allowed delivery the message is dead-lettered instead.
    Retry(Duration),
    /// Can never succeed: dead-letter it, then terminate it.
    Poison(String),
}

/// One delivery of a stream message to this consumer.
pub struct Delivery {
    message: Message,
    subject: String,
    headers: Headers,
    stream: String,
    consumer: String,
    stream_sequence: u64,
    delivered: u64,
    max_deliver: u64,
    published: DateTime<Utc>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.subject)
            .field("stream", &self.stream)
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl Delivery {
    fn new(message: Message, max_deliver: u64) -> Result<Delivery, BusError> {
        let info = message
            .info()
            .map_err(|e| BusError::js("read delivery metadata", e))?;
        let (stream, consumer, stream_sequence, delivered, published) = (
            info.stream.to_owned(),
            info.consumer.to_owned(),
            info.stream_sequence,
            u64::try_from(info.delivered).unwrap_or(0),
            info.published,
        );
        Ok(Delivery {
            subject: message.subject.to_string(),
            headers: Headers::from_nats(message.headers.as_ref()),
            stream,
            consumer,
            stream_sequence,
            delivered,
            max_deliver,
            published,
            message,
        })
    }

    /// The subject the message was published on.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Its headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Its payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// Its sequence in the stream.
    pub fn stream_sequence(&self) -> u64 {
        self.stream_sequence
    }

    /// Which delivery this is, from 1.
    pub fn delivery_count(&self) -> u64 {
        self.delivered
    }

    /// Whether the server will not deliver it again.
    pub fn is_last_attempt(&self) -> bool {
        self.delivered >= self.max_deliver
    }

    /// When the stream stored it.
    pub fn published(&self) -> DateTime<Utc> {
        self.published
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The payload read as an event envelope of type `T` (type string checked).
    pub fn event<T: Event>(&self) -> Result<Envelope<T>, BusError> {
        Ok(Envelope::<T>::decode(&self.message.payload)?)
    }

    /// Tells the server work is still going on, resetting the ack wait.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| self.ack_error("progress", e))
    }

    fn ack_error(&self, action: &'static str, e: async_nats::Error) -> BusError {
        BusError::Ack {
            action,
            stream_sequence: self.stream_sequence,
            source: e,
        }
    }

    fn dead_letter(&self, reason: String) -> DeadLetter {
        DeadLetter {
            stream: self.stream.clone(),
            consumer: self.consumer.clone(),
            subject: self.subject.clone(),
            stream_sequence: self.stream_sequence,
            deliveries: self.delivered,
            reason,
            headers: self.headers.clone(),
            payload: self.message.payload.clone(),
            published: self.published,
        }
    }
}

/// Tuning for [`run_consumer_with`].
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Handler calls running at once (and messages pulled at most per request).
    pub concurrency: usize,
    /// How long one pull request waits for messages before asking again.
    pub pull_expiry: Duration,
    /// What to publish when a message is given up.
    pub dead_letter: DeadLetterPolicy,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            concurrency: 1,
            pull_expiry: Duration::from_secs(5),
            dead_letter: DeadLetterPolicy::default(),
        }
    }
}

/// [`run_consumer_with`] with default options (one message at a time, the
/// default dead-letter event).
pub async fn run_consumer<H, Fut>(
    bus: &Bus,
    spec: &ConsumerSpec,
    handler: H,
    cancel: CancellationToken,
) -> Result<(), BusError>
where
    H: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    run_consumer_with(bus, spec, ConsumerOptions::default(), handler, cancel).await
}

/// Pulls from the durable consumer `spec` (which must be declared) until `cancel`
/// fires, handing each delivery to `handler` and mapping its [`Outcome`]:
/// `Done` → ack, `Retry(d)` → nak with delay `d`, `Poison` → dead-letter + term;
/// `Retry` on the last allowed delivery → dead-letter + term.
///
/// On cancel it stops pulling and waits for handler calls already running.
/// Connection losses are logged and pulling resumes once NATS is back.
pub async fn run_consumer_with<H, Fut>(
    bus: &Bus,
    spec: &ConsumerSpec,
    options: ConsumerOptions,
    handler: H,
    cancel: CancellationToken,
) -> Result<(), BusError>
where
    H: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let consumer = open_consumer(bus, spec).await?;
    let handler = Arc::new(handler);
    let concurrency = options.concurrency.max(1);
    let max_deliver = u64::try_from(spec.max_deliver).unwrap_or(1);
    let mut running: JoinSet<()> = JoinSet::new();
    info!(stream = %spec.stream, consumer = %spec.name, concurrency, "consumer started");

    'pulling: while !cancel.is_cancelled() {
        // Reap finished calls, then wait for a free slot.
        while let Some(joined) = running.try_join_next() {
            if let Err(e) = joined {
                error!(consumer = %spec.name, error = %e, "handler task panicked; the message will be redelivered");
            }
        }
        if running.len() >= concurrency {
            tokio::select! {
                _ = cancel.cancelled() => break 'pulling,
                _ = running.join_next() => continue 'pulling,
            }
        }
        let want = concurrency - running.len();
        let batch = tokio::select! {
            _ = cancel.cancelled() => break 'pulling,
            batch = tokio::time::timeout(
                options.pull_expiry + PULL_GRACE,
                consumer.fetch().max_messages(want).expires(options.pull_expiry).messages(),
            ) => batch,
        };
        let mut batch = match batch {
            Ok(Ok(b)) => b,
            Err(_) => {
                warn!(consumer = %spec.name, "pull request got no answer, retrying");
                continue;
            }
            Ok(Err(e)) => {
                warn!(consumer = %spec.name, error = %e, "pull request failed, retrying");
                pause(&cancel, Duration::from_millis(500)).await;
                continue;
            }
        };
        // A pull request whose server restarted never ends: bound each wait on
        // the client side and pull again (anything delivered to the abandoned
        // request is redelivered after its ack wait).
        let drain_bound = options.pull_expiry + PULL_GRACE;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => break 'pulling,
                next = tokio::time::timeout(drain_bound, batch.next()) => next,
            };
            let Ok(next) = next else {
                debug!(consumer = %spec.name, "pull request outlived its expiry; pulling again");
                break;
            };
            let message = match next {
                None => break,
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    warn!(consumer = %spec.name, error = %e, "pull failed, retrying");
                    pause(&cancel, Duration::from_millis(500)).await;
                    break;
                }
            };
            let delivery = match Delivery::new(message, max_deliver) {
                Ok(d) => d,
                Err(e) => {
                    error!(consumer = %spec.name, error = %e, "delivery without JetStream metadata, skipped");
                    continue;
                }
            };
            let handler = Arc::clone(&handler);
            let bus = bus.clone();
            let policy = options.dead_letter.clone();
            running.spawn(async move { handle(&bus, &policy, delivery, handler.as_ref()).await });
        }
    }
    info!(consumer = %spec.name, in_flight = running.len(), "consumer stopping, finishing in-flight work");
    while let Some(joined) = running.join_next().await {
        if let Err(e) = joined {
            error!(consumer = %spec.name, error = %e, "handler task panicked");
        }
    }
    Ok(())
}

async fn open_consumer(bus: &Bus, spec: &ConsumerSpec) -> Result<PullConsumer, BusError> {
    let stream = bus
        .js()
        .get_stream(&spec.stream)
        .await
        .map_err(|e| BusError::js(format!("get stream {}", spec.stream), e))?;
    stream
        .get_consumer(&spec.name)
        .await
        .map_err(|e| BusError::js(format!("get consumer {}/{}", spec.stream, spec.name), e))
}

/// How long past its expiry a pull request may stay silent before it is abandoned.
const PULL_GRACE: Duration = Duration::from_secs(2);

async fn pause(cancel: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

async fn handle<H, Fut>(bus: &Bus, policy: &DeadLetterPolicy, delivery: Delivery, handler: &H)
where
    H: Fn(Delivery) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let message = delivery.message.clone();
    let seq = delivery.stream_sequence;
    let last = delivery.is_last_attempt();
    let (outcome_dl, retry_delay) = {
        let template = delivery.dead_letter(String::new());
        let outcome = handler(delivery).await;
        debug!(seq, ?outcome, "handled");
        match outcome {
            Outcome::Done => {
                // Wait for the server to confirm, so a graceful stop never loses an ack.
                if let Err(e) = message.double_ack().await {
                    warn!(seq, error = %e, "ack failed; the message will be redelivered");
                }
                return;
            }
            Outcome::Retry(d) if !last => (None, d),
            Outcome::Retry(d) => (
                Some(DeadLetter {
                    reason: format!(
                        "gave up after {} deliveries (last asked to retry in {d:?})",
                        template.deliveries
                    ),
                    ..template
                }),
                d,
            ),
            Outcome::Poison(reason) => (Some(DeadLetter { reason, ..template }), Duration::ZERO),
        }
    };
    let Some(dl) = outcome_dl else {
        if let Err(e) = message.ack_with(AckKind::Nak(Some(retry_delay))).await {
            warn!(seq, error = %e, "nak failed; redelivery after ack wait");
        }
        return;
    };
    match policy.publish(bus, &dl).await {
        Ok(()) => {
            warn!(seq, stream = %dl.stream, reason = %dl.reason, "message dead-lettered");
            if let Err(e) = message.double_ack_with(AckKind::Term).await {
                warn!(seq, error = %e, "term failed after dead-lettering");
            }
        }
        Err(e) => {
            // Leave it to redelivery or, on the last delivery, to the
            // max-deliveries advisory and the dead-letter watcher.
            error!(seq, error = %e, "dead-letter publish failed; nak so it is not lost");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
    }
}
