//! Dynamic batching: every delivery becomes a [`Job`]; the [`Batcher`] closes
//! a batch at `max_batch` jobs or `max_wait` after its first, decodes it on a
//! blocking thread (sending in-progress acks while it runs), publishes each
//! outcome and only then answers the job, so the consumer loop acks a
//! request after its event's PubAck and never before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use relais_bus::{Delivery, Outcome};
use relais_events::{Envelope, FailureReason, TranslationRequested};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, warn};

use crate::metrics;
use crate::publish::{Publisher, Timing};
use crate::{ModelSlot, Translator, WorkerError};

/// How long a request whose outcome could not be published waits before it
/// is redelivered.
const REPUBLISH_AFTER: Duration = Duration::from_secs(1);

/// One request waiting for its batch.
pub(crate) struct Job {
    request: Envelope<TranslationRequested>,
    delivery: Delivery,
    reply: oneshot::Sender<Outcome>,
}

/// The consumer handler: reads the request, answers an expired one at once,
/// hands the others to the batcher and waits for their outcome.
pub(crate) async fn accept(
    delivery: Delivery,
    publisher: Publisher,
    jobs: mpsc::Sender<Job>,
) -> Outcome {
    let request = match delivery.event::<TranslationRequested>() {
        Ok(request) => request,
        Err(e) => return Outcome::Poison(format!("not a translation request: {e}")),
    };
    if request.data.deadline <= Utc::now() {
        return expire(&publisher, &request, &delivery).await;
    }
    let (reply, outcome) = oneshot::channel();
    let job = Job {
        request,
        delivery,
        reply,
    };
    if jobs.send(job).await.is_err() {
        return Outcome::Retry(REPUBLISH_AFTER);
    }
    outcome.await.unwrap_or(Outcome::Retry(REPUBLISH_AFTER))
}

/// Publishes `deadline_exceeded` for a request whose caller gave up; the
/// request is then acknowledged (removed from the work queue) untranslated.
async fn expire(
    publisher: &Publisher,
    request: &Envelope<TranslationRequested>,
    delivery: &Delivery,
) -> Outcome {
    let late = Utc::now() - request.data.deadline;
    let message = format!(
        "the caller's deadline passed {} ms before a worker reached the request",
        late.num_milliseconds().max(0)
    );
    debug!(request_id = %request.data.request_id, "deadline passed, not translating");
    settle(
        publisher
            .failed(
                request,
                delivery.headers(),
                FailureReason::DeadlineExceeded,
                message,
            )
            .await,
    )
}

fn settle(published: Result<(), relais_bus::BusError>) -> Outcome {
    match published {
        Ok(()) => Outcome::Done,
        Err(e) => {
            warn!(error = %e, "outcome not published; the request will be redelivered");
            Outcome::Retry(REPUBLISH_AFTER)
        }
    }
}

/// Collects jobs into batches and runs them, one batch at a time.
pub(crate) struct Batcher {
    pub(crate) slot: ModelSlot,
    pub(crate) publisher: Publisher,
    pub(crate) max_batch: usize,
    pub(crate) max_wait: Duration,
    pub(crate) progress_every: Duration,
}

impl Batcher {
    /// Runs until every sender of `jobs` is gone, finishing the last batch.
    pub(crate) async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(first) = jobs.recv().await {
            let until = tokio::time::Instant::now() + self.max_wait;
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match tokio::time::timeout_at(until, jobs.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    Ok(None) | Err(_) => break,
                }
            }
            self.process(batch).await;
        }
    }

    async fn process(&self, batch: Vec<Job>) {
        let now = Utc::now();
        let (live, expired): (Vec<Job>, Vec<Job>) = batch
            .into_iter()
            .partition(|j| j.request.data.deadline > now);
        for job in expired {
            let outcome = expire(&self.publisher, &job.request, &job.delivery).await;
            let _ = job.reply.send(outcome);
        }
        if live.is_empty() {
            return;
        }
        let queue_ms: Vec<f64> = live
            .iter()
            .map(|j| {
                let wait = (now - j.delivery.published()).to_std().unwrap_or_default();
                metrics::queue_wait(wait);
                wait.as_secs_f64() * 1000.0
            })
            .collect();
        let started = Instant::now();
        let texts: Vec<String> = live.iter().map(|j| j.request.data.text.clone()).collect();
        // The whole batch (and its retries) runs on the model current now.
        let translator = self.slot.current();
        let results = match self.decode(&translator, &live, texts).await {
            Ok(translations) => translations.into_iter().map(Ok).collect(),
            Err(e) if live.len() > 1 => {
                warn!(error = %e, size = live.len(), "batch failed, decoding its requests one by one");
                let mut results = Vec::with_capacity(live.len());
                for job in &live {
                    let one = self
                        .decode(
                            &translator,
                            std::slice::from_ref(job),
                            vec![job.request.data.text.clone()],
                        )
                        .await
                        .map(|mut t| t.pop().unwrap_or_default());
                    results.push(one);
                }
                results
            }
            Err(e) => vec![Err(e)],
        };
        let latency = started.elapsed();
        metrics::batch(live.len(), latency);
        debug!(size = live.len(), ?latency, "batch decoded");
        let size = u32::try_from(live.len()).unwrap_or(u32::MAX);
        let version = translator.version();
        let publishing = live
            .into_iter()
            .zip(results)
            .zip(queue_ms)
            .map(|((job, result), queue_ms)| async move {
                let published = match result {
                    Ok(translation) => {
                        let timing = Timing {
                            latency_ms: latency.as_secs_f64() * 1000.0,
                            queue_ms,
                            batch_size: size,
                        };
                        self.publisher
                            .completed(
                                &job.request,
                                job.delivery.headers(),
                                translation,
                                version,
                                timing,
                            )
                            .await
                    }
                    Err(e) => {
                        error!(request_id = %job.request.data.request_id, error = %e, "translation failed");
                        self.publisher
                            .failed(
                                &job.request,
                                job.delivery.headers(),
                                FailureReason::ModelError,
                                "the model could not translate this text".to_owned(),
                            )
                            .await
                    }
                };
                let _ = job.reply.send(settle(published));
            });
        join_all(publishing).await;
    }

    /// Translates `texts` on a blocking thread, marking `jobs` in progress
    /// every `progress_every` while it runs.
    async fn decode(
        &self,
        translator: &Arc<Translator>,
        jobs: &[Job],
        texts: Vec<String>,
    ) -> Result<Vec<String>, WorkerError> {
        let translator = Arc::clone(translator);
        let mut decoding = tokio::task::spawn_blocking(move || translator.translate_batch(&texts));
        let start = tokio::time::Instant::now() + self.progress_every;
        let mut progress = tokio::time::interval_at(start, self.progress_every);
        loop {
            tokio::select! {
                joined = &mut decoding => {
                    return joined.map_err(|source| WorkerError::Task { task: "decode", source })?;
                }
                _ = progress.tick() => {
                    debug!(size = jobs.len(), "batch still decoding, sending in-progress acks");
                    for (job, sent) in jobs.iter().zip(join_all(jobs.iter().map(|j| j.delivery.in_progress())).await) {
                        if let Err(e) = sent {
                            warn!(request_id = %job.request.data.request_id, error = %e, "in-progress ack failed");
                        }
                    }
                }
            }
        }
    }
}
