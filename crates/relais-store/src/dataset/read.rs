//! Reading the dataset: stats, lookups, export.

use futures::TryStreamExt;
use relais_text::Pair;
use sqlx::{Any, Row};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{
    pair_key, parse_source, DatasetStats, DatasetVersion, PairFilter, PairRecord, SOURCES,
};
use crate::store::parse_timestamp;
use crate::{Store, StoreError};

impl Store {
    /// The stored pair `(english, french)`, if present.
    pub async fn pair(
        &self,
        english: &str,
        french: &str,
    ) -> Result<Option<PairRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT english, french, source, provenance, dataset_version FROM dataset_pairs \
             WHERE pair_key = $1",
        )
        .bind(pair_key(english, french))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(PairRecord {
            english: row.try_get("english")?,
            french: row.try_get("french")?,
            source: parse_source(row.try_get("source")?)?,
            provenance: row.try_get("provenance")?,
            dataset_version: row.try_get("dataset_version")?,
        }))
    }

    /// Accepted corrections not yet part of a dataset version.
    pub async fn pending_feedback_pairs(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM dataset_pairs WHERE dataset_version IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    pub(crate) async fn versioned_pairs(&self) -> Result<u64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM dataset_pairs WHERE dataset_version IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or_default())
    }

    /// Every dataset version, oldest first.
    pub async fn dataset_versions(&self) -> Result<Vec<DatasetVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, source, added_pairs, total_pairs, provenance, created_at \
             FROM dataset_versions ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DatasetVersion {
                    version: row.try_get("version")?,
                    source: parse_source(row.try_get("source")?)?,
                    added_pairs: row.try_get("added_pairs")?,
                    total_pairs: row.try_get("total_pairs")?,
                    provenance: row.try_get("provenance")?,
                    created_at: parse_timestamp(
                        "dataset_versions.created_at",
                        row.try_get("created_at")?,
                    )?,
                })
            })
            .collect()
    }

    /// Counts by source and version.
    pub async fn stats(&self) -> Result<DatasetStats, StoreError> {
        let rows = sqlx::query(
            "SELECT source, COUNT(*) FROM dataset_pairs WHERE dataset_version IS NOT NULL \
             GROUP BY source",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_source = Vec::with_capacity(rows.len());
        for row in &rows {
            by_source.push((parse_source(row.try_get(0)?)?, row.try_get::<i64, _>(1)?));
        }
        by_source.sort_by_key(|(source, _)| SOURCES.iter().position(|s| s == source));
        Ok(DatasetStats {
            total_pairs: by_source.iter().map(|(_, n)| n).sum(),
            pending_feedback_pairs: self.pending_feedback_pairs().await?,
            by_source,
            versions: self.dataset_versions().await?,
        })
    }

    /// The versioned pairs selected by `filter`, by version then input order.
    pub async fn export_pairs(&self, filter: PairFilter) -> Result<Vec<Pair>, StoreError> {
        let rows = select_pairs(filter).fetch_all(&self.pool).await?;
        rows.iter().map(row_pair).collect()
    }

    /// Streams the selected pairs as `english TAB french LF` lines (the corpus
    /// format [`relais_text::corpus::parse_tsv`] reads) without holding them in memory;
    /// returns the number of lines written.
    pub async fn write_tsv<W>(&self, writer: &mut W, filter: PairFilter) -> Result<u64, StoreError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut lines = 0u64;
        let mut buffer = tokio::io::BufWriter::new(writer);
        let mut rows = select_pairs(filter).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let pair = row_pair(&row)?;
            buffer.write_all(pair.en.as_bytes()).await?;
            buffer.write_all(b"\t").await?;
            buffer.write_all(pair.fr.as_bytes()).await?;
            buffer.write_all(b"\n").await?;
            lines += 1;
        }
        buffer.flush().await?;
        Ok(lines)
    }
}

fn select_pairs(
    filter: PairFilter,
) -> sqlx::query::Query<'static, Any, sqlx::any::AnyArguments<'static>> {
    sqlx::query(
        "SELECT english, french FROM dataset_pairs WHERE dataset_version IS NOT NULL \
         AND dataset_version > $1 AND dataset_version <= $2 \
         ORDER BY dataset_version, position, added_at, pair_key",
    )
    .bind(filter.after_version.unwrap_or(i64::MIN))
    .bind(filter.up_to_version.unwrap_or(i64::MAX))
}

fn row_pair(row: &sqlx::any::AnyRow) -> Result<Pair, StoreError> {
    Ok(Pair {
        en: row.try_get("english")?,
        fr: row.try_get("french")?,
    })
}
