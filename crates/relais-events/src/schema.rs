//! JSON Schemas of the envelopes, as committed under `schemas/`.
//!
//! Schemas are JSON Schema draft-07, the dialect AsyncAPI 3 reads natively, so
//! `schemas/asyncapi.yaml` can point at the files directly.

use schemars::generate::SchemaSettings;

use crate::{Envelope, Event};

/// The schema of a whole envelope carrying `T`, with `T`'s own types under `definitions`.
pub fn envelope_schema<T: Event>() -> serde_json::Value {
    SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Envelope<T>>()
        .to_value()
}

/// `(type, schema)` for every event type, in a stable order.
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    crate::any::all_schemas()
}

/// The file name of a type's schema inside `schemas/`, e.g.
/// `relais.translation.completed.v1.json`.
pub fn file_name(event_type: &str) -> String {
    format!("{event_type}.json")
}
