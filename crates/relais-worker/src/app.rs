//! Building and running the service: [`Application::build`] →
//! [`Application::run_until_stopped`].

use relais_bus::{run_consumer_with, watch_dead_letters, Bus, ConsumerOptions, ConsumerSpec};
use relais_config::WorkerSettings;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::batch::{accept, Batcher};
use crate::follow::{follow_production, prepare, reject};
use crate::publish::{Publisher, SOURCE};
use crate::translator::DecodeOptions;
use crate::{metrics, Layout, ModelSlot, Translator, WorkerError};

/// A worker with its model loaded and its stream and consumer declared.
#[derive(Debug)]
pub struct Application {
    settings: WorkerSettings,
    bus: Bus,
    layout: Layout,
    slot: ModelSlot,
    consumer: ConsumerSpec,
    worker_id: String,
}

impl Application {
    /// Validates `settings`, loads the model directory (a missing or corrupt
    /// one is an error naming it) and declares the streams and the shared
    /// `workers` consumer of `layout`.
    pub async fn build(
        settings: WorkerSettings,
        bus: Bus,
        layout: Layout,
    ) -> Result<Application, WorkerError> {
        settings.validate()?;
        layout.topology(&settings).declare(&bus).await?;
        let consumer = layout.workers_consumer(&settings);
        let worker_id = if settings.worker_id.is_empty() {
            let id = uuid::Uuid::new_v4().simple().to_string();
            format!("worker-{}", &id[..8])
        } else {
            settings.worker_id.clone()
        };
        let options = DecodeOptions::from_settings(&settings)?;
        let production = match settings.follow_registry {
            true => production_model(&bus, &settings, &worker_id, options).await,
            false => None,
        };
        let translator = match production {
            Some(translator) => translator,
            None => {
                let dir = settings.model_dir.clone();
                tokio::task::spawn_blocking(move || Translator::load_with(dir, options))
                    .await
                    .map_err(|source| WorkerError::Task {
                        task: "model loading",
                        source,
                    })??
            }
        };
        metrics::describe();
        metrics::model_loaded(translator.version());
        info!(%worker_id, model_version = translator.version(),
            model_dir = %settings.model_dir.display(), "model loaded");
        Ok(Application {
            settings,
            bus,
            layout,
            slot: ModelSlot::new(translator),
            consumer,
            worker_id,
        })
    }

    /// This worker's id, named on every event it publishes.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The version of the model it serves now.
    pub fn model_version(&self) -> String {
        self.slot.current().version().to_owned()
    }

    /// The model it serves (swapped when a new version is promoted).
    pub fn model_slot(&self) -> &ModelSlot {
        &self.slot
    }

    /// The durable consumer this worker pulls from.
    pub fn consumer(&self) -> &ConsumerSpec {
        &self.consumer
    }

    /// Pulls, batches and translates until `cancel` fires; then stops
    /// pulling and finishes the requests it holds. Beside the consumer runs
    /// the dead-letter watcher, which turns requests the server gave up on
    /// into `deliveries_exhausted` failures. Everything runs inside this
    /// future: dropping it (a crash) acknowledges nothing, and the server
    /// redelivers what it held to another worker after the ack wait.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), WorkerError> {
        let publisher = Publisher {
            bus: self.bus.clone(),
            layout: self.layout.clone(),
            worker_id: self.worker_id.clone(),
            slot: self.slot.clone(),
        };
        let policy = {
            let publisher = publisher.clone();
            self.layout
                .dead_letter_policy(SOURCE)
                .with_hook(move |_bus, dl| publisher.clone().exhausted(dl))
        };
        let max_batch = self.settings.max_batch;
        let (jobs, queued) = mpsc::channel(max_batch * 2);
        let batcher = Batcher {
            slot: self.slot.clone(),
            publisher: publisher.clone(),
            max_batch,
            max_wait: self.settings.max_wait,
            progress_every: self.settings.progress_every,
        };
        // Two batches in hand: one decoding, the next one filling.
        let options = ConsumerOptions {
            concurrency: max_batch * 2,
            dead_letter: policy.clone(),
            ..ConsumerOptions::default()
        };
        let watching = cancel.child_token();
        info!(worker_id = %self.worker_id, stream = %self.consumer.stream,
            consumer = %self.consumer.name, max_batch, "worker started");
        let consuming = async {
            let handler = move |delivery| accept(delivery, publisher.clone(), jobs.clone());
            let consumed =
                run_consumer_with(&self.bus, &self.consumer, options, handler, cancel.clone())
                    .await;
            // The handler (and with it every job sender) is gone: the batcher
            // finishes its last batch and ends; the watcher stops.
            watching.cancel();
            consumed
        };
        let following = async {
            if !self.settings.follow_registry {
                return Ok(());
            }
            follow_production(
                self.bus.clone(),
                self.slot.clone(),
                self.settings.model_cache.clone(),
                self.worker_id.clone(),
                watching.clone(),
            )
            .await
        };
        let (consumed, (), watched, followed) = tokio::join!(
            consuming,
            batcher.run(queued),
            watch_dead_letters(&self.bus, &self.consumer, policy, watching.clone()),
            following,
        );
        consumed?;
        watched?;
        followed?;
        info!(worker_id = %self.worker_id, "worker stopped");
        Ok(())
    }
}

/// The registry's production version, downloaded, verified and smoke-tested;
/// `None` (serve `model_dir`) when there is no registry or no production
/// version yet, or when it cannot be used (then it is rejected with an event).
async fn production_model(
    bus: &Bus,
    settings: &WorkerSettings,
    worker_id: &str,
    options: DecodeOptions,
) -> Option<Translator> {
    let registry = match relais_registry::Registry::open(bus).await {
        Ok(registry) => registry,
        Err(e) => {
            warn!(error = %e, "no model registry; serving model_dir");
            return None;
        }
    };
    let version = match registry.production().await {
        Ok(Some(version)) => version,
        Ok(None) => {
            info!("no production version in the registry yet; serving model_dir");
            return None;
        }
        Err(e) => {
            warn!(error = %e, "cannot read the production alias; serving model_dir");
            return None;
        }
    };
    match prepare(&registry, &version, &settings.model_cache, options).await {
        Ok(translator) => Some(translator),
        Err(reason) => {
            reject(bus, worker_id, &version, None, &reason).await;
            None
        }
    }
}
