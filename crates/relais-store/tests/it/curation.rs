//! Curation of feedback into dataset pairs.

use relais_events::{DatasetSource, Envelope, FeedbackSubmitted};
use relais_store::{
    CurationRecorded, FeedbackStatus, PairFilter, RejectionCode, Store, StoreError, Table,
};
use relais_text::Pair;
use uuid::Uuid;

use crate::events::{completed, requested};
use crate::helpers::{event_bytes, on_both_backends};

on_both_backends!(
    an_accepted_correction_becomes_a_pair_with_provenance,
    a_rejected_correction_is_stored_with_its_reason,
    curation_waits_for_the_translation,
);

/// Records a completed translation and a correction of it; returns the feedback id.
async fn translated_and_corrected(
    store: &Store,
    en: &str,
    fr: &str,
    correction: &str,
) -> (Uuid, Uuid) {
    let request_id = Uuid::new_v4();
    store
        .record_event(&event_bytes(requested(request_id, en)))
        .await
        .unwrap();
    store
        .record_event(&event_bytes(completed(request_id, en, fr)))
        .await
        .unwrap();
    let feedback_id = Uuid::new_v4();
    let feedback = FeedbackSubmitted {
        feedback_id,
        request_id,
        correction: correction.into(),
        client: None,
    };
    store
        .record_event(&Envelope::new("relais/edge", feedback).to_json().unwrap())
        .await
        .unwrap();
    (feedback_id, request_id)
}

async fn an_accepted_correction_becomes_a_pair_with_provenance(store: Store) {
    let en = "I would like a cup of coffee.";
    let (feedback_id, request_id) = translated_and_corrected(
        &store,
        en,
        "Je voudrais une coupe de café.",
        "Je voudrais une tasse de café.",
    )
    .await;
    assert_eq!(store.pending_feedback(10).await.unwrap(), vec![feedback_id]);

    let outcome = store.curate_feedback(feedback_id).await.unwrap();
    assert_eq!(outcome, CurationRecorded::Accepted { added: true });
    assert_eq!(
        store.curate_feedback(feedback_id).await.unwrap(),
        CurationRecorded::AlreadyCurated
    );
    let row = store.feedback(feedback_id).await.unwrap().unwrap();
    assert_eq!(row.status, FeedbackStatus::Accepted);
    assert!(row.curated_at.is_some());
    assert!(store.pending_feedback(10).await.unwrap().is_empty());

    // The pair waits for a version, with its provenance.
    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), 1);
    assert_eq!(store.pending_feedback_pairs().await.unwrap(), 1);
    assert!(store
        .export_pairs(PairFilter::default())
        .await
        .unwrap()
        .is_empty());
    let pair = store
        .pair(en, "Je voudrais une tasse de café.")
        .await
        .unwrap()
        .expect("pair");
    assert_eq!(
        (pair.source, pair.dataset_version),
        (DatasetSource::Feedback, None)
    );
    let provenance: serde_json::Value = serde_json::from_str(&pair.provenance).unwrap();
    assert_eq!(provenance["feedback_id"], feedback_id.to_string());
    assert_eq!(provenance["request_id"], request_id.to_string());

    // A Tatoeba import exists already; the feedback batch becomes the next version.
    let tatoeba = [Pair {
        en: "Hi.".into(),
        fr: "Salut.".into(),
    }];
    store
        .import_pairs(&tatoeba, DatasetSource::Tatoeba, "test")
        .await
        .unwrap();
    let version = store
        .publish_feedback_version()
        .await
        .unwrap()
        .expect("a version");
    assert_eq!(
        (version.version, version.added_pairs, version.total_pairs),
        (2, 1, 2)
    );
    let event = version.to_event();
    assert_eq!(
        (event.source, event.dataset_version),
        (DatasetSource::Feedback, 2)
    );
    assert_eq!(store.publish_feedback_version().await.unwrap(), None);
    let fresh = store
        .export_pairs(PairFilter {
            after_version: Some(1),
            up_to_version: None,
        })
        .await
        .unwrap();
    assert_eq!(
        fresh,
        vec![Pair {
            en: en.into(),
            fr: "Je voudrais une tasse de café.".into()
        }]
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.pairs_from(DatasetSource::Feedback), 1);
    assert_eq!(stats.pending_feedback_pairs, 0);
}

async fn a_rejected_correction_is_stored_with_its_reason(store: Store) {
    let en = "Good morning.";
    let mt = "Bonjour.";
    let cases = [
        ("   ", RejectionCode::Empty),
        ("Bonjour.", RejectionCode::Unchanged),
        ("good morning.", RejectionCode::NotFrench),
        ("!!!!!!!!", RejectionCode::Junk),
    ];
    for (correction, code) in cases {
        let (feedback_id, _) = translated_and_corrected(&store, en, mt, correction).await;
        assert_eq!(
            store.curate_feedback(feedback_id).await.unwrap(),
            CurationRecorded::Rejected
        );
        let row = store.feedback(feedback_id).await.unwrap().unwrap();
        let FeedbackStatus::Rejected(rejection) = row.status else {
            panic!("{correction:?} should be rejected, is {:?}", row.status);
        };
        assert_eq!(rejection.code, code, "{correction:?}");
        assert!(!rejection.reason.is_empty());
    }
    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), 0);
    assert_eq!(store.publish_feedback_version().await.unwrap(), None);
}

async fn curation_waits_for_the_translation(store: Store) {
    let feedback_id = Uuid::new_v4();
    let orphan = FeedbackSubmitted {
        feedback_id,
        request_id: Uuid::new_v4(),
        correction: "Bonsoir.".into(),
        client: None,
    };
    store.record_event(&event_bytes(orphan)).await.unwrap();
    let err = store.curate_feedback(feedback_id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    // Recording an acceptance without the translation keeps the row pending.
    let err = store
        .record_feedback_curation(feedback_id, &Ok(()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(
        store.feedback(feedback_id).await.unwrap().unwrap().status,
        FeedbackStatus::Pending
    );
    let unknown = store
        .record_feedback_curation(Uuid::new_v4(), &Ok(()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            unknown,
            StoreError::NotFound {
                what: "feedback",
                ..
            }
        ),
        "{unknown:?}"
    );
}
