//! The shared tokenizer: training, round trips, fixed ids, save/load.

use std::sync::OnceLock;

use relais_text::tokenizer::{BOS_ID, DEFAULT_VOCAB_SIZE, EOS_ID, PAD_ID, UNK_ID};
use relais_text::{Pair, TextError, TextTokenizer};

use crate::helpers::default_splits;

/// French typography and other traps, each of which must survive a round trip.
const HANDCRAFTED: &[&str] = &[
    "Cours\u{202F}!",
    "Qui est là\u{00A0}?",
    "Attention\u{202F}: il pleut\u{202F}; prends ton parapluie\u{202F}!",
    "Il a dit «\u{00A0}bonjour\u{00A0}» et «\u{202F}au revoir\u{202F}».",
    "C'est l'été, n’est-ce pas\u{2009}?",
    "Aujourd’hui, j'ai 25 ans et 3\u{202F}000 euros.",
    "Élise, Ève et Ça-va-bien sont À l'heure.",
    "Œuvre, cœur, Ægir, naïve, Noël, garçon.",
    "Le 14-Juillet, à 20 h 30 — vraiment…",
    "Tom's dog isn't here. \"Really?\" (Yes!)",
    "Two  spaces and\ttabs are not corpus text but must survive.",
    "Сергей 🙂 見る ‽",
    "<s> </s> <pad> <unk> <0x41> typed by a user",
    "",
];

const TRAINING: &[&str] = &[
    "Cours\u{202F}! Qui est là\u{00A0}? C'est l'été.",
    "Il a dit «\u{00A0}bonjour\u{00A0}». Aujourd’hui, j'ai 25 ans.",
    "Tom's dog isn't here. Really? Yes!",
    "Élise et Ève sont à l'heure. Ça va bien.",
];

fn small() -> &'static TextTokenizer {
    static TOKENIZER: OnceLock<TextTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| TextTokenizer::train(TRAINING.iter().copied(), 400).unwrap())
}

fn round_trip_failures<'a>(tokenizer: &TextTokenizer, sentences: &[&'a str]) -> Vec<&'a str> {
    let encoded = tokenizer.encode_batch(sentences).unwrap();
    sentences
        .iter()
        .zip(encoded)
        .filter(|(s, ids)| tokenizer.decode(ids).unwrap() != **s || ids.contains(&UNK_ID))
        .map(|(s, _)| *s)
        .collect()
}

#[test]
fn handcrafted_french_typography_round_trips() {
    let tokenizer = small();
    assert_eq!(
        round_trip_failures(tokenizer, HANDCRAFTED),
        Vec::<&str>::new()
    );
    for text in HANDCRAFTED {
        assert_eq!(
            tokenizer.decode(&tokenizer.encode(text).unwrap()).unwrap(),
            *text
        );
    }
}

#[test]
fn unseen_characters_fall_back_to_bytes() {
    let tokenizer = small();
    let ids = tokenizer.encode("🙂").unwrap();
    let bytes: Vec<u32> = "🙂".bytes().map(|b| 4 + u32::from(b)).collect();
    assert!(ids.ends_with(&bytes), "{ids:?}");
    assert_eq!(tokenizer.id_to_token(4 + 0xF0).as_deref(), Some("<0xF0>"));
    // An invalid byte sequence decodes to U+FFFD rather than failing.
    assert_eq!(tokenizer.decode(&[4 + 0xF0]).unwrap(), "\u{FFFD}");
}

#[test]
fn specials_have_fixed_ids_and_are_never_produced_by_text() {
    let tokenizer = small();
    assert_eq!(
        (
            tokenizer.pad_id(),
            tokenizer.bos_id(),
            tokenizer.eos_id(),
            tokenizer.unk_id()
        ),
        (0, 1, 2, 3)
    );
    assert_eq!((PAD_ID, BOS_ID, EOS_ID, UNK_ID), (0, 1, 2, 3));
    for (id, token) in ["<pad>", "<s>", "</s>", "<unk>"].into_iter().enumerate() {
        assert_eq!(tokenizer.token_to_id(token), Some(id as u32));
    }
    let ids = tokenizer.encode("<s> </s> <pad> <unk>").unwrap();
    assert!(ids.iter().all(|&id| id > UNK_ID), "{ids:?}");
    // decode skips specials wherever they are
    let hello = tokenizer.encode("Cours\u{202F}!").unwrap();
    let framed: Vec<u32> = [BOS_ID]
        .into_iter()
        .chain(hello)
        .chain([EOS_ID, PAD_ID, PAD_ID])
        .collect();
    assert_eq!(tokenizer.decode(&framed).unwrap(), "Cours\u{202F}!");
}

#[test]
fn vocab_size_is_honoured_and_validated() {
    assert_eq!(small().vocab_size(), 400);
    assert!(matches!(
        TextTokenizer::train(TRAINING.iter().copied(), 200),
        Err(TextError::VocabTooSmall { .. })
    ));
}

#[test]
fn save_and_load_give_identical_encodings() {
    let tokenizer = small();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tokenizer.save(&path).unwrap();
    let loaded = TextTokenizer::load(&path).unwrap();
    let from_bytes = TextTokenizer::from_bytes(tokenizer.to_json().unwrap().as_bytes()).unwrap();
    for text in HANDCRAFTED {
        let ids = tokenizer.encode(text).unwrap();
        assert_eq!(loaded.encode(text).unwrap(), ids);
        assert_eq!(from_bytes.encode(text).unwrap(), ids);
    }
    assert_eq!(loaded.vocab_size(), tokenizer.vocab_size());
}

#[test]
fn load_rejects_a_tokenizer_without_our_special_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let json = small().to_json().unwrap();
    // Swap the ids of <pad> and <s>.
    let swapped =
        json.replacen("\"<pad>\": 0", "\"<pad>\": 1", 1)
            .replacen("\"<s>\": 1", "\"<s>\": 0", 1);
    assert_ne!(swapped, json);
    std::fs::write(&path, swapped).unwrap();
    assert!(matches!(
        TextTokenizer::load(&path),
        Err(TextError::SpecialTokenId {
            token: "<pad>",
            expected: 0,
            found: Some(1)
        })
    ));
    assert!(matches!(
        TextTokenizer::load(dir.path().join("missing.json")),
        Err(TextError::Tokenizer { .. })
    ));
}

/// The real configuration: 8k vocabulary trained on the train split; every
/// held-out sentence (their characters may be unseen in training) and a
/// sample of training sentences must round-trip exactly, without `<unk>`.
#[test]
fn corpus_sentences_round_trip_with_the_default_vocabulary() {
    let splits = default_splits();
    let tokenizer = TextTokenizer::train_on_pairs(&splits.train, DEFAULT_VOCAB_SIZE).unwrap();
    assert_eq!(tokenizer.vocab_size(), DEFAULT_VOCAB_SIZE);
    let sides = |pairs: &'static [Pair]| pairs.iter().flat_map(|p| [p.en.as_str(), p.fr.as_str()]);
    let mut sentences: Vec<&str> = sides(&splits.valid).chain(sides(&splits.test)).collect();
    sentences.extend(sides(&splits.train).step_by(10));
    assert!(sentences.len() > 40_000);
    assert_eq!(
        round_trip_failures(&tokenizer, &sentences),
        Vec::<&str>::new()
    );
}
