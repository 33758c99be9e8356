//! [`TrainerService`]: when to train, and what to do with the result.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use relais_bus::{declare_consumer, run_consumer, Bus, ConsumerSpec, Delivery, Outcome};
use relais_config::TrainerSettings;
use relais_events::{DatasetUpdated, Envelope, TrainingPhase, TrainingProgress};
use relais_model::Progress;
use relais_registry::{Registration, Registry};
use relais_store::{PairFilter, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::judge::{decide, Decision};
use crate::run::{self, RunResult, Start, OUTCOME_FILE, PLAN_FILE};
use crate::{Heldout, TrainerError};

/// CloudEvents `source` of what the trainer publishes.
pub const SOURCE: &str = "relais/trainer";

/// What one run ended with (also `outcome.json` in its directory).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub dataset_version: i64,
    /// The registered candidate.
    pub version: String,
    pub result: RunResult,
    pub decision: Decision,
}

/// The trainer service: settings, connections and the held-out splits.
#[derive(Debug, Clone)]
pub struct TrainerService {
    settings: TrainerSettings,
    bus: Bus,
    store: Store,
    registry: Registry,
    heldout: Arc<Heldout>,
    consumer: ConsumerSpec,
}

fn metrics_progress(p: &TrainingProgress) {
    if let Some(loss) = p.train_loss {
        metrics::gauge!("relais_training_loss").set(loss);
    }
    if let Some(bleu) = p.valid_bleu {
        metrics::gauge!("relais_training_valid_bleu").set(bleu);
    }
    if let Some(tps) = p.tokens_per_s {
        metrics::gauge!("relais_training_tokens_per_second").set(tps);
    }
}

impl TrainerService {
    /// Validates settings, reads the held-out corpus, opens the dataset
    /// store and the registry, declares the `trainer` consumer.
    pub async fn build(
        settings: TrainerSettings,
        database_url: &str,
        bus: Bus,
    ) -> Result<TrainerService, TrainerError> {
        settings.validate()?;
        let (path, n) = (settings.heldout.clone(), settings.heldout_sentences);
        let heldout = tokio::task::spawn_blocking(move || Heldout::load(&path, n))
            .await
            .map_err(|e| TrainerError::Task(e.to_string()))??;
        info!(
            valid = heldout.valid.len(),
            test = heldout.test.len(),
            "held-out splits loaded"
        );
        let store = Store::connect(database_url).await?;
        let registry = Registry::open(&bus).await?;
        let consumer = ConsumerSpec::trainer();
        declare_consumer(&bus, &consumer).await?;
        Ok(TrainerService {
            settings,
            bus,
            store,
            registry,
            heldout: Arc::new(heldout),
            consumer,
        })
    }

    fn runs_dir(&self) -> PathBuf {
        self.settings.work_dir.join("runs")
    }

    /// The newest run directory without an outcome (interrupted), if any.
    fn interrupted(&self) -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.runs_dir())
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(PLAN_FILE).is_file() && !p.join(OUTCOME_FILE).is_file())
            .collect();
        dirs.sort();
        dirs.pop()
    }

    /// The dataset version of the last finished run.
    fn last_trained(&self) -> Option<i64> {
        let mut versions: Vec<i64> = std::fs::read_dir(self.runs_dir())
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join(OUTCOME_FILE)))
            .filter_map(|p| relais_model::artifacts::read_json::<RunReport>(&p).ok())
            .map(|r| r.dataset_version)
            .collect();
        versions.sort_unstable();
        versions.pop()
    }

    async fn current_dataset(&self) -> Result<Option<i64>, TrainerError> {
        Ok(self
            .store
            .dataset_versions()
            .await?
            .iter()
            .map(|v| v.version)
            .max())
    }

    /// Consumes dataset updates and trains until `cancel` fires. At start it
    /// finishes an interrupted run and catches up with a dataset newer than
    /// its last run; later a burst of updates within `coalesce` is one run,
    /// and the schedule retrains when the dataset changed since.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), TrainerError> {
        let (updates_tx, mut updates) = mpsc::unbounded_channel::<i64>();
        let consuming = {
            let bus = self.bus.clone();
            let spec = self.consumer.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let handler = move |delivery: Delivery| {
                    let updates = updates_tx.clone();
                    async move {
                        match delivery.event::<DatasetUpdated>() {
                            Ok(event) => {
                                let _ = updates.send(event.data.dataset_version);
                                Outcome::Done
                            }
                            Err(e) => {
                                warn!(error = %e, "unreadable dataset update");
                                Outcome::Poison(e.to_string())
                            }
                        }
                    }
                };
                run_consumer(&bus, &spec, handler, cancel).await
            })
        };
        if let Some(dir) = self.interrupted() {
            info!(dir = %dir.display(), "resuming an interrupted run");
            self.log_run(self.resume(&dir).await);
        }
        if let (Some(current), last) = (self.current_dataset().await?, self.last_trained()) {
            if last.is_none_or(|l| current > l) {
                info!(current, last = ?last, "the dataset changed since the last run");
                self.log_run(self.train(current).await);
            }
        }
        let mut schedule = tokio::time::interval_at(
            tokio::time::Instant::now() + self.settings.schedule,
            self.settings.schedule,
        );
        info!(schedule = ?self.settings.schedule, coalesce = ?self.settings.coalesce, "trainer started");
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                Some(version) = updates.recv() => {
                    let mut latest = version;
                    // Coalesce a burst: wait until quiet for `coalesce`.
                    loop {
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            Some(v) = updates.recv() => latest = latest.max(v),
                            () = tokio::time::sleep(self.settings.coalesce) => break,
                        }
                    }
                    if cancel.is_cancelled() {
                        break;
                    }
                    if self.last_trained().is_some_and(|l| l >= latest) {
                        info!(latest, "dataset version already trained on");
                        continue;
                    }
                    self.log_run(self.train(latest).await);
                }
                _ = schedule.tick() => {
                    let current = self.current_dataset().await?;
                    if let Some(current) = current.filter(|c| self.last_trained().is_none_or(|l| *c > l)) {
                        self.log_run(self.train(current).await);
                    }
                }
            }
        }
        match consuming.await {
            Ok(consumed) => consumed?,
            Err(e) => return Err(TrainerError::Task(e.to_string())),
        }
        info!("trainer stopped");
        Ok(())
    }

    fn log_run(&self, outcome: Result<RunReport, TrainerError>) {
        match outcome {
            Ok(report) => info!(run = %report.run_id, version = %report.version,
                promoted = report.decision.promote, reason = %report.decision.reason, "run finished"),
            Err(e) => error!(error = %e, "training run failed"),
        }
    }

    /// Trains on dataset `version` now (a new run), then judges, registers
    /// and maybe promotes the candidate.
    pub async fn train(&self, dataset_version: i64) -> Result<RunReport, TrainerError> {
        let run_id = format!(
            "run-{}-d{dataset_version}",
            Utc::now().format("%Y%m%dT%H%M%S%.3f")
        );
        let dir = self.runs_dir().join(&run_id);
        let production = self.production_dir().await?;
        let warm_from = match (&production, self.settings.warm_start) {
            (Some((_, dir)), true) if self.same_shape(dir) => Some(dir.clone()),
            _ => None,
        };
        let start = Start::Fresh {
            run_id: run_id.clone(),
            dataset_version,
            parent: production.as_ref().map(|(v, _)| v.clone()),
            warm_from,
        };
        self.execute(&dir, start, production.map(|(_, d)| d)).await
    }

    /// Continues the interrupted run in `dir`.
    pub async fn resume(&self, dir: &Path) -> Result<RunReport, TrainerError> {
        let production = self.production_dir().await?;
        self.execute(dir, Start::Resume, production.map(|(_, d)| d))
            .await
    }

    /// Whether the model directory has the configured preset's shape.
    fn same_shape(&self, dir: &Path) -> bool {
        relais_model::artifacts::load_card(dir).is_ok_and(|card| {
            relais_model::Config::preset(&self.settings.preset, card.config.vocab)
                .is_ok_and(|preset| preset == card.config)
        })
    }

    /// The production version and its downloaded directory.
    async fn production_dir(&self) -> Result<Option<(String, PathBuf)>, TrainerError> {
        let Some(version) = self.registry.production().await? else {
            return Ok(None);
        };
        let cache = self.settings.work_dir.join("models");
        let dir = self.registry.fetch(&version, &cache).await?;
        Ok(Some((version, dir)))
    }

    async fn execute(
        &self,
        dir: &Path,
        start: Start,
        production: Option<PathBuf>,
    ) -> Result<RunReport, TrainerError> {
        let (run_id, dataset_version) = match &start {
            Start::Fresh {
                run_id,
                dataset_version,
                ..
            } => (run_id.clone(), *dataset_version),
            Start::Resume => {
                let plan = run::plan_of(dir)?;
                (plan.run_id, plan.dataset_version)
            }
        };
        let began = Instant::now();
        let progress = ProgressPublisher::start(self.bus.clone(), run_id.clone());
        progress.phase(TrainingPhase::Started, 0, None);
        let pairs = self
            .store
            .export_pairs(PairFilter {
                after_version: None,
                up_to_version: Some(dataset_version),
            })
            .await?;
        let outcome = {
            let (settings, heldout) = (self.settings.clone(), Arc::clone(&self.heldout));
            let dir = dir.to_path_buf();
            let report = progress.reporter();
            tokio::task::spawn_blocking(move || {
                run::execute(
                    &dir,
                    start,
                    &settings,
                    &heldout,
                    &pairs,
                    production.as_deref(),
                    report,
                )
            })
            .await
            .map_err(|e| TrainerError::Task(e.to_string()))
            .and_then(|r| r)
        };
        let result = match outcome {
            Ok(result) => result,
            Err(e) => {
                progress.failed(&e.to_string(), began.elapsed());
                return Err(e);
            }
        };
        let decision = decide(
            &result.candidate,
            result.production.as_ref(),
            result.same_tokenizer,
            self.settings.promote_margin,
        );
        let plan = run::plan_of(dir)?;
        let entry = self
            .registry
            .register(
                dir,
                Registration {
                    dataset_version,
                    parent: plan.parent.clone(),
                    registered_by: "trainer".into(),
                    note: format!(
                        "{run_id}: {} steps{}; {}",
                        result.steps,
                        if plan.warm_started {
                            ", warm-started from parent"
                        } else {
                            ""
                        },
                        decision.reason
                    ),
                    test_bleu: Some(result.candidate.bleu),
                    test_chrf: Some(result.candidate.chrf),
                },
            )
            .await?;
        if decision.promote {
            match self
                .registry
                .promote(&entry.version, "trainer", &decision.reason)
                .await
            {
                Ok(_) | Err(relais_registry::RegistryError::AlreadyProduction(_)) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            info!(version = %entry.version, reason = %decision.reason, "candidate not promoted");
        }
        self.registry.mark_training_success(Utc::now()).await?;
        let report = RunReport {
            run_id,
            dataset_version,
            version: entry.version,
            result,
            decision,
        };
        let path = dir.join(OUTCOME_FILE);
        relais_model::artifacts::write_json(&path, &report).map_err(|e| TrainerError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        progress.finished(&report, began.elapsed());
        progress.close().await;
        Ok(report)
    }
}

/// Publishes `TrainingProgress` events from the blocking training thread
/// through a channel (publishing never slows training down).
struct ProgressPublisher {
    tx: mpsc::UnboundedSender<TrainingProgress>,
    run_id: String,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressPublisher {
    fn start(bus: Bus, run_id: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<TrainingProgress>();
        let task = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                metrics_progress(&p);
                if let Err(e) = bus.publish_event(&Envelope::new(SOURCE, p)).await {
                    warn!(error = %e, "training progress not published");
                }
            }
        });
        ProgressPublisher { tx, run_id, task }
    }

    fn event(&self, phase: TrainingPhase, step: u64, elapsed: f64) -> TrainingProgress {
        TrainingProgress {
            run_id: self.run_id.clone(),
            phase,
            step,
            total_steps: None,
            train_loss: None,
            valid_loss: None,
            valid_bleu: None,
            tokens_per_s: None,
            elapsed_s: elapsed,
            message: None,
        }
    }

    fn phase(&self, phase: TrainingPhase, step: u64, message: Option<String>) {
        let _ = self.tx.send(TrainingProgress {
            message,
            ..self.event(phase, step, 0.0)
        });
    }

    /// The callback the model's trainer calls on the training thread.
    fn reporter(&self) -> impl FnMut(Progress<'_>) + Send + 'static {
        let tx = self.tx.clone();
        let base = self.event(TrainingPhase::Training, 0, 0.0);
        move |p: Progress<'_>| {
            let event = match p {
                Progress::Train(t) => TrainingProgress {
                    phase: TrainingPhase::Training,
                    step: t.step,
                    train_loss: Some(t.loss),
                    tokens_per_s: Some(t.tokens_per_sec),
                    elapsed_s: t.elapsed_secs,
                    ..base.clone()
                },
                Progress::Valid(v) => TrainingProgress {
                    phase: TrainingPhase::Validating,
                    step: v.step,
                    valid_loss: Some(v.loss),
                    valid_bleu: v.bleu,
                    elapsed_s: v.elapsed_secs,
                    ..base.clone()
                },
            };
            let _ = tx.send(event);
        }
    }

    fn finished(&self, report: &RunReport, took: Duration) {
        let _ = self.tx.send(TrainingProgress {
            phase: TrainingPhase::Finished,
            step: report.result.steps,
            valid_loss: Some(report.result.candidate.valid_loss),
            valid_bleu: Some(report.result.candidate.bleu),
            tokens_per_s: Some(report.result.tokens_per_sec),
            elapsed_s: took.as_secs_f64(),
            message: Some(format!(
                "candidate {}: test BLEU {:.2}, chrF {:.2}; {}: {}",
                report.version,
                report.result.candidate.bleu,
                report.result.candidate.chrf,
                if report.decision.promote {
                    "promoted"
                } else {
                    "not promoted"
                },
                report.decision.reason
            )),
            ..self.event(TrainingPhase::Finished, 0, 0.0)
        });
    }

    fn failed(&self, why: &str, took: Duration) {
        let _ = self.tx.send(TrainingProgress {
            message: Some(why.to_owned()),
            elapsed_s: took.as_secs_f64(),
            ..self.event(TrainingPhase::Failed, 0, 0.0)
        });
    }

    /// Waits until every queued event is published.
    async fn close(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}
