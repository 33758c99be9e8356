//! The happy path, acknowledgement order and load sharing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::helpers::{in_a_minute, next_outcome, settings, Outcome, World, MODEL_VERSION};

#[tokio::test]
async fn a_request_yields_a_completion_on_the_waiting_edge_subject() {
    let world = World::new().await;
    let worker = world.worker(settings(&world.model_dir)).await;
    let mut outcomes = world.outcomes().await;

    let request = world
        .request("edge-a", "Hello. How are you?", in_a_minute())
        .await;

    let Outcome::Completed(subject, event) =
        next_outcome(&mut outcomes, Duration::from_secs(20)).await
    else {
        panic!("expected a completion");
    };
    assert_eq!(
        subject,
        world.layout.subject("events.translation.completed.edge-a")
    );
    assert_eq!(event.data.request_id, request.request_id);
    assert_eq!(event.data.text, "Hello. How are you?");
    assert_eq!(event.data.model_version, MODEL_VERSION);
    assert_eq!(event.data.worker_id, worker.id);
    assert_eq!(event.data.batch_size, 1);
    assert!(event.data.latency_ms > 0.0);
    world.wait_drained().await;
    worker.stop().await;
}

#[tokio::test]
async fn a_request_is_acked_only_after_its_event_is_stored() {
    let world = World::new().await;
    let worker = world
        .worker_on(settings(&world.model_dir), Duration::from_millis(300))
        .await;
    // Without the EVENTS stream no PubAck can come: the event is sent (core
    // subscribers see it) but the request must stay in the work queue.
    let events = world.layout.events_stream();
    assert!(world
        .bus
        .delete_stream(&events)
        .await
        .expect("delete EVENTS"));
    let mut outcomes = world.outcomes().await;
    let request = world.request("edge-b", "Hello.", in_a_minute()).await;

    let seen = next_outcome(&mut outcomes, Duration::from_secs(20)).await;
    assert_eq!(seen.request_id(), request.request_id);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(world.queued().await, 1, "not acked without a PubAck");

    // With the stream back, a redelivery is answered and acknowledged.
    world
        .layout
        .topology(&settings(&world.model_dir))
        .declare(&world.bus)
        .await
        .expect("redeclare");
    world.wait_drained_within(Duration::from_secs(20)).await;
    worker.stop().await;
}

#[tokio::test]
async fn two_workers_share_a_burst() {
    let world = World::new().await;
    let a = world.worker(settings(&world.model_dir)).await;
    let b = world.worker(settings(&world.model_dir)).await;
    let mut outcomes = world.outcomes().await;

    let mut asked = HashSet::new();
    for i in 0..40 {
        let text = format!("The cat sleeps on the mat number {i}.");
        asked.insert(
            world
                .request("edge-c", &text, in_a_minute())
                .await
                .request_id,
        );
    }
    let mut by_worker: HashMap<String, usize> = HashMap::new();
    for _ in 0..40 {
        match next_outcome(&mut outcomes, Duration::from_secs(30)).await {
            Outcome::Completed(_, e) => {
                assert!(asked.remove(&e.data.request_id), "one answer per request");
                *by_worker.entry(e.data.worker_id).or_default() += 1;
            }
            Outcome::Failed(_, e) => panic!("unexpected failure {:?}", e.data),
        }
    }
    assert!(asked.is_empty());
    assert!(
        by_worker.get(&a.id).copied().unwrap_or(0) > 0,
        "{by_worker:?}"
    );
    assert!(
        by_worker.get(&b.id).copied().unwrap_or(0) > 0,
        "{by_worker:?}"
    );
    world.wait_drained().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_stopping_worker_finishes_the_requests_it_holds() {
    let world = World::new().await;
    let mut slow = settings(&world.model_dir);
    slow.max_wait = Duration::from_millis(800);
    let worker = world.worker(slow).await;
    let mut outcomes = world.outcomes().await;
    let request = world.request("edge-g", "Hello.", in_a_minute()).await;
    world.wait_held(1).await;

    let worker_id = worker.id.clone();
    worker.stop().await;
    // Stopped cleanly only after answering and acknowledging what it held.
    assert_eq!(world.queued().await, 0);
    let Outcome::Completed(_, event) = next_outcome(&mut outcomes, Duration::from_secs(1)).await
    else {
        panic!("expected a completion");
    };
    assert_eq!(event.data.request_id, request.request_id);
    assert_eq!(event.data.worker_id, worker_id);
}
