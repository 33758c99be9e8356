//! Reading translations and model versions back.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::store::{parse_timestamp, uuid_column};
use crate::{Store, StoreError};

/// A stored translation request and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslationRecord {
    pub request_id: Uuid,
    /// `requested`, `completed` or `failed`.
    pub status: String,
    pub edge_id: String,
    pub input: String,
    pub output: Option<String>,
    /// The failure category (`deadline_exceeded`, …) of a failed request.
    pub error_reason: Option<String>,
    pub error_message: Option<String>,
    pub model_version: Option<String>,
    pub worker_id: Option<String>,
    pub latency_ms: Option<f64>,
    pub queue_ms: Option<f64>,
    pub batch_size: Option<i64>,
    pub client: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A stored model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersionRecord {
    pub version: String,
    /// `registered`, `production`, `retired` or `rolled_back`.
    pub state: String,
    pub bleu: Option<f64>,
    pub chrf: Option<f64>,
    pub valid_loss: Option<f64>,
    pub parent: Option<String>,
    pub dataset_version: Option<i64>,
    pub corpus_hash: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub promoted_at: Option<DateTime<Utc>>,
    pub rolled_back_at: Option<DateTime<Utc>>,
}

const MODEL_COLUMNS: &str = "version, state, bleu, chrf, valid_loss, parent, dataset_version, \
                             corpus_hash, created_at, promoted_at, rolled_back_at";

impl Store {
    /// A translation request, if recorded.
    pub async fn translation(
        &self,
        request_id: Uuid,
    ) -> Result<Option<TranslationRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT request_id, status, edge_id, input, output, error_reason, error_message, \
             model_version, worker_id, latency_ms, queue_ms, batch_size, client, requested_at, \
             completed_at FROM translations WHERE request_id = $1",
        )
        .bind(request_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TranslationRecord {
            request_id: uuid_column(&row, "request_id")?,
            status: row.try_get("status")?,
            edge_id: row.try_get("edge_id")?,
            input: row.try_get("input")?,
            output: row.try_get("output")?,
            error_reason: row.try_get("error_reason")?,
            error_message: row.try_get("error_message")?,
            model_version: row.try_get("model_version")?,
            worker_id: row.try_get("worker_id")?,
            latency_ms: row.try_get("latency_ms")?,
            queue_ms: row.try_get("queue_ms")?,
            batch_size: row.try_get("batch_size")?,
            client: row.try_get("client")?,
            requested_at: parse_timestamp(
                "translations.requested_at",
                row.try_get("requested_at")?,
            )?,
            completed_at: parse_timestamp(
                "translations.completed_at",
                row.try_get("completed_at")?,
            )?,
        }))
    }

    /// A model version, if recorded.
    pub async fn model_version(
        &self,
        version: &str,
    ) -> Result<Option<ModelVersionRecord>, StoreError> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_versions WHERE version = $1");
        let row = sqlx::query(&sql)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(model_row).transpose()
    }

    /// The version in production, if any.
    pub async fn production_model(&self) -> Result<Option<ModelVersionRecord>, StoreError> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_versions WHERE state = 'production'");
        let row = sqlx::query(&sql).fetch_optional(&self.pool).await?;
        row.as_ref().map(model_row).transpose()
    }
}

fn model_row(row: &AnyRow) -> Result<ModelVersionRecord, StoreError> {
    Ok(ModelVersionRecord {
        version: row.try_get("version")?,
        state: row.try_get("state")?,
        bleu: row.try_get("bleu")?,
        chrf: row.try_get("chrf")?,
        valid_loss: row.try_get("valid_loss")?,
        parent: row.try_get("parent")?,
        dataset_version: row.try_get("dataset_version")?,
        corpus_hash: row.try_get("corpus_hash")?,
        created_at: parse_timestamp("model_versions.created_at", row.try_get("created_at")?)?,
        promoted_at: parse_timestamp("model_versions.promoted_at", row.try_get("promoted_at")?)?,
        rolled_back_at: parse_timestamp(
            "model_versions.rolled_back_at",
            row.try_get("rolled_back_at")?,
        )?,
    })
}
