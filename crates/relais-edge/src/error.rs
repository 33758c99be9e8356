//! The one error type of the edge, and its mapping to HTTP responses.
//!
//! Every response made from an [`EdgeError`] is JSON `{"error": "..."}` (the
//! shape LibreTranslate uses too). 4xx messages say what to change; 5xx
//! messages reveal nothing internal. Every rejection is logged with its reason.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use relais_bus::BusError;
use relais_events::FailureReason;

/// Everything the edge can refuse or fail at, from start-up to a request.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    // ---- client errors (4xx) -------------------------------------------------
    /// The text is empty once control characters and surrounding spaces are removed.
    #[error("text is empty: send at least one letter to translate")]
    EmptyText,
    /// The text is longer than the configured limit.
    #[error("text has {chars} characters; the limit is {max}: shorten it or split it")]
    TextTooLong {
        /// Characters sent (after cleaning).
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The text has more sentences than the configured limit.
    #[error("text has {count} sentences; the limit is {max}: send fewer sentences per request")]
    TooManySentences {
        /// Sentences counted.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The feedback correction is empty.
    #[error("correction is empty: send the French text you propose")]
    EmptyCorrection,
    /// The feedback correction is too long.
    #[error("correction has {chars} characters; the limit is {max}")]
    CorrectionTooLong {
        /// Characters sent.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The feedback id is not a UUID.
    #[error(
        "id must be the UUID returned by /api/translate, e.g. 0b6c3a9e-2f1d-4c8e-9a57-3f0e8d1c2b4a"
    )]
    InvalidId,
    /// The body is not valid JSON or does not have the expected fields.
    #[error("invalid request body: {detail}")]
    InvalidBody {
        /// What the parser said (about the client's input only).
        detail: String,
    },
    /// The body has a content type this route does not read.
    #[error("unsupported content type: send {expected}")]
    UnsupportedMediaType {
        /// What to send instead.
        expected: &'static str,
    },
    /// The body is larger than the configured limit.
    #[error("request body is larger than {max} bytes: send less text")]
    BodyTooLarge {
        /// The limit, bytes.
        max: usize,
    },
    /// LibreTranslate: a required parameter is missing.
    #[error("Invalid request: missing {0} parameter")]
    MissingParameter(&'static str),
    /// LibreTranslate: a language this server does not translate from or to.
    #[error("{code} is not supported (this server translates en → fr)")]
    UnsupportedLanguage {
        /// The code sent.
        code: String,
    },
    /// LibreTranslate: a text format other than `text`.
    #[error("{format} format is not supported: send format \"text\"")]
    UnsupportedFormat {
        /// The format sent.
        format: String,
    },
    /// LibreTranslate: too many texts in one batch.
    #[error("Invalid request: Request ({count}) exceeds text limit ({max})")]
    BatchTooLarge {
        /// Texts sent.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// LibreTranslate: too many characters over the whole request.
    #[error("Invalid request: Request ({chars}) exceeds character limit ({max})")]
    CharLimit {
        /// Characters sent.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// An API key was sent but is not known.
    #[error("Invalid API key")]
    InvalidApiKey,
    /// No API key was sent and this server requires one.
    #[error("an API key is required: send it as api_key, `Authorization: Bearer KEY` or `X-Api-Key: KEY`")]
    ApiKeyRequired,
    /// The client is over its rate limit.
    #[error("too many requests: slow down and retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited {
        /// When a request would be admitted again.
        retry_after: Duration,
    },
    /// Feedback names a translation id the audit store does not know.
    #[error("no translation with id {id} (ask for a translation first, then send feedback with the id /api/translate returned)")]
    UnknownTranslation {
        /// The id sent.
        id: uuid::Uuid,
    },
    /// No route here.
    #[error("no such endpoint: see /api/openapi.json for the API")]
    NotFound,
    /// The route exists with other methods.
    #[error("method not allowed on this endpoint: see /api/openapi.json")]
    MethodNotAllowed,

    // ---- server errors (5xx) -------------------------------------------------
    /// The request could not be handed to NATS (down, or the publish timed out).
    #[error("the translation service is unavailable right now; try again in a moment")]
    Unavailable,
    /// The feedback's translation id could not be checked (no audit service
    /// answered in time): a correction we cannot verify is never accepted.
    #[error("feedback is unavailable right now; try again in a moment")]
    FeedbackUnavailable,
    /// No result came back in time.
    #[error("the translation took too long; try again")]
    Timeout,
    /// A worker answered with a failure.
    #[error("{}", failure_message(*.0))]
    TranslationFailed(FailureReason),

    // ---- start-up ------------------------------------------------------------
    /// The configuration is not usable.
    #[error("invalid edge configuration")]
    Config(#[from] relais_config::ConfigError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("HTTP server failed")]
    Serve(#[source] std::io::Error),
    /// NATS failed (subscribing to results, publishing).
    #[error("NATS operation failed")]
    Bus(#[from] BusError),
    /// A different metrics recorder is installed in this process, so `/metrics`
    /// could not be served.
    #[error("another metrics recorder is already installed; the edge serves /metrics itself (leave telemetry.metrics_addr empty)")]
    MetricsRecorder,
}

fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn failure_message(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::DeadlineExceeded => "the translation took too long; try again",
        FailureReason::DeliveriesExhausted => {
            "the translation service is overloaded right now; try again in a moment"
        }
        FailureReason::ModelError | FailureReason::InvalidRequest => {
            "the translation service could not translate this text; try again later"
        }
    }
}

impl EdgeError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        use EdgeError as E;
        match self {
            E::EmptyText
            | E::TooManySentences { .. }
            | E::EmptyCorrection
            | E::InvalidId
            | E::InvalidBody { .. }
            | E::MissingParameter(_)
            | E::UnsupportedLanguage { .. }
            | E::UnsupportedFormat { .. }
            | E::BatchTooLarge { .. }
            | E::CharLimit { .. } => StatusCode::BAD_REQUEST,
            E::TextTooLong { .. } | E::CorrectionTooLong { .. } | E::BodyTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            E::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            E::InvalidApiKey | E::ApiKeyRequired => StatusCode::FORBIDDEN,
            E::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::NotFound | E::UnknownTranslation { .. } => StatusCode::NOT_FOUND,
            E::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            E::Unavailable | E::FeedbackUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            E::Timeout => StatusCode::GATEWAY_TIMEOUT,
            E::TranslationFailed(reason) => match reason {
                FailureReason::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                FailureReason::DeliveriesExhausted => StatusCode::SERVICE_UNAVAILABLE,
                FailureReason::ModelError | FailureReason::InvalidRequest => {
                    StatusCode::BAD_GATEWAY
                }
            },
            E::Config(_) | E::Bind { .. } | E::Serve(_) | E::Bus(_) | E::MetricsRecorder => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, serde::Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
}

impl IntoResponse for EdgeError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error()
            && !matches!(
                self,
                EdgeError::Unavailable
                    | EdgeError::FeedbackUnavailable
                    | EdgeError::Timeout
                    | EdgeError::TranslationFailed(_)
            ) {
            // Start-up and internal errors never reach a client in detail.
            "internal error; try again later".to_owned()
        } else {
            self.to_string()
        };
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, cause = ?std::error::Error::source(&self), "request failed");
        } else {
            tracing::info!(status = status.as_u16(), reason = %self, "request rejected");
        }
        let mut response = (status, Json(ErrorBody { error: message })).into_response();
        if let EdgeError::RateLimited { retry_after } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs(*retry_after).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_say_what_to_change_and_server_errors_hide_details() {
        let e = EdgeError::TextTooLong { chars: 12, max: 10 };
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.to_string().contains("limit is 10"));
        let e = EdgeError::Serve(std::io::Error::other("secret path /etc/x"));
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn rate_limited_rounds_retry_after_up() {
        let e = EdgeError::RateLimited {
            retry_after: Duration::from_millis(1200),
        };
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"2"[..])
        );
    }
}
