//! `schemas/asyncapi.yaml` documents every event type, subject and schema file.

use std::collections::BTreeSet;

use relais_events::names::{header, subject};
use relais_events::{
    schema, AnyEvent, DatasetUpdated, DeadLettered, Event, FeedbackSubmitted, ModelPromoted,
    ModelRegistered, ModelRejected, ModelRolledBack, MonitorAlert, MonitorCheck, TrainingProgress,
    TranslationCompleted, TranslationFailed, TranslationRequested,
};
use serde_json::Value;

use crate::schemas;

fn document() -> Value {
    let path = schemas::dir().join("asyncapi.yaml");
    let text = std::fs::read_to_string(&path).expect("asyncapi.yaml exists");
    serde_norway::from_str(&text).expect("asyncapi.yaml is valid YAML")
}

/// Each type and its channel address, built with the `names` builders so the
/// parameters appear as AsyncAPI expects them.
fn addresses() -> Vec<(&'static str, String)> {
    vec![
        (
            TranslationRequested::TYPE,
            subject::TRANSLATE_REQUEST.into(),
        ),
        (
            TranslationCompleted::TYPE,
            subject::translation_completed("{edge_id}"),
        ),
        (
            TranslationFailed::TYPE,
            subject::translation_failed("{edge_id}"),
        ),
        (FeedbackSubmitted::TYPE, subject::FEEDBACK_SUBMITTED.into()),
        (DatasetUpdated::TYPE, subject::DATASET_UPDATED.into()),
        (ModelRegistered::TYPE, subject::MODEL_REGISTERED.into()),
        (ModelPromoted::TYPE, subject::MODEL_PROMOTED.into()),
        (ModelRolledBack::TYPE, subject::MODEL_ROLLED_BACK.into()),
        (ModelRejected::TYPE, subject::MODEL_REJECTED.into()),
        (TrainingProgress::TYPE, subject::TRAINING_PROGRESS.into()),
        (MonitorCheck::TYPE, subject::monitor_check("{check}")),
        (MonitorAlert::TYPE, subject::monitor_alert("{check}")),
        (DeadLettered::TYPE, subject::dead_lettered("{stream}")),
    ]
}

fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

fn object(value: &Value) -> &serde_json::Map<String, Value> {
    value.as_object().expect("an object")
}

/// The key in `channels` whose address is `address`.
fn channel_with_address<'a>(doc: &'a Value, address: &str) -> Option<(&'a String, &'a Value)> {
    object(&doc["channels"])
        .iter()
        .find(|(_, channel)| channel["address"] == address)
}

#[test]
fn every_type_has_a_message_on_its_channel() {
    let doc = document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["servers"]["nats"]["protocol"], "nats");

    let covered: Vec<&str> = addresses().iter().map(|(t, _)| *t).collect();
    assert_eq!(covered, AnyEvent::TYPES, "the table above misses a type");

    let messages = object(&doc["components"]["messages"]);
    let all_events = channel_with_address(&doc, subject::EVENTS_ALL)
        .expect("a channel for events.>")
        .1;
    for (event_type, address) in addresses() {
        let (key, message) = messages
            .iter()
            .find(|(_, m)| m["name"] == event_type)
            .unwrap_or_else(|| panic!("no message named {event_type}"));
        let file = format!("./{}", schema::file_name(event_type));
        assert_eq!(
            message["payload"]["$ref"],
            file.as_str(),
            "{event_type} payload"
        );

        let message_ref = format!("#/components/messages/{key}");
        let (channel, body) = channel_with_address(&doc, &address)
            .unwrap_or_else(|| panic!("no channel with address {address} for {event_type}"));
        assert_eq!(
            body["messages"][key.as_str()]["$ref"],
            message_ref.as_str(),
            "channel {channel} does not carry {event_type}"
        );
        let on_events_stream = address.starts_with("events.");
        assert_eq!(
            body_carries(all_events, &message_ref),
            on_events_stream,
            "{event_type}: events.> must list exactly the messages of stream EVENTS"
        );
    }
}

fn body_carries(channel: &Value, message_ref: &str) -> bool {
    object(&channel["messages"])
        .values()
        .any(|m| m["$ref"] == message_ref)
}

#[test]
fn channel_parameters_match_addresses() {
    let doc = document();
    for (key, channel) in object(&doc["channels"]) {
        let address = channel["address"].as_str().expect("address is a string");
        let in_address: BTreeSet<&str> = address
            .split('.')
            .filter_map(|token| token.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = channel
            .get("parameters")
            .map(|p| object(p).keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(in_address, declared, "channel {key}");
    }
}

#[test]
fn every_reference_resolves_and_every_schema_file_is_used() {
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    let mut files = BTreeSet::new();
    for target in found {
        if let Some(pointer) = target.strip_prefix('#') {
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
        } else {
            let file = target.strip_prefix("./").expect("local file reference");
            assert!(schemas::dir().join(file).is_file(), "missing file {target}");
            files.insert(file.to_owned());
        }
    }
    let json_files: BTreeSet<String> = std::fs::read_dir(schemas::dir())
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
        files, json_files,
        "schema files not referenced by asyncapi.yaml"
    );
}

#[test]
fn operations_name_who_does_what() {
    let doc = document();
    let expected = [
        ("edge", "send", subject::TRANSLATE_REQUEST.to_owned()),
        ("edge", "send", subject::FEEDBACK_SUBMITTED.to_owned()),
        (
            "edge",
            "receive",
            subject::translation_completed("{edge_id}"),
        ),
        ("worker", "receive", subject::TRANSLATE_REQUEST.to_owned()),
        (
            "worker",
            "send",
            subject::translation_completed("{edge_id}"),
        ),
        ("worker", "send", subject::translation_failed("{edge_id}")),
        ("audit", "receive", subject::EVENTS_ALL.to_owned()),
        ("trainer", "receive", subject::DATASET_UPDATED.to_owned()),
        ("trainer", "send", subject::MODEL_REGISTERED.to_owned()),
        ("trainer", "send", subject::TRAINING_PROGRESS.to_owned()),
        ("monitor", "send", subject::monitor_check("{check}")),
        ("monitor", "send", subject::monitor_alert("{check}")),
    ];
    let operations: Vec<(String, String, String)> = object(&doc["operations"])
        .iter()
        .map(|(id, op)| {
            let channel = op["channel"]["$ref"].as_str().expect("channel ref");
            let address = doc
                .pointer(channel.trim_start_matches('#'))
                .and_then(|c| c["address"].as_str())
                .unwrap_or_else(|| panic!("operation {id}: bad channel {channel}"));
            for message in op["messages"].as_array().expect("messages") {
                let message = message["$ref"].as_str().expect("message ref");
                assert!(
                    message.starts_with(&format!("{channel}/messages/")),
                    "operation {id}: {message} is not a message of {channel}"
                );
            }
            let service = op["tags"][0]["name"].as_str().expect("service tag");
            let action = op["action"].as_str().expect("action");
            (service.to_owned(), action.to_owned(), address.to_owned())
        })
        .collect();
    for (service, action, address) in expected {
        assert!(
            operations
                .iter()
                .any(|(s, a, c)| s == service && a == action && *c == address),
            "no operation: {service} {action}s {address}"
        );
    }
}

#[test]
fn bus_headers_are_documented() {
    let doc = document();
    let headers = &doc["components"]["messageTraits"]["busHeaders"]["headers"]["properties"];
    for name in [header::REQUEST_ID, header::TRACEPARENT, "Nats-Msg-Id"] {
        assert!(headers.get(name).is_some(), "header {name} not documented");
    }
}
