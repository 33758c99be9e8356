//! The `Translator` on a tiny random-weight model: shapes, not quality.

use relais_worker::Translator;

use crate::helpers::{tiny_model_dir, MODEL_VERSION};

#[test]
fn texts_keep_their_sentence_layout_and_order() {
    let root = tempfile::tempdir().expect("tempdir");
    let translator = Translator::load(tiny_model_dir(root.path())).expect("loads");
    assert_eq!(translator.version(), MODEL_VERSION);
    let long = "the cat sleeps on the mat and ".repeat(20) + "it is happy.";
    let texts = vec![
        String::new(),
        "Hello.\n\nHow are you?".to_owned(),
        long,
        "   ".to_owned(),
    ];
    let out = translator.translate_batch(&texts).expect("translates");
    assert_eq!(out.len(), texts.len());
    assert_eq!(out[0], "", "nothing to translate");
    assert_eq!(out[3], "", "whitespace only");
    let paragraphs: Vec<&str> = out[1].split("\n\n").collect();
    assert_eq!(paragraphs.len(), 2, "{:?}", out[1]);
    assert!(!out[2].contains('\n'));
    // The same text alone gives the same translation: a batch does not mix inputs.
    let alone = translator
        .translate_batch(&texts[1..2])
        .expect("translates alone");
    assert_eq!(alone[0], out[1]);
}

/// One `Translator` (the shipped model) used from many threads at once gives
/// exactly what it gives one call at a time, greedy and beam.
#[test]
fn concurrent_use_of_one_translator_equals_sequential_use() {
    use std::sync::Arc;

    use relais_model::infer::search::SearchOptions;
    use relais_worker::DecodeOptions;

    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    let sentences = [
        "I love cats.",
        "Where is the station?",
        "Tom doesn't know what to do. We have to leave now.",
        "She is reading a book in the garden.",
        "Can you help me, please?",
        "It's raining today.",
    ];
    for search in [SearchOptions::greedy(), SearchOptions::beam(4)] {
        let options = DecodeOptions {
            search,
            ..DecodeOptions::default()
        };
        let translator = Arc::new(Translator::load_with(&model, options).expect("loads"));
        let texts: Vec<Vec<String>> = (0..12)
            .map(|i| {
                (0..=i % 4)
                    .map(|j| sentences[(i + j) % sentences.len()].to_owned())
                    .collect()
            })
            .collect();
        let sequential: Vec<Vec<String>> = texts
            .iter()
            .map(|t| translator.translate_batch(t).expect("translates"))
            .collect();
        assert!(sequential[0][0].contains("chat"), "{:?}", sequential[0]);
        let threads: Vec<_> = texts
            .iter()
            .cloned()
            .map(|t| {
                let translator = Arc::clone(&translator);
                std::thread::spawn(move || translator.translate_batch(&t).expect("translates"))
            })
            .collect();
        let concurrent: Vec<Vec<String>> = threads
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        assert_eq!(concurrent, sequential, "{search:?}");
    }
}
