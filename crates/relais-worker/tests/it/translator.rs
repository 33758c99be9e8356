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
