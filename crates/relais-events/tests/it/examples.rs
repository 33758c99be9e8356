//! A realistic example of every event type.

use chrono::{DateTime, Duration, TimeZone, Utc};
use relais_events::names::stream;
use relais_events::{
    AlertState, AnyEnvelope, AnyEvent, CheckStatus, DatasetSource, DatasetUpdated, DeadLettered,
    Envelope, Event, FailureReason, FeedbackSubmitted, ModelMetrics, ModelPromoted,
    ModelRegistered, ModelRejected, ModelRolledBack, MonitorAlert, MonitorCheck, TrainingPhase,
    TrainingProgress, TranslationCompleted, TranslationFailed, TranslationRequested,
};
use uuid::Uuid;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 17, 0, 0)
        .single()
        .expect("valid date")
        + Duration::seconds(seconds)
}

/// Checks that the typed envelope survives encode → typed decode, then widens it.
fn checked<T: Event + PartialEq + Into<AnyEvent>>(envelope: Envelope<T>) -> AnyEnvelope {
    let bytes = envelope.to_json().expect("serializes");
    let decoded = Envelope::<T>::decode(&bytes).expect("typed decode");
    assert_eq!(decoded, envelope, "{} typed round trip", T::TYPE);
    envelope.into()
}

/// One envelope per event type, in [`AnyEvent::TYPES`] order.
pub fn all() -> Vec<AnyEnvelope> {
    let request_id = Uuid::new_v4();
    let edge = "edge-7f3a";
    let text = "The cat sleeps on the sofa.";
    let edge_source = format!("relais/edge/{edge}");
    vec![
        checked(
            Envelope::new(
                edge_source.clone(),
                TranslationRequested {
                    request_id,
                    edge_id: edge.into(),
                    text: text.into(),
                    deadline: at(10),
                    client: Some("api-key-42".into()),
                },
            )
            .with_traceparent(TRACEPARENT),
        ),
        checked(
            Envelope::new(
                "relais/worker/w-1",
                TranslationCompleted {
                    request_id,
                    edge_id: edge.into(),
                    text: text.into(),
                    translation: "Le chat dort sur le canapé.".into(),
                    model_version: "2026-12-01.3".into(),
                    worker_id: "w-1".into(),
                    latency_ms: 38.25,
                    queue_ms: 4.5,
                    batch_size: 8,
                },
            )
            .with_traceparent(TRACEPARENT),
        ),
        checked(Envelope::new(
            "relais/worker/w-2",
            TranslationFailed {
                request_id: Uuid::new_v4(),
                edge_id: edge.into(),
                text: "Too late.".into(),
                reason: FailureReason::DeadlineExceeded,
                message: "deadline passed 120 ms before decoding started".into(),
                worker_id: Some("w-2".into()),
                model_version: None,
            },
        )),
        checked(Envelope::new(
            edge_source,
            FeedbackSubmitted {
                feedback_id: Uuid::new_v4(),
                request_id,
                correction: "Le chat dort sur le divan.".into(),
                client: None,
            },
        )),
        checked(Envelope::new(
            "relais/cli/dataset-import",
            DatasetUpdated {
                dataset_version: 3,
                added_pairs: 1_204,
                total_pairs: 238_911,
                source: DatasetSource::Feedback,
            },
        )),
        checked(Envelope::new(
            "relais/trainer/t-1",
            ModelRegistered {
                version: "2026-12-04.1".into(),
                metrics: ModelMetrics {
                    bleu: Some(34.5),
                    chrf: Some(58.25),
                    valid_loss: Some(1.875),
                },
                parent: Some("2026-12-01.3".into()),
                dataset_version: 3,
                corpus_hash: "sha256:9f2c1e7a".into(),
                created_at: at(-600),
            },
        )),
        checked(Envelope::new(
            "relais/trainer/t-1",
            ModelPromoted {
                version: "2026-12-04.1".into(),
                previous: Some("2026-12-01.3".into()),
                actor: "trainer".into(),
                reason: "BLEU +1.2 over production".into(),
            },
        )),
        checked(Envelope::new(
            "relais/cli/ops",
            ModelRolledBack {
                from_version: "2026-12-04.1".into(),
                to_version: "2026-12-01.3".into(),
                actor: "alice".into(),
                reason: "complaints about names being translated".into(),
            },
        )),
        checked(Envelope::new(
            "relais/worker",
            ModelRejected {
                version: "2026-12-05.1".into(),
                worker_id: "worker-3fa2c1d0".into(),
                serving: Some("2026-12-04.1".into()),
                reason: "model.safetensors: checksum mismatch".into(),
            },
        )),
        checked(Envelope::new(
            "relais/trainer/t-1",
            TrainingProgress {
                run_id: "run-2026-12-04-a".into(),
                phase: TrainingPhase::Validating,
                step: 12_000,
                total_steps: Some(40_000),
                train_loss: Some(2.125),
                valid_loss: Some(2.5),
                valid_bleu: None,
                tokens_per_s: Some(18_500.0),
                elapsed_s: 3_605.5,
                message: None,
            },
        )),
        checked(Envelope::new(
            "relais/monitor/m-1",
            MonitorCheck {
                check: "translate_roundtrip".into(),
                status: CheckStatus::Fail,
                detail: "no answer within 5 s".into(),
                latency_ms: 5_000.0,
                consecutive_failures: 3,
            },
        )),
        checked(Envelope::new(
            "relais/monitor/m-1",
            MonitorAlert {
                check: "translate_roundtrip".into(),
                state: AlertState::Firing,
                message: "translation round trip failing for 3 checks".into(),
                since: at(-90),
            },
        )),
        checked(Envelope::new(
            "relais/worker/w-1",
            DeadLettered {
                stream: stream::TRANSLATE.into(),
                consumer: "workers".into(),
                subject: "translate.request".into(),
                stream_sequence: 90_210,
                deliveries: 5,
                reason: "max deliveries reached".into(),
                payload: "{\"not\":\"an envelope\"}".into(),
                original_id: None,
            },
        )),
    ]
}

#[test]
fn there_is_one_example_per_type() {
    let types: Vec<&str> = all().iter().map(|e| e.data.event_type()).collect();
    assert_eq!(types, AnyEvent::TYPES);
}
