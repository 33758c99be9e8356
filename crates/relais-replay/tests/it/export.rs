//! An export is the stream's contents, in order, filtered as asked; it
//! publishes nothing.

use std::path::Path;

use relais_bus::{Headers, ReplayFrom, ReplayQuery};
use relais_replay::{export_jsonl, export_jsonl_file, query};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{completed, feedback, World};

async fn lines(world: &World, query: &ReplayQuery) -> Vec<Value> {
    let mut out = Vec::new();
    let count = export_jsonl(&world.bus, query, &mut out, Path::new("-"))
        .await
        .expect("export");
    let text = String::from_utf8(out).expect("UTF-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len() as u64, count);
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_equals_the_stream_and_filters_apply() {
    let world = World::start().await;
    // (id, subject, sequence) of every message, in publish order.
    let mut sent: Vec<(Option<String>, String, u64)> = Vec::new();
    for i in 0..6 {
        let request = Uuid::new_v4();
        let (envelope, ack) = world
            .publish(completed(request, &format!("Hello {i}."), "Bonjour."))
            .await;
        sent.push((
            Some(envelope.id.to_string()),
            world.layout.subject(&envelope.subject()),
            ack.sequence,
        ));
        if i % 2 == 0 {
            let (envelope, ack) = world.publish(feedback(request, "Salut.")).await;
            sent.push((
                Some(envelope.id.to_string()),
                world.layout.subject(&envelope.subject()),
                ack.sequence,
            ));
            // The same event again: the duplicate window keeps one copy.
            assert!(world.publish_envelope(&envelope).await.duplicate);
        }
    }
    let junk_subject = world.layout.subject("events.junk");
    let ack = world
        .bus
        .publish(&junk_subject, "junk-1", &Headers::new(), "not json".into())
        .await
        .unwrap();
    sent.push((None, junk_subject, ack.sequence));
    let last = world.last_sequence().await;
    assert_eq!(last, sent.len() as u64);

    // Everything, in order.
    let all = lines(&world, &ReplayQuery::new(world.stream())).await;
    let got: Vec<(Option<String>, String, u64)> = all
        .iter()
        .map(|l| {
            (
                l["event"]["id"].as_str().map(str::to_owned),
                l["subject"].as_str().unwrap().to_owned(),
                l["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, sent);
    assert!(all.iter().all(|l| l["time"].as_str().is_some()));
    assert_eq!(all.last().unwrap()["payload"], "not json");
    assert_eq!(all[0]["event"]["data"]["text"], "Hello 0.");

    // From a sequence on.
    let from = ReplayQuery::new(world.stream()).from(ReplayFrom::Sequence(4));
    let tail = lines(&world, &from).await;
    assert_eq!(tail.len(), sent.len() - 3);
    assert_eq!(tail[0]["seq"], 4);

    // One subject, up to a sequence, as the command line would ask.
    let filter = world.layout.subject("events.feedback.>");
    let q = query(&world.stream(), None, Some(1), Some("7"), Some(&filter)).unwrap();
    let only = lines(&world, &q).await;
    let expected: Vec<u64> = sent
        .iter()
        .filter(|(_, s, seq)| s.contains(".events.feedback.") && *seq <= 7)
        .map(|(_, _, seq)| *seq)
        .collect();
    assert!(!expected.is_empty());
    let seqs: Vec<u64> = only.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, expected);

    // Into a file, through a temporary file: same contents, nothing left over.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let count = export_jsonl_file(&world.bus, &ReplayQuery::new(world.stream()), &path)
        .await
        .expect("export to a file");
    assert_eq!(count, sent.len() as u64);
    let text = std::fs::read_to_string(&path).unwrap();
    let from_file: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_file, all);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // Replaying published nothing.
    assert_eq!(world.last_sequence().await, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_range_exports_nothing() {
    let world = World::start().await;
    world
        .publish(completed(Uuid::new_v4(), "Hello.", "Bonjour."))
        .await;
    let q = ReplayQuery::new(world.stream()).from(ReplayFrom::Sequence(99));
    assert!(lines(&world, &q).await.is_empty());
    let future = query(
        &world.stream(),
        Some("2999-01-01T00:00:00Z"),
        None,
        None,
        None,
    )
    .unwrap();
    assert!(lines(&world, &future).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_and_until_times_bound_the_range() {
    let world = World::start().await;
    for i in 0..3 {
        world
            .publish(completed(Uuid::new_v4(), &format!("Hi {i}."), "Salut."))
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let all = lines(&world, &ReplayQuery::new(world.stream())).await;
    let time = |i: usize| all[i]["time"].as_str().unwrap().to_owned();
    let q = query(&world.stream(), Some(&time(1)), None, Some(&time(1)), None).unwrap();
    let one = lines(&world, &q).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["seq"], 2);
    let q = query(&world.stream(), Some(&time(1)), None, None, None).unwrap();
    let seqs: Vec<u64> = lines(&world, &q)
        .await
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3]);
}
