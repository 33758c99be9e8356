//! The LibreTranslate-compatible API: `POST /translate`, `GET /languages`,
//! `GET /frontend/settings`, with LibreTranslate's shapes and messages.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::SourceText;
use crate::extract::JsonOrForm;
use crate::state::AppState;
use crate::translator::Origin;
use crate::EdgeError;

/// `q`: one text or a batch.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Query {
    One(String),
    Many(Vec<String>),
}

/// Unknown fields (`alternatives`, `secret`, ...) are accepted and ignored, as
/// clients written for LibreTranslate send them.
#[derive(Debug, Deserialize)]
pub(super) struct TranslateBody {
    q: Option<Query>,
    source: Option<String>,
    target: Option<String>,
    format: Option<String>,
    api_key: Option<String>,
}

pub(super) async fn translate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<TranslateBody>,
) -> Result<Json<Value>, EdgeError> {
    let client = state
        .gate
        .admit(peer.ip(), &headers, body.api_key.as_deref())?;
    let texts = match body.q {
        None => return Err(EdgeError::MissingParameter("q")),
        Some(Query::One(q)) if q.is_empty() => return Err(EdgeError::MissingParameter("q")),
        Some(Query::Many(qs)) if qs.is_empty() => return Err(EdgeError::MissingParameter("q")),
        Some(q) => q,
    };
    let source = non_empty(body.source).ok_or(EdgeError::MissingParameter("source"))?;
    let target = non_empty(body.target).ok_or(EdgeError::MissingParameter("target"))?;
    let auto = source == "auto";
    if source != "en" && !auto {
        return Err(EdgeError::UnsupportedLanguage { code: source });
    }
    if target != "fr" {
        return Err(EdgeError::UnsupportedLanguage { code: target });
    }
    let format = non_empty(body.format).unwrap_or_else(|| "text".to_owned());
    if format != "text" {
        return Err(EdgeError::UnsupportedFormat { format });
    }
    let (batch, raw) = match texts {
        Query::One(q) => (false, vec![q]),
        Query::Many(qs) => (true, qs),
    };
    let max_batch = state.settings.max_batch;
    if raw.len() > max_batch {
        return Err(EdgeError::BatchTooLarge {
            count: raw.len(),
            max: max_batch,
        });
    }
    let chars: usize = raw.iter().map(|t| t.chars().count()).sum();
    if chars > state.settings.max_chars {
        return Err(EdgeError::CharLimit {
            chars,
            max: state.settings.max_chars,
        });
    }
    let limits = state.text_limits();
    let parsed = raw
        .iter()
        .map(|t| SourceText::parse(t, limits))
        .collect::<Result<Vec<_>, _>>()?;
    let origin = Origin::new(client.label(), &headers);
    let outcomes = futures::future::join_all(
        parsed
            .iter()
            .map(|t| state.translator.translate(t, &origin)),
    )
    .await;
    let mut translated = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        translated.push(outcome?.translation);
    }
    let detected = json!({ "confidence": 100.0, "language": "en" });
    let body = match (batch, auto) {
        (false, false) => json!({ "translatedText": translated.swap_remove(0) }),
        (false, true) => {
            json!({ "translatedText": translated.swap_remove(0), "detectedLanguage": detected })
        }
        (true, false) => json!({ "translatedText": translated }),
        (true, true) => json!({
            "detectedLanguage": vec![detected; translated.len()],
            "translatedText": translated,
        }),
    };
    Ok(Json(body))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// The languages this server translates, in LibreTranslate's shape.
pub(super) async fn languages() -> Json<Value> {
    Json(json!([
        { "code": "en", "name": "English", "targets": ["fr"] },
        { "code": "fr", "name": "French", "targets": [] },
    ]))
}

/// LibreTranslate's `/frontend/settings`.
pub(super) async fn frontend_settings(State(state): State<AppState>) -> Json<Value> {
    let s = &state.settings;
    Json(json!({
        "charLimit": s.max_chars,
        "frontendTimeout": u64::try_from(s.request_timeout.as_millis()).unwrap_or(u64::MAX),
        "apiKeys": !s.api_keys.is_empty(),
        "keyRequired": s.require_api_key,
        "suggestions": false,
        "filesTranslation": false,
        "supportedFilesFormat": [],
        "language": {
            "source": { "code": "en", "name": "English" },
            "target": { "code": "fr", "name": "French" },
        },
    }))
}
