//! The consumer loop: redelivery on nak and on ack-wait expiry, dead letters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use relais_bus::{
    run_consumer, run_consumer_with, watch_dead_letters, ConsumerOptions, DeadLetterPolicy,
    Headers, Outcome, ReplayQuery,
};
use relais_events::{DeadLettered, Envelope, FeedbackSubmitted};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{eventually, setup, within, Seen, TestBus};

type Log = Arc<Mutex<Vec<Seen>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn seen(log: &Log) -> Vec<Seen> {
    log.lock().expect("log lock").clone()
}

async fn publish_request(t: &TestBus, body: &str) -> u64 {
    t.bus
        .publish(
            &t.subject("translate.request"),
            &Uuid::new_v4().to_string(),
            &Headers::new().with_request_id("req-42"),
            Bytes::from(body.to_owned()),
        )
        .await
        .expect("published")
        .sequence
}

fn dead_letter_policy(t: &TestBus) -> DeadLetterPolicy {
    let stream = &t.stream("TRANSLATE").name;
    DeadLetterPolicy::new("relais/test")
        .on_subject(t.subject(&format!("events.deadletter.{stream}")))
}

/// Dead-letter records now in the test's events stream.
async fn dead_letters(t: &TestBus) -> Vec<Envelope<DeadLettered>> {
    let events = t.stream("EVENTS").name.clone();
    let items = t
        .bus
        .replay(&ReplayQuery::new(events).filter(t.subject("events.deadletter.>")))
        .await
        .expect("replay")
        .collect()
        .await
        .expect("reads");
    items
        .iter()
        .map(|m| m.event::<DeadLettered>().expect("a DeadLettered event"))
        .collect()
}

#[tokio::test]
async fn nak_and_ack_wait_expiry_both_lead_to_redelivery() {
    let t = setup().await;
    let spec = t.consumer("workers"); // ack_wait 1 s, max_deliver 3
    let seq = publish_request(&t, "hello").await;
    let log = log();

    // Instance A: nak the first delivery, then "crash" while holding the second.
    let (got_second_tx, got_second_rx) = tokio::sync::oneshot::channel::<()>();
    let got_second_tx = Arc::new(Mutex::new(Some(got_second_tx)));
    let crashing = {
        let bus = t.bus.clone();
        let spec = spec.clone();
        let log = log.clone();
        tokio::spawn(async move {
            run_consumer(
                &bus,
                &spec,
                move |d| {
                    let log = log.clone();
                    let tx = got_second_tx.clone();
                    async move {
                        log.lock().expect("lock").push(Seen::from(&d));
                        if d.delivery_count() == 1 {
                            return Outcome::Retry(Duration::from_millis(100));
                        }
                        if let Some(tx) = tx.lock().expect("lock").take() {
                            let _ = tx.send(());
                        }
                        std::future::pending::<Outcome>().await
                    }
                },
                CancellationToken::new(),
            )
            .await
        })
    };
    within(10, got_second_rx).await.expect("second delivery");
    crashing.abort(); // the process dies: no ack, no nak

    // Instance B: after the ack wait the message comes back, and is acknowledged.
    let cancel = CancellationToken::new();
    let healthy = {
        let bus = t.bus.clone();
        let spec = spec.clone();
        let log = log.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            run_consumer(
                &bus,
                &spec,
                move |d| {
                    let log = log.clone();
                    async move {
                        log.lock().expect("lock").push(Seen::from(&d));
                        Outcome::Done
                    }
                },
                cancel,
            )
            .await
        })
    };
    eventually(10, || async { (seen(&log).len() >= 3).then_some(()) }).await;
    let stream = t.stream("TRANSLATE").name.clone();
    eventually(5, || async {
        let n = t.bus.stream_state(&stream).await.expect("state").messages;
        (n == 0).then_some(())
    })
    .await;
    cancel.cancel();
    within(10, healthy)
        .await
        .expect("joins")
        .expect("stops cleanly");

    let seen = seen(&log);
    assert_eq!(
        seen.iter()
            .map(|s| (s.seq, s.count, s.last))
            .collect::<Vec<_>>(),
        vec![(seq, 1, false), (seq, 2, false), (seq, 3, true)]
    );
    assert!(seen.iter().all(|s| s.payload == b"hello"));
    assert!(dead_letters(&t).await.is_empty(), "nothing was given up");
}

#[tokio::test]
async fn retry_on_the_last_attempt_and_poison_become_dead_letter_events() {
    let t = setup().await;
    let mut spec = t.consumer("workers");
    spec.max_deliver = 2;
    relais_bus::declare_consumer(&t.bus, &spec)
        .await
        .expect("declared");

    let retried = publish_request(&t, "always failing").await;
    let poison = publish_request(&t, "{not json").await;
    let log = log();
    let failed_subject = t.subject("events.translation.failed.edge1");
    let policy = dead_letter_policy(&t).with_hook({
        let subject = failed_subject.clone();
        move |bus, dl| {
            let subject = subject.clone();
            async move {
                // The service maps the request to its own failure event.
                let mut event = Envelope::new(
                    "relais/worker/test",
                    FeedbackSubmitted {
                        feedback_id: Uuid::new_v4(),
                        request_id: Uuid::new_v4(),
                        correction: dl.reason.clone(),
                        client: None,
                    },
                );
                event.id = dl.derived_id("translation.failed");
                bus.publish_envelope_on(&subject, &event, &dl.headers.propagated())
                    .await
                    .map(|_| ())
            }
        }
    });
    let cancel = CancellationToken::new();
    let task = {
        let bus = t.bus.clone();
        let log = log.clone();
        let cancel = cancel.clone();
        let options = ConsumerOptions {
            concurrency: 2,
            pull_expiry: Duration::from_secs(1),
            dead_letter: policy,
        };
        tokio::spawn(async move {
            run_consumer_with(
                &bus,
                &spec,
                options,
                move |d| {
                    let log = log.clone();
                    async move {
                        log.lock().expect("lock").push(Seen::from(&d));
                        if d.payload().starts_with(b"{not") {
                            Outcome::Poison("payload is not JSON".into())
                        } else {
                            Outcome::Retry(Duration::from_millis(50))
                        }
                    }
                },
                cancel,
            )
            .await
        })
    };
    let records = eventually(10, || async {
        let d = dead_letters(&t).await;
        (d.len() >= 2).then_some(d)
    })
    .await;
    cancel.cancel();
    within(10, task).await.expect("joins").expect("stops");

    let by_seq = |seq: u64| {
        records
            .iter()
            .find(|r| r.data.stream_sequence == seq)
            .unwrap_or_else(|| panic!("no dead letter for {seq}: {records:?}"))
    };
    let r = by_seq(retried);
    assert_eq!(r.data.deliveries, 2);
    assert_eq!(r.data.payload, "always failing");
    assert_eq!(r.data.stream, t.stream("TRANSLATE").name);
    assert_eq!(r.data.subject, t.subject("translate.request"));
    assert!(
        r.data.reason.contains("gave up after 2 deliveries"),
        "{}",
        r.data.reason
    );
    let p = by_seq(poison);
    assert_eq!(p.data.deliveries, 1, "poison is not retried");
    assert_eq!(p.data.reason, "payload is not JSON");
    assert_eq!(records.len(), 2);

    // Delivery counts: the retried one twice, the poison once.
    let seen = seen(&log);
    assert_eq!(seen.iter().filter(|s| s.seq == retried).count(), 2);
    assert_eq!(seen.iter().filter(|s| s.seq == poison).count(), 1);

    // The hook published one failure event per dead letter, with the request id.
    let events = t.stream("EVENTS").name.clone();
    let failed = t
        .bus
        .replay(&ReplayQuery::new(events).filter(failed_subject))
        .await
        .expect("replay")
        .collect()
        .await
        .expect("reads");
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .all(|m| m.headers.request_id() == Some("req-42")));

    // Nothing is left in the work queue.
    let state = t
        .bus
        .stream_state(&t.stream("TRANSLATE").name)
        .await
        .expect("state");
    assert_eq!(
        state.messages, 0,
        "terminated messages leave the work queue"
    );
}

#[tokio::test]
async fn ack_wait_expiry_on_the_last_delivery_is_dead_lettered_by_the_watcher() {
    let t = setup().await;
    let mut spec = t.consumer("workers");
    spec.max_deliver = 2;
    relais_bus::declare_consumer(&t.bus, &spec)
        .await
        .expect("declared");
    let seq = publish_request(&t, "crashes the worker").await;

    let cancel = CancellationToken::new();
    let watcher = {
        let bus = t.bus.clone();
        let spec = spec.clone();
        let policy = dead_letter_policy(&t);
        let cancel = cancel.clone();
        tokio::spawn(async move { watch_dead_letters(&bus, &spec, policy, cancel).await })
    };

    // Two instances in turn take the message and die holding it.
    for attempt in 1..=2u64 {
        let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let bus = t.bus.clone();
        let spec = spec.clone();
        let crashing = tokio::spawn(async move {
            run_consumer(
                &bus,
                &spec,
                move |d| {
                    let tx = tx.clone();
                    async move {
                        if let Some(tx) = tx.lock().expect("lock").take() {
                            let _ = tx.send(d.delivery_count());
                        }
                        std::future::pending::<Outcome>().await
                    }
                },
                CancellationToken::new(),
            )
            .await
        });
        let count = within(10, rx).await.expect("delivered");
        assert_eq!(count, attempt);
        crashing.abort();
    }

    // A healthy instance keeps pulling; the server notices the exhausted message
    // and the watcher turns it into a dead-letter event.
    let healthy = {
        let bus = t.bus.clone();
        let spec = spec.clone();
        let cancel = cancel.clone();
        tokio::spawn(
            async move { run_consumer(&bus, &spec, |_| async { Outcome::Done }, cancel).await },
        )
    };
    let records = eventually(15, || async {
        let d = dead_letters(&t).await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(records.len(), 1);
    let r = &records[0].data;
    assert_eq!(r.stream_sequence, seq);
    assert_eq!(r.deliveries, 2);
    assert_eq!(r.payload, "crashes the worker");
    assert!(r.reason.contains("ack wait expired"), "{}", r.reason);

    // The watcher removed it from the work queue.
    let stream = t.stream("TRANSLATE").name.clone();
    eventually(5, || async {
        let n = t.bus.stream_state(&stream).await.expect("state").messages;
        (n == 0).then_some(())
    })
    .await;
    cancel.cancel();
    within(10, healthy).await.expect("joins").expect("stops");
    within(10, watcher).await.expect("joins").expect("stops");
}

#[tokio::test]
async fn cancel_waits_for_in_flight_handlers() {
    let t = setup().await;
    let spec = t.consumer("workers");
    publish_request(&t, "slow").await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let finished = Arc::new(Mutex::new(false));
    let cancel = CancellationToken::new();
    let task = {
        let bus = t.bus.clone();
        let finished = finished.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            run_consumer(
                &bus,
                &spec,
                move |d| {
                    let started_tx = started_tx.clone();
                    let finished = finished.clone();
                    async move {
                        if let Some(tx) = started_tx.lock().expect("lock").take() {
                            let _ = tx.send(());
                        }
                        // Long work that reports progress past the 1 s ack wait.
                        for _ in 0..3 {
                            tokio::time::sleep(Duration::from_millis(400)).await;
                            d.in_progress().await.expect("progress");
                        }
                        *finished.lock().expect("lock") = true;
                        Outcome::Done
                    }
                },
                cancel,
            )
            .await
        })
    };
    within(10, started_rx).await.expect("started");
    cancel.cancel();
    within(10, task).await.expect("joins").expect("stops");
    assert!(
        *finished.lock().expect("lock"),
        "the in-flight call finished"
    );
    let stream = t.stream("TRANSLATE").name.clone();
    assert_eq!(
        t.bus.stream_state(&stream).await.expect("state").messages,
        0,
        "and its message was acknowledged"
    );
}

#[tokio::test]
async fn a_running_consumer_keeps_pulling_across_a_server_restart() {
    let mut t = setup().await;
    if t.nats.private().is_none() {
        return; // a shared server is not ours to restart
    }
    let spec = t.consumer("workers");
    let log = log();
    let cancel = CancellationToken::new();
    let options = ConsumerOptions {
        pull_expiry: Duration::from_secs(1),
        ..ConsumerOptions::default()
    };
    let consumer = {
        let bus = t.bus.clone();
        let spec = spec.clone();
        let log = log.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            run_consumer_with(
                &bus,
                &spec,
                options,
                move |d| {
                    let log = log.clone();
                    async move {
                        log.lock().expect("lock").push(Seen::from(&d));
                        Outcome::Done
                    }
                },
                cancel,
            )
            .await
        })
    };
    publish_request(&t, "before").await;
    eventually(10, || async { (!seen(&log).is_empty()).then_some(()) }).await;

    // The server goes away while a pull request is pending, then comes back.
    t.nats.private().expect("private server").kill();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    t.nats.private().expect("private server").restart();

    publish_request(&t, "after").await;
    eventually(20, || async {
        seen(&log)
            .iter()
            .any(|s| s.payload == b"after")
            .then_some(())
    })
    .await;
    cancel.cancel();
    within(10, consumer)
        .await
        .expect("joins")
        .expect("stops cleanly");
}
