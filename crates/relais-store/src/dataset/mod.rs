//! The training dataset: pairs, versions, import and export.
//!
//! Layout:
//! - this module: the types callers see, [`pair_key`], pair validation.
//! - `import`: [`Store::import_pairs`](crate::Store::import_pairs), feedback
//!   versions, the version counter.
//! - `read`: stats, pair lookup, export (as pairs or streamed TSV).

mod import;
mod read;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use relais_events::{DatasetSource, DatasetUpdated};
use relais_text::Pair;
use sha2::{Digest, Sha256};

use crate::StoreError;

pub(crate) use import::{insert_pending_feedback_pair, PairInsert};

/// Pairs per multi-row `INSERT` during an import (4 parameters a row).
pub const IMPORT_CHUNK_ROWS: usize = 200;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Pairs that were not in the dataset and were added.
    pub added: u64,
    /// Pairs already present (or repeated in the input), left alone.
    pub skipped: u64,
    /// The dataset version written, `None` when nothing was added.
    pub dataset_version: Option<i64>,
    /// Versioned pairs in the dataset after the import.
    pub total_pairs: u64,
    /// Where the pairs came from.
    pub source: DatasetSource,
}

impl ImportReport {
    /// The event announcing the new version, when there is one.
    pub fn to_event(&self) -> Option<DatasetUpdated> {
        self.dataset_version.map(|dataset_version| DatasetUpdated {
            dataset_version,
            added_pairs: self.added,
            total_pairs: self.total_pairs,
            source: self.source,
        })
    }
}

/// One dataset version.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetVersion {
    pub version: i64,
    pub source: DatasetSource,
    pub added_pairs: i64,
    pub total_pairs: i64,
    pub provenance: String,
    pub created_at: Option<DateTime<Utc>>,
}

impl DatasetVersion {
    /// The event announcing this version.
    pub fn to_event(&self) -> DatasetUpdated {
        DatasetUpdated {
            dataset_version: self.version,
            added_pairs: u64::try_from(self.added_pairs).unwrap_or_default(),
            total_pairs: u64::try_from(self.total_pairs).unwrap_or_default(),
            source: self.source,
        }
    }
}

/// Counts over the dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetStats {
    /// Pairs that belong to a version.
    pub total_pairs: i64,
    /// Accepted corrections waiting for [`Store::publish_feedback_version`](crate::Store::publish_feedback_version).
    pub pending_feedback_pairs: i64,
    /// Versioned pairs per source, in source order (tatoeba, feedback, import).
    pub by_source: Vec<(DatasetSource, i64)>,
    /// Every version, oldest first.
    pub versions: Vec<DatasetVersion>,
}

impl DatasetStats {
    /// The latest version, if any.
    pub fn current_version(&self) -> Option<i64> {
        self.versions.last().map(|v| v.version)
    }

    /// Versioned pairs from `source`.
    pub fn pairs_from(&self, source: DatasetSource) -> i64 {
        self.by_source
            .iter()
            .find(|(s, _)| *s == source)
            .map_or(0, |(_, n)| *n)
    }
}

/// One stored pair with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRecord {
    pub english: String,
    pub french: String,
    pub source: DatasetSource,
    /// JSON (`{"feedback_id", "request_id"}`) for feedback, the import's note otherwise.
    pub provenance: String,
    /// `None` while an accepted correction waits for a version.
    pub dataset_version: Option<i64>,
}

/// Which versioned pairs an export reads: versions in `(after, up_to]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairFilter {
    /// Only versions strictly after this one.
    pub after_version: Option<i64>,
    /// Only versions up to and including this one.
    pub up_to_version: Option<i64>,
}

/// The natural key of a pair: SHA-256 (lower-case hex) of `english TAB french`.
pub fn pair_key(english: &str, french: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(english.as_bytes());
    hasher.update(b"\t");
    hasher.update(french.as_bytes());
    hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

pub(crate) fn source_str(source: DatasetSource) -> &'static str {
    match source {
        DatasetSource::Tatoeba => "tatoeba",
        DatasetSource::Feedback => "feedback",
        DatasetSource::Import => "import",
    }
}

pub(crate) const SOURCES: [DatasetSource; 3] = [
    DatasetSource::Tatoeba,
    DatasetSource::Feedback,
    DatasetSource::Import,
];

pub(crate) fn parse_source(text: String) -> Result<DatasetSource, StoreError> {
    SOURCES
        .into_iter()
        .find(|s| source_str(*s) == text)
        .ok_or(StoreError::Corrupt {
            column: "source",
            value: text,
        })
}

/// Why a pair cannot be stored (it could not be exported as TSV, or is empty).
pub(crate) fn invalid(pair: &Pair) -> Option<&'static str> {
    let bad = |s: &str| s.contains(['\t', '\n', '\r']);
    if pair.en.trim().is_empty() || pair.fr.trim().is_empty() {
        Some("a side is empty")
    } else if bad(&pair.en) || bad(&pair.fr) {
        Some("a side contains a tab or a line break")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_keys_are_sha256_of_the_tab_joined_pair() {
        // printf 'Hi.\tSalut.' | sha256sum
        assert_eq!(
            pair_key("Hi.", "Salut."),
            "e104b49d08d9e5fb1969fc8bb56d7396b3b9211c0cc3a247b8ef73a8ccf1390a"
        );
        assert_ne!(pair_key("a b", "c"), pair_key("a", "b c"));
        assert_eq!(pair_key("Hi.", "Salut.").len(), 64);
    }

    #[test]
    fn pairs_that_tsv_cannot_carry_are_invalid() {
        let pair = |en: &str, fr: &str| Pair {
            en: en.into(),
            fr: fr.into(),
        };
        assert_eq!(invalid(&pair("Hi.", "Salut.")), None);
        assert!(invalid(&pair(" ", "Salut.")).is_some());
        assert!(invalid(&pair("Hi.", "")).is_some());
        assert!(invalid(&pair("Hi.\tthere", "Salut.")).is_some());
        assert!(invalid(&pair("Hi.", "Sa\nlut.")).is_some());
    }
}
