//! The event log and its projections.

use chrono::Utc;
use relais_events::{
    CheckStatus, Envelope, FailureReason, FeedbackSubmitted, ModelMetrics, ModelPromoted,
    ModelRegistered, ModelRolledBack, MonitorCheck, TranslationCompleted, TranslationFailed,
    TranslationRequested,
};
use relais_store::{Recorded, Store, StoreError, Table};
use uuid::Uuid;

use crate::helpers::{event_bytes, on_both_backends};

on_both_backends!(
    distinct_events_make_one_row_each,
    redelivered_and_replayed_events_add_nothing,
    a_completed_translation_is_one_row_with_its_fields,
    a_late_failure_does_not_undo_a_completion,
    feedback_is_recorded_once,
    model_versions_follow_register_promote_rollback,
    undecodable_events_are_poison_and_write_nothing,
    unknown_event_types_are_logged_not_projected,
    concurrent_redeliveries_record_each_event_once,
);

pub fn requested(request_id: Uuid, text: &str) -> TranslationRequested {
    TranslationRequested {
        request_id,
        edge_id: "edge-1".into(),
        text: text.into(),
        deadline: Utc::now(),
        client: Some("client-7".into()),
    }
}

pub fn completed(request_id: Uuid, text: &str, translation: &str) -> TranslationCompleted {
    TranslationCompleted {
        request_id,
        edge_id: "edge-1".into(),
        text: text.into(),
        translation: translation.into(),
        model_version: "v3".into(),
        worker_id: "worker-2".into(),
        latency_ms: 12.5,
        queue_ms: 1.25,
        batch_size: 4,
    }
}

async fn distinct_events_make_one_row_each(store: Store) {
    for i in 0..25 {
        let id = Uuid::new_v4();
        let bytes = if i % 2 == 0 {
            event_bytes(requested(id, "Hello."))
        } else {
            event_bytes(completed(id, "Hello.", "Bonjour."))
        };
        assert_eq!(store.record_event(&bytes).await.unwrap(), Recorded::New);
    }
    assert_eq!(store.count(Table::Events).await.unwrap(), 25);
    assert_eq!(store.count(Table::Translations).await.unwrap(), 25);
}

async fn redelivered_and_replayed_events_add_nothing(store: Store) {
    let envelope = Envelope::new("relais/test", completed(Uuid::new_v4(), "Hi.", "Salut."));
    let bytes = envelope.to_json().unwrap();
    assert_eq!(store.record_event(&bytes).await.unwrap(), Recorded::New);
    assert_eq!(
        store.record_event(&bytes).await.unwrap(),
        Recorded::Duplicate
    );
    // A copy re-encoded with the same id (replayed from the stream as is).
    let mut same_id = envelope.clone();
    same_id.source = "relais/replay".into();
    let same_id = same_id.to_json().unwrap();
    assert_eq!(
        store.record_event(&same_id).await.unwrap(),
        Recorded::Duplicate
    );
    // A republished copy: new id, originalid pointing at the first.
    let republished = envelope.republish().to_json().unwrap();
    assert_eq!(
        store.record_event(&republished).await.unwrap(),
        Recorded::Duplicate
    );
    assert_eq!(store.count(Table::Events).await.unwrap(), 1);
    assert_eq!(store.count(Table::Translations).await.unwrap(), 1);
}

async fn a_completed_translation_is_one_row_with_its_fields(store: Store) {
    let id = Uuid::new_v4();
    store
        .record_event(&event_bytes(requested(id, "Good night.")))
        .await
        .unwrap();
    let done = Envelope::new(
        "relais/worker/worker-2",
        completed(id, "Good night.", "Bonne nuit."),
    );
    store.record_event(&done.to_json().unwrap()).await.unwrap();

    assert_eq!(store.count(Table::Translations).await.unwrap(), 1);
    let row = store.translation(id).await.unwrap().expect("row");
    assert_eq!(row.status, "completed");
    assert_eq!(row.input, "Good night.");
    assert_eq!(row.output.as_deref(), Some("Bonne nuit."));
    assert_eq!(row.model_version.as_deref(), Some("v3"));
    assert_eq!(row.worker_id.as_deref(), Some("worker-2"));
    assert_eq!(row.edge_id, "edge-1");
    assert_eq!(row.latency_ms, Some(12.5));
    assert_eq!(row.queue_ms, Some(1.25));
    assert_eq!(row.batch_size, Some(4));
    assert_eq!(row.client.as_deref(), Some("client-7"));
    assert_eq!(row.error_reason, None);
    assert!(row.requested_at.is_some());
    let completed_at = row.completed_at.expect("completed_at");
    assert_eq!(
        completed_at.timestamp_micros(),
        done.time.timestamp_micros()
    );
}

async fn a_late_failure_does_not_undo_a_completion(store: Store) {
    let id = Uuid::new_v4();
    let failure = |id| TranslationFailed {
        request_id: id,
        edge_id: "edge-1".into(),
        text: "Hi.".into(),
        reason: FailureReason::DeadlineExceeded,
        message: "too late".into(),
        worker_id: None,
        model_version: None,
    };
    store
        .record_event(&event_bytes(completed(id, "Hi.", "Salut.")))
        .await
        .unwrap();
    store.record_event(&event_bytes(failure(id))).await.unwrap();
    let row = store.translation(id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.output.as_deref()),
        ("completed", Some("Salut."))
    );

    let other = Uuid::new_v4();
    store
        .record_event(&event_bytes(requested(other, "Hi.")))
        .await
        .unwrap();
    store
        .record_event(&event_bytes(failure(other)))
        .await
        .unwrap();
    let row = store.translation(other).await.unwrap().unwrap();
    assert_eq!(row.status, "failed");
    assert_eq!(row.error_reason.as_deref(), Some("deadline_exceeded"));
    assert_eq!(row.error_message.as_deref(), Some("too late"));
    assert_eq!(store.count(Table::Translations).await.unwrap(), 2);
}

async fn feedback_is_recorded_once(store: Store) {
    let feedback = FeedbackSubmitted {
        feedback_id: Uuid::new_v4(),
        request_id: Uuid::new_v4(),
        correction: "Salut !".into(),
        client: None,
    };
    let envelope = Envelope::new("relais/edge/edge-1", feedback.clone());
    store
        .record_event(&envelope.to_json().unwrap())
        .await
        .unwrap();
    store
        .record_event(&envelope.republish().to_json().unwrap())
        .await
        .unwrap();
    assert_eq!(store.count(Table::Feedback).await.unwrap(), 1);
    let row = store.feedback(feedback.feedback_id).await.unwrap().unwrap();
    assert_eq!(
        (row.request_id, row.correction.as_str()),
        (feedback.request_id, "Salut !")
    );
    assert_eq!(row.status, relais_store::FeedbackStatus::Pending);
}

async fn model_versions_follow_register_promote_rollback(store: Store) {
    let register = |version: &str, bleu| ModelRegistered {
        version: version.into(),
        metrics: ModelMetrics {
            bleu: Some(bleu),
            chrf: Some(50.5),
            valid_loss: Some(2.25),
        },
        parent: None,
        dataset_version: 1,
        corpus_hash: "abc".into(),
        created_at: Utc::now(),
    };
    let promote = |version: &str| ModelPromoted {
        version: version.into(),
        previous: None,
        actor: "trainer".into(),
        reason: "better".into(),
    };
    store
        .record_event(&event_bytes(register("v1", 20.0)))
        .await
        .unwrap();
    store
        .record_event(&event_bytes(promote("v1")))
        .await
        .unwrap();
    store
        .record_event(&event_bytes(register("v2", 25.0)))
        .await
        .unwrap();
    store
        .record_event(&event_bytes(promote("v2")))
        .await
        .unwrap();

    let v1 = store.model_version("v1").await.unwrap().unwrap();
    let v2 = store.model_version("v2").await.unwrap().unwrap();
    assert_eq!(
        (v1.state.as_str(), v2.state.as_str()),
        ("retired", "production")
    );
    assert_eq!(
        (v2.bleu, v2.chrf, v2.valid_loss),
        (Some(25.0), Some(50.5), Some(2.25))
    );
    assert_eq!(v2.dataset_version, Some(1));
    assert!(v2.promoted_at.is_some() && v2.created_at.is_some());

    let rollback = ModelRolledBack {
        from_version: "v2".into(),
        to_version: "v1".into(),
        actor: "operator".into(),
        reason: "regression".into(),
    };
    store.record_event(&event_bytes(rollback)).await.unwrap();
    let v2 = store.model_version("v2").await.unwrap().unwrap();
    assert_eq!(v2.state, "rolled_back");
    assert!(v2.rolled_back_at.is_some());
    let production = store.production_model().await.unwrap().unwrap();
    assert_eq!(
        (production.version.as_str(), production.bleu),
        ("v1", Some(20.0))
    );
    assert_eq!(store.count(Table::ModelVersions).await.unwrap(), 2);
}

async fn undecodable_events_are_poison_and_write_nothing(store: Store) {
    let mut bad_data =
        serde_json::to_value(Envelope::new("t", requested(Uuid::new_v4(), "x"))).unwrap();
    bad_data["data"]["request_id"] = "not a uuid".into();
    let inputs = [
        b"not json".to_vec(),
        b"{\"id\": 1}".to_vec(),
        serde_json::to_vec(&bad_data).unwrap(),
    ];
    for bytes in inputs {
        let err = store.record_event(&bytes).await.unwrap_err();
        assert!(matches!(err, StoreError::Undecodable(_)), "{err:?}");
        assert!(err.is_poison() && !err.is_transient());
    }
    assert_eq!(store.count(Table::Events).await.unwrap(), 0);
}

async fn unknown_event_types_are_logged_not_projected(store: Store) {
    let mut future =
        serde_json::to_value(Envelope::new("t", requested(Uuid::new_v4(), "x"))).unwrap();
    future["type"] = "relais.translation.requested.v9".into();
    let bytes = serde_json::to_vec(&future).unwrap();
    assert_eq!(store.record_event(&bytes).await.unwrap(), Recorded::New);
    assert_eq!(
        store.record_event(&bytes).await.unwrap(),
        Recorded::Duplicate
    );
    // Known types without a table are logged too.
    let check = MonitorCheck {
        check: "nats".into(),
        status: CheckStatus::Pass,
        detail: "ok".into(),
        latency_ms: 1.0,
        consecutive_failures: 0,
    };
    assert_eq!(
        store.record_event(&event_bytes(check)).await.unwrap(),
        Recorded::New
    );
    assert_eq!(store.count(Table::Events).await.unwrap(), 2);
    assert_eq!(store.count(Table::Translations).await.unwrap(), 0);
}

async fn concurrent_redeliveries_record_each_event_once(store: Store) {
    let events: Vec<Vec<u8>> = (0..20)
        .map(|_| event_bytes(completed(Uuid::new_v4(), "Hi.", "Salut.")))
        .collect();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, events) = (store.clone(), events.clone());
            tokio::spawn(async move {
                let mut new = 0;
                for bytes in &events {
                    if store.record_event(bytes).await.expect("record") == Recorded::New {
                        new += 1;
                    }
                }
                new
            })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        new += task.await.expect("task");
    }
    assert_eq!(new, 20);
    assert_eq!(store.count(Table::Events).await.unwrap(), 20);
    assert_eq!(store.count(Table::Translations).await.unwrap(), 20);
}
