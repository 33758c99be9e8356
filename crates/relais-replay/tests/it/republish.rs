//! `--republish` publishes each selected event once more, with a fresh id
//! and `originalid`; nothing else is published.

use relais_bus::ReplayQuery;
use relais_events::{Envelope, TranslationCompleted};
use relais_replay::{query, republish};
use uuid::Uuid;

use crate::helpers::{completed, feedback, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republished_copies_carry_the_original_id() {
    let world = World::start().await;
    let mut originals = Vec::new();
    for i in 0..3 {
        let id = Uuid::new_v4();
        let (done, _) = world
            .publish(completed(id, &format!("Hi {i}."), "Salut."))
            .await;
        originals.push(done);
        world.publish(feedback(id, "Coucou.")).await;
    }
    let filter = world.layout.subject("events.translation.>");
    let q = query(&world.stream(), None, None, None, Some(&filter)).unwrap();
    let report = republish(&world.bus, &q).await.expect("republish");
    assert_eq!((report.read, report.republished, report.skipped), (3, 3, 0));
    assert_eq!(world.last_sequence().await, 9);

    let copies = world
        .bus
        .replay(&ReplayQuery::new(world.stream()).from(relais_bus::ReplayFrom::Sequence(7)))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(copies.len(), 3);
    for (copy, original) in copies.iter().zip(&originals) {
        let copy: Envelope<TranslationCompleted> = copy.event().unwrap();
        assert_ne!(copy.id, original.id);
        assert_eq!(copy.originalid, Some(original.id));
        assert_eq!(copy.data, original.data);
    }
}
