//! Ordered replay by sequence, time and subject, ending at the call's last message.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use relais_bus::{Headers, ReplayFrom, ReplayQuery, ReplayUntil};

use crate::helpers::{setup, within, TestBus};

/// Publishes `n` messages alternating between `events.a` and `events.b`;
/// returns (sequence, subject, payload).
async fn publish_n(t: &TestBus, from: usize, n: usize) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    for i in from..from + n {
        let subject = t.subject(if i % 2 == 0 { "events.a" } else { "events.b" });
        let payload = format!("event {i}");
        let ack = t
            .bus
            .publish(
                &subject,
                &format!("id-{i}"),
                &Headers::new(),
                Bytes::from(payload.clone()),
            )
            .await
            .expect("published");
        out.push((ack.sequence, subject, payload));
    }
    out
}

async fn run(t: &TestBus, q: ReplayQuery) -> Vec<(u64, String, String)> {
    within(10, async {
        t.bus
            .replay(&q)
            .await
            .expect("replay starts")
            .collect()
            .await
            .expect("replay reads")
    })
    .await
    .into_iter()
    .map(|m| {
        (
            m.sequence,
            m.subject,
            String::from_utf8(m.payload.to_vec()).expect("utf-8"),
        )
    })
    .collect()
}

#[tokio::test]
async fn replay_by_sequence_time_and_subject_returns_exactly_the_expected_events() {
    let t = setup().await;
    let stream = t.stream("EVENTS").name.clone();

    // Empty stream: ends at once instead of waiting.
    assert!(run(&t, ReplayQuery::new(&stream)).await.is_empty());

    let first = publish_n(&t, 0, 5).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cut = Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = publish_n(&t, 5, 5).await;
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();

    // Everything, in order.
    assert_eq!(run(&t, ReplayQuery::new(&stream)).await, all);

    // By start sequence.
    let from4 = run(
        &t,
        ReplayQuery::new(&stream).from(ReplayFrom::Sequence(all[3].0)),
    )
    .await;
    assert_eq!(from4, all[3..].to_vec());

    // By start time.
    let after_cut = run(&t, ReplayQuery::new(&stream).from(ReplayFrom::Time(cut))).await;
    assert_eq!(after_cut, second);

    // Until a sequence, and until a time.
    let window = run(
        &t,
        ReplayQuery::new(&stream)
            .from(ReplayFrom::Sequence(all[2].0))
            .until(ReplayUntil::Sequence(all[6].0)),
    )
    .await;
    assert_eq!(window, all[2..=6].to_vec());
    let before_cut = run(&t, ReplayQuery::new(&stream).until(ReplayUntil::Time(cut))).await;
    assert_eq!(before_cut, first);

    // Subject filter.
    let b_only = run(&t, ReplayQuery::new(&stream).filter(t.subject("events.b"))).await;
    let expected: Vec<_> = all
        .iter()
        .filter(|m| m.1.ends_with(".b"))
        .cloned()
        .collect();
    assert_eq!(b_only, expected);
    let b_from_cut = run(
        &t,
        ReplayQuery::new(&stream)
            .filter(t.subject("events.b"))
            .from(ReplayFrom::Time(cut)),
    )
    .await;
    let expected: Vec<_> = second
        .iter()
        .filter(|m| m.1.ends_with(".b"))
        .cloned()
        .collect();
    assert_eq!(b_from_cut, expected);

    // A filter that matches nothing, a start past the end: empty, no hang.
    assert!(run(
        &t,
        ReplayQuery::new(&stream).filter(t.subject("events.none"))
    )
    .await
    .is_empty());
    let past = run(
        &t,
        ReplayQuery::new(&stream).from(ReplayFrom::Sequence(1_000)),
    )
    .await;
    assert!(past.is_empty());
    // nats-server hands the last message to a consumer starting after it.
    let future = run(
        &t,
        ReplayQuery::new(&stream).from(ReplayFrom::Time(
            chrono::Utc::now() + chrono::Duration::hours(1),
        )),
    )
    .await;
    assert!(
        future.is_empty(),
        "a start time in the future replays nothing: {future:?}"
    );
}

#[tokio::test]
async fn replay_ends_at_the_last_message_of_the_moment_of_the_call() {
    let t = setup().await;
    let stream = t.stream("EVENTS").name.clone();
    let before = publish_n(&t, 0, 3).await;
    let mut replay = t
        .bus
        .replay(&ReplayQuery::new(&stream))
        .await
        .expect("starts");
    // Published after the call: not part of this replay.
    publish_n(&t, 3, 3).await;
    let mut got = Vec::new();
    while let Some(item) = within(10, replay.next()).await {
        got.push(item.expect("item").sequence);
    }
    assert_eq!(got, before.iter().map(|m| m.0).collect::<Vec<_>>());
}
