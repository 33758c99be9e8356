//! The HTTP routes, one module per group, and the middleware around them.

mod api;
mod health;
mod libre;
mod site;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;
use crate::EdgeError;

/// Every route the edge serves, as `(method, path)`; the OpenAPI document
/// describes each one (a test checks it).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/translate"),
    ("POST", "/api/feedback"),
    ("GET", "/api/openapi.json"),
    ("POST", "/translate"),
    ("GET", "/languages"),
    ("GET", "/frontend/settings"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/"),
];

/// The OpenAPI 3.1 document of the routes above.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/translate", post(api::translate))
        .route("/api/feedback", post(api::feedback))
        .route("/api/openapi.json", get(openapi))
        .route("/translate", post(libre::translate))
        .route("/languages", get(libre::languages))
        .route("/frontend/settings", get(libre::frontend_settings))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(site::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn(track))
        .with_state(state)
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
        .into_response()
}

async fn method_not_allowed(State(_): State<AppState>) -> EdgeError {
    EdgeError::MethodNotAllowed
}

/// Counts requests and times them by route and status
/// (`relais_http_requests_total`, `relais_http_request_duration_seconds`).
async fn track(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let route = ROUTES.iter().find(|(_, p)| *p == path).map_or(
        if path.starts_with("/api/") {
            "unmatched"
        } else {
            "static"
        },
        |(_, p)| p,
    );
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("route", route.to_owned()),
        ("method", method),
        ("status", status),
    ];
    metrics::counter!("relais_http_requests_total", &labels).increment(1);
    metrics::histogram!("relais_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
