//! The connection: connect, JetStream publish with PubAck and retries, core traffic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, Context};
use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event as NatsEvent, ServerError};
use bytes::Bytes;
use relais_events::{Envelope, Event};
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use crate::denied::{denied_publish_subject, Denials};
use crate::error::{check_publish_subject, BusError};
use crate::{BusConfig, Headers};

/// Per-request timeout for JetStream API calls and PubAcks.
const JS_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to NATS with its JetStream context. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    js: Context,
    url: String,
    publish_retry_for: Duration,
    denied: Arc<Denials>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("url", &self.inner.url)
            .field("state", &self.inner.client.connection_state())
            .finish()
    }
}

/// The server's acknowledgement of a JetStream publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    /// The stream that stored the message.
    pub stream: String,
    /// Its sequence there (the original's sequence for a duplicate).
    pub sequence: u64,
    /// True when the server had already stored a message with this id.
    pub duplicate: bool,
}

impl Bus {
    /// Connects. The first connection fails fast ([`BusError::Unreachable`] when
    /// nothing answers within `connect_timeout`); once connected, the client
    /// reconnects forever with a capped exponential backoff, logging each
    /// disconnect and reconnect.
    pub async fn connect(config: &BusConfig) -> Result<Bus, BusError> {
        let url = config.url.clone();
        let denied = Arc::new(Denials::default());
        let mut options = ConnectOptions::new()
            .name(&config.name)
            .connection_timeout(config.connect_timeout)
            .max_reconnects(None)
            .reconnect_delay_callback(reconnect_delay)
            .event_callback({
                let name = config.name.clone();
                let denied = Arc::clone(&denied);
                move |event| {
                    let name = name.clone();
                    let denied = Arc::clone(&denied);
                    async move {
                        if let NatsEvent::ServerError(ServerError::Other(e)) = &event {
                            if let Some(subject) = denied_publish_subject(e) {
                                denied.record(subject);
                            }
                        }
                        log_event(&name, event)
                    }
                }
            });
        if let Some(user) = &config.user {
            let password = config
                .password
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default();
            options = options.user_and_password(user.clone(), password);
        }
        if let Some(prefix) = &config.inbox_prefix {
            options = options.custom_inbox_prefix(prefix);
        }
        // async-nats bounds each attempt by `connection_timeout`; the outer bound
        // covers DNS and the handshake as a whole.
        let bound = config.connect_timeout + Duration::from_secs(1);
        let client = match tokio::time::timeout(bound, options.connect(url.as_str())).await {
            Err(_elapsed) => {
                return Err(BusError::Unreachable { url, source: None });
            }
            Ok(Err(e)) => {
                return Err(match e.kind() {
                    ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns => {
                        BusError::Unreachable {
                            url,
                            source: Some(Box::new(e)),
                        }
                    }
                    ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                        BusError::Auth {
                            url,
                            user: config.user.clone(),
                            source: Box::new(e),
                        }
                    }
                    _ => BusError::Connect {
                        url,
                        source: Box::new(e),
                    },
                });
            }
            Ok(Ok(client)) => client,
        };
        info!(url = %url, name = %config.name, "connected to NATS");
        let js = jetstream::ContextBuilder::new()
            .timeout(JS_TIMEOUT)
            .build(client.clone());
        Ok(Bus {
            inner: Arc::new(Inner {
                client,
                js,
                url,
                publish_retry_for: config.publish_retry_for,
                denied,
            }),
        })
    }

    /// The server URL this bus was configured with.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Whether the connection is up right now.
    pub fn is_connected(&self) -> bool {
        matches!(
            self.inner.client.connection_state(),
            async_nats::connection::State::Connected
        )
    }

    /// Round trip to the server (health checks).
    pub async fn flush(&self) -> Result<(), BusError> {
        self.inner
            .client
            .flush()
            .await
            .map_err(|e| BusError::core("flush", e))
    }

    pub(crate) fn js(&self) -> &Context {
        &self.inner.js
    }

    pub(crate) fn nats(&self) -> &Client {
        &self.inner.client
    }

    /// Publishes to JetStream and waits for the PubAck.
    ///
    /// `Nats-Msg-Id` is set to `msg_id`, so the stream stores the message once even
    /// when this call retries (on ack timeout, lost connection, or no responders while
    /// JetStream restarts) or when a caller publishes the same id again within the
    /// stream's duplicate window. Retries back off and stop after
    /// `publish_retry_for` ([`BusError::PublishTimeout`]). A subject this user may
    /// not publish to fails at once with [`BusError::PermissionDenied`].
    pub async fn publish(
        &self,
        subject: &str,
        msg_id: &str,
        headers: &Headers,
        payload: Bytes,
    ) -> Result<PubAck, BusError> {
        check_publish_subject(subject)?;
        if msg_id.is_empty() || msg_id.chars().any(|c| c.is_control()) {
            return Err(BusError::InvalidName {
                kind: "message id",
                name: msg_id.to_owned(),
                why: "must be non-empty text without control characters",
            });
        }
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut delay = Duration::from_millis(50);
        loop {
            attempts += 1;
            let message = PublishMessage::build()
                .payload(payload.clone())
                .headers(headers.to_nats())
                .message_id(msg_id);
            let budget = self
                .inner
                .publish_retry_for
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(100));
            let denied = self.inner.denied.notify.notified();
            let send_and_ack = async {
                match self
                    .inner
                    .js
                    .send_publish(subject.to_owned(), message)
                    .await
                {
                    Ok(ack) => ack.await,
                    Err(e) => Err(e),
                }
            };
            let result = tokio::select! {
                r = tokio::time::timeout(budget, send_and_ack) => match r {
                    Ok(r) => r,
                    Err(_) => Err(PublishErrorKind::TimedOut.into()),
                },
                _ = denied, if !self.inner.denied.denied_since(subject, started) => {
                    Err(PublishErrorKind::Other.into())
                }
            };
            if self.inner.denied.denied_since(subject, started) {
                return Err(BusError::PermissionDenied {
                    subject: subject.to_owned(),
                });
            }
            let err = match result {
                Ok(ack) => {
                    if attempts > 1 {
                        info!(
                            subject,
                            msg_id, attempts, "publish acknowledged after retries"
                        );
                    }
                    return Ok(PubAck {
                        stream: ack.stream,
                        sequence: ack.sequence,
                        duplicate: ack.duplicate,
                    });
                }
                Err(e) => e,
            };
            let retryable = matches!(
                err.kind(),
                PublishErrorKind::TimedOut
                    | PublishErrorKind::BrokenPipe
                    | PublishErrorKind::MaxAckPending
                    | PublishErrorKind::StreamNotFound
            );
            if !retryable {
                return Err(BusError::Publish {
                    subject: subject.to_owned(),
                    source: Box::new(err),
                });
            }
            let elapsed = started.elapsed();
            if elapsed + delay >= self.inner.publish_retry_for {
                return Err(BusError::PublishTimeout {
                    subject: subject.to_owned(),
                    attempts,
                    elapsed,
                    source: Box::new(err),
                });
            }
            warn!(subject, msg_id, attempts, error = %err, retry_in = ?delay, "publish not acknowledged, retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Publishes an event envelope as JSON on its subject, with `Nats-Msg-Id` set
    /// to the event id and `traceparent` copied from the envelope.
    pub async fn publish_event<T: Event>(&self, event: &Envelope<T>) -> Result<PubAck, BusError> {
        self.publish_event_with(event, &Headers::new()).await
    }

    /// As [`Bus::publish_event`], adding `headers` (e.g. `relais-request-id`, see
    /// [`Headers::propagated`]). The envelope's `traceparent`, when set, wins.
    pub async fn publish_event_with<T: Event>(
        &self,
        event: &Envelope<T>,
        headers: &Headers,
    ) -> Result<PubAck, BusError> {
        let subject = event.subject();
        self.publish_envelope_on(&subject, event, headers).await
    }

    /// Publishes an envelope on an explicit subject (tests, prefixed topologies).
    pub async fn publish_envelope_on<T: serde::Serialize>(
        &self,
        subject: &str,
        event: &Envelope<T>,
        headers: &Headers,
    ) -> Result<PubAck, BusError> {
        let payload = event.to_json()?;
        let mut headers = headers.clone();
        if let Some(tp) = &event.traceparent {
            headers.insert(crate::headers::TRACEPARENT, tp.clone());
        }
        headers.insert("relais-event-type", event.event_type.clone());
        let id = event.id.to_string();
        debug!(subject, id = %id, "publishing event");
        self.publish(subject, &id, &headers, Bytes::from(payload))
            .await
    }

    /// A fresh event id, for callers that publish raw bytes.
    pub fn new_msg_id() -> String {
        Uuid::new_v4().to_string()
    }
}

fn reconnect_delay(attempts: usize) -> Duration {
    let exp = attempts.min(6) as u32;
    Duration::from_millis(100u64 << exp).min(Duration::from_secs(5))
}

fn log_event(name: &str, event: NatsEvent) {
    match event {
        NatsEvent::Connected => info!(connection = name, "NATS connection (re)established"),
        NatsEvent::Disconnected => warn!(connection = name, "NATS connection lost, reconnecting"),
        NatsEvent::LameDuckMode => warn!(connection = name, "NATS server entering lame duck mode"),
        NatsEvent::SlowConsumer(sid) => {
            warn!(
                connection = name,
                sid, "NATS slow consumer, messages dropped"
            )
        }
        NatsEvent::ServerError(e) => error!(connection = name, error = %e, "NATS server error"),
        NatsEvent::ClientError(e) => error!(connection = name, error = %e, "NATS client error"),
        other => debug!(connection = name, event = %other, "NATS event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_backoff_grows_and_is_capped() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(100));
        assert_eq!(reconnect_delay(1), Duration::from_millis(200));
        assert_eq!(reconnect_delay(100), Duration::from_secs(5));
    }
}
