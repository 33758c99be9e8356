//! Shared test helpers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use relais_text::{Pair, SplitConfig, Splits};

/// The Tatoeba export kept beside the repository (`../shared/data`).
pub fn corpus_zip() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fra-eng.zip");
    assert!(
        path.is_file(),
        "corpus not found at {} (the repository expects ../shared/data/fra-eng.zip)",
        path.display()
    );
    path
}

/// The full cleaned corpus, read once per test binary.
pub fn full_corpus() -> &'static [Pair] {
    static PAIRS: OnceLock<Vec<Pair>> = OnceLock::new();
    PAIRS.get_or_init(|| relais_text::read_pairs(corpus_zip()).expect("read corpus"))
}

/// The default split of the full corpus, computed once per test binary.
pub fn default_splits() -> &'static Splits {
    static SPLITS: OnceLock<Splits> = OnceLock::new();
    SPLITS
        .get_or_init(|| relais_text::split(full_corpus(), &SplitConfig::default()).expect("split"))
}

/// Writes a zip archive holding `members` (name, content), deflated.
pub fn write_zip(path: &Path, members: &[(&str, &str)]) {
    let file = std::fs::File::create(path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in members {
        zip.start_file(*name, options).expect("start member");
        zip.write_all(content.as_bytes()).expect("write member");
    }
    zip.finish().expect("finish zip");
}
