//! The dataset commands' library functions: import (path, URL), export, stats.

use std::io::Write as _;

use relais_audit::dataset::{self, CorpusSource};
use relais_audit::AuditError;
use relais_events::DatasetSource;
use relais_store::{Backend, Store, Table};
use relais_text::TextError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{on_both_backends, TestDb};

on_both_backends!(
    importing_twice_adds_nothing,
    a_malformed_file_changes_nothing
);

const TSV: &str = "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n\
                   Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM)\n\
                   Run!\tCours !\n";

fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> CorpusSource {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    CorpusSource::Path(path)
}

async fn importing_twice_adds_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = write_file(&dir, "fra.txt", TSV);

    let first = dataset::import(&store, &source, false).await.unwrap();
    assert_eq!(
        (first.added, first.skipped, first.dataset_version),
        (3, 0, Some(1))
    );
    let event = first.to_event().expect("a version to announce");
    assert_eq!(
        (event.total_pairs, event.source),
        (3, DatasetSource::Tatoeba)
    );

    let second = dataset::import(&store, &source, false).await.unwrap();
    assert_eq!(
        (second.added, second.skipped, second.dataset_version),
        (0, 3, None)
    );
    assert!(second.to_event().is_none());
    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), 3);
    assert_eq!(store.count(Table::DatasetVersions).await.unwrap(), 1);
    store.close().await;
}

async fn a_malformed_file_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(
        &dir,
        "bad.txt",
        "Go.\tVa !\nHi.\tSalut !\nno tab on this line\nRun!\tCours !\n",
    );
    let err = dataset::import(&store, &bad, false).await.unwrap_err();
    let AuditError::Corpus(TextError::MalformedLine { line, .. }) = &err else {
        panic!("expected a malformed line, got {err:?}");
    };
    assert_eq!(*line, 3);
    assert!(err.to_string().contains("corpus"), "{err}");
    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), 0);
    assert_eq!(store.count(Table::DatasetVersions).await.unwrap(), 0);
    store.close().await;
}

#[tokio::test]
async fn export_writes_the_dataset_and_stats_count_it() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    dataset::import(&store, &write_file(&dir, "fra.txt", TSV), false)
        .await
        .unwrap();
    let out = dir.path().join("export.tsv");
    assert_eq!(dataset::export(&store, &out).await.unwrap(), 3);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text, "Go.\tVa !\nHi.\tSalut !\nRun!\tCours !\n");
    assert!(!dir.path().join("export.tsv.partial").exists());

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.pairs_from(DatasetSource::Tatoeba), 3);
    let printed = dataset::format_stats(&stats);
    assert!(printed.starts_with("pairs: 3 "), "{printed}");
    assert!(printed.contains("tatoeba   3"), "{printed}");
    assert!(printed.contains("v1"), "{printed}");
    assert!(printed.contains("fra.txt"), "{printed}");
    let latest = dataset::latest_version(&store).await.unwrap().unwrap();
    assert_eq!(latest.dataset_version, 1);
    store.close().await;
}

/// Serves `body` once per connection on a local port; returns the URL.
async fn serve(body: Vec<u8>, status: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/zip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/anki/fra-eng.zip")
}

fn zip_of(name: &str, text: &str) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("_about.txt", options).unwrap();
        zip.write_all(b"About this file.\n").unwrap();
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
        zip.finish().unwrap();
    }
    cursor.into_inner()
}

#[tokio::test]
async fn a_zip_is_imported_from_a_url() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    let url = serve(zip_of("fra.txt", TSV), "200 OK").await;
    let source = CorpusSource::parse(&url);
    assert!(matches!(source, CorpusSource::Url(_)));
    let report = dataset::import(&store, &source, false).await.unwrap();
    assert_eq!((report.added, report.dataset_version), (3, Some(1)));
    let versions = store.dataset_versions().await.unwrap();
    assert_eq!(versions[0].provenance, url);

    let missing = serve(Vec::new(), "404 Not Found").await;
    let err = dataset::import(&store, &CorpusSource::parse(&missing), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuditError::HttpStatus { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), 3);
    store.close().await;
}
