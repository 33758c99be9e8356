//! Dataset import, versions, export and stats.

use relais_events::DatasetSource;
use relais_store::{PairFilter, Store, StoreError, Table, IMPORT_CHUNK_ROWS};
use relais_text::corpus::parse_tsv;
use relais_text::{LineMode, Pair};

use crate::helpers::on_both_backends;

on_both_backends!(
    importing_twice_adds_nothing_the_second_time,
    a_failed_import_leaves_nothing_behind,
    export_then_reimport_round_trips,
    stats_count_by_source_and_version,
);

/// `n` distinct pairs, `tag` keeping sets apart.
fn pairs(tag: &str, n: usize) -> Vec<Pair> {
    (0..n)
        .map(|i| Pair {
            en: format!("{tag} sentence number {i}."),
            fr: format!("{tag} phrase numéro {i}."),
        })
        .collect()
}

async fn importing_twice_adds_nothing_the_second_time(store: Store) {
    let corpus = pairs("a", 2 * IMPORT_CHUNK_ROWS + 17);
    let n = corpus.len() as u64;
    let first = store
        .import_pairs(&corpus, DatasetSource::Tatoeba, "fra-eng.zip")
        .await
        .unwrap();
    assert_eq!(
        (first.added, first.skipped, first.dataset_version),
        (n, 0, Some(1))
    );
    let event = first.to_event().expect("an event");
    assert_eq!((event.added_pairs, event.total_pairs), (n, n));

    let again = store
        .import_pairs(corpus.iter(), DatasetSource::Tatoeba, "fra-eng.zip")
        .await
        .unwrap();
    assert_eq!(
        (again.added, again.skipped, again.dataset_version),
        (0, n, None)
    );
    assert_eq!(again.total_pairs, n);
    assert_eq!(again.to_event(), None);
    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), n as i64);
    assert_eq!(store.count(Table::DatasetVersions).await.unwrap(), 1);

    // Overlapping input (and a pair repeated within it): only the new ones count.
    let mut overlap = pairs("a", 10);
    overlap.extend(pairs("b", 5));
    overlap.push(overlap[12].clone());
    let third = store
        .import_pairs(overlap, DatasetSource::Import, "manual")
        .await
        .unwrap();
    assert_eq!(
        (third.added, third.skipped, third.dataset_version),
        (5, 11, Some(2))
    );
    assert_eq!(third.total_pairs, n + 5);
}

async fn a_failed_import_leaves_nothing_behind(store: Store) {
    store
        .import_pairs(&pairs("old", 3), DatasetSource::Tatoeba, "seed")
        .await
        .unwrap();
    let before = store.stats().await.unwrap();

    // Two full chunks go into the transaction before the bad pair is met.
    let mut corpus = pairs("new", 3 * IMPORT_CHUNK_ROWS);
    let bad = 2 * IMPORT_CHUNK_ROWS + IMPORT_CHUNK_ROWS / 2;
    corpus[bad].fr = "   ".into();
    let err = store
        .import_pairs(&corpus, DatasetSource::Tatoeba, "broken")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidPair { index, .. } if index == bad),
        "{err:?}"
    );
    assert!(!err.is_transient());

    corpus[bad].fr = "une\tcolonne de trop".into();
    let err = store
        .import_pairs(&corpus, DatasetSource::Tatoeba, "broken")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidPair { .. }), "{err:?}");

    assert_eq!(store.count(Table::DatasetPairs).await.unwrap(), 3);
    assert_eq!(store.stats().await.unwrap(), before);
    // The store is still usable, and the next version number is not burnt.
    corpus[bad].fr = "réparée.".into();
    let report = store
        .import_pairs(&corpus, DatasetSource::Tatoeba, "fixed")
        .await
        .unwrap();
    assert_eq!(report.added, 3 * IMPORT_CHUNK_ROWS as u64);
    assert_eq!(report.dataset_version, Some(2));
}

async fn export_then_reimport_round_trips(store: Store) {
    let mut corpus = pairs("x", 1500);
    corpus.push(Pair {
        en: "Where's the café?".into(),
        fr: "Où est le café\u{202F}?".into(),
    });
    store
        .import_pairs(&corpus, DatasetSource::Tatoeba, "fra-eng.zip")
        .await
        .unwrap();
    store
        .import_pairs(&pairs("y", 20), DatasetSource::Import, "extra")
        .await
        .unwrap();

    let mut tsv = Vec::new();
    let lines = store
        .write_tsv(&mut tsv, PairFilter::default())
        .await
        .unwrap();
    assert_eq!(lines, 1521);
    let text = String::from_utf8(tsv).unwrap();
    let parsed = parse_tsv(&text, "export.tsv", LineMode::Strict)
        .unwrap()
        .pairs;
    let exported = store.export_pairs(PairFilter::default()).await.unwrap();
    assert_eq!(parsed, exported);
    assert_eq!(
        &exported[..corpus.len()],
        &corpus[..],
        "input order within a version"
    );

    let only_first = store
        .export_pairs(PairFilter {
            after_version: None,
            up_to_version: Some(1),
        })
        .await
        .unwrap();
    assert_eq!(only_first, corpus);

    // Re-importing the export into the same store adds nothing ...
    let again = store
        .import_pairs(&parsed, DatasetSource::Import, "export.tsv")
        .await
        .unwrap();
    assert_eq!((again.added, again.skipped), (0, 1521));
    // ... and into an empty one rebuilds the same dataset.
    let dir = tempfile::tempdir().unwrap();
    let other = Store::connect(&format!(
        "sqlite://{}/copy.db?mode=rwc",
        dir.path().display()
    ))
    .await
    .unwrap();
    let copy = other
        .import_pairs(&parsed, DatasetSource::Import, "export.tsv")
        .await
        .unwrap();
    assert_eq!(copy.added, 1521);
    assert_eq!(
        other.export_pairs(PairFilter::default()).await.unwrap(),
        exported
    );
    other.close().await;
}

async fn stats_count_by_source_and_version(store: Store) {
    let empty = store.stats().await.unwrap();
    assert_eq!((empty.total_pairs, empty.current_version()), (0, None));
    assert!(empty.by_source.is_empty());

    store
        .import_pairs(&pairs("t", 40), DatasetSource::Tatoeba, "fra-eng.zip")
        .await
        .unwrap();
    store
        .import_pairs(&pairs("i", 7), DatasetSource::Import, "ops")
        .await
        .unwrap();
    store
        .import_pairs(&pairs("t2", 3), DatasetSource::Tatoeba, "fra-eng.zip v2")
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.total_pairs, 50);
    assert_eq!(
        stats.by_source,
        vec![(DatasetSource::Tatoeba, 43), (DatasetSource::Import, 7)]
    );
    assert_eq!(stats.pairs_from(DatasetSource::Feedback), 0);
    assert_eq!(stats.current_version(), Some(3));
    let added: Vec<_> = stats
        .versions
        .iter()
        .map(|v| (v.version, v.added_pairs, v.total_pairs))
        .collect();
    assert_eq!(added, vec![(1, 40, 40), (2, 7, 47), (3, 3, 50)]);
    assert_eq!(stats.versions[1].source, DatasetSource::Import);
    assert_eq!(stats.versions[1].provenance, "ops");
    assert!(stats.versions.iter().all(|v| v.created_at.is_some()));
}
