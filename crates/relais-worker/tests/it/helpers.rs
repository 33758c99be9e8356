//! Shared set-up: a private NATS server, a random-weight tiny model directory,
//! running workers on an isolated (prefixed) layout, requests and outcomes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use relais_bus::{Bus, BusConfig, Headers, Subscription};
use relais_events::{
    Envelope, RawEnvelope, TranslationCompleted, TranslationFailed, TranslationRequested,
};
use relais_model::artifacts::{save_random_model_dir, TOKENIZER_FILE};
use relais_model::Config;
use relais_testkit::{unique_name, NatsServer};
use relais_text::TextTokenizer;
use relais_worker::{Application, Layout, WorkerError, WorkerSettings};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The name of the model directory the tests build: the model version.
pub const MODEL_VERSION: &str = "tiny-v1";

const CORPUS: &[&str] = &[
    "Hello.",
    "Bonjour.",
    "How are you?",
    "Comment allez-vous ?",
    "The cat sleeps on the mat.",
    "Le chat dort sur le tapis.",
    "I like green tea.",
    "J'aime le thé vert.",
];

/// Writes a tiny random-weight model directory `root/<MODEL_VERSION>`:
/// weights, `model.json` and a tokenizer trained on a few sentences.
pub fn tiny_model_dir(root: &Path) -> PathBuf {
    tiny_model_dir_named(root, MODEL_VERSION, 7)
}

/// As [`tiny_model_dir`], named `name`, with weights from `seed`.
pub fn tiny_model_dir_named(root: &Path, name: &str, seed: u64) -> PathBuf {
    let dir = root.join(name);
    let tokenizer = TextTokenizer::train(CORPUS.iter().copied(), 300).expect("tokenizer trains");
    let config = Config::tiny(tokenizer.vocab_size());
    save_random_model_dir(&dir, &config, seed).expect("model dir saved");
    tokenizer
        .save(dir.join(TOKENIZER_FILE))
        .expect("tokenizer saved");
    dir
}

/// Settings for tests: small batches, short waits, a 2 s ack wait.
pub fn settings(model_dir: &Path) -> WorkerSettings {
    WorkerSettings {
        model_dir: model_dir.to_path_buf(),
        worker_id: String::new(),
        max_batch: 4,
        max_wait: Duration::from_millis(20),
        progress_every: Duration::from_millis(500),
        ack_wait: Duration::from_secs(2),
        max_deliver: 5,
        follow_registry: false,
        model_cache: model_dir.with_file_name("model-cache"),
        precision: "int8".into(),
        beam: 1,
    }
}

/// A private server, an isolated layout and a model directory.
pub struct World {
    pub nats: NatsServer,
    pub layout: Layout,
    pub bus: Bus,
    pub model_dir: PathBuf,
    _root: TempDir,
}

impl World {
    pub async fn new() -> World {
        World::with_layout(Layout::prefixed(unique_name("W"))).await
    }

    pub async fn with_layout(layout: Layout) -> World {
        let nats = NatsServer::start();
        let bus = connect(&nats.url(), Duration::from_secs(10)).await;
        let root = tempfile::tempdir().expect("tempdir");
        let model_dir = tiny_model_dir(root.path());
        World {
            nats,
            layout,
            bus,
            model_dir,
            _root: root,
        }
    }

    /// The temporary directory the world's files live in.
    pub fn root(&self) -> &Path {
        self._root.path()
    }

    /// Builds and starts a worker with `settings`.
    pub async fn worker(&self, settings: WorkerSettings) -> Worker {
        self.worker_on(settings, Duration::from_secs(10)).await
    }

    /// As [`World::worker`], its publishes retrying for `publish_retry_for`.
    pub async fn worker_on(&self, settings: WorkerSettings, publish_retry_for: Duration) -> Worker {
        let bus = connect(&self.nats.url(), publish_retry_for).await;
        let app = Application::build(settings, bus, self.layout.clone())
            .await
            .expect("worker builds");
        let id = app.worker_id().to_owned();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(cancel.clone()));
        Worker { id, cancel, task }
    }

    /// Subscribes to every outcome subject of the layout (before publishing).
    pub async fn outcomes(&self) -> Subscription {
        let sub = self
            .bus
            .subscribe(&self.layout.subject("events.translation.>"))
            .await
            .expect("subscribe");
        self.bus.flush().await.expect("flush");
        sub
    }

    /// Publishes a request for `text` from edge `edge_id` with `deadline`.
    pub async fn request(
        &self,
        edge_id: &str,
        text: &str,
        deadline: DateTime<Utc>,
    ) -> TranslationRequested {
        let request = TranslationRequested {
            request_id: Uuid::new_v4(),
            edge_id: edge_id.to_owned(),
            text: text.to_owned(),
            deadline,
            client: None,
        };
        let envelope = Envelope::new("relais/test", request.clone());
        let headers = Headers::new().with_request_id(request.request_id.to_string());
        self.bus
            .publish_envelope_on(&self.layout.request_subject(), &envelope, &headers)
            .await
            .expect("request published");
        request
    }

    /// Waits until a worker holds `n` unacknowledged requests.
    pub async fn wait_held(&self, n: usize) {
        let consumer = self.layout.workers_consumer(&settings(&self.model_dir));
        for _ in 0..200 {
            let state = self
                .bus
                .consumer_state(&consumer.stream, &consumer.name)
                .await
                .expect("consumer state");
            if state.ack_pending == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no worker took {n} request(s)");
    }

    /// Requests in the `TRANSLATE` stream.
    pub async fn queued(&self) -> u64 {
        self.bus
            .stream_state(&self.layout.translate_stream())
            .await
            .expect("stream state")
            .messages
    }

    /// Waits until the `TRANSLATE` stream is empty (every request acked).
    pub async fn wait_drained(&self) {
        self.wait_drained_within(Duration::from_secs(5)).await;
    }

    /// As [`World::wait_drained`], waiting up to `within`.
    pub async fn wait_drained_within(&self, within: Duration) {
        let until = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < until {
            if self.queued().await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("TRANSLATE still holds {} requests", self.queued().await);
    }
}

/// A soon deadline: a request that must be translated.
pub fn in_a_minute() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(60)
}

pub async fn connect(url: &str, publish_retry_for: Duration) -> Bus {
    let config = BusConfig {
        publish_retry_for,
        ..BusConfig::with_url(url)
    };
    Bus::connect(&config).await.expect("connect to NATS")
}

/// A running worker.
pub struct Worker {
    pub id: String,
    pub cancel: CancellationToken,
    pub task: JoinHandle<Result<(), WorkerError>>,
}

impl Worker {
    /// Stops gracefully and waits.
    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("worker stops in time")
            .expect("worker task")
            .expect("worker ran cleanly");
    }
}

/// What came back on an outcome subject.
#[derive(Debug)]
pub enum Outcome {
    Completed(String, Envelope<TranslationCompleted>),
    Failed(String, Envelope<TranslationFailed>),
}

impl Outcome {
    pub fn request_id(&self) -> Uuid {
        match self {
            Outcome::Completed(_, e) => e.data.request_id,
            Outcome::Failed(_, e) => e.data.request_id,
        }
    }
}

/// The next outcome, or a panic after `within`.
pub async fn next_outcome(sub: &mut Subscription, within: Duration) -> Outcome {
    let message = tokio::time::timeout(within, sub.next())
        .await
        .expect("an outcome within the time limit")
        .expect("subscription open");
    let raw = RawEnvelope::decode(&message.payload).expect("an envelope");
    if raw.event_type == <TranslationCompleted as relais_events::Event>::TYPE {
        Outcome::Completed(message.subject, raw.into_typed().expect("completed"))
    } else {
        Outcome::Failed(message.subject, raw.into_typed().expect("failed"))
    }
}
