//! Reading files and splitting the real corpus.

use std::collections::HashSet;

use relais_text::{
    corpus_hash, distinct_english, group_references, read_corpus, read_pairs, split, LineMode,
    LineProblem, Pair, SplitConfig, TextError,
};

use crate::helpers::{corpus_zip, default_splits, full_corpus, write_zip};

#[test]
fn reads_the_tatoeba_zip() {
    let corpus = read_corpus(corpus_zip(), LineMode::Strict).unwrap();
    assert_eq!(corpus.stats.member.as_deref(), Some("fra-eng/fra.txt"));
    assert_eq!(corpus.pairs.len(), 164_469);
    assert_eq!(corpus.stats.skipped_lines, 0);
    let run = Pair {
        en: "Run!".into(),
        fr: "Cours\u{202F}!".into(),
    };
    assert_eq!(corpus.pairs[0].en, "Go.");
    assert!(corpus.pairs.contains(&run), "narrow no-break space kept");
    let nbsp = corpus
        .pairs
        .iter()
        .filter(|p| p.fr.contains('\u{00A0}') || p.fr.contains('\u{202F}'))
        .count();
    assert!(
        nbsp > 10_000,
        "French no-break spaces survive cleaning ({nbsp})"
    );
    assert_eq!(corpus_hash(&corpus.pairs), corpus_hash(full_corpus()));
}

#[test]
fn reads_newer_zip_layout_and_three_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("download.bin"); // recognised by signature, not name
    write_zip(
        &path,
        &[
            ("_about.txt", "** Info **\nCheck for newest version here:\n"),
            (
                "fra.txt",
                "Go.\tVa\u{00A0}!\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n\
                 Hi.\tSalut.\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM)\n",
            ),
        ],
    );
    let corpus = read_corpus(&path, LineMode::Strict).unwrap();
    assert_eq!(corpus.stats.member.as_deref(), Some("fra.txt"));
    let fr: Vec<&str> = corpus.pairs.iter().map(|p| p.fr.as_str()).collect();
    assert_eq!(fr, ["Va\u{00A0}!", "Salut."]);
}

#[test]
fn reads_plain_tsv_and_reports_malformed_lines_in_zips() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("pairs.tsv");
    std::fs::write(&tsv, "Go.\tVa !\nWho?\tQui\u{202F}?\n").unwrap();
    assert_eq!(read_pairs(&tsv).unwrap().len(), 2);

    let zip = dir.path().join("bad.zip");
    write_zip(&zip, &[("fra.txt", "Go.\tVa !\nHi.\n")]);
    match read_pairs(&zip).unwrap_err() {
        TextError::MalformedLine {
            line,
            problem,
            source_name,
        } => {
            assert_eq!((line, problem), (2, LineProblem::MissingTab));
            assert!(source_name.ends_with("bad.zip!fra.txt"), "{source_name}");
        }
        other => panic!("unexpected {other:?}"),
    }

    let empty = dir.path().join("empty.zip");
    write_zip(&empty, &[("_about.txt", "nothing here\n")]);
    assert!(matches!(
        read_pairs(&empty),
        Err(TextError::NoPairsMember { .. })
    ));
    assert!(matches!(
        read_pairs(dir.path().join("missing.zip")),
        Err(TextError::Io { .. })
    ));
}

#[test]
fn split_is_leak_free_and_sized() {
    let all = full_corpus();
    let splits = default_splits();
    assert_eq!(
        splits.train.len() + splits.valid.len() + splits.test.len(),
        all.len()
    );

    let test_en = distinct_english(&splits.test);
    let valid_en = distinct_english(&splits.valid);
    assert!((2_000..2_100).contains(&test_en), "test English {test_en}");
    assert!(
        (2_000..2_100).contains(&valid_en),
        "valid English {valid_en}"
    );

    for side in [|p: &Pair| p.en.clone(), |p: &Pair| p.fr.clone()] {
        let sets: Vec<HashSet<String>> = [&splits.train, &splits.valid, &splits.test]
            .iter()
            .map(|part| part.iter().map(side).collect())
            .collect();
        assert!(sets[0].is_disjoint(&sets[1]));
        assert!(sets[0].is_disjoint(&sets[2]));
        assert!(sets[1].is_disjoint(&sets[2]));
    }

    // The biggest clusters are training data.
    let largest = splits.stats.largest_component;
    assert!(largest > SplitConfig::default().max_held_out_component);
    assert!(splits.stats.oversized_pairs >= largest);
}

#[test]
fn split_is_deterministic_and_order_independent() {
    let all = full_corpus();
    let config = SplitConfig::default();
    let first = default_splits();
    let mut reversed: Vec<Pair> = all.to_vec();
    reversed.reverse();
    let second = split(&reversed, &config).unwrap();
    let as_set = |pairs: &[Pair]| pairs.iter().cloned().collect::<HashSet<Pair>>();
    assert_eq!(as_set(&first.test), as_set(&second.test));
    assert_eq!(as_set(&first.valid), as_set(&second.valid));

    let other_seed = split(
        all,
        &SplitConfig {
            seed: 7,
            ..config.clone()
        },
    )
    .unwrap();
    assert_ne!(as_set(&first.test), as_set(&other_seed.test));
}

#[test]
fn split_refuses_a_corpus_too_small() {
    let pairs: Vec<Pair> = (0..3_000)
        .map(|i| Pair {
            en: format!("en {i}"),
            fr: format!("fr {i}"),
        })
        .collect();
    let err = split(&pairs, &SplitConfig::default()).unwrap_err();
    assert!(
        matches!(
            err,
            TextError::CorpusTooSmall {
                what: "valid",
                needed: 2_000,
                available: 1_000
            }
        ),
        "{err:?}"
    );
    let small = SplitConfig {
        test_english: 100,
        valid_english: 100,
        ..SplitConfig::default()
    };
    let splits = split(&pairs, &small).unwrap();
    assert_eq!(
        (splits.test.len(), splits.valid.len(), splits.train.len()),
        (100, 100, 2_800)
    );
}

#[test]
fn test_references_group_every_test_pair() {
    let test = &default_splits().test;
    let groups = group_references(test);
    assert_eq!(groups.len(), distinct_english(test));
    assert_eq!(
        groups.iter().map(|(_, refs)| refs.len()).sum::<usize>(),
        test.len()
    );
    assert!(
        groups.iter().any(|(_, refs)| refs.len() > 1),
        "multi-reference groups exist"
    );
}
