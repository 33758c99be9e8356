//! Hands requests to the bus and waits for their answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use relais_bus::{Bus, Headers};
use relais_events::names::subject;
use relais_events::{
    Envelope, Event, FeedbackSubmitted, TranslationLookup, TranslationLookupReply,
    TranslationRequested,
};
use uuid::Uuid;

use crate::domain::{Correction, SourceText};
use crate::results::{Answer, Results};
use crate::EdgeError;

/// Who asked, carried onto the events a request causes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    /// The API key's name, when one was used.
    pub(crate) client: Option<String>,
    /// The caller's W3C `traceparent`, when it sent a well-formed one.
    pub(crate) traceparent: Option<String>,
}

impl Origin {
    /// Reads `traceparent` from the request headers, keeping it only when well formed.
    pub(crate) fn new(client: Option<String>, headers: &axum::http::HeaderMap) -> Self {
        let traceparent = headers
            .get(relais_events::names::header::TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_traceparent(v))
            .map(str::to_owned);
        Origin {
            client,
            traceparent,
        }
    }
}

/// `version-traceid-parentid-flags`, lowercase hex of 2-32-16-2 digits.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 4
        && parts
            .iter()
            .zip([2, 32, 16, 2])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A finished translation.
#[derive(Debug, Clone)]
pub(crate) struct Translated {
    pub(crate) request_id: Uuid,
    pub(crate) translation: String,
    pub(crate) model_version: String,
    pub(crate) latency: Duration,
}

/// Pauses before asking again when the audit store does not know an id yet: a
/// translation just answered may reach the audit log a moment after its
/// caller got it (about 300 ms in all).
const LOOKUP_RETRIES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(200)];

/// Bounds on the calls a translator makes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// A whole translation, publish to answer.
    pub(crate) request: Duration,
    /// Handing one event to JetStream.
    pub(crate) publish: Duration,
    /// One lookup request to the audit service.
    pub(crate) lookup: Duration,
}

/// Publishes requests for one edge and waits for their answers.
#[derive(Debug)]
pub(crate) struct Translator {
    bus: Bus,
    edge_id: String,
    source: String,
    results: Arc<Results>,
    request_timeout: Duration,
    publish_timeout: Duration,
    lookup_timeout: Duration,
}

impl Translator {
    pub(crate) fn new(
        bus: Bus,
        edge_id: String,
        results: Arc<Results>,
        timeouts: Timeouts,
    ) -> Self {
        Translator {
            source: format!("relais/edge/{edge_id}"),
            bus,
            edge_id,
            results,
            request_timeout: timeouts.request,
            publish_timeout: timeouts.publish,
            lookup_timeout: timeouts.lookup,
        }
    }

    pub(crate) fn bus(&self) -> &Bus {
        &self.bus
    }

    pub(crate) fn results(&self) -> &Results {
        &self.results
    }

    /// Publishes a `TranslationRequested` and waits for its outcome, within the
    /// request timeout overall.
    pub(crate) async fn translate(
        &self,
        text: &SourceText,
        origin: &Origin,
    ) -> Result<Translated, EdgeError> {
        let started = Instant::now();
        let request_id = Uuid::new_v4();
        let deadline = chrono::Utc::now()
            + chrono::Duration::from_std(self.request_timeout).unwrap_or(chrono::Duration::MAX);
        let mut event = Envelope::new(
            self.source.clone(),
            TranslationRequested {
                request_id,
                edge_id: self.edge_id.clone(),
                text: text.as_str().to_owned(),
                deadline,
                client: origin.client.clone(),
            },
        );
        event.traceparent = origin.traceparent.clone();
        // Registered before publishing so a fast answer cannot be missed.
        let mut waiter = self.results.register(request_id);
        self.publish(&event, request_id).await?;
        let remaining = self.request_timeout.saturating_sub(started.elapsed());
        let answer = match tokio::time::timeout(remaining, waiter.answer()).await {
            Err(_elapsed) => {
                tracing::warn!(%request_id, timeout = ?self.request_timeout, "no answer from a worker in time");
                return Err(EdgeError::Timeout);
            }
            Ok(None) => return Err(EdgeError::Unavailable),
            Ok(Some(answer)) => answer,
        };
        match answer {
            Answer::Completed(c) => {
                let latency = started.elapsed();
                metrics::histogram!("relais_edge_translate_latency_seconds")
                    .record(latency.as_secs_f64());
                Ok(Translated {
                    request_id,
                    translation: c.translation,
                    model_version: c.model_version,
                    latency,
                })
            }
            Answer::Failed(f) => {
                tracing::warn!(%request_id, reason = ?f.reason, message = %f.message, worker = ?f.worker_id, "translation failed");
                Err(EdgeError::TranslationFailed(f.reason))
            }
        }
    }

    /// Checks with the audit service that `request_id` is a known translation,
    /// then publishes a `FeedbackSubmitted` and returns its id.
    ///
    /// Unknown ids are [`EdgeError::UnknownTranslation`] (after a short retry,
    /// see [`LOOKUP_RETRIES`]); no answer from the audit service is
    /// [`EdgeError::FeedbackUnavailable`]: a correction that cannot be verified
    /// is never accepted.
    pub(crate) async fn feedback(
        &self,
        request_id: Uuid,
        correction: Correction,
        origin: &Origin,
    ) -> Result<Uuid, EdgeError> {
        self.check_known(request_id).await?;
        let feedback_id = Uuid::new_v4();
        let mut event = Envelope::new(
            self.source.clone(),
            FeedbackSubmitted {
                feedback_id,
                request_id,
                correction: correction.into_string(),
                client: origin.client.clone(),
            },
        );
        event.traceparent = origin.traceparent.clone();
        self.publish(&event, request_id).await?;
        Ok(feedback_id)
    }

    /// Asks the audit service whether `request_id` is recorded, asking again
    /// after [`LOOKUP_RETRIES`] while it is not.
    async fn check_known(&self, request_id: Uuid) -> Result<(), EdgeError> {
        if !self.bus.is_connected() {
            tracing::warn!(%request_id, "NATS is not connected; refusing feedback");
            return Err(EdgeError::FeedbackUnavailable);
        }
        let payload = TranslationLookup { request_id }.to_json().map_err(|e| {
            tracing::warn!(%request_id, error = %e, "cannot encode a lookup");
            EdgeError::FeedbackUnavailable
        })?;
        let mut retries = LOOKUP_RETRIES.iter();
        loop {
            let reply = self
                .bus
                .request(
                    subject::TRANSLATION_LOOKUP,
                    payload.clone().into(),
                    self.lookup_timeout,
                )
                .await
                .map_err(|e| {
                    tracing::warn!(%request_id, error = %e, "translation lookup got no answer; refusing feedback");
                    EdgeError::FeedbackUnavailable
                })?;
            let reply = TranslationLookupReply::from_json(&reply).map_err(|e| {
                tracing::warn!(%request_id, error = %e, "unreadable lookup reply");
                EdgeError::FeedbackUnavailable
            })?;
            if reply.known {
                tracing::debug!(%request_id, status = ?reply.status, "feedback on a known translation");
                return Ok(());
            }
            match retries.next() {
                Some(pause) => tokio::time::sleep(*pause).await,
                None => return Err(EdgeError::UnknownTranslation { id: request_id }),
            }
        }
    }

    /// Publishes with the bounded publish timeout: NATS down answers at once,
    /// a slow or refusing JetStream answers within `publish_timeout`.
    async fn publish<T: Event>(
        &self,
        event: &Envelope<T>,
        request_id: Uuid,
    ) -> Result<(), EdgeError> {
        if !self.bus.is_connected() {
            tracing::warn!(%request_id, "NATS is not connected; refusing the request");
            return Err(EdgeError::Unavailable);
        }
        let headers = Headers::new().with_request_id(request_id.to_string());
        match tokio::time::timeout(
            self.publish_timeout,
            self.bus.publish_event_with(event, &headers),
        )
        .await
        {
            Ok(Ok(_ack)) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(%request_id, error = %e, "publish failed");
                Err(EdgeError::Unavailable)
            }
            Err(_elapsed) => {
                tracing::warn!(%request_id, timeout = ?self.publish_timeout, "publish not acknowledged in time");
                Err(EdgeError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_traceparents_are_kept() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(is_traceparent(good));
        for bad in [
            "",
            "00-abc-def-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "x",
        ] {
            assert!(!is_traceparent(bad), "{bad:?}");
        }
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("traceparent", good.parse().expect("header"));
        assert_eq!(
            Origin::new(None, &headers).traceparent.as_deref(),
            Some(good)
        );
    }
}
