//! Edge + worker + a private NATS server: HTTP in, translation out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use relais_config::{EdgeSettings, RateLimitSettings};
use relais_worker::Layout;
use serde_json::{json, Value};

use crate::helpers::{connect, settings, World, MODEL_VERSION};

fn edge_settings() -> EdgeSettings {
    EdgeSettings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        edge_id: String::new(),
        request_timeout: Duration::from_secs(20),
        publish_timeout: Duration::from_secs(2),
        lookup_timeout: Duration::from_secs(1),
        max_body_bytes: 4096,
        max_chars: 500,
        max_sentences: 5,
        max_batch: 4,
        max_correction_chars: 100,
        rate_limit: RateLimitSettings {
            per_second: 1000.0,
            burst: 1000,
        },
        api_keys: Vec::new(),
        require_api_key: false,
        ready_window: Duration::from_secs(60),
        static_dir: PathBuf::from("/nonexistent/relais-frontend-dist"),
    }
}

#[tokio::test]
async fn the_edge_gets_translations_from_a_worker() {
    // The edge speaks the production layout, so this test has a server of its own.
    let world = World::with_layout(Layout::relais()).await;
    let worker = world.worker(settings(&world.model_dir)).await;
    let edge_bus = connect(&world.nats.url(), Duration::from_secs(2)).await;
    let edge = relais_edge::Application::build(edge_settings(), edge_bus)
        .await
        .expect("edge builds");
    let base = format!("http://127.0.0.1:{}", edge.port());
    let stop_edge = edge.shutdown_token();
    let serving = tokio::spawn(edge.run_until_stopped());
    // In a workspace build reqwest carries `rustls-no-provider` (relais-audit's
    // HTTPS import): a client needs a process-wide crypto provider first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let response = http
        .post(format!("{base}/api/translate"))
        .json(&json!({ "text": "Hello. How are you?" }))
        .send()
        .await
        .expect("POST /api/translate");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["model_version"], MODEL_VERSION, "{body}");
    assert!(body["translation"].is_string(), "{body}");
    assert!(body["id"].is_string(), "{body}");

    let response = http
        .post(format!("{base}/translate"))
        .json(&json!({ "q": ["Hello.", "I like green tea."], "source": "en", "target": "fr" }))
        .send()
        .await
        .expect("POST /translate");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    let translated = body["translatedText"].as_array().expect("an array");
    assert_eq!(translated.len(), 2, "{body}");
    assert!(translated.iter().all(Value::is_string), "{body}");

    stop_edge.cancel();
    serving.await.expect("edge task").expect("edge ran");
    worker.stop().await;
}
