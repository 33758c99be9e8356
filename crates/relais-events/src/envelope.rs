//! The CloudEvents 1.0 envelope that carries every Relais event, in JSON form.

use std::borrow::Cow;
use std::fmt::Debug;

use chrono::{DateTime, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventError;

/// The only CloudEvents version Relais writes and reads.
pub const SPEC_VERSION: &str = "1.0";
/// The content type of every envelope's `data`.
pub const CONTENT_TYPE: &str = "application/json";

/// A typed, versioned event payload.
pub trait Event: Serialize + DeserializeOwned + JsonSchema + Clone + Debug {
    /// The versioned CloudEvents `type`, such as `relais.translation.completed.v1`.
    const TYPE: &'static str;

    /// The NATS subject this event is published on.
    fn subject(&self) -> String;
}

/// A CloudEvents 1.0 envelope (structured mode, JSON) around a payload `T`.
///
/// `id` doubles as `Nats-Msg-Id`, so JetStream drops duplicate publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Unique per event; a republished copy gets a new one (see [`Envelope::republish`]).
    pub id: Uuid,
    /// Who produced the event, e.g. `relais/edge/<edge-id>`.
    pub source: String,
    /// The versioned type string; equals `T::TYPE` for a typed envelope.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Always [`SPEC_VERSION`].
    pub specversion: String,
    /// When the event happened.
    pub time: DateTime<Utc>,
    /// Always [`CONTENT_TYPE`].
    pub datacontenttype: String,
    /// W3C trace context of the request that caused this event (extension attribute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// On a republished (replayed) copy: the id of the original event (extension attribute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originalid: Option<Uuid>,
    /// The payload.
    pub data: T,
}

/// An envelope whose payload has not been interpreted yet.
pub type RawEnvelope = Envelope<serde_json::Value>;

impl<T: Event> Envelope<T> {
    /// A fresh event: new v4 id, current time, type taken from `T`.
    pub fn new(source: impl Into<String>, data: T) -> Self {
        Envelope {
            id: Uuid::new_v4(),
            source: source.into(),
            event_type: T::TYPE.to_owned(),
            specversion: SPEC_VERSION.to_owned(),
            time: Utc::now(),
            datacontenttype: CONTENT_TYPE.to_owned(),
            traceparent: None,
            originalid: None,
            data,
        }
    }

    /// Reads an event of type `T`, checking `specversion`, `datacontenttype` and `type`.
    pub fn decode(bytes: &[u8]) -> Result<Self, EventError> {
        RawEnvelope::decode(bytes)?.into_typed()
    }

    /// The subject this event is published on.
    pub fn subject(&self) -> String {
        self.data.subject()
    }
}

impl<T> Envelope<T> {
    /// Sets the `traceparent` extension attribute.
    #[must_use]
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    /// A copy to publish again (replay): a new id, so the bus does not drop it as a
    /// duplicate, and `originalid` pointing at the first event of the chain.
    #[must_use]
    pub fn republish(&self) -> Self
    where
        T: Clone,
    {
        Envelope {
            id: Uuid::new_v4(),
            originalid: Some(self.originalid.unwrap_or(self.id)),
            ..self.clone()
        }
    }

    /// The same envelope with its payload transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Envelope<U> {
        match self.try_map(|data| Ok::<U, std::convert::Infallible>(f(data))) {
            Ok(envelope) => envelope,
            Err(never) => match never {},
        }
    }

    /// The same envelope with its payload transformed by a fallible `f`.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Envelope<U>, E> {
        Ok(Envelope {
            id: self.id,
            source: self.source,
            event_type: self.event_type,
            specversion: self.specversion,
            time: self.time,
            datacontenttype: self.datacontenttype,
            traceparent: self.traceparent,
            originalid: self.originalid,
            data: f(self.data)?,
        })
    }

    /// Checks the attributes every Relais envelope must carry.
    pub fn check_attributes(&self) -> Result<(), EventError> {
        if self.specversion != SPEC_VERSION {
            return Err(EventError::SpecVersion {
                found: self.specversion.clone(),
            });
        }
        if self.datacontenttype != CONTENT_TYPE {
            return Err(EventError::ContentType {
                found: self.datacontenttype.clone(),
            });
        }
        Ok(())
    }
}

impl<T: Serialize> Envelope<T> {
    /// The JSON bytes published on the bus.
    pub fn to_json(&self) -> Result<Vec<u8>, EventError> {
        Ok(serde_json::to_vec(self)?)
    }
}

impl RawEnvelope {
    /// Reads an envelope of any type, checking `specversion` and `datacontenttype`.
    pub fn decode(bytes: &[u8]) -> Result<Self, EventError> {
        let raw: RawEnvelope = serde_json::from_slice(bytes)?;
        raw.check_attributes()?;
        Ok(raw)
    }

    /// Interprets the payload as `T`, after checking that `type` is `T::TYPE`.
    pub fn into_typed<T: Event>(self) -> Result<Envelope<T>, EventError> {
        if self.event_type != T::TYPE {
            return Err(EventError::TypeMismatch {
                expected: T::TYPE,
                found: self.event_type,
            });
        }
        self.try_map(serde_json::from_value)
            .map_err(|source| EventError::Data {
                event_type: T::TYPE.to_owned(),
                source,
            })
    }
}

/// The schema of a whole envelope carrying `T`: `type`, `specversion` and
/// `datacontenttype` are constants, `data` refers to `T`'s schema.
impl<T: Event> JsonSchema for Envelope<T> {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed(T::TYPE)
    }

    fn schema_id() -> Cow<'static, str> {
        Cow::Owned(format!("relais_events::Envelope<{}>", T::TYPE))
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let description = format!(
            "CloudEvents {SPEC_VERSION} envelope (structured mode, JSON) carrying a {} event.",
            T::TYPE
        );
        json_schema!({
            "description": description,
            "type": "object",
            "properties": {
                "id": generator.subschema_for::<Uuid>(),
                "source": { "type": "string", "minLength": 1 },
                "type": { "const": T::TYPE },
                "specversion": { "const": SPEC_VERSION },
                "time": generator.subschema_for::<DateTime<Utc>>(),
                "datacontenttype": { "const": CONTENT_TYPE },
                "traceparent": { "type": "string" },
                "originalid": generator.subschema_for::<Uuid>(),
                "data": generator.subschema_for::<T>(),
            },
            "required": ["id", "source", "type", "specversion", "time", "datacontenttype", "data"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DatasetSource, DatasetUpdated};

    fn event() -> Envelope<DatasetUpdated> {
        Envelope::new(
            "relais/cli/import",
            DatasetUpdated {
                dataset_version: 2,
                added_pairs: 10,
                total_pairs: 110,
                source: DatasetSource::Tatoeba,
            },
        )
    }

    #[test]
    fn new_fills_the_cloudevents_attributes() {
        let before = Utc::now();
        let event = event();
        assert_eq!(event.event_type, "relais.dataset.updated.v1");
        assert_eq!(event.specversion, "1.0");
        assert_eq!(event.datacontenttype, "application/json");
        assert_eq!(event.id.get_version_num(), 4);
        assert!(event.time >= before && event.time <= Utc::now());
        assert_ne!(event.id, self::event().id);
        assert_eq!(event.subject(), "events.dataset.updated");
    }

    #[test]
    fn extensions_are_written_only_when_set() {
        let plain = serde_json::to_value(event()).expect("serializes");
        assert!(plain.get("traceparent").is_none());
        assert!(plain.get("originalid").is_none());
        assert_eq!(plain["type"], "relais.dataset.updated.v1");

        let traced = event().with_traceparent("00-abc-def-01");
        let value = serde_json::to_value(&traced).expect("serializes");
        assert_eq!(value["traceparent"], "00-abc-def-01");
    }

    #[test]
    fn republished_copies_point_at_the_first_original() {
        let original = event();
        let copy = original.republish();
        assert_ne!(copy.id, original.id);
        assert_eq!(copy.originalid, Some(original.id));
        assert_eq!((copy.time, &copy.data), (original.time, &original.data));
        let copy_of_copy = copy.republish();
        assert_eq!(copy_of_copy.originalid, Some(original.id));
        assert_ne!(copy_of_copy.id, copy.id);
    }
}
