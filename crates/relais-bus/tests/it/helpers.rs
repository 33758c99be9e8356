//! Shared set-up: a server, a connected bus, an isolated topology.

use std::future::Future;
use std::time::Duration;

use relais_bus::{
    Bus, BusConfig, ConsumerSpec, Delivery, ReplayItem, ReplayQuery, StreamSpec, Topology,
};
use relais_testkit::{shared_or_private, unique_name, TestNats};

/// A server, a bus connected to it and a topology no other test uses.
pub struct TestBus {
    /// The server; a private one lives as long as the test.
    pub nats: TestNats,
    pub bus: Bus,
    /// Prefix of every stream, consumer and subject of [`TestBus::topology`].
    pub prefix: String,
    pub topology: Topology,
    extra_streams: std::sync::Mutex<Vec<String>>,
}

/// On a shared server, delete what the test created (a private one goes away
/// with its temporary directory). Runs on its own thread and runtime: the
/// test's runtime is busy dropping us.
impl Drop for TestBus {
    fn drop(&mut self) {
        let TestNats::Shared(url) = &self.nats else {
            return;
        };
        let mut streams: Vec<String> = self
            .topology
            .streams
            .iter()
            .map(|s| s.name.clone())
            .collect();
        if let Ok(extra) = self.extra_streams.lock() {
            streams.extend(extra.iter().cloned());
        }
        let url = url.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(bus) = Bus::connect(&test_config(&url)).await {
                    for name in streams {
                        let _ = bus.delete_stream(&name).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Bus settings for tests: short timeouts.
pub fn test_config(url: &str) -> BusConfig {
    let mut cfg = BusConfig::with_url(url).named("relais-test");
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.publish_retry_for = Duration::from_secs(20);
    cfg
}

/// Connects to a fresh (or the shared) server and declares the Relais topology
/// under a unique prefix, with 1 s ack waits.
pub async fn setup() -> TestBus {
    let nats = shared_or_private();
    let bus = Bus::connect(&test_config(&nats.url()))
        .await
        .expect("connects");
    let prefix = unique_name("T");
    let mut topology = Topology::relais().prefixed(&prefix);
    for c in &mut topology.consumers {
        c.ack_wait = Duration::from_secs(1);
        c.backoff.clear();
    }
    topology.declare(&bus).await.expect("declares topology");
    TestBus {
        nats,
        bus,
        prefix,
        topology,
        extra_streams: std::sync::Mutex::new(Vec::new()),
    }
}

impl TestBus {
    /// Registers an extra stream (a KV or object bucket's) to delete at the end
    /// when the server is shared.
    pub fn owns_stream(&self, name: impl Into<String>) {
        if let Ok(mut extra) = self.extra_streams.lock() {
            extra.push(name.into());
        }
    }

    pub fn stream(&self, suffix: &str) -> &StreamSpec {
        let name = format!("{}_{suffix}", self.prefix);
        self.topology
            .streams
            .iter()
            .find(|s| s.name == name)
            .expect("stream in topology")
    }

    pub fn consumer(&self, suffix: &str) -> ConsumerSpec {
        let name = format!("{}_{suffix}", self.prefix);
        self.topology
            .consumers
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .expect("consumer in topology")
    }

    /// `<prefix>.<subject>`.
    pub fn subject(&self, subject: &str) -> String {
        format!("{}.{subject}", self.prefix)
    }

    /// Every message now in `stream`.
    pub async fn all(&self, stream: &str) -> Vec<ReplayItem> {
        within(5, self.bus.replay(&ReplayQuery::new(stream)))
            .await
            .expect("replay starts")
            .collect()
            .await
            .expect("replay reads")
    }
}

/// Fails the test when `fut` takes longer than `secs` seconds.
pub async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s"))
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(secs, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// What a handler saw of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub seq: u64,
    pub count: u64,
    pub last: bool,
    pub payload: Vec<u8>,
}

impl From<&Delivery> for Seen {
    fn from(d: &Delivery) -> Self {
        Seen {
            seq: d.stream_sequence(),
            count: d.delivery_count(),
            last: d.is_last_attempt(),
            payload: d.payload().to_vec(),
        }
    }
}
