//! BLEU and chrF against numbers computed by sacreBLEU itself
//! (`tests/fixtures/make_metrics_fixture.py`).

use std::collections::BTreeMap;

use relais_text::metrics::tokenize_13a;
use relais_text::{corpus_bleu, corpus_chrf};
use serde::Deserialize;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
    sacrebleu_version: String,
    cases: BTreeMap<String, Case>,
    tokenize_13a: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Case {
    hyps: Vec<String>,
    refs: Vec<Vec<String>>,
    bleu: ExpectedBleu,
    chrf: f64,
}

#[derive(Deserialize)]
struct ExpectedBleu {
    score: f64,
    precisions: [f64; 4],
    bp: f64,
    sys_len: usize,
    ref_len: usize,
}

fn fixture() -> Fixture {
    let text = include_str!("../fixtures/sacrebleu_fixture.json");
    serde_json::from_str(text).expect("fixture parses")
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= TOLERANCE
}

#[test]
fn tokenizer_13a_matches_sacrebleu() {
    let fixture = fixture();
    assert!(fixture.tokenize_13a.len() >= 50);
    for (text, expected) in &fixture.tokenize_13a {
        assert_eq!(&tokenize_13a(text), expected, "{text:?}");
    }
}

#[test]
fn bleu_matches_sacrebleu_on_every_case() {
    let fixture = fixture();
    assert_eq!(fixture.sacrebleu_version, "2.6.0");
    assert!(fixture.cases.len() > 30);
    for (name, case) in &fixture.cases {
        let bleu = corpus_bleu(&case.hyps, &case.refs).unwrap();
        let want = &case.bleu;
        assert!(
            close(bleu.score, want.score),
            "{name}: BLEU {} != {}",
            bleu.score,
            want.score
        );
        assert!(
            close(bleu.bp, want.bp),
            "{name}: BP {} != {}",
            bleu.bp,
            want.bp
        );
        assert_eq!(
            (bleu.sys_len, bleu.ref_len),
            (want.sys_len, want.ref_len),
            "{name}"
        );
        for (got, want) in bleu.precisions.iter().zip(&want.precisions) {
            assert!(
                close(*got, *want),
                "{name}: precisions {:?} != {want:?}",
                bleu.precisions
            );
        }
    }
}

#[test]
fn chrf_matches_sacrebleu_on_every_case() {
    for (name, case) in &fixture().cases {
        let chrf = corpus_chrf(&case.hyps, &case.refs).unwrap();
        assert!(
            close(chrf, case.chrf),
            "{name}: chrF {chrf} != {}",
            case.chrf
        );
    }
}

#[test]
fn corpus_figures_are_the_published_ones() {
    // Rounded as sacreBLEU prints them, so a regenerated fixture that drifts is noticed.
    let cases = fixture().cases;
    let multi = &cases["multi_ref_corpus"];
    let single = &cases["single_ref_corpus"];
    let multi_bleu = corpus_bleu(&multi.hyps, &multi.refs).unwrap().score;
    let single_bleu = corpus_bleu(&single.hyps, &single.refs).unwrap().score;
    assert_eq!(format!("{multi_bleu:.2}"), "63.00");
    assert_eq!(format!("{single_bleu:.2}"), "55.69");
    assert_eq!(
        format!("{:.2}", corpus_chrf(&multi.hyps, &multi.refs).unwrap()),
        "73.54"
    );
    assert_eq!(
        format!("{:.2}", corpus_chrf(&single.hyps, &single.refs).unwrap()),
        "66.02"
    );
}
