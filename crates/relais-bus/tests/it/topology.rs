//! Idempotent declaration of streams and consumers.

use std::time::Duration;

use relais_bus::{declare_stream, BusError, Retention};

use crate::helpers::setup;

#[tokio::test]
async fn declaring_twice_is_a_no_op_and_changes_are_applied_or_reported() {
    let t = setup().await;
    // Second declaration of the same topology: nothing to do, no error.
    t.topology.declare(&t.bus).await.expect("declared again");
    let events = t.stream("EVENTS").clone();
    let state = t.bus.stream_state(&events.name).await.expect("state");
    assert_eq!(state.messages, 0);

    // A bound that can change in place is updated.
    let mut shorter = events.clone();
    shorter.max_age = Duration::from_secs(3600);
    declare_stream(&t.bus, &shorter).await.expect("updated");
    declare_stream(&t.bus, &shorter).await.expect("no-op");

    // Retention cannot change in place: reported clearly.
    let mut conflicting = events.clone();
    conflicting.retention = Retention::WorkQueue;
    let err = declare_stream(&t.bus, &conflicting)
        .await
        .expect_err("conflict");
    match err {
        BusError::TopologyConflict { kind, name, detail } => {
            assert_eq!(kind, "stream");
            assert_eq!(name, events.name);
            assert!(detail.contains("retention"), "{detail}");
        }
        other => panic!("expected TopologyConflict, got {other:?}"),
    }

    // Consumers: a changed max_deliver is applied.
    let mut workers = t.consumer("workers");
    workers.max_deliver = 7;
    relais_bus::declare_consumer(&t.bus, &workers)
        .await
        .expect("consumer updated");
    let state = t
        .bus
        .consumer_state(&workers.stream, &workers.name)
        .await
        .expect("consumer state");
    assert_eq!(state.pending, 0);
}
