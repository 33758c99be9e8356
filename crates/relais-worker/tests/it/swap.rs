//! Hot swap: workers follow the registry's production alias while serving.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use relais_bus::Topology;
use relais_events::{Envelope, ModelRejected, RawEnvelope};
use relais_registry::{Registration, Registry};
use relais_worker::Layout;
use uuid::Uuid;

use crate::helpers::{in_a_minute, next_outcome, settings, tiny_model_dir_named, Outcome, World};

async fn world_with_registry() -> (World, Registry) {
    let world = World::with_layout(Layout::relais()).await;
    world
        .bus
        .ensure_topology(&Topology::relais().streams_only())
        .await
        .expect("streams");
    let registry = Registry::open(&world.bus).await.expect("registry");
    (world, registry)
}

/// Registers a random tiny model that passes the workers' smoke test (some
/// random weights answer "Hello." with nothing, which workers refuse): the
/// first such seed from `seed` on.
async fn register(world: &World, registry: &Registry, name: &str, seed: u64) -> String {
    let mut seed = seed;
    let dir = loop {
        let dir = tiny_model_dir_named(world.root(), &format!("{name}-{seed}"), seed);
        if relais_worker::follow::load_checked(dir.clone(), Default::default())
            .await
            .is_ok()
        {
            break dir;
        }
        seed += 1;
    };
    registry
        .register(
            &dir,
            Registration {
                registered_by: "test".into(),
                ..Registration::default()
            },
        )
        .await
        .expect("registered")
        .version
}

fn following(world: &World) -> relais_worker::WorkerSettings {
    relais_worker::WorkerSettings {
        follow_registry: true,
        ..settings(&world.model_dir)
    }
}

/// Who answered what, with which model version.
#[derive(Default)]
struct Tally {
    answered: HashMap<Uuid, String>,
    last_by_worker: HashMap<String, String>,
}

impl Tally {
    /// Records a completion (a failure fails the test); returns its version.
    fn record(&mut self, outcome: Outcome) -> String {
        match outcome {
            Outcome::Completed(_, e) => {
                let previous = self
                    .answered
                    .insert(e.data.request_id, e.data.model_version.clone());
                assert!(previous.is_none(), "one answer per request");
                self.last_by_worker
                    .insert(e.data.worker_id.clone(), e.data.model_version.clone());
                e.data.model_version
            }
            Outcome::Failed(_, e) => panic!("a request failed during the swap: {:?}", e.data),
        }
    }
}

#[tokio::test]
async fn promotions_and_rollbacks_switch_workers_under_load_without_a_failed_request() {
    let (world, registry) = world_with_registry().await;
    let v1 = register(&world, &registry, "one", 7).await;
    let v2 = register(&world, &registry, "two", 8).await;
    registry
        .promote(&v1, "test", "first")
        .await
        .expect("promote");
    let a = world.worker(following(&world)).await;
    let b = world.worker(following(&world)).await;
    let mut outcomes = world.outcomes().await;
    let mut rejections = world
        .bus
        .subscribe("events.model.rejected")
        .await
        .expect("subscribe");
    world.bus.flush().await.expect("flush");

    // Continuous load: a request every 5 ms until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (asked_tx, mut asked_rx) = tokio::sync::mpsc::unbounded_channel::<Uuid>();
    let load = {
        let bus = world.bus.clone();
        let stop = Arc::clone(&stop);
        let layout = Layout::relais();
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let request = relais_events::TranslationRequested {
                    request_id: Uuid::new_v4(),
                    edge_id: "edge-swap".into(),
                    text: format!("The cat sleeps on the mat {i}."),
                    deadline: in_a_minute(),
                    client: None,
                };
                let headers =
                    relais_bus::Headers::new().with_request_id(request.request_id.to_string());
                bus.publish_envelope_on(
                    &layout.request_subject(),
                    &Envelope::new("relais/test", request.clone()),
                    &headers,
                )
                .await
                .expect("request published");
                asked_tx.send(request.request_id).expect("collector alive");
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let mut tally = Tally::default();
    // Served by v1 first (the production version at start, not model_dir).
    for (target, action) in [(v1.clone(), 0), (v2.clone(), 1), (v1.clone(), 2)] {
        match action {
            1 => {
                registry
                    .promote(&v2, "test", "better")
                    .await
                    .expect("promote");
            }
            2 => {
                registry
                    .rollback("test", "worse in real life")
                    .await
                    .expect("rollback");
            }
            _ => {}
        }
        let mut seen = 0;
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        while seen < 20 {
            if tokio::time::Instant::now() > until {
                let rejected = tokio::time::timeout(Duration::from_millis(100), rejections.next())
                    .await
                    .ok()
                    .flatten()
                    .map(|m| String::from_utf8_lossy(&m.payload).into_owned());
                panic!("never switched to {target}; rejected: {rejected:?}");
            }
            let version = tally.record(next_outcome(&mut outcomes, Duration::from_secs(30)).await);
            if version == target {
                seen += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load task");
    let mut asked = HashSet::new();
    while let Ok(id) = asked_rx.try_recv() {
        asked.insert(id);
    }
    while tally.answered.len() < asked.len() {
        tally.record(next_outcome(&mut outcomes, Duration::from_secs(30)).await);
    }
    let Tally {
        answered,
        last_by_worker,
    } = tally;
    assert_eq!(answered.keys().copied().collect::<HashSet<_>>(), asked);
    assert!(
        answered.values().all(|v| *v == v1 || *v == v2),
        "only registry versions served"
    );
    // Both workers ended on the rolled-back-to version.
    assert_eq!(last_by_worker.get(&a.id), Some(&v1), "{last_by_worker:?}");
    assert_eq!(last_by_worker.get(&b.id), Some(&v1), "{last_by_worker:?}");
    world.wait_drained().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn corrupt_or_unloadable_versions_are_rejected_while_serving_continues() {
    let (world, registry) = world_with_registry().await;
    let good = register(&world, &registry, "good", 7).await;
    let tampered = register(&world, &registry, "tampered", 8).await;
    // Checksums right, contents not a model.
    let broken_dir = tiny_model_dir_named(world.root(), "broken", 9);
    std::fs::write(broken_dir.join("model.safetensors"), b"not safetensors").unwrap();
    let broken = registry
        .register(&broken_dir, Registration::default())
        .await
        .expect("registered")
        .version;
    registry
        .objects()
        .put(&format!("{tampered}/model.safetensors"), b"flipped bits")
        .await
        .unwrap();
    registry.promote(&good, "test", "first").await.unwrap();
    let worker = world.worker(following(&world)).await;
    let mut rejections = world
        .bus
        .subscribe("events.model.rejected")
        .await
        .expect("subscribe");
    world.bus.flush().await.unwrap();
    let mut outcomes = world.outcomes().await;

    for (bad, why) in [(&tampered, "checksum"), (&broken, "cannot load")] {
        registry.promote(bad, "test", "oops").await.unwrap();
        let message = tokio::time::timeout(Duration::from_secs(30), rejections.next())
            .await
            .expect("a rejection event")
            .expect("subscription open");
        let event: Envelope<ModelRejected> = RawEnvelope::decode(&message.payload)
            .unwrap()
            .into_typed()
            .unwrap();
        assert_eq!(&event.data.version, bad);
        assert_eq!(event.data.worker_id, worker.id);
        assert_eq!(event.data.serving.as_deref(), Some(good.as_str()));
        assert!(event.data.reason.contains(why), "{}", event.data.reason);

        let asked = world
            .request("edge-r", "I like green tea.", in_a_minute())
            .await;
        match next_outcome(&mut outcomes, Duration::from_secs(30)).await {
            Outcome::Completed(_, e) => {
                assert_eq!(e.data.request_id, asked.request_id);
                assert_eq!(e.data.model_version, good, "still the good model");
            }
            Outcome::Failed(_, e) => panic!("failed: {:?}", e.data),
        }
    }
    assert!(
        !world
            .model_dir
            .with_file_name("model-cache")
            .join(&tampered)
            .exists(),
        "a tampered download never gets its version's name"
    );
    worker.stop().await;
}
