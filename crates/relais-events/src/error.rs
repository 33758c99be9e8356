//! The crate's one error type.

/// Why bytes from the bus could not be read as an event (or a lookup body).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or JSON that does not have the envelope's shape.
    #[error("not a valid event envelope: {0}")]
    Json(#[from] serde_json::Error),
    /// The envelope declares a CloudEvents version other than 1.0.
    #[error("unsupported CloudEvents specversion {found:?}, expected \"1.0\"")]
    SpecVersion { found: String },
    /// The envelope's data is not declared as JSON.
    #[error("unsupported datacontenttype {found:?}, expected \"application/json\"")]
    ContentType { found: String },
    /// A typed decode met an event of another type.
    #[error("expected an event of type {expected}, found {found}")]
    TypeMismatch {
        expected: &'static str,
        found: String,
    },
    /// The type string is not one this build knows.
    #[error("unknown event type {found:?}")]
    UnknownType { found: String },
    /// The envelope is fine but its `data` does not match the declared type.
    #[error("data of {event_type} event is invalid: {source}")]
    Data {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
    /// A request/reply body (see [`crate::lookup`]) is not the expected JSON.
    #[error("invalid {what} body: {source}")]
    Body {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}
