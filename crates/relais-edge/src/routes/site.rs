//! The website at `/` (and every path no route claims).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::ServeDir;

use crate::state::AppState;
use crate::EdgeError;

const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Relais: website not built</title></head><body>\
<h1>The Relais website is not built yet</h1>\
<p>Run <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code> \
(<code>just up</code> does it), or point <code>edge.static_dir</code> at a built site.</p>\
<p>The API works meanwhile: see <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>\
</body></html>\n";

pub(super) async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return EdgeError::NotFound.into_response();
    }
    let Some(dir) = &state.site else {
        return (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response();
    };
    let mut serve = ServeDir::new(dir);
    match serve.try_call(request).await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => {
            EdgeError::NotFound.into_response()
        }
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the website's files");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain")],
                "internal error",
            )
                .into_response()
        }
    }
}
