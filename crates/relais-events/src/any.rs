//! Reading an event of any known type: what the audit logger and replay need.

use serde::Serialize;

use crate::{
    DatasetUpdated, DeadLettered, Envelope, Event, EventError, FeedbackSubmitted, ModelPromoted,
    ModelRegistered, ModelRejected, ModelRolledBack, MonitorAlert, MonitorCheck, RawEnvelope,
    TrainingProgress, TranslationCompleted, TranslationFailed, TranslationRequested,
};

/// An envelope holding an event of any known type.
pub type AnyEnvelope = Envelope<AnyEvent>;

/// Writes [`AnyEvent`] and its dispatch from the list of payload types, so that
/// adding an event type is one line here.
macro_rules! any_event {
    ($($variant:ident),+ $(,)?) => {
        /// One variant per event type. Serializes as the bare payload, so an
        /// [`AnyEnvelope`] encodes exactly like the typed envelope it was read from.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum AnyEvent {
            $(
                #[doc = concat!("A [`", stringify!($variant), "`].")]
                $variant($variant),
            )+
        }

        impl AnyEvent {
            /// Every event type string this build knows.
            pub const TYPES: &'static [&'static str] = &[$($variant::TYPE),+];

            /// The versioned type string of this payload.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $variant::TYPE,)+
                }
            }

            /// The subject this event is published on.
            pub fn subject(&self) -> String {
                match self {
                    $(Self::$variant(event) => event.subject(),)+
                }
            }

            fn from_data(event_type: &str, data: serde_json::Value) -> Result<Self, EventError> {
                let parsed = match event_type {
                    $($variant::TYPE => serde_json::from_value(data).map(Self::$variant),)+
                    _ => return Err(EventError::UnknownType { found: event_type.to_owned() }),
                };
                parsed.map_err(|source| EventError::Data {
                    event_type: event_type.to_owned(),
                    source,
                })
            }
        }

        $(
            impl From<$variant> for AnyEvent {
                fn from(event: $variant) -> Self {
                    Self::$variant(event)
                }
            }
        )+

        /// `(type, schema of the whole envelope)` for every event type.
        pub(crate) fn all_schemas() -> Vec<(&'static str, serde_json::Value)> {
            vec![$(($variant::TYPE, crate::schema::envelope_schema::<$variant>())),+]
        }
    };
}

any_event!(
    TranslationRequested,
    TranslationCompleted,
    TranslationFailed,
    FeedbackSubmitted,
    DatasetUpdated,
    ModelRegistered,
    ModelPromoted,
    ModelRolledBack,
    ModelRejected,
    TrainingProgress,
    MonitorCheck,
    MonitorAlert,
    DeadLettered,
);

impl AnyEvent {
    /// Reads an event of any known type, dispatching on its `type` attribute.
    pub fn decode(bytes: &[u8]) -> Result<AnyEnvelope, EventError> {
        RawEnvelope::decode(bytes)?.into_any()
    }
}

impl RawEnvelope {
    /// Interprets the payload according to the envelope's `type`.
    pub fn into_any(self) -> Result<AnyEnvelope, EventError> {
        let event_type = self.event_type.clone();
        self.try_map(|data| AnyEvent::from_data(&event_type, data))
    }
}

impl<T: Event + Into<AnyEvent>> From<Envelope<T>> for AnyEnvelope {
    fn from(envelope: Envelope<T>) -> Self {
        envelope.map(Into::into)
    }
}
