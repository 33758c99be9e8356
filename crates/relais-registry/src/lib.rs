//! The model registry, kept on NATS so that every service sees the same one:
//!
//! - the object store [`OBJECTS`] holds each version's files under
//!   `<version>/<file>` (weights, `model.json`, `tokenizer.json`) and
//!   `<version>/SHA256SUMS`;
//! - the KV bucket [`BUCKET`] holds one [`ModelVersion`] per version under
//!   `version.<version>` and the aliases [`PRODUCTION`] and [`PREVIOUS`]
//!   (values: a version name), plus [`LAST_TRAINING`] (an RFC 3339 time).
//!
//! A version's name is derived from its files' checksums, so registering the
//! same model twice is one version. Promotion and rollback move the aliases
//! with compare-and-set and publish `ModelPromoted` / `ModelRolledBack`;
//! registration publishes `ModelRegistered`. [`Registry::fetch`] downloads a
//! version into a cache directory and verifies every checksum before the
//! directory appears under its final name.

mod error;
mod registry;
mod version;

pub use error::RegistryError;
pub use registry::{Registration, Registry};
pub use version::{ArtifactFile, ModelVersion, VersionMetrics};

/// KV bucket of versions and aliases.
pub const BUCKET: &str = "MODELS";
/// Object store of model files.
pub const OBJECTS: &str = "MODEL_ARTIFACTS";
/// Alias of the version workers serve.
pub const PRODUCTION: &str = "alias.production";
/// Alias of the version production replaced (what a rollback returns to).
pub const PREVIOUS: &str = "alias.previous";
/// When the trainer last finished a run successfully (RFC 3339).
pub const LAST_TRAINING: &str = "trainer.last_success";
/// Files of a version, in upload order.
pub const FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "model.json"];
/// The checksum list stored beside a version's files.
pub const SUMS_FILE: &str = "SHA256SUMS";
