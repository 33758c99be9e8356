//! Messages a consumer gave up on.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::names::subject;
use crate::{Event, RawEnvelope};

/// A message exhausted its deliveries or was poison; this records it instead of
/// dropping it silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeadLettered {
    /// Stream the message was in; the last subject token.
    pub stream: String,
    /// Consumer that gave up.
    pub consumer: String,
    /// Subject the message was published on.
    pub subject: String,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// Why the consumer gave up.
    pub reason: String,
    /// The original payload as UTF-8 (invalid bytes replaced).
    pub payload: String,
    /// The id of the original event, when the payload was an envelope.
    pub original_id: Option<Uuid>,
}

impl DeadLettered {
    /// The `payload` and `original_id` fields for a message's raw bytes.
    pub fn describe_payload(bytes: &[u8]) -> (String, Option<Uuid>) {
        let original_id = serde_json::from_slice::<RawEnvelope>(bytes)
            .ok()
            .map(|envelope| envelope.id);
        (String::from_utf8_lossy(bytes).into_owned(), original_id)
    }
}

impl Event for DeadLettered {
    const TYPE: &'static str = "relais.deadletter.recorded.v1";

    fn subject(&self) -> String {
        subject::dead_lettered(&self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Envelope, FeedbackSubmitted};

    #[test]
    fn describes_an_envelope_payload_with_its_id() {
        let event = Envelope::new(
            "relais/edge/e1",
            FeedbackSubmitted {
                feedback_id: Uuid::new_v4(),
                request_id: Uuid::new_v4(),
                correction: "Bonjour.".into(),
                client: None,
            },
        );
        let bytes = event.to_json().expect("serializes");
        let (payload, id) = DeadLettered::describe_payload(&bytes);
        assert_eq!(payload.as_bytes(), bytes.as_slice());
        assert_eq!(id, Some(event.id));
    }

    #[test]
    fn describes_garbage_lossily_without_id() {
        let (payload, id) = DeadLettered::describe_payload(b"ab\xffcd");
        assert_eq!(payload, "ab\u{fffd}cd");
        assert_eq!(id, None);
    }
}
