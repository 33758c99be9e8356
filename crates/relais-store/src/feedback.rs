//! Feedback rows and their curation into training pairs.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::curation::{curate, Rejection, RejectionCode};
use crate::dataset::{insert_pending_feedback_pair, PairInsert};
use crate::store::{parse_timestamp, timestamp, uuid_column};
use crate::{Store, StoreError};

/// Where a feedback row stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackStatus {
    /// Not curated yet.
    Pending,
    /// Accepted: its pair is in `dataset_pairs`.
    Accepted,
    /// Rejected, with the code and reason stored.
    Rejected(Rejection),
}

/// A stored feedback row.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRecord {
    pub feedback_id: Uuid,
    pub request_id: Uuid,
    pub correction: String,
    pub client: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub status: FeedbackStatus,
    pub curated_at: Option<DateTime<Utc>>,
}

/// What curation needs: the correction and the translation it corrects.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackToCurate {
    pub feedback_id: Uuid,
    pub request_id: Uuid,
    pub correction: String,
    /// English source of the corrected translation, if the translation is recorded.
    pub source_en: Option<String>,
    /// The machine translation, if the translation completed.
    pub machine_fr: Option<String>,
}

/// What [`Store::record_feedback_curation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurationRecorded {
    /// Accepted; `added` is false when the same pair was already in the dataset.
    Accepted { added: bool },
    /// Stored as rejected.
    Rejected,
    /// This feedback had already been curated; nothing changed.
    AlreadyCurated,
}

impl Store {
    /// A feedback row, if recorded.
    pub async fn feedback(&self, feedback_id: Uuid) -> Result<Option<FeedbackRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT feedback_id, request_id, correction, client, submitted_at, status, \
             reason_code, reason, curated_at FROM feedback WHERE feedback_id = $1",
        )
        .bind(feedback_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let status: String = row.try_get("status")?;
        let status = match status.as_str() {
            "pending" => FeedbackStatus::Pending,
            "accepted" => FeedbackStatus::Accepted,
            "rejected" => {
                let code: Option<String> = row.try_get("reason_code")?;
                let code = code.unwrap_or_default();
                FeedbackStatus::Rejected(Rejection {
                    code: RejectionCode::parse(&code).ok_or(StoreError::Corrupt {
                        column: "feedback.reason_code",
                        value: code,
                    })?,
                    reason: row
                        .try_get::<Option<String>, _>("reason")?
                        .unwrap_or_default(),
                })
            }
            _ => {
                return Err(StoreError::Corrupt {
                    column: "feedback.status",
                    value: status,
                })
            }
        };
        Ok(Some(FeedbackRecord {
            feedback_id: uuid_column(&row, "feedback_id")?,
            request_id: uuid_column(&row, "request_id")?,
            correction: row.try_get("correction")?,
            client: row.try_get("client")?,
            submitted_at: parse_timestamp("feedback.submitted_at", row.try_get("submitted_at")?)?,
            status,
            curated_at: parse_timestamp("feedback.curated_at", row.try_get("curated_at")?)?,
        }))
    }

    /// The correction and the translation it corrects, for [`curate`].
    pub async fn feedback_to_curate(
        &self,
        feedback_id: Uuid,
    ) -> Result<FeedbackToCurate, StoreError> {
        let row = sqlx::query(
            "SELECT f.feedback_id, f.request_id, f.correction, t.input, t.output \
             FROM feedback f LEFT JOIN translations t ON t.request_id = f.request_id \
             WHERE f.feedback_id = $1",
        )
        .bind(feedback_id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "feedback",
            id: feedback_id.to_string(),
        })?;
        Ok(FeedbackToCurate {
            feedback_id: uuid_column(&row, "feedback_id")?,
            request_id: uuid_column(&row, "request_id")?,
            correction: row.try_get("correction")?,
            source_en: row.try_get("input")?,
            machine_fr: row.try_get("output")?,
        })
    }

    /// Ids of feedback rows not curated yet, oldest first.
    pub async fn pending_feedback(&self, limit: i64) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT feedback_id FROM feedback WHERE status = 'pending' \
             ORDER BY submitted_at, feedback_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| uuid_column(row, "feedback_id"))
            .collect()
    }

    /// Curates one feedback row ([`curate`]) and records the outcome. A
    /// correction of a translation that is not recorded (or did not complete)
    /// gives [`StoreError::NotFound`] and stays pending.
    pub async fn curate_feedback(&self, feedback_id: Uuid) -> Result<CurationRecorded, StoreError> {
        let item = self.feedback_to_curate(feedback_id).await?;
        let (Some(source_en), Some(machine_fr)) = (&item.source_en, &item.machine_fr) else {
            return Err(StoreError::NotFound {
                what: "completed translation",
                id: item.request_id.to_string(),
            });
        };
        let outcome = curate(source_en, machine_fr, &item.correction);
        self.record_feedback_curation(feedback_id, &outcome).await
    }

    /// Stores the curation outcome of a feedback row, in one transaction. An
    /// accepted correction becomes a pending `feedback` pair in `dataset_pairs`
    /// (English source from the translation, provenance naming the feedback
    /// and request ids) until [`Store::publish_feedback_version`] versions it.
    /// A rejection is stored with its code and reason. Curating a row twice
    /// changes nothing.
    pub async fn record_feedback_curation(
        &self,
        feedback_id: Uuid,
        outcome: &Result<(), Rejection>,
    ) -> Result<CurationRecorded, StoreError> {
        let now = timestamp(Utc::now());
        let (status, code, reason) = match outcome {
            Ok(()) => ("accepted", None, None),
            Err(rejection) => (
                "rejected",
                Some(rejection.code.as_str()),
                Some(rejection.reason.as_str()),
            ),
        };
        let mut tx = self.pool.begin().await?;
        // Write first, so that SQLite takes its write lock at the start.
        let updated = sqlx::query(
            "UPDATE feedback SET status = $2, reason_code = $3, reason = $4, curated_at = $5 \
             WHERE feedback_id = $1 AND status = 'pending'",
        )
        .bind(feedback_id.to_string())
        .bind(status)
        .bind(code)
        .bind(reason)
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            let exists = sqlx::query("SELECT 1 FROM feedback WHERE feedback_id = $1")
                .bind(feedback_id.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            tx.rollback().await?;
            return if exists {
                Ok(CurationRecorded::AlreadyCurated)
            } else {
                Err(StoreError::NotFound {
                    what: "feedback",
                    id: feedback_id.to_string(),
                })
            };
        }
        if outcome.is_err() {
            tx.commit().await?;
            return Ok(CurationRecorded::Rejected);
        }
        let row = sqlx::query(
            "SELECT f.request_id, f.correction, t.input FROM feedback f \
             LEFT JOIN translations t ON t.request_id = f.request_id WHERE f.feedback_id = $1",
        )
        .bind(feedback_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let request_id: String = row.try_get("request_id")?;
        let correction: String = row.try_get("correction")?;
        let Some(english) = row.try_get::<Option<String>, _>("input")? else {
            tx.rollback().await?;
            return Err(StoreError::NotFound {
                what: "translation",
                id: request_id,
            });
        };
        let provenance = serde_json::json!({
            "feedback_id": feedback_id.to_string(),
            "request_id": request_id,
        })
        .to_string();
        let added = insert_pending_feedback_pair(
            &mut tx,
            PairInsert {
                english: &relais_text::clean_sentence(&english),
                french: &relais_text::clean_sentence(&correction),
                provenance: &provenance,
                added_at: &now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(CurationRecorded::Accepted { added })
    }
}
