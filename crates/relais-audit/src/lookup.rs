//! Answers lookups over core request/reply: does the store know a translation?
//!
//! The edge asks on `audit.lookup.translation` (queue group `audit`, so one
//! audit instance answers each request) before accepting feedback. A request
//! that cannot be read or a store that fails gets no reply: the asker times
//! out and refuses to accept what it cannot verify.

use relais_bus::{Bus, CoreMessage};
use relais_events::names::{queue, subject};
use relais_events::{TranslationLookup, TranslationLookupReply};
use relais_store::Store;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{AuditError, Layout};

/// Subscribes to the lookup subject of `layout` (queue group `audit`).
/// Subscribing happens before this returns, so the service answers as soon as
/// it is built.
pub(crate) async fn subscribe(
    bus: &Bus,
    layout: &Layout,
) -> Result<relais_bus::Subscription, AuditError> {
    let subject = layout.subject(subject::TRANSLATION_LOOKUP);
    let subscription = bus.queue_subscribe(&subject, queue::AUDIT).await?;
    bus.flush().await?;
    Ok(subscription)
}

/// Answers lookups until `cancel` fires or the subscription ends.
pub(crate) async fn answer(
    bus: Bus,
    store: Store,
    mut subscription: relais_bus::Subscription,
    cancel: CancellationToken,
) {
    info!("answering translation lookups");
    loop {
        let message = tokio::select! {
            _ = cancel.cancelled() => break,
            m = subscription.next() => match m {
                Some(m) => m,
                None => break,
            },
        };
        answer_one(&bus, &store, message).await;
    }
    if let Err(e) = subscription.unsubscribe().await {
        debug!(error = %e, "lookup subscription already closed");
    }
}

async fn answer_one(bus: &Bus, store: &Store, message: CoreMessage) {
    let Some(reply) = message.reply else {
        warn!(subject = %message.subject, "lookup without a reply subject ignored");
        return;
    };
    let request = match TranslationLookup::from_json(&message.payload) {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "unreadable translation lookup ignored");
            return;
        }
    };
    let answer = match store.translation(request.request_id).await {
        Ok(record) => TranslationLookupReply {
            known: record.is_some(),
            status: record.map(|r| r.status),
        },
        Err(e) => {
            warn!(request_id = %request.request_id, error = %e, "translation lookup failed; not answering");
            return;
        }
    };
    let payload = match answer.to_json() {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "cannot encode a lookup reply");
            return;
        }
    };
    if let Err(e) = bus.respond(&reply, payload.into()).await {
        warn!(request_id = %request.request_id, error = %e, "cannot send a lookup reply");
    }
}
