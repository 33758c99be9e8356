//! `/healthz`, `/readyz`, `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// Alive: the process answers.
pub(super) async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "edge_id": state.edge_id }))
}

/// Ready: NATS is connected and a worker answered within the ready window.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let mut reasons = Vec::new();
    if !state.translator.bus().is_connected() {
        reasons.push("NATS is not connected".to_owned());
    }
    let window = state.settings.ready_window;
    match state.translator.results().last_answer() {
        None => reasons.push("no worker has answered this edge yet".to_owned()),
        Some(at) if at.elapsed() > window => reasons.push(format!(
            "no worker has answered this edge in the last {} s",
            window.as_secs()
        )),
        Some(_) => {}
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response()
    } else {
        tracing::info!(?reasons, "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "not ready",
                "error": format!("not ready: {}", reasons.join("; ")),
                "reasons": reasons,
            })),
        )
            .into_response()
    }
}

/// Prometheus text exposition.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("relais_edge_waiting_requests", "edge_id" => state.edge_id.clone())
        .set(state.translator.results().waiting() as f64);
    state.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
