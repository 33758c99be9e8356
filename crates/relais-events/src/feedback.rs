//! User feedback on translations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::names::subject;
use crate::Event;

/// A user sent a correction for a translation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeedbackSubmitted {
    /// Id of this feedback.
    pub feedback_id: Uuid,
    /// The translation request being corrected.
    pub request_id: Uuid,
    /// The French text the user proposes instead.
    pub correction: String,
    /// The API client, when known.
    pub client: Option<String>,
}

impl Event for FeedbackSubmitted {
    const TYPE: &'static str = "relais.feedback.submitted.v1";

    fn subject(&self) -> String {
        subject::FEEDBACK_SUBMITTED.to_owned()
    }
}
