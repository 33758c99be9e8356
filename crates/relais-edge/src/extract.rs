//! Body extractors whose rejections are [`EdgeError`]s (JSON), not axum's plain text.

use axum::extract::rejection::{BytesRejection, FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::{Form, Json};
use serde::de::DeserializeOwned;

use crate::state::AppState;
use crate::EdgeError;

/// A JSON body; `Content-Type: application/json` required.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = EdgeError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, EdgeError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection, state.settings.max_body_bytes)),
        }
    }
}

/// A JSON or `application/x-www-form-urlencoded` body (LibreTranslate accepts both).
#[derive(Debug)]
pub(crate) struct JsonOrForm<T>(pub(crate) T);

const JSON_OR_FORM: &str = "Content-Type: application/json or application/x-www-form-urlencoded";

impl<T: DeserializeOwned + Send> FromRequest<AppState> for JsonOrForm<T> {
    type Rejection = EdgeError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, EdgeError> {
        let max = state.settings.max_body_bytes;
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            match Form::<T>::from_request(req, state).await {
                Ok(Form(value)) => Ok(JsonOrForm(value)),
                Err(rejection) => Err(form_rejection(rejection, max)),
            }
        } else if content_type.starts_with("application/json") || content_type.contains("+json") {
            ApiJson::<T>::from_request(req, state)
                .await
                .map(|ApiJson(v)| JsonOrForm(v))
        } else {
            Err(EdgeError::UnsupportedMediaType {
                expected: JSON_OR_FORM,
            })
        }
    }
}

fn json_rejection(rejection: JsonRejection, max: usize) -> EdgeError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => EdgeError::UnsupportedMediaType {
            expected: "Content-Type: application/json",
        },
        JsonRejection::BytesRejection(r) => bytes_rejection(&r, max),
        other => EdgeError::InvalidBody {
            detail: other.body_text(),
        },
    }
}

fn form_rejection(rejection: FormRejection, max: usize) -> EdgeError {
    match rejection {
        FormRejection::InvalidFormContentType(_) => EdgeError::UnsupportedMediaType {
            expected: JSON_OR_FORM,
        },
        FormRejection::BytesRejection(r) => bytes_rejection(&r, max),
        other => EdgeError::InvalidBody {
            detail: other.body_text(),
        },
    }
}

fn bytes_rejection(rejection: &BytesRejection, max: usize) -> EdgeError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        EdgeError::BodyTooLarge { max }
    } else {
        EdgeError::InvalidBody {
            detail: "the body could not be read".to_owned(),
        }
    }
}
