//! `POST /api/feedback` checks the translation id with the real audit service
//! over NATS: known → 201, unknown → 404, no answer → 503 (never accepted
//! unverified).

use std::time::{Duration, Instant};

use relais_bus::{Bus, ReplayQuery};
use relais_events::names::{queue, stream, subject};
use relais_events::{Envelope, FeedbackSubmitted, TranslationCompleted};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{assert_error, json_with_status, spawn_app, spawn_app_with};

fn completed(request_id: Uuid) -> Envelope<TranslationCompleted> {
    Envelope::new(
        "test/worker",
        TranslationCompleted {
            request_id,
            edge_id: "edge-test".into(),
            text: "Hello.".into(),
            translation: "Bonjour.".into(),
            model_version: "test-v1".into(),
            worker_id: "w1".into(),
            latency_ms: 1.0,
            queue_ms: 0.0,
            batch_size: 1,
        },
    )
}

async fn stored_feedback(bus: &Bus) -> Vec<Envelope<FeedbackSubmitted>> {
    let query = ReplayQuery::new(stream::EVENTS).filter(subject::FEEDBACK_SUBMITTED);
    bus.replay(&query)
        .await
        .expect("replay")
        .collect()
        .await
        .expect("read EVENTS")
        .iter()
        .map(|item| {
            item.event::<FeedbackSubmitted>()
                .expect("a FeedbackSubmitted")
        })
        .collect()
}

#[tokio::test]
async fn known_ids_are_accepted_and_unknown_ids_are_not_found() {
    let mut app = spawn_app().await.with_audit().await;
    let known = Uuid::new_v4();
    app.bus
        .publish_event(&completed(known))
        .await
        .expect("publish the completion");
    app.recorded(known).await;

    let created = json_with_status(
        app.post_json(
            "/api/feedback",
            &json!({"id": known, "correction": "Bonjour !"}),
        )
        .await,
        201,
    )
    .await;
    let feedback_id = created["feedback_id"].as_str().expect("feedback_id");

    let unknown = Uuid::new_v4();
    let started = Instant::now();
    let response = app
        .post_json(
            "/api/feedback",
            &json!({"id": unknown, "correction": "Bonjour !"}),
        )
        .await;
    assert_error(response, 404, &format!("no translation with id {unknown}")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "an unknown id is asked about again before a 404"
    );

    // Only the verified correction reached the log.
    let stored = stored_feedback(&app.bus).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].data.request_id, known);
    assert_eq!(stored[0].data.feedback_id.to_string(), feedback_id);

    // Without the audit service nothing can be verified: 503, at once (no
    // responders), and nothing is published.
    app.stop_audit().await;
    let started = Instant::now();
    let response = app
        .post_json(
            "/api/feedback",
            &json!({"id": known, "correction": "Salut !"}),
        )
        .await;
    assert_error(response, 503, "feedback is unavailable right now").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered without waiting for the 3 s lookup timeout"
    );
    assert_eq!(stored_feedback(&app.bus).await.len(), 1);
}

#[tokio::test]
async fn no_audit_running_is_503_and_shape_errors_come_first() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/feedback",
            &json!({"id": Uuid::new_v4(), "correction": "Bonjour"}),
        )
        .await;
    assert_error(response, 503, "feedback is unavailable right now").await;
    // Shape is validated before anything is asked.
    let response = app
        .post_json("/api/feedback", &json!({"id": "nope", "correction": "x"}))
        .await;
    assert_error(response, 400, "uuid").await;
    assert!(stored_feedback(&app.bus).await.is_empty());
}

#[tokio::test]
async fn a_lookup_that_is_not_answered_in_time_is_503() {
    let app = spawn_app_with(|s| s.lookup_timeout = Duration::from_millis(300)).await;
    // Something listens in the audit's queue group but never answers.
    let mut silent = app
        .bus
        .queue_subscribe(subject::TRANSLATION_LOOKUP, queue::AUDIT)
        .await
        .expect("subscribe");
    app.bus.flush().await.expect("flush");
    // The edge refuses feedback (503) without asking while its own NATS
    // connection is still coming up: post until the lookup was seen.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let asked = loop {
        let response = tokio::time::timeout(
            Duration::from_secs(20),
            app.post_json(
                "/api/feedback",
                &json!({"id": Uuid::new_v4(), "correction": "Bonjour"}),
            ),
        )
        .await
        .expect("the edge answers despite the silent audit");
        assert_error(response, 503, "feedback is unavailable right now").await;
        if let Ok(asked) = tokio::time::timeout(Duration::from_millis(500), silent.next()).await {
            break asked.expect("the subscription is open");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the edge never asked the audit service"
        );
    };
    assert!(asked.reply.is_some());
    assert!(stored_feedback(&app.bus).await.is_empty());
}
