//! `spawn_app()`: a real nats-server, the Relais streams, an edge on port 0,
//! and, when asked, a worker stand-in consuming `translate.request` and the
//! real audit service (SQLite in a temporary directory) answering lookups.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use relais_audit::{Application as Audit, AuditError, Layout, Store};
use relais_bus::Secret;
use relais_bus::{run_consumer, Bus, BusConfig, ConsumerSpec, Delivery, Outcome, Topology};
use relais_config::{AuditSettings, EdgeSettings, RateLimitSettings};
use relais_edge::Application;
use relais_events::{
    Envelope, FailureReason, TranslationCompleted, TranslationFailed, TranslationRequested,
};
use relais_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

/// Settings for tests: short timeouts, small limits, a generous rate limit.
pub fn test_settings() -> EdgeSettings {
    EdgeSettings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        edge_id: String::new(),
        request_timeout: Duration::from_secs(1),
        publish_timeout: Duration::from_millis(500),
        lookup_timeout: Duration::from_secs(3),
        max_body_bytes: 4096,
        max_chars: 200,
        max_sentences: 3,
        max_batch: 4,
        max_correction_chars: 100,
        rate_limit: RateLimitSettings {
            per_second: 1000.0,
            burst: 1000,
        },
        api_keys: Vec::new(),
        require_api_key: false,
        ready_window: Duration::from_secs(60),
        static_dir: PathBuf::from("/nonexistent/relais-frontend-dist"),
    }
}

/// One running edge.
pub struct Edge {
    pub address: String,
    pub edge_id: String,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), relais_edge::EdgeError>>>,
}

impl Edge {
    /// Starts a graceful shutdown without waiting.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops gracefully and waits until the server has stopped.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let served = task.await.expect("edge task joined");
            assert!(served.is_ok(), "edge stopped with {served:?}");
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A test deployment: NATS, streams, an edge, maybe a worker.
pub struct TestApp {
    pub nats: NatsServer,
    pub bus: Bus,
    pub edge: Edge,
    pub http: reqwest::Client,
    worker: Option<CancellationToken>,
    audit: Option<AuditService>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(w) = &self.worker {
            w.cancel();
        }
        if let Some(a) = &self.audit {
            a.cancel.cancel();
        }
    }
}

/// The real audit service on this test's server, with its own SQLite file.
pub struct AuditService {
    /// A handle on its database, for waiting on what it recorded.
    pub store: Store,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), AuditError>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.edge.address)
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Starts the worker stand-in (see [`start_worker`]).
    pub fn with_worker(mut self) -> Self {
        self.worker = Some(start_worker(&self.bus));
        self
    }

    /// Starts the real audit service (its own connection, SQLite in a
    /// temporary directory); it answers lookups once this returns.
    pub async fn with_audit(mut self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = AuditSettings {
            database_url: Secret::new(format!(
                "sqlite://{}/relais.db?mode=rwc",
                dir.path().display()
            )),
            concurrency: 2,
            db_acquire_timeout: Duration::from_secs(2),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_millis(300),
            max_deliver: 1000,
            dataset_batch_pairs: 20,
            dataset_batch_window: Duration::from_secs(600),
            curation_sweep: Duration::from_secs(600),
        };
        let bus = connect(&self.nats).await;
        let app = Audit::build(settings, bus, Layout::relais())
            .await
            .expect("audit builds");
        let store = app.store().clone();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(cancel.clone()));
        self.audit = Some(AuditService {
            store,
            cancel,
            task,
            _dir: dir,
        });
        self
    }

    /// The running audit service; panics when none was started.
    pub fn audit(&self) -> &AuditService {
        self.audit.as_ref().expect("started with_audit()")
    }

    /// Stops the audit service and checks it stopped cleanly.
    pub async fn stop_audit(&mut self) {
        let audit = self.audit.take().expect("started with_audit()");
        audit.cancel.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(10), audit.task)
            .await
            .expect("audit stops in time")
            .expect("audit task joined");
        assert!(stopped.is_ok(), "audit stopped with {stopped:?}");
    }

    /// Waits until the audit store has recorded translation `id`.
    pub async fn recorded(&self, id: uuid::Uuid) {
        let store = &self.audit().store;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if store.translation(id).await.expect("store reads").is_some() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "audit never recorded translation {id}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn connect(nats: &NatsServer) -> Bus {
    let config = BusConfig {
        connect_timeout: Duration::from_secs(2),
        ..BusConfig::with_url(nats.url())
    };
    Bus::connect(&config).await.expect("connect to NATS")
}

/// An edge with default test settings and no worker.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An edge with settings changed by `change`, and no worker.
pub async fn spawn_app_with(change: impl FnOnce(&mut EdgeSettings)) -> TestApp {
    let nats = NatsServer::start();
    let bus = connect(&nats).await;
    bus.ensure_topology(&Topology::relais())
        .await
        .expect("declare streams");
    let mut settings = test_settings();
    change(&mut settings);
    let edge = spawn_edge(&nats, settings).await;
    // The audit dev-dependency builds reqwest without a TLS crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    TestApp {
        nats,
        bus,
        edge,
        http: reqwest::Client::new(),
        worker: None,
        audit: None,
    }
}

/// Another edge (its own connection) on the same server.
pub async fn spawn_edge(nats: &NatsServer, settings: EdgeSettings) -> Edge {
    let bus = connect(nats).await;
    let app = Application::build(settings, bus)
        .await
        .expect("edge builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let edge_id = app.edge_id().to_owned();
    let shutdown = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    Edge {
        address,
        edge_id,
        shutdown,
        task: Some(task),
    }
}

/// A worker stand-in on the real bus path: consumes `translate.request` with
/// the durable `workers` consumer and answers with the text upper-cased, or a
/// `model_error` failure for texts starting with `fail`.
pub fn start_worker(bus: &Bus) -> CancellationToken {
    let cancel = CancellationToken::new();
    let bus = bus.clone();
    let token = cancel.clone();
    tokio::spawn(async move {
        let publisher = bus.clone();
        let handler = move |delivery: Delivery| {
            let bus = publisher.clone();
            async move { answer(&bus, &delivery).await }
        };
        if let Err(e) = run_consumer(&bus, &ConsumerSpec::workers(), handler, token).await {
            panic!("worker stand-in failed: {e}");
        }
    });
    cancel
}

async fn answer(bus: &Bus, delivery: &Delivery) -> Outcome {
    let (request, traceparent) = match Envelope::<TranslationRequested>::decode(delivery.payload())
    {
        Ok(e) => (e.data, e.traceparent),
        Err(e) => return Outcome::Poison(e.to_string()),
    };
    // The edge must carry the request id in the headers.
    if delivery.headers().request_id() != Some(request.request_id.to_string().as_str()) {
        return Outcome::Poison("request id header missing or wrong".into());
    }
    fn traced<T>(mut e: Envelope<T>, traceparent: &Option<String>) -> Envelope<T> {
        e.traceparent.clone_from(traceparent);
        e
    }
    let published = if request.text.starts_with("fail") {
        bus.publish_event(&traced(
            Envelope::new(
                "test/worker",
                TranslationFailed {
                    request_id: request.request_id,
                    edge_id: request.edge_id,
                    text: request.text,
                    reason: FailureReason::ModelError,
                    message: "stand-in refuses".into(),
                    worker_id: Some("w1".into()),
                    model_version: Some("test-v1".into()),
                },
            ),
            &traceparent,
        ))
        .await
    } else {
        bus.publish_event(&traced(
            Envelope::new(
                "test/worker",
                TranslationCompleted {
                    request_id: request.request_id,
                    edge_id: request.edge_id,
                    translation: request.text.to_uppercase(),
                    text: request.text,
                    model_version: "test-v1".into(),
                    worker_id: "w1".into(),
                    latency_ms: 1.0,
                    queue_ms: 0.0,
                    batch_size: 1,
                },
            ),
            &traceparent,
        ))
        .await
    };
    match published {
        Ok(_) => Outcome::Done,
        Err(_) => Outcome::Retry(Duration::from_millis(100)),
    }
}

/// Reads a JSON body, asserting the status first.
pub async fn json_with_status(response: reqwest::Response, status: u16) -> serde_json::Value {
    let got = response.status().as_u16();
    let body = response.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Asserts an error response: `status` and a JSON `{"error": "..."}` whose
/// text contains `needle`.
pub async fn assert_error(response: reqwest::Response, status: u16, needle: &str) {
    let body = json_with_status(response, status).await;
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field: {body}"));
    assert!(
        error.to_lowercase().contains(&needle.to_lowercase()),
        "error {error:?} should mention {needle:?}"
    );
}
