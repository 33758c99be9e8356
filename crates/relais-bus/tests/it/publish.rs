//! JetStream publishing: PubAck, deduplication by event id, outages.

use std::time::Duration;

use bytes::Bytes;
use relais_bus::{Bus, Headers, ReplayQuery, StreamSpec, Topology};
use relais_events::{Envelope, FeedbackSubmitted};
use relais_testkit::NatsServer;
use uuid::Uuid;

use crate::helpers::{setup, test_config, within};

fn feedback() -> Envelope<FeedbackSubmitted> {
    Envelope::new(
        "relais/edge/test",
        FeedbackSubmitted {
            feedback_id: Uuid::new_v4(),
            request_id: Uuid::new_v4(),
            correction: "Bonjour le monde.".into(),
            client: None,
        },
    )
    .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
}

#[tokio::test]
async fn publishing_the_same_event_id_twice_stores_one_message() {
    let t = setup().await;
    let events = t.stream("EVENTS").name.clone();
    let subject = t.subject("events.feedback.submitted");
    let event = feedback();
    let headers = Headers::new().with_request_id("req-1");

    let first = t
        .bus
        .publish_envelope_on(&subject, &event, &headers)
        .await
        .expect("first publish");
    let second = t
        .bus
        .publish_envelope_on(&subject, &event, &headers)
        .await
        .expect("second publish");
    assert!(!first.duplicate);
    assert!(second.duplicate, "the server must flag the repeat");
    assert_eq!(first.sequence, second.sequence);
    assert_eq!(first.stream, events);

    let stored = t.all(&events).await;
    assert_eq!(stored.len(), 1, "one message for one event id");
    let msg = &stored[0];
    assert_eq!(
        msg.headers.get("Nats-Msg-Id"),
        Some(event.id.to_string().as_str())
    );
    assert_eq!(msg.headers.request_id(), Some("req-1"));
    assert_eq!(msg.headers.traceparent(), event.traceparent.as_deref());
    let decoded = msg.event::<FeedbackSubmitted>().expect("decodes");
    assert_eq!(decoded, event);

    // A different id is a different message.
    t.bus
        .publish_envelope_on(&subject, &feedback(), &Headers::new())
        .await
        .expect("third publish");
    assert_eq!(
        t.bus.stream_state(&events).await.expect("state").messages,
        2
    );
}

#[tokio::test]
async fn bad_subjects_and_ids_are_errors_not_panics() {
    let t = setup().await;
    for subject in ["", "a..b", "a.*", "with space"] {
        let err = t
            .bus
            .publish(subject, "id", &Headers::new(), Bytes::new())
            .await
            .expect_err("invalid subject");
        assert!(
            matches!(err, relais_bus::BusError::InvalidName { .. }),
            "{err:?}"
        );
    }
    let err = t
        .bus
        .publish(&t.subject("events.x"), "", &Headers::new(), Bytes::new())
        .await
        .expect_err("empty id");
    assert!(
        matches!(err, relais_bus::BusError::InvalidName { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_publisher_keeps_going_across_a_server_restart() {
    let mut server = NatsServer::start();
    let bus = Bus::connect(&test_config(&server.url()))
        .await
        .expect("connects");
    let stream = StreamSpec {
        name: "OUTAGE".into(),
        subjects: vec!["outage.>".into()],
        ..StreamSpec::events()
    };
    Topology {
        streams: vec![stream.clone()],
        consumers: vec![],
    }
    .declare(&bus)
    .await
    .expect("declares");

    const TOTAL: usize = 60;
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut slowest = Duration::ZERO;
            for i in 0..TOTAL {
                let sent = std::time::Instant::now();
                let id = format!("msg-{i}");
                let ack = bus
                    .publish(
                        &format!("outage.n{}", i % 3),
                        &id,
                        &Headers::new(),
                        Bytes::from(format!("payload {i}")),
                    )
                    .await;
                slowest = slowest.max(sent.elapsed());
                match ack {
                    Ok(ack) => acked.push((id, ack.sequence)),
                    Err(e) => panic!("publish {i} failed: {e:?}"),
                }
                let _ = progress_tx.send(i);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (acked, slowest)
        })
    };
    // Let some messages through, then take the server away for a while.
    within(10, async {
        while let Some(i) = progress_rx.recv().await {
            if i >= 15 {
                break;
            }
        }
    })
    .await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();

    let (acked, slowest) = within(40, publisher)
        .await
        .expect("publisher task finished");
    assert!(
        slowest >= Duration::from_secs(1),
        "one publish waited through the outage ({slowest:?})"
    );
    assert_eq!(
        acked.len(),
        TOTAL,
        "every publish was eventually acknowledged"
    );

    let stored = within(10, async {
        bus.replay(&ReplayQuery::new("OUTAGE"))
            .await
            .expect("replay")
            .collect()
            .await
            .expect("reads")
    })
    .await;
    for (id, seq) in &acked {
        let item = stored
            .iter()
            .find(|m| m.sequence == *seq)
            .unwrap_or_else(|| panic!("acknowledged {id} (seq {seq}) is missing"));
        assert_eq!(item.headers.get("Nats-Msg-Id"), Some(id.as_str()));
    }
    assert_eq!(stored.len(), TOTAL, "no duplicates from retries");
}

#[tokio::test]
async fn publish_event_uses_the_event_subject_id_and_trace_headers() {
    // The real subjects (`events.>`): a private server, so no other test collides.
    let server = NatsServer::start();
    let bus = Bus::connect(&test_config(&server.url()))
        .await
        .expect("connects");
    bus.ensure_topology(&Topology::default())
        .await
        .expect("declares");
    let event = feedback();
    let ack = bus
        .publish_event_with(&event, &Headers::new().with_request_id("req-9"))
        .await
        .expect("published");
    assert_eq!(ack.stream, "EVENTS");
    let again = bus.publish_event(&event).await.expect("republished");
    assert!(again.duplicate);

    let stored = bus
        .replay(&ReplayQuery::new("EVENTS"))
        .await
        .expect("replay")
        .collect()
        .await
        .expect("reads");
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert_eq!(m.subject, "events.feedback.submitted");
    assert_eq!(
        m.headers.get("Nats-Msg-Id"),
        Some(event.id.to_string().as_str())
    );
    assert_eq!(m.headers.request_id(), Some("req-9"));
    assert_eq!(m.headers.traceparent(), event.traceparent.as_deref());
    assert_eq!(
        m.headers.get("relais-event-type"),
        Some("relais.feedback.submitted.v1")
    );
}
