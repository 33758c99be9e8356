//! Building and running the service: [`Application::build`] →
//! [`Application::run_until_stopped`].

use std::sync::Arc;
use std::time::Duration;

use relais_bus::{
    run_consumer_with, watch_dead_letters, Bus, ConsumerOptions, ConsumerSpec, Subscription,
};
use relais_config::AuditSettings;
use relais_store::{Store, StoreOptions};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::batch::Batcher;
use crate::lookup;
use crate::record::Recorder;
use crate::{AuditError, Layout};

/// How long one pull request waits for a full batch.
const PULL_EXPIRY: Duration = Duration::from_secs(1);

/// CloudEvents `source` of what the audit service publishes.
pub const SOURCE: &str = "relais/audit";

/// A connected audit service: database migrated, stream and consumer declared.
#[derive(Debug)]
pub struct Application {
    settings: AuditSettings,
    bus: Bus,
    layout: Layout,
    store: Store,
    consumer: ConsumerSpec,
    /// Translation lookups, subscribed at build so none is missed before run.
    lookups: Subscription,
}

impl Application {
    /// Validates `settings`, connects to the database (running migrations) and
    /// declares the `EVENTS` stream and the `audit` consumer of `layout`, and
    /// subscribes to translation lookups (answered once running).
    /// Fails when the database is unreachable at start: the process exits and
    /// its supervisor restarts it; outages after start are ridden out.
    pub async fn build(
        settings: AuditSettings,
        bus: Bus,
        layout: Layout,
    ) -> Result<Application, AuditError> {
        settings.validate()?;
        let options = StoreOptions {
            acquire_timeout: settings.db_acquire_timeout,
            ..StoreOptions::default()
        };
        let store = Store::connect_with(settings.database_url.expose(), &options).await?;
        layout.topology(settings.max_deliver).declare(&bus).await?;
        let consumer = layout.audit_consumer(settings.max_deliver);
        let lookups = lookup::subscribe(&bus, &layout).await?;
        Ok(Application {
            settings,
            bus,
            layout,
            store,
            consumer,
            lookups,
        })
    }

    /// The store events are written to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The durable consumer this service reads.
    pub fn consumer(&self) -> &ConsumerSpec {
        &self.consumer
    }

    /// Consumes until `cancel` fires, then finishes the events in flight.
    /// Beside the consumer run the dead-letter watcher (events the server gave
    /// up on), the dataset batcher and the translation lookup responder.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), AuditError> {
        let (accepted, orphans) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let tasks = cancel.child_token();
        let lookups = tokio::spawn(lookup::answer(
            self.bus.clone(),
            self.store.clone(),
            self.lookups,
            tasks.clone(),
        ));
        let batcher = Batcher {
            store: self.store.clone(),
            bus: self.bus.clone(),
            layout: self.layout.clone(),
            source: SOURCE.to_owned(),
            threshold: self.settings.dataset_batch_pairs,
            window: self.settings.dataset_batch_window,
            sweep: self.settings.curation_sweep,
            accepted: Arc::clone(&accepted),
            orphans: Arc::clone(&orphans),
        };
        let batcher = tokio::spawn(batcher.run(tasks.clone()));
        let policy = self.layout.dead_letter_policy(SOURCE);
        let watcher = {
            let (bus, spec, policy, cancel) = (
                self.bus.clone(),
                self.consumer.clone(),
                policy.clone(),
                tasks.clone(),
            );
            tokio::spawn(async move { watch_dead_letters(&bus, &spec, policy, cancel).await })
        };
        let recorder = Arc::new(Recorder {
            store: self.store.clone(),
            layout: self.layout.clone(),
            retry_min: self.settings.retry_min,
            retry_max: self.settings.retry_max,
            accepted,
            orphans,
        });
        let options = ConsumerOptions {
            concurrency: self.settings.concurrency,
            dead_letter: policy,
            // A pull waits for a full batch or this long: short, so that events
            // redelivered one by one after an outage are caught up quickly.
            pull_expiry: PULL_EXPIRY,
        };
        info!(stream = %self.consumer.stream, consumer = %self.consumer.name,
            max_deliver = self.consumer.max_deliver, "audit logger started");
        let consumed = run_consumer_with(
            &self.bus,
            &self.consumer,
            options,
            move |delivery| {
                let recorder = Arc::clone(&recorder);
                async move { recorder.handle(delivery).await }
            },
            cancel.clone(),
        )
        .await;
        tasks.cancel();
        lookups.await.map_err(|source| AuditError::Task {
            task: "lookup responder",
            source,
        })?;
        batcher.await.map_err(|source| AuditError::Task {
            task: "dataset batcher",
            source,
        })?;
        let watched = watcher.await.map_err(|source| AuditError::Task {
            task: "dead-letter watcher",
            source,
        })?;
        self.store.close().await;
        consumed?;
        watched?;
        info!("audit logger stopped");
        Ok(())
    }
}
