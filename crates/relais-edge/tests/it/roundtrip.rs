//! Translations through the real bus: publish, a worker stand-in, results
//! routed back by request id.

use std::time::{Duration, Instant};

use relais_events::names::subject;
use serde_json::json;

use crate::helpers::{
    assert_error, connect, json_with_status, spawn_app, spawn_edge, test_settings,
};

#[tokio::test]
async fn api_translate_round_trips_through_the_bus() {
    let app = spawn_app().await.with_worker().with_audit().await;
    let watcher = connect(&app.nats).await;
    let mut completions = watcher
        .subscribe(&subject::translation_completed(&app.edge.edge_id))
        .await
        .expect("subscribe");
    watcher.flush().await.expect("flush");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = app
        .http
        .post(app.url("/api/translate"))
        .header("traceparent", traceparent)
        .json(&json!({"text": "  Hello there.\u{0} "}))
        .send()
        .await
        .expect("sent");
    let body = json_with_status(response, 200).await;
    // The caller's trace context went with the request to the worker and back.
    let completion = tokio::time::timeout(Duration::from_secs(2), completions.next())
        .await
        .expect("completion seen")
        .expect("subscription open");
    let completion =
        relais_events::Envelope::<relais_events::TranslationCompleted>::decode(&completion.payload)
            .expect("a TranslationCompleted");
    assert_eq!(completion.traceparent.as_deref(), Some(traceparent));
    assert_eq!(
        completion.data.request_id.to_string(),
        body["id"].as_str().unwrap_or("")
    );
    assert_eq!(body["translation"], "HELLO THERE.");
    assert_eq!(body["model_version"], "test-v1");
    assert!(body["latency_ms"].is_u64(), "{body}");
    let id = body["id"].as_str().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    // Feedback on that translation (once the audit log has it) is stored in EVENTS.
    app.recorded(uuid::Uuid::parse_str(id).expect("uuid")).await;
    let created = json_with_status(
        app.post_json(
            "/api/feedback",
            &json!({"id": id, "correction": "Bonjour."}),
        )
        .await,
        201,
    )
    .await;
    let feedback_id = created["feedback_id"].as_str().expect("feedback_id");
    let query = relais_bus::ReplayQuery::new(relais_events::names::stream::EVENTS)
        .filter(subject::FEEDBACK_SUBMITTED);
    let stored = app
        .bus
        .replay(&query)
        .await
        .expect("replay")
        .collect()
        .await
        .expect("read EVENTS");
    assert_eq!(stored.len(), 1);
    let event = stored[0]
        .event::<relais_events::FeedbackSubmitted>()
        .expect("a FeedbackSubmitted");
    assert_eq!(event.data.feedback_id.to_string(), feedback_id);
    assert_eq!(event.data.request_id.to_string(), id);
    assert_eq!(event.data.correction, "Bonjour.");
}

#[tokio::test]
async fn libretranslate_shapes_for_string_array_auto_and_form() {
    let app = spawn_app().await.with_worker();
    let one = json_with_status(
        app.post_json(
            "/translate",
            &json!({"q": "Hi", "source": "en", "target": "fr"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(one, json!({"translatedText": "HI"}));

    let many = json_with_status(
        app.post_json(
            "/translate",
            &json!({"q": ["one", "two", "three"], "source": "en", "target": "fr", "format": "text"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(many, json!({"translatedText": ["ONE", "TWO", "THREE"]}));

    let auto = json_with_status(
        app.post_json(
            "/translate",
            &json!({"q": "Hi", "source": "auto", "target": "fr"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        auto,
        json!({"translatedText": "HI", "detectedLanguage": {"confidence": 100.0, "language": "en"}})
    );

    let form = app
        .http
        .post(app.url("/translate"))
        .form(&[("q", "by form"), ("source", "en"), ("target", "fr")])
        .send()
        .await
        .expect("sent");
    assert_eq!(
        json_with_status(form, 200).await,
        json!({"translatedText": "BY FORM"})
    );

    let languages = json_with_status(app.get("/languages").await, 200).await;
    assert_eq!(languages[0]["code"], "en");
    assert_eq!(languages[0]["targets"], json!(["fr"]));
    let settings = json_with_status(app.get("/frontend/settings").await, 200).await;
    assert_eq!(settings["charLimit"], 200);
    assert_eq!(settings["language"]["target"]["code"], "fr");
    assert_eq!(settings["keyRequired"], false);
}

#[tokio::test]
async fn a_failure_event_becomes_a_clean_502() {
    let app = spawn_app().await.with_worker();
    let response = app
        .post_json("/api/translate", &json!({"text": "fail please"}))
        .await;
    assert_error(response, 502, "could not translate").await;
}

#[tokio::test]
async fn without_a_worker_the_caller_gets_504_after_the_timeout() {
    let app = spawn_app().await;
    let started = Instant::now();
    let response = app
        .post_json("/api/translate", &json!({"text": "anyone there?"}))
        .await;
    let waited = started.elapsed();
    assert_error(response, 504, "took too long").await;
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(2),
        "answered after {waited:?}"
    );

    // A caller that hangs up early leaves nothing waiting either.
    let http = app.http.clone();
    let url = app.url("/api/translate");
    let abandoned = tokio::spawn(async move {
        http.post(url)
            .json(&json!({"text": "never mind"}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = format!(
        "relais_edge_waiting_requests{{edge_id=\"{}\"}}",
        app.edge.edge_id
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains(&format!("{waiting} 1")), "{metrics}");
    abandoned.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains(&format!("{waiting} 0")), "{metrics}");
}

#[tokio::test]
async fn two_edges_each_get_only_their_own_results() {
    let app = spawn_app().await.with_worker();
    let mut other = spawn_edge(&app.nats, test_settings()).await;
    assert_ne!(app.edge.edge_id, other.edge_id);

    // Count what arrives on the first edge's results subjects.
    let watcher = connect(&app.nats).await;
    let mut first_results = watcher
        .subscribe(&subject::edge_results(&app.edge.edge_id))
        .await
        .expect("subscribe");
    watcher.flush().await.expect("flush");

    let requests = (0..3).map(|i| {
        let (base, text) = if i % 2 == 0 {
            (app.edge.address.clone(), format!("first {i}"))
        } else {
            (other.address.clone(), format!("second {i}"))
        };
        let http = app.http.clone();
        async move {
            let response = http
                .post(format!("{base}/api/translate"))
                .json(&json!({ "text": text }))
                .send()
                .await
                .expect("sent");
            (text, json_with_status(response, 200).await)
        }
    });
    for (text, body) in futures::future::join_all(requests).await {
        assert_eq!(body["translation"], text.to_uppercase());
    }
    let mut seen = Vec::new();
    while let Ok(Some(m)) =
        tokio::time::timeout(Duration::from_millis(300), first_results.next()).await
    {
        seen.push(m.subject);
    }
    assert_eq!(seen.len(), 2, "only the first edge's two results: {seen:?}");
    assert!(seen.iter().all(|s| s.ends_with(&app.edge.edge_id)));
    other.stop().await;
}
