//! The shipped model with int8 weights scores within 0.5 BLEU of its f32
//! weights on the validation split (greedy decoding), and beam search does not
//! lose to greedy there.

use std::path::PathBuf;

use relais_model::infer::search::{translate, SearchOptions};
use relais_model::{Engine, Precision};
use relais_text::{corpus_bleu, group_references, read_pairs, split, SplitConfig, TextTokenizer};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Tatoeba corpus: `RELAIS_CORPUS`, else `../shared/data/fra-eng.zip`
/// beside the repository.
fn corpus() -> PathBuf {
    let path = std::env::var_os("RELAIS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data/fra-eng.zip"));
    assert!(
        path.is_file(),
        "the Tatoeba corpus is not at {} (set RELAIS_CORPUS to its path)",
        path.display()
    );
    path
}

#[test]
fn int8_weights_lose_at_most_half_a_bleu_point_on_the_valid_split() {
    let model = workspace().join("models/default");
    let tok = TextTokenizer::load(model.join("tokenizer.json")).expect("tokenizer");
    let pairs = read_pairs(corpus()).expect("corpus");
    let valid = split(&pairs, &SplitConfig::default()).expect("split").valid;
    let groups = group_references(&valid);
    let english: Vec<&str> = groups.iter().map(|(en, _)| en.as_str()).collect();
    let refs: Vec<Vec<String>> = groups.iter().map(|(_, r)| r.clone()).collect();
    let ids = tok.encode_batch(&english).expect("encode");
    let bleu = |precision: Precision, opts: SearchOptions| -> f64 {
        let (engine, _) = Engine::load(&model, precision).expect("model");
        let hyps: Vec<String> = translate(&engine, &ids, &opts)
            .iter()
            .map(|h| tok.decode(h).expect("decode"))
            .collect();
        corpus_bleu(&hyps, &refs).expect("bleu").score
    };
    let f32_greedy = bleu(Precision::F32, SearchOptions::greedy());
    let int8_greedy = bleu(Precision::Int8, SearchOptions::greedy());
    eprintln!("valid BLEU greedy: f32 {f32_greedy:.2}, int8 {int8_greedy:.2}");
    assert!(
        f32_greedy > 30.0,
        "the shipped model translates: {f32_greedy}"
    );
    assert!(
        int8_greedy >= f32_greedy - 0.5,
        "int8 {int8_greedy:.2} vs f32 {f32_greedy:.2}"
    );
    let int8_beam = bleu(Precision::Int8, SearchOptions::beam(4));
    eprintln!("valid BLEU int8 beam 4: {int8_beam:.2}");
    assert!(
        int8_beam >= int8_greedy - 0.5,
        "beam {int8_beam:.2} vs greedy {int8_greedy:.2}"
    );
}
