//! The registry on a real nats-server: register, list, promote, roll back,
//! fetch with checksums, and the events each operation publishes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relais_bus::{Bus, BusConfig, ReplayQuery, Topology};
use relais_events::names::stream;
use relais_events::RawEnvelope;
use relais_registry::{Registration, Registry, RegistryError};
use relais_testkit::NatsServer;

fn model_dir(root: &Path, name: &str, weights: &[u8]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.safetensors"), weights).unwrap();
    std::fs::write(dir.join("tokenizer.json"), b"{\"tokenizer\": true}").unwrap();
    std::fs::write(
        dir.join("model.json"),
        br#"{"metrics": {"bleu": 31.5, "chrf": 53.0, "valid_loss": 1.97},
             "provenance": {"corpus_sha256": "7c2f"}}"#,
    )
    .unwrap();
    dir
}

async fn setup() -> (NatsServer, Bus, Registry) {
    let nats = NatsServer::start();
    let bus = Bus::connect(&BusConfig::with_url(nats.url()))
        .await
        .expect("connect");
    bus.ensure_topology(&Topology::relais())
        .await
        .expect("streams");
    let registry = Registry::open(&bus).await.expect("registry opens");
    (nats, bus, registry)
}

fn by(name: &str) -> Registration {
    Registration {
        registered_by: name.into(),
        ..Registration::default()
    }
}

async fn event_types(bus: &Bus) -> Vec<String> {
    let query = ReplayQuery::new(stream::EVENTS).filter("events.model.>");
    bus.replay(&query)
        .await
        .expect("replay")
        .collect()
        .await
        .expect("read")
        .into_iter()
        .map(|item| {
            RawEnvelope::decode(&item.payload)
                .expect("an envelope")
                .event_type
        })
        .collect()
}

#[tokio::test]
async fn versions_are_registered_once_listed_and_fetched_intact() {
    let (_nats, bus, registry) = setup().await;
    let root = tempfile::tempdir().unwrap();
    let a = model_dir(root.path(), "a", b"weights of a");
    let first = registry.register(&a, by("test")).await.expect("registers");
    assert!(first.version.starts_with("m-"));
    assert_eq!(first.metrics.bleu, Some(31.5));
    assert_eq!(first.corpus_hash, "7c2f");
    assert_eq!(first.files.len(), 3);
    let again = registry.register(&a, by("test")).await.expect("registers");
    assert_eq!(again, first, "same files, same version");

    let b = model_dir(root.path(), "b", b"weights of b");
    let second = registry.register(&b, by("test")).await.expect("registers");
    assert_ne!(second.version, first.version);
    let listed: Vec<String> = registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, vec![first.version.clone(), second.version.clone()]);

    let cache = root.path().join("cache");
    let fetched = registry.fetch(&first.version, &cache).await.expect("fetch");
    assert_eq!(fetched, cache.join(&first.version));
    assert_eq!(
        std::fs::read(fetched.join("model.safetensors")).unwrap(),
        b"weights of a"
    );
    let sums = registry
        .objects()
        .get(&format!("{}/SHA256SUMS", first.version))
        .await
        .expect("checksums stored");
    assert!(String::from_utf8_lossy(&sums).contains("  model.safetensors\n"));
    assert_eq!(
        event_types(&bus).await,
        vec!["relais.model.registered.v1"; 2],
        "one registration event per new version"
    );
}

#[tokio::test]
async fn promote_and_rollback_move_the_aliases_and_publish_events() {
    let (_nats, bus, registry) = setup().await;
    let root = tempfile::tempdir().unwrap();
    let v1 = registry
        .register(&model_dir(root.path(), "a", b"1"), by("test"))
        .await
        .unwrap()
        .version;
    let v2 = registry
        .register(&model_dir(root.path(), "b", b"2"), by("test"))
        .await
        .unwrap()
        .version;
    assert_eq!(registry.production().await.unwrap(), None);
    assert!(matches!(
        registry.rollback("ops", "nothing yet").await,
        Err(RegistryError::NothingToRollBack)
    ));

    let promoted = registry.promote(&v1, "dev", "first model").await.unwrap();
    assert_eq!(promoted.previous, None);
    let promoted = registry.promote(&v2, "trainer", "better").await.unwrap();
    assert_eq!(promoted.previous.as_deref(), Some(v1.as_str()));
    assert_eq!(
        registry.production().await.unwrap().as_deref(),
        Some(v2.as_str())
    );
    assert!(matches!(
        registry.promote(&v2, "ops", "again").await,
        Err(RegistryError::AlreadyProduction(_))
    ));
    assert!(matches!(
        registry.promote("m-000000000000", "ops", "typo").await,
        Err(RegistryError::UnknownVersion(_))
    ));

    let back = registry.rollback("alice", "bad names").await.unwrap();
    assert_eq!(
        (back.from_version.as_str(), back.to_version.as_str()),
        (v2.as_str(), v1.as_str())
    );
    assert_eq!(
        registry.production().await.unwrap().as_deref(),
        Some(v1.as_str())
    );
    assert_eq!(
        registry.previous().await.unwrap().as_deref(),
        Some(v2.as_str())
    );

    let mut watch = registry.watch_production().await.unwrap();
    let current = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("the current value comes first")
        .expect("open")
        .expect("entry");
    assert_eq!(current.value.as_ref(), v1.as_bytes());

    assert_eq!(
        event_types(&bus).await,
        vec![
            "relais.model.registered.v1",
            "relais.model.registered.v1",
            "relais.model.promoted.v1",
            "relais.model.promoted.v1",
            "relais.model.rolled_back.v1",
        ]
    );
}

#[tokio::test]
async fn a_tampered_artifact_is_refused_and_leaves_no_directory() {
    let (_nats, _bus, registry) = setup().await;
    let root = tempfile::tempdir().unwrap();
    let v = registry
        .register(&model_dir(root.path(), "a", b"good weights"), by("test"))
        .await
        .unwrap()
        .version;
    registry
        .objects()
        .put(&format!("{v}/model.safetensors"), b"evil weights")
        .await
        .unwrap();
    let cache = root.path().join("cache");
    let err = registry.fetch(&v, &cache).await.expect_err("refused");
    assert!(
        matches!(&err, RegistryError::Checksum { file, .. } if file == "model.safetensors"),
        "{err}"
    );
    assert!(!cache.join(&v).exists(), "nothing under the version's name");
    let leftovers: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert!(leftovers.is_empty(), "partial download removed");
}

#[tokio::test]
async fn training_success_time_round_trips() {
    let (_nats, _bus, registry) = setup().await;
    assert_eq!(registry.last_training().await.unwrap(), None);
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-04T21:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    registry.mark_training_success(at).await.unwrap();
    assert_eq!(registry.last_training().await.unwrap(), Some(at));
}
