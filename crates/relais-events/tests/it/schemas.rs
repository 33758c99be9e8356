//! The committed files in `schemas/` agree with the Rust types.
//!
//! Regenerate them with
//! `RELAIS_UPDATE_SCHEMAS=1 cargo nextest run -p relais-events committed_schemas_match`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use relais_events::schema;
use serde_json::{json, Value};

use crate::examples;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn pretty(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schema serializes");
    text.push('\n');
    text
}

fn committed(event_type: &str) -> Value {
    let path = dir().join(schema::file_name(event_type));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator(event_type: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&committed(event_type))
        .unwrap_or_else(|e| panic!("schema of {event_type} does not compile: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The first line where two texts differ, for a readable failure.
fn first_difference(expected: &str, found: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut found_lines = found.lines();
    for number in 1.. {
        match (expected_lines.next(), found_lines.next()) {
            (None, None) => break,
            (e, f) if e == f => continue,
            (e, f) => {
                return format!(
                    "line {number}: generated {:?}, committed {:?}",
                    e.unwrap_or("<end>"),
                    f.unwrap_or("<end>")
                )
            }
        }
    }
    "no line differs".into()
}

#[test]
fn committed_schemas_match_the_types() {
    let update = std::env::var("RELAIS_UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    let mut drift = Vec::new();
    for (event_type, generated) in schema::all() {
        let path = dir().join(schema::file_name(event_type));
        let generated = pretty(&generated);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk == generated {
            continue;
        }
        if update {
            std::fs::write(&path, &generated)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        } else {
            drift.push(format!(
                "{}: {}",
                path.display(),
                first_difference(&generated, &on_disk)
            ));
        }
    }
    assert!(
        drift.is_empty(),
        "schemas/ is out of date with the Rust types; if the change is intended (and \
         compatible, else add a new .vN type) run `RELAIS_UPDATE_SCHEMAS=1 cargo nextest run \
         -p relais-events committed_schemas_match` and commit the result:\n{}",
        drift.join("\n")
    );
}

#[test]
fn every_schema_file_belongs_to_a_type() {
    let expected: BTreeSet<String> = relais_events::AnyEvent::TYPES
        .iter()
        .map(|t| schema::file_name(t))
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("schemas/ exists")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(
        on_disk, expected,
        "stale or missing schema files in schemas/"
    );
}

#[test]
fn committed_schemas_are_valid_draft_07() {
    for event_type in relais_events::AnyEvent::TYPES {
        let schema = committed(event_type);
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["title"], *event_type);
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{event_type}: not a valid schema: {e}"));
    }
}

#[test]
fn every_example_validates_against_its_committed_schema() {
    for example in examples::all() {
        let instance = serde_json::to_value(&example).expect("serializes");
        let found = errors(&validator(&example.event_type), &instance);
        assert!(found.is_empty(), "{}: {found:#?}", example.event_type);
    }
}

/// What is wrong with an instance, and how to make an instance so.
type Breakage = (&'static str, fn(&mut Value));

#[test]
fn schemas_reject_what_readers_would_reject() {
    let example = examples::all()
        .into_iter()
        .find(|e| e.event_type == "relais.translation.failed.v1")
        .expect("example exists");
    let valid = serde_json::to_value(&example).expect("serializes");
    let validator = validator(&example.event_type);
    assert!(errors(&validator, &valid).is_empty());

    let broken: [Breakage; 7] = [
        ("missing data field", |v| {
            v["data"].as_object_mut().map(|d| d.remove("reason"));
        }),
        ("missing envelope id", |v| {
            v.as_object_mut().map(|o| o.remove("id"));
        }),
        ("unknown enum value", |v| {
            v["data"]["reason"] = json!("bored")
        }),
        ("wrong field type", |v| v["data"]["request_id"] = json!(42)),
        ("other event type", |v| {
            v["type"] = json!("relais.translation.completed.v1")
        }),
        ("other specversion", |v| v["specversion"] = json!("0.3")),
        ("other content type", |v| {
            v["datacontenttype"] = json!("text/plain")
        }),
    ];
    for (what, break_it) in broken {
        let mut instance = valid.clone();
        break_it(&mut instance);
        assert!(
            !errors(&validator, &instance).is_empty(),
            "schema accepted an event with {what}"
        );
    }

    // Additive fields stay valid: the schemas are as tolerant as the readers.
    let mut extended = valid;
    extended["data"]["retry_after_ms"] = json!(250);
    extended["partitionkey"] = json!("edge-7f3a");
    assert!(errors(&validator, &extended).is_empty());
}
