//! Deadlines, crashes and a bad model directory.

use std::time::Duration;

use chrono::Utc;
use relais_events::FailureReason;
use relais_worker::{Application, Translator};

use crate::helpers::{connect, in_a_minute, next_outcome, settings, Outcome, World};

#[tokio::test]
async fn an_expired_request_fails_with_deadline_exceeded_and_is_not_translated() {
    let world = World::new().await;
    let worker = world.worker(settings(&world.model_dir)).await;
    let mut outcomes = world.outcomes().await;

    let late = Utc::now() - chrono::Duration::seconds(1);
    let expired = world.request("edge-d", "Hello.", late).await;
    let Outcome::Failed(subject, event) =
        next_outcome(&mut outcomes, Duration::from_secs(20)).await
    else {
        panic!("expected a failure, not a translation");
    };
    assert_eq!(
        subject,
        world.layout.subject("events.translation.failed.edge-d")
    );
    assert_eq!(event.data.request_id, expired.request_id);
    assert_eq!(event.data.reason, FailureReason::DeadlineExceeded);
    assert_eq!(event.data.worker_id.as_deref(), Some(worker.id.as_str()));
    world.wait_drained().await;

    // A live request after it is translated: the expired one produced nothing more.
    let live = world.request("edge-d", "Hello.", in_a_minute()).await;
    let next = next_outcome(&mut outcomes, Duration::from_secs(20)).await;
    assert!(matches!(next, Outcome::Completed(..)), "{next:?}");
    assert_eq!(next.request_id(), live.request_id);
    worker.stop().await;
}

#[tokio::test]
async fn a_request_held_by_a_killed_worker_is_answered_by_another() {
    let world = World::new().await;
    // This worker holds its batch open for long: it is mid-batch when killed.
    let mut slow = settings(&world.model_dir);
    slow.max_batch = 8;
    slow.max_wait = Duration::from_millis(1800);
    let doomed = world.worker(slow).await;
    let mut outcomes = world.outcomes().await;
    let request = world.request("edge-e", "Hello.", in_a_minute()).await;

    world.wait_held(1).await;
    doomed.task.abort();
    let _ = doomed.task.await;

    let rescuer = world.worker(settings(&world.model_dir)).await;
    let Outcome::Completed(_, event) = next_outcome(&mut outcomes, Duration::from_secs(20)).await
    else {
        panic!("expected a completion");
    };
    assert_eq!(event.data.request_id, request.request_id);
    assert_eq!(event.data.worker_id, rescuer.id);
    world.wait_drained().await;
    rescuer.stop().await;
}

#[tokio::test]
async fn a_missing_or_corrupt_model_directory_is_a_clear_error() {
    let world = World::new().await;
    let missing = world.model_dir.with_file_name("no-such-model");
    let bus = connect(&world.nats.url(), Duration::from_secs(1)).await;
    let err = Application::build(settings(&missing), bus.clone(), world.layout.clone())
        .await
        .expect_err("no model");
    let text = chain(&err);
    assert!(text.contains("no-such-model"), "{text}");
    assert!(text.contains("does not exist"), "{text}");

    std::fs::write(world.model_dir.join("model.safetensors"), b"not weights").expect("corrupt");
    let err = Application::build(settings(&world.model_dir), bus, world.layout.clone())
        .await
        .expect_err("corrupt weights");
    let text = chain(&err);
    assert!(text.contains("model.safetensors"), "{text}");
    assert!(Translator::load(&world.model_dir).is_err());
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[tokio::test]
async fn a_request_that_exhausts_its_deliveries_becomes_a_failure_event() {
    let world = World::new().await;
    let mut once = settings(&world.model_dir);
    once.max_deliver = 1;
    let mut slow = once.clone();
    slow.max_batch = 8;
    slow.max_wait = Duration::from_millis(1800);
    let doomed = world.worker(slow).await;
    let mut outcomes = world.outcomes().await;
    let request = world.request("edge-f", "Hello.", in_a_minute()).await;
    world.wait_held(1).await;
    doomed.task.abort();
    let _ = doomed.task.await;
    // Its only delivery is spent: the survivor's dead-letter watcher answers.
    let survivor = world.worker(once).await;

    let Outcome::Failed(subject, event) =
        next_outcome(&mut outcomes, Duration::from_secs(20)).await
    else {
        panic!("expected a failure");
    };
    assert_eq!(
        subject,
        world.layout.subject("events.translation.failed.edge-f")
    );
    assert_eq!(event.data.request_id, request.request_id);
    assert_eq!(event.data.reason, FailureReason::DeliveriesExhausted);
    world.wait_drained().await;
    survivor.stop().await;
}
