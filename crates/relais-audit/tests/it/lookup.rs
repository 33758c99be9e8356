//! The audit answers translation lookups from its store, in the prefixed
//! layout (that it stops answering when stopped is checked by the edge's
//! feedback tests, which outlive it on the same server).

use std::time::Duration;

use relais_bus::BusError;
use relais_events::names::subject;
use relais_events::{TranslationLookup, TranslationLookupReply};
use relais_store::Backend;
use uuid::Uuid;

use crate::helpers::{completed, eventually, on_both_backends, settings, TestAudit, TestDb};

on_both_backends!(lookups_answer_from_the_store);

async fn ask(audit: &TestAudit, request_id: Uuid) -> Result<TranslationLookupReply, BusError> {
    let payload = TranslationLookup { request_id }.to_json().expect("encodes");
    let reply = audit
        .bus
        .request(
            &audit.layout.subject(subject::TRANSLATION_LOOKUP),
            payload.into(),
            Duration::from_secs(5),
        )
        .await?;
    Ok(TranslationLookupReply::from_json(&reply).expect("a lookup reply"))
}

async fn lookups_answer_from_the_store(backend: Backend) {
    let db = TestDb::new(backend).await;
    let audit = TestAudit::start(settings(&db.url)).await;
    let known = Uuid::new_v4();
    audit.publish(completed(known, "Hello.", "Bonjour.")).await;
    eventually("the translation is recorded", || async {
        audit.store.translation(known).await.unwrap().is_some()
    })
    .await;

    let reply = ask(&audit, known).await.expect("answered");
    assert_eq!(
        reply,
        TranslationLookupReply {
            known: true,
            status: Some("completed".into())
        }
    );
    let reply = ask(&audit, Uuid::new_v4()).await.expect("answered");
    assert_eq!(
        reply,
        TranslationLookupReply {
            known: false,
            status: None
        }
    );
    // Junk gets no reply (the asker times out), and does not stop the responder.
    let junk = audit
        .bus
        .request(
            &audit.layout.subject(subject::TRANSLATION_LOOKUP),
            "not json".into(),
            Duration::from_millis(300),
        )
        .await
        .expect_err("junk is not answered");
    assert!(matches!(junk, BusError::RequestTimeout { .. }), "{junk:?}");
    assert!(ask(&audit, known).await.expect("still answering").known);

    audit.stop().await;
}
