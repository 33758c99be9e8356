//! Core NATS traffic: not persisted, no PubAck (the edge's result subscriptions,
//! request/reply lookups).

use std::time::Duration;

use async_nats::{Request, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;

use crate::error::{check_filter_subject, check_name, check_publish_subject, BusError};
use crate::{Bus, Headers};

/// A message received on a core subscription.
#[derive(Debug, Clone)]
pub struct CoreMessage {
    /// Its subject.
    pub subject: String,
    /// Its headers.
    pub headers: Headers,
    /// Its payload.
    pub payload: Bytes,
    /// Where to reply, for requests.
    pub reply: Option<String>,
}

/// A core (non-persisted) subscription; ends when unsubscribed or the bus closes.
pub struct Subscription {
    inner: async_nats::Subscriber,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

impl Subscription {
    /// The next message, or `None` once the subscription is closed.
    pub async fn next(&mut self) -> Option<CoreMessage> {
        self.inner.next().await.map(|m| CoreMessage {
            subject: m.subject.to_string(),
            headers: Headers::from_nats(m.headers.as_ref()),
            payload: m.payload,
            reply: m.reply.map(|r| r.to_string()),
        })
    }

    /// Stops the subscription.
    pub async fn unsubscribe(mut self) -> Result<(), BusError> {
        self.inner
            .unsubscribe()
            .await
            .map_err(|e| BusError::core("unsubscribe", e))
    }
}

impl Bus {
    /// Publishes on core NATS (not persisted unless a stream captures the subject;
    /// no PubAck, no retry).
    pub async fn publish_core(
        &self,
        subject: &str,
        headers: &Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        check_publish_subject(subject)?;
        self.nats()
            .publish_with_headers(subject.to_owned(), headers.to_nats(), payload)
            .await
            .map_err(|e| BusError::core(format!("publish to {subject}"), e))
    }

    /// A core subscription (wildcards allowed).
    pub async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        check_filter_subject(subject)?;
        let inner = self
            .nats()
            .subscribe(subject.to_owned())
            .await
            .map_err(|e| BusError::core(format!("subscribe to {subject}"), e))?;
        Ok(Subscription { inner })
    }

    /// A core queue subscription: each message goes to one member of `group`.
    pub async fn queue_subscribe(
        &self,
        subject: &str,
        group: &str,
    ) -> Result<Subscription, BusError> {
        check_filter_subject(subject)?;
        check_name("queue group", group)?;
        let inner = self
            .nats()
            .queue_subscribe(subject.to_owned(), group.to_owned())
            .await
            .map_err(|e| BusError::core(format!("subscribe to {subject}"), e))?;
        Ok(Subscription { inner })
    }

    /// Sends a core request and waits up to `timeout` for the first reply.
    ///
    /// The reply comes back on this connection's inbox (`inbox_prefix`), so
    /// the user needs to subscribe there. Nobody listening is
    /// [`BusError::NoResponders`] at once; nobody answering in time (or a
    /// request the server refused to route) is [`BusError::RequestTimeout`].
    pub async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, BusError> {
        check_publish_subject(subject)?;
        let request = Request::new().payload(payload).timeout(Some(timeout));
        match self.nats().send_request(subject.to_owned(), request).await {
            Ok(message) => Ok(message.payload),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::TimedOut => BusError::RequestTimeout {
                    subject: subject.to_owned(),
                    timeout,
                },
                RequestErrorKind::NoResponders => BusError::NoResponders {
                    subject: subject.to_owned(),
                },
                _ => BusError::core(format!("request on {subject}"), e),
            }),
        }
    }

    /// Answers a request: publishes `payload` on its `reply` subject
    /// ([`CoreMessage::reply`]). The responder's user needs `allow_responses`.
    pub async fn respond(&self, reply: &str, payload: Bytes) -> Result<(), BusError> {
        self.publish_core(reply, &Headers::new(), payload).await
    }
}
