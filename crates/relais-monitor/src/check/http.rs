//! Checks of the edge over HTTP.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{chain, Outcome};

/// `GET /healthz` and `GET /readyz` both answer 200.
pub(super) async fn edge_health(http: &reqwest::Client, edge: &str) -> Outcome {
    for path in ["/healthz", "/readyz"] {
        let url = format!("{edge}{path}");
        match http.get(&url).send().await {
            Err(e) => return Outcome::fail(format!("GET {url}: {}", chain(&e))),
            Ok(response) if !response.status().is_success() => {
                let status = response.status().as_u16();
                let why = error_text(response).await;
                return Outcome::fail(format!("GET {url} answered {status}{why}"));
            }
            Ok(_) => {}
        }
    }
    Outcome::pass(format!("{edge}/healthz and /readyz answered 200"))
}

/// What `POST /api/translate` answers.
#[derive(Debug, Deserialize)]
struct Translated {
    translation: String,
    model_version: String,
    latency_ms: f64,
}

/// `POST /api/translate {text}` answers 200 with a non-empty translation
/// within `max_latency` (measured here, as a client sees it). Also returns the
/// model version the edge reported, when it answered one.
pub(super) async fn smoke(
    http: &reqwest::Client,
    edge: &str,
    text: &str,
    max_latency: Duration,
) -> (Outcome, Option<String>) {
    let url = format!("{edge}/api/translate");
    let started = Instant::now();
    let response = match http
        .post(&url)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return (Outcome::fail(format!("POST {url}: {}", chain(&e))), None),
    };
    let status = response.status();
    if !status.is_success() {
        let why = error_text(response).await;
        let detail = format!("POST {url} answered {}{why}", status.as_u16());
        return (Outcome::fail(detail), None);
    }
    let answer: Translated = match response.json().await {
        Ok(a) => a,
        Err(e) => {
            let detail = format!("POST {url}: unexpected answer: {}", chain(&e));
            return (Outcome::fail(detail), None);
        }
    };
    let took = started.elapsed();
    let model = Some(answer.model_version.clone());
    if answer.translation.trim().is_empty() {
        let detail = format!(
            "{text:?} came back with an empty translation (model {})",
            answer.model_version
        );
        return (Outcome::fail(detail), model);
    }
    let seen = format!(
        "{text:?} → {:?} by model {} in {} ms (the edge measured {:.0} ms)",
        answer.translation,
        answer.model_version,
        took.as_millis(),
        answer.latency_ms
    );
    if took > max_latency {
        let detail = format!("{seen}: over {} ms", max_latency.as_millis());
        return (Outcome::fail(detail), model);
    }
    (Outcome::pass(seen), model)
}

/// `: <the JSON error field>` of an error answer, or nothing.
async fn error_text(response: reqwest::Response) -> String {
    let body = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(|e| format!(": {e}")))
        .unwrap_or_default()
}
