//! Following the registry's production alias: download a promoted version,
//! verify its checksums, load it, smoke-translate, then swap it in. A version
//! that fails any step is refused with a `ModelRejected` event and a log line;
//! the worker keeps serving what it had.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relais_bus::Bus;
use relais_events::{Envelope, ModelRejected};
use relais_registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::publish::SOURCE;
use crate::translator::DecodeOptions;
use crate::{metrics, ModelSlot, Translator, WorkerError};

/// The sentence every new model must translate before it serves.
pub const SMOKE_SENTENCE: &str = "Hello.";
/// Pause before watching again after the watch failed or ended.
const REWATCH_AFTER: Duration = Duration::from_secs(2);

/// Loads `dir` and checks that it translates [`SMOKE_SENTENCE`] into
/// something non-empty (on a blocking thread).
pub async fn load_checked(dir: PathBuf, options: DecodeOptions) -> Result<Translator, String> {
    tokio::task::spawn_blocking(move || {
        let translator = Translator::load_with(&dir, options).map_err(|e| error_chain(&e))?;
        let out = translator
            .translate_batch(&[SMOKE_SENTENCE.to_owned()])
            .map_err(|e| format!("smoke translation failed: {}", error_chain(&e)))?;
        match out.first() {
            Some(text) if !text.trim().is_empty() => Ok(translator),
            _ => Err(format!("smoke translation of {SMOKE_SENTENCE:?} is empty")),
        }
    })
    .await
    .map_err(|e| format!("model loading task failed: {e}"))?
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Downloads and checks `version`: a ready translator, or why not.
pub async fn prepare(
    registry: &Registry,
    version: &str,
    cache: &Path,
    options: DecodeOptions,
) -> Result<Translator, String> {
    let dir = registry
        .fetch(version, cache)
        .await
        .map_err(|e| error_chain(&e))?;
    load_checked(dir, options).await
}

/// Publishes a `ModelRejected` (best effort: the log line is the fallback).
pub async fn reject(
    bus: &Bus,
    worker_id: &str,
    version: &str,
    serving: Option<String>,
    reason: &str,
) {
    warn!(%worker_id, %version, serving = ?serving, %reason, "model version rejected; serving continues");
    let event = Envelope::new(
        SOURCE,
        ModelRejected {
            version: version.to_owned(),
            worker_id: worker_id.to_owned(),
            serving,
            reason: reason.to_owned(),
        },
    );
    if let Err(e) = bus.publish_event(&event).await {
        warn!(%version, error = %e, "could not publish the rejection");
    }
}

/// Swaps in each newly promoted version until `cancel` fires.
pub(crate) async fn follow_production(
    bus: Bus,
    slot: ModelSlot,
    cache: PathBuf,
    worker_id: String,
    cancel: CancellationToken,
) -> Result<(), WorkerError> {
    while !cancel.is_cancelled() {
        let watch = async {
            let registry = Registry::open(&bus).await?;
            let watch = registry.watch_production().await?;
            Ok::<_, relais_registry::RegistryError>((registry, watch))
        };
        let (registry, mut watch) = match watch.await {
            Ok(w) => w,
            Err(e) => {
                warn!(error = %e, "cannot watch the model registry; retrying");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(REWATCH_AFTER) => continue,
                }
            }
        };
        loop {
            let entry = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                entry = watch.next() => entry,
            };
            let entry = match entry {
                Some(Ok(entry)) => entry,
                Some(Err(e)) => {
                    warn!(error = %e, "the production watch failed; watching again");
                    break;
                }
                None => break,
            };
            if entry.deleted {
                continue;
            }
            let version = String::from_utf8_lossy(&entry.value).trim().to_owned();
            let serving = slot.current().version().to_owned();
            if version.is_empty() || version == serving {
                continue;
            }
            info!(%version, %serving, "new production version; preparing it");
            let options = slot.current().options();
            match prepare(&registry, &version, &cache, options).await {
                Ok(translator) => {
                    slot.swap(translator);
                    metrics::model_swapped(&serving, &version);
                    info!(%version, previous = %serving, "now serving the new production version");
                }
                Err(reason) => reject(&bus, &worker_id, &version, Some(serving), &reason).await,
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(REWATCH_AFTER) => {}
        }
    }
    Ok(())
}
