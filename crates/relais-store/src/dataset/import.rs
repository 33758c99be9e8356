//! Writing pairs: imports, accepted corrections, dataset versions.

use std::borrow::Borrow;
use std::fmt::Write as _;

use chrono::Utc;
use relais_events::DatasetSource;
use relais_text::Pair;
use sqlx::{Any, Row, Transaction};

use super::{invalid, pair_key, source_str, DatasetVersion, ImportReport, IMPORT_CHUNK_ROWS};
use crate::store::{parse_timestamp, timestamp};
use crate::{Store, StoreError};

pub(crate) struct PairInsert<'a> {
    pub english: &'a str,
    pub french: &'a str,
    pub provenance: &'a str,
    pub added_at: &'a str,
}

/// Adds an accepted correction as a `feedback` pair without a version yet;
/// false when the pair is already in the dataset.
pub(crate) async fn insert_pending_feedback_pair(
    tx: &mut Transaction<'static, Any>,
    pair: PairInsert<'_>,
) -> Result<bool, StoreError> {
    let added = sqlx::query(
        "INSERT INTO dataset_pairs (pair_key, english, french, source, provenance, \
         dataset_version, position, added_at) VALUES ($1, $2, $3, 'feedback', $4, NULL, 0, $5) \
         ON CONFLICT (pair_key) DO NOTHING",
    )
    .bind(pair_key(pair.english, pair.french))
    .bind(pair.english)
    .bind(pair.french)
    .bind(pair.provenance)
    .bind(pair.added_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(added > 0)
}

/// Opens a new version row (the first write of the transaction, so SQLite
/// takes its write lock at once) and returns its number.
async fn open_version(
    tx: &mut Transaction<'static, Any>,
    source: DatasetSource,
    provenance: &str,
    now: &str,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO dataset_versions (version, source, added_pairs, total_pairs, provenance, created_at) \
         SELECT COALESCE(MAX(version), 0) + 1, $1, 0, 0, $2, $3 FROM dataset_versions \
         RETURNING version",
    )
    .bind(source_str(source))
    .bind(provenance)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Fills in the counts of a version; returns the total of versioned pairs.
async fn close_version(
    tx: &mut Transaction<'static, Any>,
    version: i64,
    added: u64,
) -> Result<u64, StoreError> {
    let total: i64 =
        sqlx::query("SELECT COUNT(*) FROM dataset_pairs WHERE dataset_version IS NOT NULL")
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
    sqlx::query(
        "UPDATE dataset_versions SET added_pairs = $2, total_pairs = $3 WHERE version = $1",
    )
    .bind(version)
    .bind(i64::try_from(added).unwrap_or(i64::MAX))
    .bind(total)
    .execute(&mut **tx)
    .await?;
    Ok(u64::try_from(total).unwrap_or_default())
}

fn insert_chunk_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO dataset_pairs (pair_key, english, french, position, source, provenance, \
         dataset_version, added_at) VALUES ",
    );
    for row in 0..rows {
        let p = 5 + 4 * row;
        let sep = if row == 0 { "" } else { ", " };
        let _ = write!(
            sql,
            "{sep}(${p}, ${}, ${}, ${}, $1, $2, $3, $4)",
            p + 1,
            p + 2,
            p + 3
        );
    }
    sql.push_str(" ON CONFLICT (pair_key) DO NOTHING");
    sql
}

impl Store {
    /// Imports pairs as one new dataset version, in one transaction: either
    /// every new pair is added or (on any error, e.g. an invalid pair late in
    /// the input) none is. Pairs already present are skipped, so importing the
    /// same data again adds nothing and writes no version.
    pub async fn import_pairs<I>(
        &self,
        pairs: I,
        source: DatasetSource,
        provenance: &str,
    ) -> Result<ImportReport, StoreError>
    where
        I: IntoIterator,
        I::Item: Borrow<Pair>,
        I::IntoIter: Send,
    {
        let now = timestamp(Utc::now());
        let mut pairs = pairs.into_iter().enumerate();
        let mut tx = self.pool.begin().await?;
        let version = open_version(&mut tx, source, provenance, &now).await?;
        let (mut added, mut seen) = (0u64, 0u64);
        let mut sql_cache: Option<(usize, String)> = None;
        loop {
            let mut chunk = Vec::with_capacity(IMPORT_CHUNK_ROWS);
            for (index, pair) in pairs.by_ref().take(IMPORT_CHUNK_ROWS) {
                let pair: &Pair = pair.borrow();
                if let Some(reason) = invalid(pair) {
                    // Dropping `tx` rolls back everything written so far.
                    return Err(StoreError::InvalidPair { index, reason });
                }
                let position = i64::try_from(index).unwrap_or(i64::MAX);
                chunk.push((
                    pair_key(&pair.en, &pair.fr),
                    pair.en.clone(),
                    pair.fr.clone(),
                    position,
                ));
            }
            if chunk.is_empty() {
                break;
            }
            seen += chunk.len() as u64;
            let sql = match &sql_cache {
                Some((rows, sql)) if *rows == chunk.len() => sql.clone(),
                _ => {
                    let sql = insert_chunk_sql(chunk.len());
                    sql_cache = Some((chunk.len(), sql.clone()));
                    sql
                }
            };
            let mut query = sqlx::query(&sql)
                .bind(source_str(source))
                .bind(provenance)
                .bind(version)
                .bind(&now);
            for (key, en, fr, position) in chunk {
                query = query.bind(key).bind(en).bind(fr).bind(position);
            }
            added += query.execute(&mut *tx).await?.rows_affected();
        }
        let skipped = seen - added;
        if added == 0 {
            tx.rollback().await?;
            let total = self.versioned_pairs().await?;
            return Ok(ImportReport {
                added,
                skipped,
                dataset_version: None,
                total_pairs: total,
                source,
            });
        }
        let total_pairs = close_version(&mut tx, version, added).await?;
        tx.commit().await?;
        tracing::info!(
            version,
            added,
            skipped,
            source = source_str(source),
            "dataset version written"
        );
        Ok(ImportReport {
            added,
            skipped,
            dataset_version: Some(version),
            total_pairs,
            source,
        })
    }

    /// Gives every accepted correction waiting for a version a new `feedback`
    /// dataset version; `None` when none is waiting. The caller publishes
    /// [`DatasetVersion::to_event`].
    pub async fn publish_feedback_version(&self) -> Result<Option<DatasetVersion>, StoreError> {
        let now = timestamp(Utc::now());
        let mut tx = self.pool.begin().await?;
        let version =
            open_version(&mut tx, DatasetSource::Feedback, "accepted feedback", &now).await?;
        let added = sqlx::query(
            "UPDATE dataset_pairs SET dataset_version = $1 WHERE dataset_version IS NULL",
        )
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let total = close_version(&mut tx, version, added).await?;
        tx.commit().await?;
        Ok(Some(DatasetVersion {
            version,
            source: DatasetSource::Feedback,
            added_pairs: i64::try_from(added).unwrap_or(i64::MAX),
            total_pairs: i64::try_from(total).unwrap_or(i64::MAX),
            provenance: "accepted feedback".to_owned(),
            created_at: parse_timestamp("dataset_versions.created_at", Some(now))?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sql_numbers_parameters_after_the_shared_four() {
        let sql = insert_chunk_sql(2);
        assert!(
            sql.contains("($5, $6, $7, $8, $1, $2, $3, $4), ($9, $10, $11, $12, $1, $2, $3, $4)"),
            "{sql}"
        );
        assert!(sql.ends_with("ON CONFLICT (pair_key) DO NOTHING"));
    }
}
