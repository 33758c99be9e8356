//! Bodies of core request/reply lookups: plain JSON, no CloudEvents envelope,
//! never stored. A service asks on a subject of [`crate::names::subject`]
//! (e.g. [`TRANSLATION_LOOKUP`](crate::names::subject::TRANSLATION_LOOKUP)) and
//! one member of the answering queue group replies.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventError;

/// Does the audit store know this translation request?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationLookup {
    /// The id `/api/translate` returned.
    pub request_id: Uuid,
}

/// The audit store's answer to a [`TranslationLookup`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationLookupReply {
    /// Whether a translation with this id is recorded.
    pub known: bool,
    /// Its status (`requested`, `completed`, `failed`) when known.
    #[serde(default)]
    pub status: Option<String>,
}

impl TranslationLookup {
    /// JSON bytes of this request.
    pub fn to_json(&self) -> Result<Vec<u8>, EventError> {
        encode("translation lookup", self)
    }

    /// Reads a request.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        decode("translation lookup", bytes)
    }
}

impl TranslationLookupReply {
    /// JSON bytes of this reply.
    pub fn to_json(&self) -> Result<Vec<u8>, EventError> {
        encode("translation lookup reply", self)
    }

    /// Reads a reply.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        decode("translation lookup reply", bytes)
    }
}

fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, EventError> {
    serde_json::to_vec(value).map_err(|source| EventError::Body { what, source })
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, bytes: &[u8]) -> Result<T, EventError> {
    serde_json::from_slice(bytes).map_err(|source| EventError::Body { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_round_trip_and_status_may_be_absent() {
        let ask = TranslationLookup {
            request_id: Uuid::new_v4(),
        };
        let bytes = ask.to_json().expect("encodes");
        assert_eq!(TranslationLookup::from_json(&bytes).expect("decodes"), ask);
        let reply = TranslationLookupReply::from_json(br#"{"known": false}"#).expect("decodes");
        assert_eq!(
            reply,
            TranslationLookupReply {
                known: false,
                status: None
            }
        );
        assert!(TranslationLookup::from_json(b"{}").is_err());
    }
}
