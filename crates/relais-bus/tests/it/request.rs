//! Core request/reply: `Bus::request`, `Bus::respond`, no responders, timeouts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use relais_bus::BusError;

use crate::helpers::{setup, within};

#[tokio::test]
async fn a_queue_member_answers_and_silence_is_a_distinct_error() {
    let t = setup().await;
    let subject = t.subject("audit.lookup.translation");

    // Nobody listens: answered at once, not after the timeout.
    let started = Instant::now();
    let err = t
        .bus
        .request(&subject, Bytes::from_static(b"?"), Duration::from_secs(5))
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, BusError::NoResponders { .. }), "{err:?}");
    assert!(err.is_no_answer());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no wait for the timeout"
    );

    // A responder in a queue group echoes the request, upper-cased.
    let mut requests = t
        .bus
        .queue_subscribe(&subject, "audit")
        .await
        .expect("subscribes");
    t.bus.flush().await.expect("flush");
    let responder = {
        let bus = t.bus.clone();
        tokio::spawn(async move {
            let message = requests.next().await.expect("a request");
            let reply = message.reply.expect("requests carry a reply subject");
            let answer = Bytes::from(message.payload.to_ascii_uppercase());
            bus.respond(&reply, answer).await.expect("responds");
            // The next one is left unanswered.
            requests.next().await
        })
    };
    let answer = t
        .bus
        .request(
            &subject,
            Bytes::from_static(b"hello"),
            Duration::from_secs(5),
        )
        .await
        .expect("answered");
    assert_eq!(&answer[..], b"HELLO");

    // A listener that never answers: the request times out.
    let err = t
        .bus
        .request(
            &subject,
            Bytes::from_static(b"x"),
            Duration::from_millis(300),
        )
        .await
        .expect_err("not answered");
    assert!(
        matches!(err, BusError::RequestTimeout { ref timeout, .. } if *timeout == Duration::from_millis(300)),
        "{err:?}"
    );
    let unanswered = within(5, responder).await.expect("joins");
    assert_eq!(
        unanswered.map(|m| m.payload),
        Some(Bytes::from_static(b"x"))
    );

    let err = t
        .bus
        .request("bad subject", Bytes::new(), Duration::from_secs(1))
        .await
        .expect_err("invalid subject");
    assert!(matches!(err, BusError::InvalidName { .. }), "{err:?}");
}
