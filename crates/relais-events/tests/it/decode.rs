//! Decoding any event from bytes, as the audit logger and replay do.

use relais_events::{AnyEvent, Envelope, EventError, RawEnvelope, TranslationCompleted};
use serde_json::{json, Value};

use crate::examples;

fn completed_json() -> Value {
    let example = examples::all()
        .into_iter()
        .find(|e| e.event_type == "relais.translation.completed.v1")
        .expect("example exists");
    serde_json::to_value(&example).expect("serializes")
}

#[test]
fn any_event_round_trips_every_type_byte_for_byte() {
    for example in examples::all() {
        let bytes = example.to_json().expect("serializes");
        let decoded = AnyEvent::decode(&bytes).expect("decodes");
        assert_eq!(decoded, example);
        assert_eq!(decoded.data.event_type(), decoded.event_type);
        assert_eq!(decoded.to_json().expect("serializes"), bytes);
    }
}

#[test]
fn subjects_follow_the_names_module() {
    let subjects: Vec<String> = examples::all().iter().map(|e| e.data.subject()).collect();
    assert_eq!(
        subjects,
        [
            "translate.request",
            "events.translation.completed.edge-7f3a",
            "events.translation.failed.edge-7f3a",
            "events.feedback.submitted",
            "events.dataset.updated",
            "events.model.registered",
            "events.model.promoted",
            "events.model.rolled_back",
            "events.model.rejected",
            "events.training.progress",
            "events.monitor.check.translate_roundtrip",
            "events.monitor.alert.translate_roundtrip",
            "events.deadletter.TRANSLATE",
        ]
    );
}

#[test]
fn unknown_type_is_an_error_naming_the_type() {
    let mut event = completed_json();
    event["type"] = json!("relais.translation.completed.v9");
    let err = AnyEvent::decode(&serde_json::to_vec(&event).expect("json")).unwrap_err();
    assert!(
        matches!(&err, EventError::UnknownType { found } if found == "relais.translation.completed.v9"),
        "{err}"
    );
    // The raw envelope still reads, so an audit log can keep what it cannot interpret.
    let raw = RawEnvelope::decode(&serde_json::to_vec(&event).expect("json")).expect("raw");
    assert_eq!(raw.data["translation"], "Le chat dort sur le canapé.");
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    for bytes in [
        &b""[..],
        b"null",
        b"{",
        b"[1,2]",
        b"\xff\xfe",
        b"{\"type\":1}",
    ] {
        let err = AnyEvent::decode(bytes).unwrap_err();
        assert!(matches!(err, EventError::Json(_)), "{bytes:?}: {err}");
    }
}

#[test]
fn data_not_matching_its_type_is_a_data_error() {
    let mut event = completed_json();
    event["data"]["batch_size"] = json!("eight");
    let err = AnyEvent::decode(&serde_json::to_vec(&event).expect("json")).unwrap_err();
    assert!(
        matches!(&err, EventError::Data { event_type, .. } if event_type == "relais.translation.completed.v1"),
        "{err}"
    );
    assert!(err.to_string().contains("expected u32"), "{err}");
}

#[test]
fn readers_tolerate_additive_fields() {
    let mut event = completed_json();
    event["data"]["beam_size"] = json!(4);
    event["partitionkey"] = json!("edge-7f3a");
    let bytes = serde_json::to_vec(&event).expect("json");
    let typed = Envelope::<TranslationCompleted>::decode(&bytes).expect("typed");
    assert_eq!(typed.data.batch_size, 8);
    AnyEvent::decode(&bytes).expect("any");
}

#[test]
fn typed_decode_rejects_another_type() {
    let bytes = serde_json::to_vec(&completed_json()).expect("json");
    let err = Envelope::<relais_events::TranslationFailed>::decode(&bytes).unwrap_err();
    assert!(
        matches!(
            &err,
            EventError::TypeMismatch { expected: "relais.translation.failed.v1", found }
                if found == "relais.translation.completed.v1"
        ),
        "{err}"
    );
}

#[test]
fn envelope_attributes_are_checked() {
    let mut event = completed_json();
    event["specversion"] = json!("0.3");
    let err = AnyEvent::decode(&serde_json::to_vec(&event).expect("json")).unwrap_err();
    assert!(
        matches!(&err, EventError::SpecVersion { found } if found == "0.3"),
        "{err}"
    );

    let mut event = completed_json();
    event["datacontenttype"] = json!("text/plain");
    let err = Envelope::<TranslationCompleted>::decode(&serde_json::to_vec(&event).expect("json"))
        .unwrap_err();
    assert!(matches!(err, EventError::ContentType { .. }), "{err}");

    let mut event = completed_json();
    event.as_object_mut().expect("object").remove("specversion");
    let err = AnyEvent::decode(&serde_json::to_vec(&event).expect("json")).unwrap_err();
    assert!(err.to_string().contains("specversion"), "{err}");
}
