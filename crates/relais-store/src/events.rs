//! The event log and its projection into the domain tables.

use chrono::{DateTime, Utc};
use relais_events::{
    AnyEnvelope, AnyEvent, EventError, FeedbackSubmitted, ModelPromoted, ModelRegistered,
    ModelRolledBack, RawEnvelope, TranslationCompleted, TranslationFailed, TranslationRequested,
};
use sqlx::{Any, Transaction};

use crate::store::timestamp;
use crate::{Store, StoreError};

/// What [`Store::record_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time this event was seen: it was logged and projected.
    New,
    /// The event (or a replayed copy of it) was already recorded; nothing changed.
    Duplicate,
}

type Tx = Transaction<'static, Any>;

impl Store {
    /// Records one event from the bus, in one transaction: logs the envelope in
    /// `events` (once per event identity: the `originalid` of a replayed copy,
    /// else the `id`) and, only when it is new, projects it into the domain
    /// tables. Bytes that are not an event envelope, or a known event type whose
    /// data does not match its contract, give [`StoreError::Undecodable`]
    /// (poison). An event type this build does not know is logged, not projected.
    pub async fn record_event(&self, bytes: &[u8]) -> Result<Recorded, StoreError> {
        let raw = RawEnvelope::decode(bytes)?;
        let envelope = match raw.clone().into_any() {
            Ok(envelope) => Some(envelope),
            Err(EventError::UnknownType { found }) => {
                tracing::warn!(event_type = %found, id = %raw.id, "logging an event of unknown type");
                None
            }
            Err(error) => return Err(error.into()),
        };
        // Decoding succeeded, so the bytes are UTF-8 JSON: nothing is replaced.
        let text = String::from_utf8_lossy(bytes);

        let mut tx = self.pool.begin().await?;
        let identity = raw.originalid.unwrap_or(raw.id);
        let inserted = sqlx::query(
            "INSERT INTO events (id, delivered_id, event_type, subject, source, time, received_at, envelope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(identity.to_string())
        .bind(raw.id.to_string())
        .bind(&raw.event_type)
        .bind(envelope.as_ref().map(|e| e.data.subject()))
        .bind(&raw.source)
        .bind(timestamp(raw.time))
        .bind(timestamp(Utc::now()))
        .bind(text.as_ref())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(Recorded::Duplicate);
        }
        if let Some(envelope) = envelope {
            project(&mut tx, &envelope).await?;
        }
        tx.commit().await?;
        Ok(Recorded::New)
    }
}

async fn project(tx: &mut Tx, envelope: &AnyEnvelope) -> Result<(), StoreError> {
    let time = envelope.time;
    match &envelope.data {
        AnyEvent::TranslationRequested(e) => translation_requested(tx, e, time).await,
        AnyEvent::TranslationCompleted(e) => translation_completed(tx, e, time).await,
        AnyEvent::TranslationFailed(e) => translation_failed(tx, e, time).await,
        AnyEvent::FeedbackSubmitted(e) => feedback_submitted(tx, e, time).await,
        AnyEvent::ModelRegistered(e) => model_registered(tx, e, time).await,
        AnyEvent::ModelPromoted(e) => model_promoted(tx, e, time).await,
        AnyEvent::ModelRolledBack(e) => model_rolled_back(tx, e, time).await,
        // Logged only: dataset versions are written by the store itself, the
        // rest (training progress, monitor, dead letters) has no table.
        AnyEvent::DatasetUpdated(_)
        | AnyEvent::ModelRejected(_)
        | AnyEvent::TrainingProgress(_)
        | AnyEvent::MonitorCheck(_)
        | AnyEvent::MonitorAlert(_)
        | AnyEvent::DeadLettered(_) => Ok(()),
    }
}

async fn translation_requested(
    tx: &mut Tx,
    e: &TranslationRequested,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO translations (request_id, status, edge_id, input, client, requested_at) \
         VALUES ($1, 'requested', $2, $3, $4, $5) \
         ON CONFLICT (request_id) DO UPDATE SET client = excluded.client, \
         requested_at = excluded.requested_at",
    )
    .bind(e.request_id.to_string())
    .bind(&e.edge_id)
    .bind(&e.text)
    .bind(e.client.as_deref())
    .bind(timestamp(time))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn translation_completed(
    tx: &mut Tx,
    e: &TranslationCompleted,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO translations (request_id, status, edge_id, input, output, model_version, \
         worker_id, latency_ms, queue_ms, batch_size, completed_at) \
         VALUES ($1, 'completed', $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (request_id) DO UPDATE SET status = 'completed', output = excluded.output, \
         error_reason = NULL, error_message = NULL, model_version = excluded.model_version, \
         worker_id = excluded.worker_id, latency_ms = excluded.latency_ms, \
         queue_ms = excluded.queue_ms, batch_size = excluded.batch_size, \
         completed_at = excluded.completed_at",
    )
    .bind(e.request_id.to_string())
    .bind(&e.edge_id)
    .bind(&e.text)
    .bind(&e.translation)
    .bind(&e.model_version)
    .bind(&e.worker_id)
    .bind(e.latency_ms)
    .bind(e.queue_ms)
    .bind(i64::from(e.batch_size))
    .bind(timestamp(time))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A failure never overwrites a completion (a late failure of a request that a
/// retry already answered).
async fn translation_failed(
    tx: &mut Tx,
    e: &TranslationFailed,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    let reason = serde_json::to_value(e.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO translations (request_id, status, edge_id, input, error_reason, \
         error_message, worker_id, model_version, completed_at) \
         VALUES ($1, 'failed', $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (request_id) DO UPDATE SET status = 'failed', \
         error_reason = excluded.error_reason, error_message = excluded.error_message, \
         worker_id = excluded.worker_id, model_version = excluded.model_version, \
         completed_at = excluded.completed_at \
         WHERE translations.status <> 'completed'",
    )
    .bind(e.request_id.to_string())
    .bind(&e.edge_id)
    .bind(&e.text)
    .bind(reason)
    .bind(&e.message)
    .bind(e.worker_id.as_deref())
    .bind(e.model_version.as_deref())
    .bind(timestamp(time))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn feedback_submitted(
    tx: &mut Tx,
    e: &FeedbackSubmitted,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO feedback (feedback_id, request_id, correction, client, submitted_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (feedback_id) DO NOTHING",
    )
    .bind(e.feedback_id.to_string())
    .bind(e.request_id.to_string())
    .bind(&e.correction)
    .bind(e.client.as_deref())
    .bind(timestamp(time))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn model_registered(
    tx: &mut Tx,
    e: &ModelRegistered,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO model_versions (version, state, bleu, chrf, valid_loss, parent, \
         dataset_version, corpus_hash, created_at, updated_at) \
         VALUES ($1, 'registered', $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (version) DO UPDATE SET bleu = excluded.bleu, chrf = excluded.chrf, \
         valid_loss = excluded.valid_loss, parent = excluded.parent, \
         dataset_version = excluded.dataset_version, corpus_hash = excluded.corpus_hash, \
         created_at = excluded.created_at, updated_at = excluded.updated_at",
    )
    .bind(&e.version)
    .bind(e.metrics.bleu)
    .bind(e.metrics.chrf)
    .bind(e.metrics.valid_loss)
    .bind(e.parent.as_deref())
    .bind(e.dataset_version)
    .bind(&e.corpus_hash)
    .bind(timestamp(e.created_at))
    .bind(timestamp(time))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes `version` the only one in production; the one it replaces is retired.
async fn set_production(tx: &mut Tx, version: &str, time: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE model_versions SET state = 'retired', updated_at = $2 \
         WHERE state = 'production' AND version <> $1",
    )
    .bind(version)
    .bind(time)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO model_versions (version, state, promoted_at, updated_at) \
         VALUES ($1, 'production', $2, $2) \
         ON CONFLICT (version) DO UPDATE SET state = 'production', \
         promoted_at = excluded.promoted_at, updated_at = excluded.updated_at",
    )
    .bind(version)
    .bind(time)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn model_promoted(
    tx: &mut Tx,
    e: &ModelPromoted,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    set_production(tx, &e.version, &timestamp(time)).await
}

async fn model_rolled_back(
    tx: &mut Tx,
    e: &ModelRolledBack,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    let time = timestamp(time);
    sqlx::query(
        "INSERT INTO model_versions (version, state, rolled_back_at, updated_at) \
         VALUES ($1, 'rolled_back', $2, $2) \
         ON CONFLICT (version) DO UPDATE SET state = 'rolled_back', \
         rolled_back_at = excluded.rolled_back_at, updated_at = excluded.updated_at",
    )
    .bind(&e.from_version)
    .bind(&time)
    .execute(&mut **tx)
    .await?;
    set_production(tx, &e.to_version, &time).await
}
