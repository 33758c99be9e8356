//! Every event becomes one row, once; outages delay, never lose; junk is
//! dead-lettered without blocking the stream.

use std::time::Duration;

use relais_store::{Backend, Table};
use sqlx::{Connection, Executor, Row, SqliteConnection};
use uuid::Uuid;

use crate::helpers::{admin, completed, eventually, on_both_backends, settings, TestAudit, TestDb};

on_both_backends!(
    every_event_becomes_one_row,
    redeliveries_and_replays_add_nothing,
);

async fn every_event_becomes_one_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let audit = TestAudit::start(settings(&db.url)).await;
    let n = 10;
    for i in 0..n {
        let id = Uuid::new_v4();
        let text = format!("Sentence number {i}.");
        audit
            .publish(completed(id, &text, &format!("Phrase numéro {i}.")))
            .await;
    }
    eventually("every event is recorded", || async {
        audit.store.count(Table::Events).await.unwrap() == n
    })
    .await;
    assert_eq!(audit.store.count(Table::Translations).await.unwrap(), n);
    audit.drained().await;
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), n);
    audit.stop().await;
}

async fn redeliveries_and_replays_add_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let audit = TestAudit::start(settings(&db.url)).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let id = Uuid::new_v4();
        sent.push(
            audit
                .publish(completed(id, &format!("Hello {i}."), "Salut."))
                .await,
        );
    }
    eventually("the originals are recorded", || async {
        audit.store.count(Table::Events).await.unwrap() == 5
    })
    .await;
    for envelope in &sent {
        // The same id again: the stream keeps one copy.
        assert!(audit.publish_envelope(envelope).await.duplicate);
        // The same bytes stored a second time (a redelivered copy).
        audit
            .publish_raw(&envelope.subject(), envelope.to_json().unwrap())
            .await;
        // A replayed copy: new id, `originalid` set.
        audit.publish_envelope(&envelope.republish()).await;
    }
    audit.drained().await;
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), 5);
    assert_eq!(audit.store.count(Table::Translations).await.unwrap(), 5);

    // A restarted service reading the stream again from the start changes nothing.
    let state = audit
        .bus
        .stream_state(&audit.layout.events_stream())
        .await
        .unwrap();
    assert_eq!(state.messages, 15, "5 originals, 5 raw copies, 5 replays");
    audit.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undecodable_events_are_dead_lettered_and_the_stream_flows() {
    let db = TestDb::new(Backend::Sqlite).await;
    let audit = TestAudit::start(settings(&db.url)).await;
    audit
        .publish_raw("events.translation.completed.e1", b"{not json".to_vec())
        .await;
    // A known type whose data breaks its contract.
    let mut bad = serde_json::to_value(relais_events::Envelope::new(
        "relais/test",
        completed(Uuid::new_v4(), "Hi.", "Oui."),
    ))
    .unwrap();
    bad["data"]["request_id"] = serde_json::json!("not a uuid");
    audit
        .publish_raw(
            "events.translation.completed.e1",
            serde_json::to_vec(&bad).unwrap(),
        )
        .await;
    let good = audit
        .publish(completed(Uuid::new_v4(), "Good evening.", "Oui."))
        .await;

    // The good event and one dead-letter record per bad message are stored.
    eventually("good event and two dead letters recorded", || async {
        audit.store.count(Table::Events).await.unwrap() == 3
    })
    .await;
    audit.drained().await;
    let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
    let rows = conn
        .fetch_all("SELECT id, event_type, envelope FROM events ORDER BY received_at")
        .await
        .unwrap();
    let types: Vec<String> = rows.iter().map(|r| r.get("event_type")).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| t.as_str() == "relais.deadletter.recorded.v1")
            .count(),
        2,
        "{types:?}"
    );
    assert!(rows
        .iter()
        .any(|r| r.get::<String, _>("id") == good.id.to_string()));
    let envelope: String = rows
        .iter()
        .find(|r| r.get::<String, _>("event_type") == "relais.deadletter.recorded.v1")
        .map(|r| r.get("envelope"))
        .unwrap();
    assert!(
        envelope.contains("audit cannot record this event"),
        "{envelope}"
    );
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), 3);
    audit.stop().await;
}

/// PostgreSQL cannot be stopped (it is shared), so the test database refuses
/// connections and its sessions are killed: what a database outage looks like
/// to the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_outage_delays_events_and_loses_none() {
    let db = TestDb::new(Backend::Postgres).await;
    let name = db.pg_name.clone().unwrap();
    let audit = TestAudit::start(settings(&db.url)).await;
    for i in 0..5 {
        audit
            .publish(completed(Uuid::new_v4(), &format!("Before {i}."), "Oui."))
            .await;
    }
    eventually("events before the outage", || async {
        audit.store.count(Table::Events).await.unwrap() == 5
    })
    .await;

    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    for i in 0..10 {
        audit
            .publish(completed(Uuid::new_v4(), &format!("During {i}."), "Oui."))
            .await;
    }
    // The events are delivered, fail, and wait unacknowledged for a retry.
    eventually("events are retried during the outage", || async {
        let state = audit
            .bus
            .consumer_state(&audit.consumer.stream, &audit.consumer.name)
            .await
            .unwrap();
        state.redelivered > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        audit.store.count(Table::Events).await.is_err(),
        "the database is down"
    );

    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    eventually("every event is recorded after the outage", || async {
        audit.store.count(Table::Events).await.ok() == Some(15)
    })
    .await;
    audit.drained().await;
    // No dead letter was written (it would be a 16th event).
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), 15);
    audit.stop().await;
}

/// SQLite cannot be stopped either: another process holds its write lock for
/// longer than the busy timeout (10 s), so writes fail with SQLITE_BUSY.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locked_sqlite_database_delays_events_and_loses_none() {
    let db = TestDb::new(Backend::Sqlite).await;
    let audit = TestAudit::start(settings(&db.url)).await;
    audit
        .publish(completed(Uuid::new_v4(), "Before.", "Oui."))
        .await;
    eventually("the first event", || async {
        audit.store.count(Table::Events).await.unwrap() == 1
    })
    .await;

    let mut locker = SqliteConnection::connect(&db.url).await.unwrap();
    locker.execute("BEGIN IMMEDIATE").await.unwrap();
    for i in 0..5 {
        audit
            .publish(completed(Uuid::new_v4(), &format!("During {i}."), "Oui."))
            .await;
    }
    eventually("writes fail and are retried", || async {
        let state = audit
            .bus
            .consumer_state(&audit.consumer.stream, &audit.consumer.name)
            .await
            .unwrap();
        state.redelivered > 0
    })
    .await;
    locker.execute("ROLLBACK").await.unwrap();
    drop(locker);

    eventually("every event is recorded after the lock", || async {
        audit.store.count(Table::Events).await.ok() == Some(6)
    })
    .await;
    audit.drained().await;
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), 6);
    audit.stop().await;
}

/// A broken message on a dead-letter subject is logged and acknowledged: it
/// is not dead-lettered again, so dead letters cannot feed themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_dead_letter_is_not_dead_lettered_again() {
    let db = TestDb::new(Backend::Sqlite).await;
    let audit = TestAudit::start(settings(&db.url)).await;
    audit
        .publish_raw("events.deadletter.EVENTS", b"garbage".to_vec())
        .await;
    let after = audit
        .publish(completed(Uuid::new_v4(), "Thanks.", "Merci."))
        .await;
    eventually("the next event is recorded", || async {
        audit.store.count(Table::Events).await.unwrap() == 1
    })
    .await;
    audit.drained().await;
    let state = audit
        .bus
        .stream_state(&audit.layout.events_stream())
        .await
        .unwrap();
    assert_eq!(state.messages, 2, "no dead letter was published");
    assert_eq!(audit.store.count(Table::Events).await.unwrap(), 1);
    assert!(audit
        .store
        .translation(after.data.request_id)
        .await
        .unwrap()
        .is_some());
    audit.stop().await;
}
