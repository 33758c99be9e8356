//! Changes to the training dataset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names::subject;
use crate::Event;

/// Where the pairs added to a dataset version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetSource {
    /// The Tatoeba English–French export.
    Tatoeba,
    /// Corrections submitted by users.
    Feedback,
    /// Another import by an operator.
    Import,
}

/// A new dataset version was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatasetUpdated {
    /// The new dataset version.
    pub dataset_version: i64,
    /// Pairs added by this version.
    pub added_pairs: u64,
    /// Pairs in the dataset at this version.
    pub total_pairs: u64,
    /// Origin of the added pairs.
    pub source: DatasetSource,
}

impl Event for DatasetUpdated {
    const TYPE: &'static str = "relais.dataset.updated.v1";

    fn subject(&self) -> String {
        subject::DATASET_UPDATED.to_owned()
    }
}
