//! The trainer service on a real nats-server and SQLite: dataset updates
//! trigger runs (a burst is one run), candidates are registered with their
//! test metrics, and promoted only when they beat production.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relais_bus::{Bus, BusConfig, Subscription, Topology};
use relais_config::TrainerSettings;
use relais_events::{
    DatasetSource, DatasetUpdated, Envelope, RawEnvelope, TrainingPhase, TrainingProgress,
};
use relais_model::artifacts::{save_random_model_dir, TOKENIZER_FILE};
use relais_model::Config;
use relais_registry::{Registration, Registry};
use relais_store::Store;
use relais_testkit::NatsServer;
use relais_text::{Pair, TextTokenizer};
use relais_trainer::TrainerService;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

const NUMBERS: [(&str, &str); 12] = [
    ("one", "un"),
    ("two", "deux"),
    ("three", "trois"),
    ("four", "quatre"),
    ("five", "cinq"),
    ("six", "six"),
    ("seven", "sept"),
    ("eight", "huit"),
    ("nine", "neuf"),
    ("ten", "dix"),
    ("eleven", "onze"),
    ("twelve", "douze"),
];
const THINGS: [(&str, &str); 6] = [
    ("cats", "chats"),
    ("dogs", "chiens"),
    ("books", "livres"),
    ("apples", "pommes"),
    ("birds", "oiseaux"),
    ("cars", "voitures"),
];

fn pair(n: usize, t: usize) -> Pair {
    Pair {
        en: format!("I see {} {}.", NUMBERS[n].0, THINGS[t].0),
        fr: format!("Je vois {} {}.", NUMBERS[n].1, THINGS[t].1),
    }
}

/// Training pairs: things 0..4; held out: things 4..6 (never trained on).
fn dataset() -> Vec<Pair> {
    (0..12)
        .flat_map(|n| (0..4).map(move |t| pair(n, t)))
        .collect()
}

fn heldout_tsv(dir: &Path) -> PathBuf {
    let path = dir.join("heldout.tsv");
    let lines: String = (0..12)
        .flat_map(|n| (4..6).map(move |t| pair(n, t)))
        .map(|p| format!("{}\t{}\n", p.en, p.fr))
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

fn settings(dir: &Path, margin: f64) -> TrainerSettings {
    TrainerSettings {
        work_dir: dir.join("trainer"),
        heldout: heldout_tsv(dir),
        heldout_sentences: 4,
        preset: "tiny".into(),
        warm_start: true,
        steps: 30,
        max_minutes: 5.0,
        batch_tokens: 256,
        peak_lr: 3e-3,
        warmup_steps: 5,
        vocab_size: 300,
        eval_every: 10,
        schedule: Duration::from_secs(3600),
        coalesce: Duration::from_millis(500),
        promote_margin: margin,
    }
}

struct World {
    _nats: NatsServer,
    bus: Bus,
    registry: Registry,
    store: Store,
    db_url: String,
    dir: TempDir,
}

async fn world() -> World {
    let nats = NatsServer::start();
    let bus = Bus::connect(&BusConfig::with_url(nats.url()))
        .await
        .expect("connect");
    bus.ensure_topology(&Topology::relais())
        .await
        .expect("topology");
    let registry = Registry::open(&bus).await.expect("registry");
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relais.db").display()
    );
    let store = Store::connect(&db_url).await.expect("store");
    World {
        _nats: nats,
        bus,
        registry,
        store,
        db_url,
        dir,
    }
}

impl World {
    async fn import(&self) -> DatasetUpdated {
        let report = self
            .store
            .import_pairs(dataset(), DatasetSource::Import, "test")
            .await
            .expect("import");
        let version = report.dataset_version.expect("a new version");
        self.store
            .dataset_versions()
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.version == version)
            .expect("the version")
            .to_event()
    }

    async fn progress(&self) -> Subscription {
        let sub = self
            .bus
            .subscribe("events.training.progress")
            .await
            .unwrap();
        self.bus.flush().await.unwrap();
        sub
    }

    async fn service(&self, margin: f64) -> TrainerService {
        TrainerService::build(
            settings(self.dir.path(), margin),
            &self.db_url,
            self.bus.clone(),
        )
        .await
        .expect("trainer builds")
    }

    /// A random-weight tiny production model with the tokenizer the trainer
    /// would train itself (so validation losses are comparable).
    async fn promote_random_model(&self) -> String {
        let dir = self.dir.path().join("random");
        let train: Vec<Pair> = dataset();
        let tok = TextTokenizer::train_on_pairs(&train, 300).unwrap();
        save_random_model_dir(&dir, &Config::tiny(tok.vocab_size()), 3).unwrap();
        tok.save(dir.join(TOKENIZER_FILE)).unwrap();
        let v = self
            .registry
            .register(&dir, Registration::default())
            .await
            .unwrap()
            .version;
        self.registry.promote(&v, "test", "random").await.unwrap();
        v
    }
}

async fn next_progress(sub: &mut Subscription, within: Duration) -> Option<TrainingProgress> {
    let message = tokio::time::timeout(within, sub.next()).await.ok()??;
    let event: Envelope<TrainingProgress> = RawEnvelope::decode(&message.payload)
        .unwrap()
        .into_typed()
        .unwrap();
    Some(event.data)
}

/// Progress events until the next `Finished` (a `Failed` fails the test).
async fn until_finished(sub: &mut Subscription) -> Vec<TrainingProgress> {
    let mut seen = Vec::new();
    loop {
        let p = next_progress(sub, Duration::from_secs(120))
            .await
            .expect("the run reports progress");
        assert_ne!(
            p.phase,
            TrainingPhase::Failed,
            "run failed: {:?}",
            p.message
        );
        let done = p.phase == TrainingPhase::Finished;
        seen.push(p);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_burst_of_dataset_updates_is_one_run_that_registers_and_promotes_the_first_model() {
    let w = world().await;
    let service = w.service(0.5).await;
    let cancel = CancellationToken::new();
    let running = tokio::spawn(service.run_until_stopped(cancel.clone()));
    let mut progress = w.progress().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let update = w.import().await;
    for _ in 0..3 {
        w.bus
            .publish_event(&Envelope::new("relais/test", update.clone()))
            .await
            .unwrap();
    }
    let events = until_finished(&mut progress).await;
    let phases: Vec<TrainingPhase> = events.iter().map(|p| p.phase).collect();
    assert_eq!(phases.first(), Some(&TrainingPhase::Started));
    assert!(phases.contains(&TrainingPhase::Training), "{phases:?}");
    assert!(phases.contains(&TrainingPhase::Validating), "{phases:?}");
    let finished = events.last().unwrap();
    assert!(
        finished
            .message
            .as_deref()
            .unwrap_or("")
            .contains("promoted"),
        "{:?}",
        finished.message
    );
    // The burst was one run: nothing else starts.
    assert!(
        next_progress(&mut progress, Duration::from_secs(3))
            .await
            .is_none(),
        "a second run started"
    );
    let versions = w.registry.list().await.unwrap();
    assert_eq!(versions.len(), 1);
    let v = &versions[0];
    assert_eq!(v.dataset_version, update.dataset_version);
    assert!(v.metrics.test_bleu.is_some() && v.metrics.test_chrf.is_some());
    assert_eq!(
        w.registry.production().await.unwrap().as_deref(),
        Some(v.version.as_str())
    );
    assert!(w.registry.last_training().await.unwrap().is_some());
    cancel.cancel();
    running.await.unwrap().expect("stops cleanly");
}

#[tokio::test]
async fn candidates_are_promoted_only_when_they_beat_production() {
    let w = world().await;
    let update = w.import().await;
    let random = w.promote_random_model().await;

    // Better: trained from the random production model, its loss falls.
    let report = w
        .service(0.0)
        .await
        .train(update.dataset_version)
        .await
        .unwrap();
    assert!(report.result.same_tokenizer);
    let prod = report.result.production.expect("judged against production");
    assert!(report.result.candidate.valid_loss < prod.valid_loss);
    assert!(report.decision.promote, "{}", report.decision.reason);
    assert_eq!(
        w.registry.production().await.unwrap(),
        Some(report.version.clone())
    );
    assert_eq!(w.registry.previous().await.unwrap(), Some(random.clone()));
    let entry = w.registry.version(&report.version).await.unwrap().unwrap();
    assert_eq!(entry.parent.as_deref(), Some(random.as_str()));
    assert!(entry.note.contains("warm-started"), "{}", entry.note);

    // Worse: no candidate clears a margin of 1000 BLEU.
    let worse = w
        .service(1000.0)
        .await
        .train(update.dataset_version)
        .await
        .unwrap();
    assert!(!worse.decision.promote);
    assert!(
        worse.decision.reason.contains("margin"),
        "{}",
        worse.decision.reason
    );
    assert_eq!(
        w.registry.production().await.unwrap(),
        Some(report.version.clone()),
        "production unchanged"
    );
    let entry = w.registry.version(&worse.version).await.unwrap().unwrap();
    assert!(
        entry.note.contains("margin"),
        "why not is recorded: {}",
        entry.note
    );
}
