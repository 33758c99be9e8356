//! Operations: health, readiness, metrics, OpenAPI, the website, NATS outages.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{assert_error, json_with_status, spawn_app, spawn_app_with};

#[tokio::test]
async fn readyz_flips_to_ready_once_a_worker_answered() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    let not_ready = json_with_status(app.get("/readyz").await, 503).await;
    assert!(
        not_ready["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("no worker")),
        "{not_ready}"
    );
    let app = app.with_worker();
    let body = json_with_status(
        app.post_json("/api/translate", &json!({"text": "ready?"}))
            .await,
        200,
    )
    .await;
    assert_eq!(body["translation"], "READY?");
    assert_eq!(
        json_with_status(app.get("/readyz").await, 200).await["status"],
        "ready"
    );
}

#[tokio::test]
async fn with_nats_stopped_translate_answers_503_fast_and_recovers_after_restart() {
    let mut app = spawn_app().await;
    app.nats.stop();
    let started = Instant::now();
    let response = app
        .post_json("/api/translate", &json!({"text": "hello"}))
        .await;
    let waited = started.elapsed();
    assert_error(response, 503, "unavailable").await;
    assert!(waited < Duration::from_secs(1), "answered after {waited:?}");
    let readiness = json_with_status(app.get("/readyz").await, 503).await;
    assert!(readiness["error"]
        .as_str()
        .is_some_and(|e| e.contains("NATS")));

    app.nats.restart();
    // A worker that starts after the outage (see the report on relais-bus: a
    // consumer loop whose pull was in flight during the outage stalls).
    let app = app.with_worker();
    // The client reconnects with a backoff; poll until a translation works.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = app
            .post_json("/api/translate", &json!({"text": "back"}))
            .await;
        if response.status().as_u16() == 200 {
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["translation"], "BACK");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "edge did not recover after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn openapi_lists_every_route_and_every_route_answers() {
    let app = spawn_app().await;
    let doc = json_with_status(app.get("/api/openapi.json").await, 200).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in relais_edge::ROUTES {
        let operation = &doc["paths"][path][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} missing from OpenAPI"
        );
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
        let response = app
            .http
            .request(method.parse().expect("method"), app.url(path))
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} answered {status}"
        );
    }
    for path in ["/api/translate", "/api/feedback", "/translate"] {
        let responses = &doc["paths"][path]["post"]["responses"];
        for code in ["400", "413", "415", "429", "503"] {
            assert!(responses[code].is_object(), "{path} lacks {code}");
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    let _ = app.post_json("/api/translate", &json!({"text": ""})).await;
    let _ = app.get("/healthz").await;
    let text = app.get("/metrics").await.text().await.expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("relais_http_requests_total")
                && l.contains("route=\"/api/translate\"")
                && l.contains("status=\"400\"")),
        "{text}"
    );
    assert!(
        text.contains("relais_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors_and_the_site_needs_a_build() {
    let app = spawn_app().await;
    assert_error(app.get("/api/nope").await, 404, "no such endpoint").await;
    assert_error(app.get("/api/translate").await, 405, "method not allowed").await;
    let site = app.get("/").await;
    assert_eq!(site.status().as_u16(), 503);
    assert!(site.text().await.expect("text").contains("npm run build"));

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "<h1>Relais</h1>").expect("write");
    let path = dir.path().to_path_buf();
    let built = spawn_app_with(move |s| s.static_dir = path).await;
    let page = built.get("/").await;
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.text().await.expect("text"), "<h1>Relais</h1>");
    assert_error(built.get("/missing.js").await, 404, "no such endpoint").await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let app = spawn_app().await;
    let request = {
        let http = app.http.clone();
        let url = app.url("/api/translate");
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({"text": "in flight"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.edge.begin_shutdown();
    let mut app = app.with_worker();
    app.edge.stop().await;
    let status = request.await.expect("joined").expect("answered");
    assert_eq!(
        status, 200,
        "the in-flight request completed during shutdown"
    );
}
