//! Corrections → curation → dataset versions → `events.dataset.updated`.

use std::time::Duration;

use relais_events::{DatasetSource, DatasetUpdated, Envelope, FeedbackSubmitted};
use relais_store::{Backend, FeedbackStatus, RejectionCode, Table};
use uuid::Uuid;

use crate::helpers::{completed, eventually, on_both_backends, settings, TestAudit, TestDb};

on_both_backends!(corrections_are_curated_and_announced_at_the_threshold);

/// Publishes a completed translation and a correction of it; returns the feedback id.
async fn correct(audit: &TestAudit, en: &str, mt: &str, correction: &str) -> Uuid {
    let request_id = Uuid::new_v4();
    audit.publish(completed(request_id, en, mt)).await;
    let feedback_id = Uuid::new_v4();
    audit
        .publish(FeedbackSubmitted {
            feedback_id,
            request_id,
            correction: correction.into(),
            client: None,
        })
        .await;
    feedback_id
}

async fn corrections_are_curated_and_announced_at_the_threshold(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut settings = settings(&db.url);
    settings.dataset_batch_pairs = 2;
    let audit = TestAudit::start(settings).await;
    let mut updates = audit
        .bus
        .subscribe(&audit.layout.subject("events.dataset.updated"))
        .await
        .unwrap();
    audit.bus.flush().await.unwrap();

    let good = correct(
        &audit,
        "I would like a cup of coffee.",
        "Je voudrais une coupe de café.",
        "Je voudrais une tasse de café.",
    )
    .await;
    let unchanged = correct(&audit, "Good morning.", "Bonjour.", "Bonjour.").await;
    eventually("both corrections are curated", || async {
        let a = audit.store.feedback(good).await.unwrap();
        let b = audit.store.feedback(unchanged).await.unwrap();
        matches!((a, b), (Some(a), Some(b))
            if a.status != FeedbackStatus::Pending && b.status != FeedbackStatus::Pending)
    })
    .await;
    assert_eq!(
        audit.store.feedback(good).await.unwrap().unwrap().status,
        FeedbackStatus::Accepted
    );
    let FeedbackStatus::Rejected(rejection) = audit
        .store
        .feedback(unchanged)
        .await
        .unwrap()
        .unwrap()
        .status
    else {
        panic!("an unchanged correction is rejected");
    };
    assert_eq!(rejection.code, RejectionCode::Unchanged);
    assert!(!rejection.reason.is_empty());

    // One accepted pair is below the threshold of 2: no version yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(audit.store.pending_feedback_pairs().await.unwrap(), 1);
    assert!(audit.store.dataset_versions().await.unwrap().is_empty());

    correct(
        &audit,
        "The cat is black.",
        "Le chat est noire.",
        "Le chat est noir.",
    )
    .await;
    let message = tokio::time::timeout(Duration::from_secs(20), updates.next())
        .await
        .expect("a dataset update within 20 s")
        .expect("subscription open");
    let event = Envelope::<DatasetUpdated>::decode(&message.payload)
        .unwrap()
        .data;
    assert_eq!(
        (
            event.dataset_version,
            event.added_pairs,
            event.total_pairs,
            event.source
        ),
        (1, 2, 2, DatasetSource::Feedback)
    );
    assert_eq!(audit.store.pending_feedback_pairs().await.unwrap(), 0);
    let stats = audit.store.stats().await.unwrap();
    assert_eq!(stats.pairs_from(DatasetSource::Feedback), 2);
    // The announcement is itself an event the audit records.
    audit.drained().await;
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), 3 * 2 + 1);
    audit.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lone_correction_is_announced_when_the_window_passes() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut settings = settings(&db.url);
    settings.dataset_batch_window = Duration::from_millis(500);
    let audit = TestAudit::start(settings).await;
    correct(
        &audit,
        "I am tired.",
        "Je suis fatiguée.",
        "Je suis fatigué.",
    )
    .await;
    eventually("the window closes the batch", || async {
        audit.store.dataset_versions().await.unwrap().len() == 1
    })
    .await;
    let version = &audit.store.dataset_versions().await.unwrap()[0];
    assert_eq!(
        (version.added_pairs, version.source),
        (1, DatasetSource::Feedback)
    );
    audit.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correction_recorded_before_its_translation_is_curated_by_the_sweep() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut settings = settings(&db.url);
    settings.curation_sweep = Duration::from_millis(200);
    settings.dataset_batch_pairs = 1;
    let audit = TestAudit::start(settings).await;
    let request_id = Uuid::new_v4();
    let feedback_id = Uuid::new_v4();
    audit
        .publish(FeedbackSubmitted {
            feedback_id,
            request_id,
            correction: "Il fait beau.".into(),
            client: None,
        })
        .await;
    audit.drained().await;
    assert_eq!(
        audit
            .store
            .feedback(feedback_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        FeedbackStatus::Pending
    );
    audit
        .publish(completed(
            request_id,
            "The weather is nice.",
            "Le temps est beau.",
        ))
        .await;
    eventually("the sweep curates and the batch is announced", || async {
        audit.store.dataset_versions().await.unwrap().len() == 1
    })
    .await;
    assert_eq!(
        audit
            .store
            .feedback(feedback_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        FeedbackStatus::Accepted
    );
    audit.stop().await;
}
