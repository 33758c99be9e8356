//! Shared set-up: a private NATS server with a prefixed `EVENTS` stream,
//! fresh databases, a tiny random-weight model, event builders.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use relais_audit::Layout;
use relais_bus::{Bus, BusConfig, Headers, PubAck, Secret};
use relais_config::AuditSettings;
use relais_events::{Envelope, Event, FeedbackSubmitted, TranslationCompleted};
use relais_model::artifacts::{save_model_dir, ModelCard, TOKENIZER_FILE};
use relais_model::{Config, Transformer};
use relais_store::{Backend, Store, Table};
use relais_testkit::{unique_name, NatsServer};
use relais_text::TextTokenizer;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// A private server, a bus and a prefixed layout whose stream is declared.
pub struct World {
    _server: NatsServer,
    pub bus: Bus,
    pub layout: Layout,
}

impl World {
    pub async fn start() -> World {
        let server = NatsServer::start();
        let bus = Bus::connect(&BusConfig::with_url(server.url()))
            .await
            .expect("connect to NATS");
        let layout = Layout::prefixed(unique_name("R"));
        layout
            .topology(100)
            .declare(&bus)
            .await
            .expect("declare streams");
        World {
            _server: server,
            bus,
            layout,
        }
    }

    pub fn stream(&self) -> String {
        self.layout.events_stream()
    }

    /// Publishes `data` as a fresh event on its (prefixed) subject.
    pub async fn publish<T: Event>(&self, data: T) -> (Envelope<T>, PubAck) {
        let envelope = Envelope::new("relais/test", data);
        let ack = self.publish_envelope(&envelope).await;
        (envelope, ack)
    }

    /// Publishes an envelope as it is.
    pub async fn publish_envelope<T: Event>(&self, envelope: &Envelope<T>) -> PubAck {
        self.bus
            .publish_envelope_on(
                &self.layout.subject(&envelope.subject()),
                envelope,
                &Headers::new(),
            )
            .await
            .expect("publish event")
    }

    pub async fn last_sequence(&self) -> u64 {
        self.bus
            .stream_state(&self.stream())
            .await
            .expect("stream state")
            .last_sequence
    }
}

pub fn completed(request_id: Uuid, text: &str, translation: &str) -> TranslationCompleted {
    TranslationCompleted {
        request_id,
        edge_id: "e1".into(),
        text: text.into(),
        translation: translation.into(),
        model_version: "prod-v1".into(),
        worker_id: "w1".into(),
        latency_ms: 12.0,
        queue_ms: 1.0,
        batch_size: 1,
    }
}

pub fn feedback(request_id: Uuid, correction: &str) -> FeedbackSubmitted {
    FeedbackSubmitted {
        feedback_id: Uuid::new_v4(),
        request_id,
        correction: correction.into(),
        client: None,
    }
}

/// The PostgreSQL server of the tests (`RELAIS_TEST_POSTGRES` overrides).
pub fn postgres_admin_url() -> String {
    std::env::var("RELAIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh database (SQLite file or a PostgreSQL database of its own,
/// dropped with this value).
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/relais.db?mode=rwc", dir.path().display());
                TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("relais_replay_test_{}", Uuid::new_v4().simple());
                admin(&format!("CREATE DATABASE {name}")).await;
                let admin_url = postgres_admin_url();
                let (base, _) = admin_url.rsplit_once('/').expect("URL has a database");
                TestDb {
                    url: format!("{base}/{name}"),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.clone() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(admin(&format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )));
        });
        let _ = dropped.join();
    }
}

async fn admin(sql: &str) {
    let url = postgres_admin_url();
    let mut conn = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for tests: {e}"));
    conn.execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

pub const TABLES: [Table; 6] = [
    Table::Events,
    Table::Translations,
    Table::Feedback,
    Table::DatasetPairs,
    Table::DatasetVersions,
    Table::ModelVersions,
];

/// Row counts of every table, by name.
pub async fn counts(store: &Store) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in TABLES {
        out.push((table.name(), store.count(table).await.expect("count")));
    }
    out
}

/// Audit settings for tests: short delays, no dataset batch during the test.
pub fn audit_settings(url: &str) -> AuditSettings {
    AuditSettings {
        database_url: Secret::new(url),
        concurrency: 4,
        db_acquire_timeout: Duration::from_secs(2),
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(300),
        max_deliver: 100_000,
        dataset_batch_pairs: 1000,
        dataset_batch_window: Duration::from_secs(600),
        curation_sweep: Duration::from_secs(600),
    }
}

/// Polls `check` until it holds, failing after 20 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const CORPUS: &[&str] = &[
    "Hello.",
    "Bonjour.",
    "How are you?",
    "Comment allez-vous ?",
    "The cat sleeps on the mat.",
    "Le chat dort sur le tapis.",
];

/// Writes a tiny random-weight model directory `root/tiny-candidate`.
pub fn tiny_model_dir(root: &Path) -> PathBuf {
    let dir = root.join("tiny-candidate");
    let tokenizer = TextTokenizer::train(CORPUS.iter().copied(), 300).expect("tokenizer trains");
    let config = Config::tiny(tokenizer.vocab_size());
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    Transformer::new(&config, vb).expect("model builds");
    let vars: Vec<(String, candle_core::Var)> = varmap
        .data()
        .lock()
        .expect("varmap")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    relais_model::model::init_weights(&vars, 7).expect("init");
    let weights: HashMap<String, Tensor> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let card = ModelCard {
        config,
        provenance: Default::default(),
        metrics: Default::default(),
        training: Default::default(),
        weights_dtype: "f32".into(),
    };
    save_model_dir(&dir, &weights, &card).expect("model dir saved");
    tokenizer
        .save(dir.join(TOKENIZER_FILE))
        .expect("tokenizer saved");
    dir
}
