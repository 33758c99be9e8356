//! A shadow evaluation re-translates the recorded requests of the range with
//! a candidate model and scores it against production and the corrections.

use relais_bus::{ReplayFrom, ReplayQuery};
use relais_replay::{recorded_requests, shadow};
use relais_worker::Translator;
use uuid::Uuid;

use crate::helpers::{completed, feedback, tiny_model_dir, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_is_scored_on_the_recorded_requests() {
    let world = World::start().await;
    // Outside the range: not scored.
    world
        .publish(completed(Uuid::new_v4(), "Too early.", "Trop tôt."))
        .await;
    let pairs = [
        ("Hello.", "Bonjour."),
        ("How are you?", "Comment vas-tu ?"),
        ("The cat sleeps on the mat.", "Le chat dort sur la natte."),
    ];
    let mut requests = Vec::new();
    for (en, fr) in pairs {
        let id = Uuid::new_v4();
        let (done, _) = world.publish(completed(id, en, fr)).await;
        // A replayed copy of the same request counts once.
        world.publish_envelope(&done.republish()).await;
        requests.push(id);
    }
    // A correction of the second request, outside the subject filter.
    world
        .publish(feedback(requests[1], "Comment allez-vous ?"))
        .await;
    let last = world.last_sequence().await;

    let query = ReplayQuery::new(world.stream())
        .from(ReplayFrom::Sequence(2))
        .filter(world.layout.subject("events.translation.>"));
    let recorded = recorded_requests(&world.bus, &query).await.unwrap();
    let ids: Vec<Uuid> = recorded.iter().map(|r| r.request_id).collect();
    assert_eq!(ids, requests);
    assert_eq!(
        recorded[1].correction.as_deref(),
        Some("Comment allez-vous ?")
    );
    assert!(recorded[0].correction.is_none());

    let dir = tempfile::tempdir().unwrap();
    let candidate = Translator::load(tiny_model_dir(dir.path())).expect("load the candidate");
    let report = shadow(&world.bus, &query, &candidate)
        .await
        .expect("shadow");
    assert_eq!(report.candidate, "tiny-candidate");
    assert_eq!(report.requests, 3);
    assert_eq!(report.production_versions, vec!["prod-v1".to_owned()]);
    assert_eq!(report.corrected, 1);
    let vs_prod = report.vs_production.as_ref().expect("scores");
    assert_eq!(vs_prod.sentences, 3);
    for s in [vs_prod, report.vs_corrections.as_ref().unwrap()] {
        assert!(
            (0.0..=100.0).contains(&s.bleu) && (0.0..=100.0).contains(&s.chrf),
            "{s:?}"
        );
    }
    // Production against the correction "Comment allez-vous ?" shares words.
    let baseline = report.production_vs_corrections.as_ref().unwrap();
    assert!(baseline.chrf > 0.0 && baseline.chrf < 100.0, "{baseline:?}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["requests"], 3);

    // Replay published nothing.
    assert_eq!(world.last_sequence().await, last);
}
