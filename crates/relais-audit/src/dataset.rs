//! The operator's dataset commands: import a Tatoeba/manythings export (path
//! or URL), export the dataset as TSV, print its statistics, announce its
//! latest version.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use relais_events::{DatasetSource, DatasetUpdated};
use relais_store::{DatasetStats, ImportReport, PairFilter, Store};
use relais_text::corpus::parse_corpus_bytes;
use relais_text::{Corpus, LineMode};
use tokio::io::AsyncWriteExt;

use crate::AuditError;

/// Where a corpus is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorpusSource {
    /// A local zip or TSV file.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
}

impl CorpusSource {
    /// A URL when `arg` starts with `http://` or `https://`, else a path.
    pub fn parse(arg: &str) -> Self {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            CorpusSource::Url(arg.to_owned())
        } else {
            CorpusSource::Path(PathBuf::from(arg))
        }
    }

    /// How the import is described in the dataset's provenance.
    pub fn describe(&self) -> String {
        match self {
            CorpusSource::Path(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            CorpusSource::Url(url) => url.clone(),
        }
    }
}

/// Reads the whole corpus strictly: the first malformed line stops it with an
/// error naming the line. `progress` draws download and import bars on stderr
/// (only when it is a terminal).
pub async fn load_corpus(source: &CorpusSource, progress: bool) -> Result<Corpus, AuditError> {
    let (bytes, name) = match source {
        CorpusSource::Path(path) => {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|source| AuditError::Io {
                    path: path.clone(),
                    source,
                })?;
            (bytes, path.display().to_string())
        }
        CorpusSource::Url(url) => (download(url, progress).await?, url.clone()),
    };
    let corpus =
        tokio::task::spawn_blocking(move || parse_corpus_bytes(&bytes, &name, LineMode::Strict))
            .await
            .map_err(|source| AuditError::Task {
                task: "corpus parser",
                source,
            })??;
    Ok(corpus)
}

/// Imports the corpus at `source` as Tatoeba pairs in one transaction:
/// nothing is written unless every pair is; pairs already present are
/// skipped, so importing twice adds nothing (and writes no version).
pub async fn import(
    store: &Store,
    source: &CorpusSource,
    progress: bool,
) -> Result<ImportReport, AuditError> {
    let corpus = load_corpus(source, progress).await?;
    let bar = bar(progress, Some(corpus.pairs.len() as u64), "pairs");
    let report = store
        .import_pairs(
            corpus.pairs.iter().inspect(|_| bar.inc(1)),
            DatasetSource::Tatoeba,
            &source.describe(),
        )
        .await;
    bar.finish_and_clear();
    Ok(report?)
}

/// Writes every versioned pair as `english TAB french` lines to `path`
/// (through a temporary file renamed at the end); returns the line count.
pub async fn export(store: &Store, path: &Path) -> Result<u64, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut file = tokio::fs::File::create(&partial).await.map_err(io)?;
    let lines = store.write_tsv(&mut file, PairFilter::default()).await?;
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    drop(file);
    tokio::fs::rename(&partial, path).await.map_err(io)?;
    Ok(lines)
}

/// The event announcing the latest dataset version, if there is one.
pub async fn latest_version(store: &Store) -> Result<Option<DatasetUpdated>, AuditError> {
    Ok(store.dataset_versions().await?.last().map(|v| v.to_event()))
}

/// The statistics as the operator reads them.
pub fn format_stats(stats: &DatasetStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pairs: {} (accepted corrections waiting for a version: {})",
        stats.total_pairs, stats.pending_feedback_pairs
    );
    let _ = writeln!(out, "by source:");
    for (source, n) in &stats.by_source {
        let _ = writeln!(out, "  {:<9} {n}", source_name(*source));
    }
    let _ = writeln!(out, "versions:");
    if stats.versions.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for v in &stats.versions {
        let created = v
            .created_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  v{:<4} {:<9} +{:<8} total {:<8} {created}  {}",
            v.version,
            source_name(v.source),
            v.added_pairs,
            v.total_pairs,
            v.provenance
        );
    }
    out
}

fn source_name(source: DatasetSource) -> &'static str {
    match source {
        DatasetSource::Tatoeba => "tatoeba",
        DatasetSource::Feedback => "feedback",
        DatasetSource::Import => "import",
    }
}

async fn download(url: &str, progress: bool) -> Result<Vec<u8>, AuditError> {
    // reqwest is built without a default TLS provider; use ring (no C build).
    // Installing twice is harmless: the first one stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fetch = |source| AuditError::Fetch {
        url: url.to_owned(),
        source,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(fetch)?;
    let mut response = client.get(url).send().await.map_err(fetch)?;
    let status = response.status();
    if !status.is_success() {
        return Err(AuditError::HttpStatus {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let bar = bar(progress, response.content_length(), "bytes");
    let mut body =
        Vec::with_capacity(usize::try_from(response.content_length().unwrap_or(0)).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(fetch)? {
        bar.inc(chunk.len() as u64);
        body.extend_from_slice(&chunk);
    }
    bar.finish_and_clear();
    Ok(body)
}

fn bar(visible: bool, len: Option<u64>, unit: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::no_length(),
    };
    let template = if unit == "bytes" {
        "{spinner} downloading [{bar:40}] {bytes}/{total_bytes} ({eta})"
    } else {
        "{spinner} importing [{bar:40}] {pos}/{len} pairs ({eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert_eq!(
            CorpusSource::parse("https://www.manythings.org/anki/fra-eng.zip"),
            CorpusSource::Url("https://www.manythings.org/anki/fra-eng.zip".into())
        );
        let path = CorpusSource::parse("../shared/data/fra-eng.zip");
        assert_eq!(
            path,
            CorpusSource::Path("../shared/data/fra-eng.zip".into())
        );
        assert_eq!(path.describe(), "fra-eng.zip");
    }
}
