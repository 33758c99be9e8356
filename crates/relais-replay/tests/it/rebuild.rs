//! A database rebuilt from replay equals the one the live audit service
//! wrote, on SQLite and PostgreSQL; a second rebuild adds nothing; replay
//! publishes nothing.

use relais_audit::Application;
use relais_bus::ReplayQuery;
use relais_config::AuditSettings;
use relais_replay::rebuild_audit;
use relais_store::{Backend, Store, Table};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{audit_settings, completed, counts, eventually, feedback, TestDb, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuilt_database_equals_the_live_one() {
    let world = World::start().await;
    let live_db = TestDb::new(Backend::Sqlite).await;
    // One event at a time: each correction is curated right after its translation.
    let settings = AuditSettings {
        concurrency: 1,
        ..audit_settings(&live_db.url)
    };
    let app = Application::build(settings, world.bus.clone(), world.layout.clone())
        .await
        .expect("build the audit service");
    let live = app.store().clone();
    let consumer = app.consumer().clone();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped(cancel.clone()));

    let sentences = [
        (
            "The cat sleeps on the mat.",
            "Le chat dort sur la natte.",
            "Le chat dort sur le tapis.",
        ),
        (
            "I like green tea.",
            "J'aime le the vert.",
            "J'aime le thé vert.",
        ),
        ("How are you?", "Comment vas-tu ?", "Comment allez-vous ?"),
        (
            "It is raining today.",
            "Il pleut aujourd'hui.",
            "Il pleut aujourd'hui.",
        ),
    ];
    let mut identities = 0;
    for (i, (en, fr, fix)) in sentences.iter().enumerate() {
        let request = Uuid::new_v4();
        let (done, _) = world.publish(completed(request, en, fr)).await;
        identities += 1;
        // A duplicate publish (dropped by the stream) and a replayed copy
        // (stored, recorded once).
        world.publish_envelope(&done).await;
        world.publish_envelope(&done.republish()).await;
        if i % 2 == 0 {
            world.publish(feedback(request, fix)).await;
            identities += 1;
        }
    }
    // Feedback on a translation that never completed (an orphan).
    world
        .publish(feedback(Uuid::new_v4(), "Bonjour à tous."))
        .await;
    identities += 1;
    eventually("the live audit recorded every event", || async {
        live.count(Table::Events).await.unwrap() == identities
    })
    .await;
    eventually("the live audit acknowledged everything", || async {
        let state = world
            .bus
            .consumer_state(&consumer.stream, &consumer.name)
            .await
            .unwrap();
        state.pending == 0 && state.ack_pending == 0
    })
    .await;
    cancel.cancel();
    task.await.expect("join").expect("clean stop");
    let live = Store::connect(&live_db.url).await.unwrap();
    let expected = counts(&live).await;
    let rows = |name: &str| expected.iter().find(|(t, _)| *t == name).unwrap().1;
    assert_eq!(
        (rows("translations"), rows("feedback")),
        (4, 3),
        "{expected:?}"
    );
    let last = world.last_sequence().await;

    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url).await.expect("open the rebuilt db");
        let mut calls = 0;
        let query = ReplayQuery::new(world.stream());
        let report = rebuild_audit(&world.bus, &query, &store, |_| calls += 1)
            .await
            .expect("rebuild");
        assert_eq!(report.read, last, "{backend:?}");
        assert_eq!(report.recorded, identities as u64, "{backend:?}");
        assert_eq!(report.duplicates, 4, "the replayed copies, {backend:?}");
        assert_eq!(report.orphans, 1, "{backend:?}");
        assert!(calls as u64 >= report.read);
        assert_eq!(counts(&store).await, expected, "{backend:?}");

        // Idempotent: a second run records and curates nothing new.
        let again = rebuild_audit(&world.bus, &query, &store, |_| {})
            .await
            .expect("second rebuild");
        assert_eq!((again.recorded, again.curated), (0, 0), "{backend:?}");
        assert_eq!(again.duplicates, report.read, "{backend:?}");
        assert_eq!(counts(&store).await, expected, "{backend:?}");
        store.close().await;
    }
    // Replay published nothing.
    assert_eq!(world.last_sequence().await, last);
}
