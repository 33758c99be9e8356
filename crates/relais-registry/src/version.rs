//! What the registry knows about one model version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One file of a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactFile {
    pub name: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    pub bytes: u64,
}

/// Quality figures of a version. `bleu`, `chrf` and `valid_loss` are the
/// validation figures from its `model.json`; `test_*` are filled when the
/// trainer measured the version on the fixed test split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMetrics {
    pub bleu: Option<f64>,
    pub chrf: Option<f64>,
    pub valid_loss: Option<f64>,
    pub test_bleu: Option<f64>,
    pub test_chrf: Option<f64>,
}

/// The `version.<name>` entry of the `MODELS` bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub version: String,
    pub metrics: VersionMetrics,
    /// SHA-256 of the corpus the model was trained from.
    pub corpus_hash: String,
    /// The dataset version it was trained on (0: not from the SQL dataset).
    pub dataset_version: i64,
    /// The version it was trained from, if any.
    pub parent: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who registered it (`trainer`, `dev`, an operator).
    pub registered_by: String,
    /// Free text: how it was made, why it was (not) promoted.
    pub note: String,
    pub files: Vec<ArtifactFile>,
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A version name from the checksums of its files: `m-` and 12 hex digits.
pub(crate) fn version_name(files: &[ArtifactFile]) -> String {
    let mut all = String::new();
    for f in files {
        all.push_str(&f.name);
        all.push(' ');
        all.push_str(&f.sha256);
        all.push('\n');
    }
    format!("m-{}", &sha256_hex(all.as_bytes())[..12])
}

/// The `SHA256SUMS` text of `files` (`<hex>  <name>` lines, as `sha256sum`).
pub(crate) fn sums_text(files: &[ArtifactFile]) -> String {
    files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_checksums() {
        let file = |sha: &str| ArtifactFile {
            name: "model.safetensors".into(),
            sha256: sha.into(),
            bytes: 1,
        };
        let a = version_name(&[file("aa")]);
        assert_eq!(a, version_name(&[file("aa")]));
        assert_ne!(a, version_name(&[file("ab")]));
        assert!(a.starts_with("m-") && a.len() == 14, "{a}");
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sums_look_like_sha256sum_output() {
        let f = ArtifactFile {
            name: "tokenizer.json".into(),
            sha256: "00ff".into(),
            bytes: 2,
        };
        assert_eq!(sums_text(&[f]), "00ff  tokenizer.json\n");
    }
}
