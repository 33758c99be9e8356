//! A small real deployment for the monitor to watch: a private nats-server
//! with the Relais streams, a real edge on port 0, a worker stand-in, and a
//! reader of the monitor's events.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use relais_bus::{
    run_consumer, Bus, BusConfig, ConsumerSpec, Delivery, Outcome, Subscription, Topology,
};
use relais_config::{EdgeSettings, MonitorSettings, RateLimitSettings, SmtpSecurity, SmtpSettings};
use relais_events::{AlertState, CheckStatus, Envelope, MonitorAlert, MonitorCheck};
use relais_events::{TranslationCompleted, TranslationRequested};
use relais_monitor::{Application, MonitorError};
use relais_testkit::NatsServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The model version the worker stand-in reports.
pub const MODEL: &str = "test-v1";

/// NATS, the streams and an edge; the worker and the monitor come and go.
pub struct Stack {
    pub nats: NatsServer,
    pub bus: Bus,
    pub edge_url: String,
    edge_stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.edge_stop.cancel();
    }
}

impl Stack {
    pub async fn start() -> Stack {
        let nats = NatsServer::start();
        let bus = connect(&nats).await;
        bus.ensure_topology(&Topology::relais())
            .await
            .expect("declare streams");
        let edge = relais_edge::Application::build(edge_settings(), connect(&nats).await)
            .await
            .expect("edge builds");
        let edge_url = format!("http://127.0.0.1:{}", edge.port());
        let edge_stop = edge.shutdown_token();
        tokio::spawn(edge.run_until_stopped());
        Stack {
            nats,
            bus,
            edge_url,
            edge_stop,
        }
    }

    /// Monitor settings for this stack: checks every 200 ms, deep checks
    /// hourly, no mail; `change` adjusts them.
    pub fn monitor_settings(&self, change: impl FnOnce(&mut MonitorSettings)) -> MonitorSettings {
        let mut settings = MonitorSettings {
            edge_url: self.edge_url.clone(),
            liveness_every: Duration::from_millis(200),
            deep_every: Duration::from_secs(3600),
            check_timeout: Duration::from_secs(5),
            smoke_text: "I love cats.".into(),
            smoke_max_latency: Duration::from_secs(3),
            translate_backlog_max: 1000,
            // No audit service runs here: EVENTS/audit only grows.
            events_backlog_max: 1_000_000,
            training_max_age: Duration::from_secs(8 * 24 * 3600),
            require_training: false,
            fail_after: 2,
            renotify_every: Duration::from_secs(3600),
            smtp: SmtpSettings {
                host: "127.0.0.1".into(),
                port: 25,
                security: SmtpSecurity::None,
                username: None,
                password: None,
                from: "relais-monitor@example.org".into(),
                to: Vec::new(),
                timeout: Duration::from_secs(5),
            },
        };
        change(&mut settings);
        settings
    }

    /// Starts the monitor on its own connection.
    pub async fn spawn_monitor(&self, settings: MonitorSettings) -> Monitor {
        let app = Application::build(settings, connect(&self.nats).await)
            .await
            .expect("monitor builds");
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(stop.clone()));
        Monitor { stop, task }
    }

    /// Every event the monitor publishes from now on.
    pub async fn monitor_events(&self) -> MonitorEvents {
        MonitorEvents {
            subscription: self
                .bus
                .subscribe("events.monitor.>")
                .await
                .expect("subscribe"),
        }
    }
}

/// Mail settings pointing at a local SMTP server on `port`.
pub fn mail_to(port: u16) -> impl FnOnce(&mut MonitorSettings) {
    move |s| {
        s.smtp.port = port;
        s.smtp.to = vec!["ops@example.org".into()];
    }
}

/// Edge settings for tests: port 0, a 1 s translation timeout, a ready
/// window longer than any test (so `/readyz` stays 200 while the worker is away).
fn edge_settings() -> EdgeSettings {
    EdgeSettings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        edge_id: String::new(),
        request_timeout: Duration::from_secs(1),
        publish_timeout: Duration::from_millis(500),
        lookup_timeout: Duration::from_secs(1),
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
        ready_window: Duration::from_secs(600),
        static_dir: PathBuf::from("/nonexistent/relais-frontend-dist"),
    }
}

pub async fn connect(nats: &NatsServer) -> Bus {
    let config = BusConfig {
        connect_timeout: Duration::from_secs(2),
        ..BusConfig::with_url(nats.url())
    };
    Bus::connect(&config).await.expect("connect to NATS")
}

/// The running monitor.
pub struct Monitor {
    stop: CancellationToken,
    task: JoinHandle<Result<(), MonitorError>>,
}

impl Monitor {
    /// Stops it and checks that it stopped cleanly.
    pub async fn stop(self) {
        self.stop.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("monitor stops in time")
            .expect("monitor task joined");
        assert!(result.is_ok(), "monitor stopped with {result:?}");
    }
}

/// A worker stand-in on the real bus path: the durable `workers` consumer on
/// `translate.request`, answering every request with the text upper-cased.
pub struct Worker {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Worker {
    pub fn start(bus: &Bus) -> Worker {
        let stop = CancellationToken::new();
        let bus = bus.clone();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let publisher = bus.clone();
            let handler = move |delivery: Delivery| {
                let bus = publisher.clone();
                async move { answer(&bus, &delivery).await }
            };
            run_consumer(&bus, &ConsumerSpec::workers(), handler, token)
                .await
                .expect("worker stand-in runs");
        });
        Worker { stop, task }
    }

    /// Stops consuming and waits until it has.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("worker stops in time")
            .expect("worker task joined");
    }
}

async fn answer(bus: &Bus, delivery: &Delivery) -> Outcome {
    let request = match Envelope::<TranslationRequested>::decode(delivery.payload()) {
        Ok(e) => e.data,
        Err(e) => return Outcome::Poison(e.to_string()),
    };
    let completed = TranslationCompleted {
        request_id: request.request_id,
        edge_id: request.edge_id,
        translation: request.text.to_uppercase(),
        text: request.text,
        model_version: MODEL.into(),
        worker_id: "w1".into(),
        latency_ms: 1.0,
        queue_ms: 0.0,
        batch_size: 1,
    };
    match bus
        .publish_event(&Envelope::new("test/worker", completed))
        .await
    {
        Ok(_) => Outcome::Done,
        Err(_) => Outcome::Retry(Duration::from_millis(100)),
    }
}

/// What the monitor published, read in order from a core subscription.
pub struct MonitorEvents {
    subscription: Subscription,
}

/// One monitor event.
#[derive(Debug, Clone)]
pub enum Seen {
    Check(MonitorCheck),
    Alert(MonitorAlert),
}

impl MonitorEvents {
    /// The next event, failing the test after `within`.
    pub async fn next(&mut self, within: Duration) -> Seen {
        let message = tokio::time::timeout(within, self.subscription.next())
            .await
            .unwrap_or_else(|_| panic!("no monitor event within {within:?}"))
            .expect("subscription open");
        if message.subject.starts_with("events.monitor.alert.") {
            Seen::Alert(
                Envelope::<MonitorAlert>::decode(&message.payload)
                    .expect("alert")
                    .data,
            )
        } else {
            Seen::Check(
                Envelope::<MonitorCheck>::decode(&message.payload)
                    .expect("check")
                    .data,
            )
        }
    }

    /// Skips events until `wanted` matches one (within `within` overall);
    /// returns it and every event skipped on the way.
    pub async fn until(
        &mut self,
        within: Duration,
        what: &str,
        wanted: impl Fn(&Seen) -> bool,
    ) -> (Seen, Vec<Seen>) {
        let deadline = tokio::time::Instant::now() + within;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "no {what} within {within:?}; saw {skipped:#?}"
            );
            let seen = self.next(left).await;
            if wanted(&seen) {
                return (seen, skipped);
            }
            skipped.push(seen);
        }
    }

    /// The next result of `check` with `status`.
    pub async fn check(&mut self, check: &str, status: CheckStatus) -> (MonitorCheck, Vec<Seen>) {
        let what = format!("{check} {status:?}");
        let (seen, skipped) = self
            .until(
                Duration::from_secs(20),
                &what,
                |s| matches!(s, Seen::Check(c) if c.check == check && c.status == status),
            )
            .await;
        let Seen::Check(c) = seen else { unreachable!() };
        (c, skipped)
    }

    /// The next alert of `check` changing to `state`.
    pub async fn alert(&mut self, check: &str, state: AlertState) -> (MonitorAlert, Vec<Seen>) {
        let what = format!("{check} alert {state:?}");
        let (seen, skipped) = self
            .until(
                Duration::from_secs(20),
                &what,
                |s| matches!(s, Seen::Alert(a) if a.check == check && a.state == state),
            )
            .await;
        let Seen::Alert(a) = seen else { unreachable!() };
        (a, skipped)
    }
}
