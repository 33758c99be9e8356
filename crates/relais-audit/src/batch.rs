//! Accepted corrections → dataset versions: a small task that publishes
//! `DatasetUpdated` once enough corrections wait, or the first has waited long
//! enough, and re-curates corrections still pending.

use std::sync::Arc;
use std::time::Duration;

use relais_bus::Bus;
use relais_store::{DatasetVersion, Store};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::announce::announce;
use crate::record::{chain, curate_one};
use crate::Layout;

/// Corrections re-curated per sweep, oldest first.
const SWEEP_LIMIT: i64 = 100;
/// How soon a correction recorded before its translation is curated again.
const ORPHAN_SWEEP: Duration = Duration::from_secs(1);

/// The batching task's inputs.
#[derive(Debug)]
pub(crate) struct Batcher {
    pub store: Store,
    pub bus: Bus,
    pub layout: Layout,
    pub source: String,
    pub threshold: u64,
    pub window: Duration,
    pub sweep: Duration,
    /// Woken by the recorder when a correction was accepted.
    pub accepted: Arc<Notify>,
    /// Woken by the recorder when a correction came before its translation.
    pub orphans: Arc<Notify>,
}

impl Batcher {
    /// Runs until `cancel` fires. The window starts when this task first sees
    /// a pending pair (after a restart, when it starts again).
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let mut first_pending: Option<Instant> = None;
        let mut unannounced: Vec<DatasetVersion> = Vec::new();
        let mut next_sweep = Instant::now();
        loop {
            let mut wake = next_sweep;
            if let Some(first) = first_pending {
                wake = wake.min(first + self.window);
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.accepted.notified() => {}
                _ = self.orphans.notified() => {
                    next_sweep = next_sweep.min(Instant::now() + ORPHAN_SWEEP.min(self.sweep));
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            if Instant::now() >= next_sweep {
                self.sweep().await;
                next_sweep = Instant::now() + self.sweep;
            }
            self.announce_all(&mut unannounced).await;
            let pending = match self.store.pending_feedback_pairs().await {
                Ok(n) => u64::try_from(n).unwrap_or_default(),
                Err(e) => {
                    warn!(error = %chain(&e), "cannot count pending corrections");
                    continue;
                }
            };
            if pending == 0 {
                first_pending = None;
                continue;
            }
            let first = *first_pending.get_or_insert_with(Instant::now);
            if pending < self.threshold && first.elapsed() < self.window {
                continue;
            }
            match self.store.publish_feedback_version().await {
                Ok(Some(version)) => {
                    info!(
                        version = version.version,
                        added = version.added_pairs,
                        "accepted corrections became a dataset version"
                    );
                    unannounced.push(version);
                    self.announce_all(&mut unannounced).await;
                    first_pending = None;
                }
                Ok(None) => first_pending = None,
                Err(e) => {
                    warn!(error = %chain(&e), "writing the feedback dataset version failed, retrying later")
                }
            }
        }
    }

    /// Curates corrections still pending (recorded before their translation,
    /// or whose curation failed).
    async fn sweep(&self) {
        match self.store.pending_feedback(SWEEP_LIMIT).await {
            Ok(ids) => {
                for id in ids {
                    curate_one(&self.store, id, &self.accepted, None).await;
                }
            }
            Err(e) => warn!(error = %chain(&e), "cannot list pending corrections"),
        }
    }

    /// Publishes the versions not announced yet; keeps those that failed.
    async fn announce_all(&self, unannounced: &mut Vec<DatasetVersion>) {
        while let Some(version) = unannounced.first() {
            match announce(&self.bus, &self.layout, &self.source, version.to_event()).await {
                Ok(()) => {
                    unannounced.remove(0);
                }
                Err(e) => {
                    warn!(version = version.version, error = %chain(&e),
                        "cannot announce the dataset version yet, retrying later");
                    return;
                }
            }
        }
    }
}
