//! Shared set-up: a private NATS server, a fresh database on either backend,
//! a running audit service on an isolated (prefixed) layout.

use std::future::Future;
use std::time::Duration;

use relais_audit::{Application, Layout};
use relais_bus::{Bus, BusConfig, Headers, PubAck, Secret};
use relais_config::AuditSettings;
use relais_events::{Envelope, Event, TranslationCompleted};
use relais_store::{Backend, Store};
use relais_testkit::{unique_name, NatsServer};
use sqlx::{Connection, Executor, PgConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The PostgreSQL server of the tests (`RELAIS_TEST_POSTGRES` overrides).
pub fn postgres_admin_url() -> String {
    std::env::var("RELAIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh database: a SQLite file in a temporary directory, or a database of
/// its own on the PostgreSQL server, dropped when this value is.
pub struct TestDb {
    pub url: String,
    /// PostgreSQL database name.
    pub pg_name: Option<String>,
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
                let name = format!("relais_audit_test_{}", Uuid::new_v4().simple());
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
        // The test's runtime is busy dropping us: drop the database on a
        // thread of its own.
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

/// Runs one statement on the PostgreSQL server as the admin user.
pub async fn admin(sql: &str) {
    let url = postgres_admin_url();
    let mut conn = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for tests: {e}"));
    conn.execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// Audit settings for tests: short delays, small batches.
pub fn settings(url: &str) -> AuditSettings {
    AuditSettings {
        database_url: Secret::new(url),
        concurrency: 4,
        db_acquire_timeout: Duration::from_secs(2),
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(300),
        max_deliver: 100_000,
        dataset_batch_pairs: 20,
        dataset_batch_window: Duration::from_secs(600),
        curation_sweep: Duration::from_secs(600),
    }
}

/// A private server, a bus, and a running audit service on a prefixed layout.
pub struct TestAudit {
    _server: NatsServer,
    pub bus: Bus,
    pub layout: Layout,
    /// A store on the same database, for assertions.
    pub store: Store,
    pub consumer: relais_bus::ConsumerSpec,
    cancel: CancellationToken,
    task: Option<JoinHandle<Result<(), relais_audit::AuditError>>>,
}

impl TestAudit {
    pub async fn start(settings: AuditSettings) -> TestAudit {
        let server = NatsServer::start();
        let bus = Bus::connect(&BusConfig::with_url(server.url()))
            .await
            .expect("connect to NATS");
        let prefix = unique_name("T");
        let layout = Layout::prefixed(prefix);
        let app = Application::build(settings, bus.clone(), layout.clone())
            .await
            .expect("build the audit service");
        let store = app.store().clone();
        let consumer = app.consumer().clone();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(cancel.clone()));
        TestAudit {
            _server: server,
            bus,
            layout,
            store,
            consumer,
            cancel,
            task: Some(task),
        }
    }

    /// Publishes `data` as a fresh event on its subject (prefixed).
    pub async fn publish<T: Event>(&self, data: T) -> Envelope<T> {
        let envelope = Envelope::new("relais/test", data);
        self.publish_envelope(&envelope).await;
        envelope
    }

    /// Publishes an envelope as it is (same id: a duplicate within the window).
    pub async fn publish_envelope<T: Event>(&self, envelope: &Envelope<T>) -> PubAck {
        let subject = self.layout.subject(&envelope.subject());
        self.bus
            .publish_envelope_on(&subject, envelope, &Headers::new())
            .await
            .expect("publish event")
    }

    /// Publishes raw bytes on `subject` (prefixed) under a fresh message id.
    pub async fn publish_raw(&self, subject: &str, payload: Vec<u8>) {
        self.bus
            .publish(
                &self.layout.subject(subject),
                &Bus::new_msg_id(),
                &Headers::new(),
                payload.into(),
            )
            .await
            .expect("publish raw");
    }

    /// Waits until the consumer has nothing pending or unacknowledged.
    pub async fn drained(&self) {
        eventually("the audit consumer drains", || async {
            let state = self
                .bus
                .consumer_state(&self.consumer.stream, &self.consumer.name)
                .await
                .expect("consumer state");
            state.pending == 0 && state.ack_pending == 0
        })
        .await;
    }

    /// Stops the service and checks it stopped cleanly.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("clean stop");
        }
    }
}

impl Drop for TestAudit {
    fn drop(&mut self) {
        self.cancel.cancel();
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

pub fn completed(request_id: Uuid, text: &str, translation: &str) -> TranslationCompleted {
    TranslationCompleted {
        request_id,
        edge_id: "e1".into(),
        text: text.into(),
        translation: translation.into(),
        model_version: "v1".into(),
        worker_id: "w1".into(),
        latency_ms: 12.0,
        queue_ms: 1.0,
        batch_size: 1,
    }
}

/// Declares a test module with one test per backend, each running
/// `async fn $body(backend: Backend)`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name(relais_store::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name(relais_store::Backend::Postgres).await;
                }
            }
        )+
    };
}
pub(crate) use on_both_backends;
