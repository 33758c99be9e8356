//! The website's JSON API: `POST /api/translate`, `POST /api/feedback`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Correction, SourceText};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::translator::Origin;
use crate::EdgeError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TranslateBody {
    text: String,
}

#[derive(Debug, Serialize)]
pub(super) struct TranslateResponse {
    id: Uuid,
    translation: String,
    model_version: String,
    latency_ms: u64,
}

pub(super) async fn translate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TranslateBody>,
) -> Result<Json<TranslateResponse>, EdgeError> {
    let client = state.gate.admit(peer.ip(), &headers, None)?;
    let text = SourceText::parse(&body.text, state.text_limits())?;
    let origin = Origin::new(client.label(), &headers);
    let done = state.translator.translate(&text, &origin).await?;
    Ok(Json(TranslateResponse {
        id: done.request_id,
        translation: done.translation,
        model_version: done.model_version,
        latency_ms: u64::try_from(done.latency.as_millis()).unwrap_or(u64::MAX),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FeedbackBody {
    id: String,
    correction: String,
}

#[derive(Debug, Serialize)]
pub(super) struct FeedbackResponse {
    feedback_id: Uuid,
}

pub(super) async fn feedback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<(StatusCode, Json<FeedbackResponse>), EdgeError> {
    let client = state.gate.admit(peer.ip(), &headers, None)?;
    let request_id = Uuid::parse_str(body.id.trim()).map_err(|_| EdgeError::InvalidId)?;
    let correction = Correction::parse(&body.correction, state.settings.max_correction_chars)?;
    let feedback_id = state
        .translator
        .feedback(
            request_id,
            correction,
            &Origin::new(client.label(), &headers),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(FeedbackResponse { feedback_id })))
}
