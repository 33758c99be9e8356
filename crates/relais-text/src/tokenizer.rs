//! The shared English+French subword tokenizer (BPE, sentencepiece style).
//!
//! - Pre-tokenizer: Metaspace (`▁` marks a preceding ASCII space, one is
//!   prepended). Only U+0020 is a word boundary: no-break spaces (U+00A0,
//!   U+202F) stay inside pieces, so `"Cours\u{202F}!"` survives intact.
//! - Model: BPE trained on the given texts, then extended with the 256 byte
//!   tokens `<0x00>`..`<0xFF>` and byte fallback on. A character absent from
//!   the training text (Cyrillic, emoji, …) is encoded as its UTF-8 bytes, so
//!   nothing becomes `<unk>` and `decode(encode(s)) == s` for any `s` without
//!   `▁` (U+2581, which decodes as a space) and without leading/trailing
//!   spaces (cleaned corpus sentences have neither).
//! - No normaliser: callers pass text cleaned with
//!   [`clean_sentence`](crate::clean_sentence) (NFC).
//! - Vocabulary: `<pad>`=0, `<s>`=1, `</s>`=2, `<unk>`=3, bytes 4..=259, then
//!   the learnt pieces. The special tokens are plain vocabulary entries, not
//!   "added tokens": the text `"<s>"` typed by a user is encoded as ordinary
//!   pieces and never becomes a control id.

use std::path::Path;

use serde_json::{Map, Value};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::sequence::Sequence;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, NormalizerWrapper, PostProcessorWrapper, Tokenizer, TokenizerImpl};

use crate::error::TextError;
use crate::Pair;

/// Padding id.
pub const PAD_ID: u32 = 0;
/// Beginning-of-sentence id.
pub const BOS_ID: u32 = 1;
/// End-of-sentence id.
pub const EOS_ID: u32 = 2;
/// Unknown-token id (unused in practice: byte fallback covers every character).
pub const UNK_ID: u32 = 3;
/// Special tokens in id order.
pub const SPECIAL_TOKENS: [&str; 4] = ["<pad>", "<s>", "</s>", "<unk>"];
/// Default vocabulary size.
pub const DEFAULT_VOCAB_SIZE: usize = 8_000;

const BYTE_TOKENS: usize = 256;
const METASPACE: char = '▁';

/// A trained tokenizer with fixed special ids.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Trains a tokenizer on `texts` (English and French sentences of the
    /// train split, cleaned). `vocab_size` counts the 4 special tokens and
    /// the 256 byte tokens; the result has at most that many entries unless
    /// the training alphabet alone is larger (every character seen in
    /// training is kept).
    pub fn train<I, S>(texts: I, vocab_size: usize) -> Result<Self, TextError>
    where
        I: IntoIterator<Item = S>,
        I::IntoIter: Send,
        S: AsRef<str> + Send,
    {
        let minimum = SPECIAL_TOKENS.len() + BYTE_TOKENS + 1;
        if vocab_size < minimum {
            return Err(TextError::VocabTooSmall {
                requested: vocab_size,
                minimum,
            });
        }
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size - BYTE_TOKENS)
            .min_frequency(0)
            .show_progress(false)
            .special_tokens(
                SPECIAL_TOKENS
                    .iter()
                    .map(|t| AddedToken::from(*t, true))
                    .collect(),
            )
            .build();
        let mut training: TokenizerImpl<
            BPE,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        > = TokenizerImpl::new(BPE::default());
        training.with_pre_tokenizer(Some(PreTokenizerWrapper::Metaspace(metaspace())));
        training
            .train(&mut trainer, texts.into_iter())
            .map_err(|source| TextError::Tokenizer {
                context: "training BPE",
                source,
            })?;
        let bpe = with_byte_tokens(training.get_model())?;

        let mut inner = Tokenizer::new(bpe);
        inner
            .with_pre_tokenizer(Some(PreTokenizerWrapper::Metaspace(metaspace())))
            .with_decoder(Some(DecoderWrapper::Sequence(Sequence::new(vec![
                DecoderWrapper::ByteFallback(ByteFallback::new()),
                DecoderWrapper::Metaspace(metaspace()),
            ]))));
        Self::checked(inner)
    }

    /// Trains on both sides of `pairs`.
    pub fn train_on_pairs(pairs: &[Pair], vocab_size: usize) -> Result<Self, TextError> {
        Self::train(
            pairs.iter().flat_map(|p| [p.en.as_str(), p.fr.as_str()]),
            vocab_size,
        )
    }

    /// Loads a `tokenizer.json` written by [`save`](Self::save).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TextError> {
        let inner = Tokenizer::from_file(path).map_err(|source| TextError::Tokenizer {
            context: "loading tokenizer.json",
            source,
        })?;
        Self::checked(inner)
    }

    /// Parses the bytes of a `tokenizer.json` (for example from an object store).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TextError> {
        let inner = Tokenizer::from_bytes(bytes).map_err(|source| TextError::Tokenizer {
            context: "parsing tokenizer.json",
            source,
        })?;
        Self::checked(inner)
    }

    /// Writes `tokenizer.json` (pretty-printed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TextError> {
        self.inner
            .save(path, true)
            .map_err(|source| TextError::Tokenizer {
                context: "saving tokenizer.json",
                source,
            })
    }

    /// The `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String, TextError> {
        self.inner
            .to_string(true)
            .map_err(|source| TextError::Tokenizer {
                context: "serialising tokenizer.json",
                source,
            })
    }

    /// Token ids of `text`, without special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TextError> {
        let encoding =
            self.inner
                .encode_fast(text, false)
                .map_err(|source| TextError::Tokenizer {
                    context: "encoding",
                    source,
                })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Token ids of each text (in parallel), without special tokens.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TextError> {
        let encodings = self
            .inner
            .encode_batch_fast(texts.to_vec(), false)
            .map_err(|source| TextError::Tokenizer {
                context: "encoding a batch",
                source,
            })?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text of `ids`. Special ids (`<pad>`, `<s>`, `</s>`, `<unk>`) are
    /// skipped, ids outside the vocabulary are ignored, and byte tokens that
    /// do not form valid UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TextError> {
        let kept: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| id as usize >= SPECIAL_TOKENS.len())
            .collect();
        self.inner
            .decode(&kept, false)
            .map_err(|source| TextError::Tokenizer {
                context: "decoding",
                source,
            })
    }

    /// Vocabulary size (special and byte tokens included).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn pad_id(&self) -> u32 {
        PAD_ID
    }

    pub fn bos_id(&self) -> u32 {
        BOS_ID
    }

    pub fn eos_id(&self) -> u32 {
        EOS_ID
    }

    pub fn unk_id(&self) -> u32 {
        UNK_ID
    }

    /// The piece of one id, if it exists.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of one piece, if it exists.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Accepts a tokenizer only if the special and byte tokens sit at their
    /// fixed ids.
    fn checked(inner: Tokenizer) -> Result<Self, TextError> {
        let specials = SPECIAL_TOKENS.iter().copied();
        for (expected, token) in (0u32..).zip(specials) {
            let found = inner.token_to_id(token);
            if found != Some(expected) {
                return Err(TextError::SpecialTokenId {
                    token,
                    expected,
                    found,
                });
            }
        }
        for byte in 0..=255u8 {
            let expected = SPECIAL_TOKENS.len() as u32 + u32::from(byte);
            if inner.token_to_id(&byte_token(byte)) != Some(expected) {
                return Err(TextError::TokenizerJson {
                    context: "byte tokens <0x00>..<0xFF> are not at ids 4..=259",
                    source: None,
                });
            }
        }
        Ok(Self { inner })
    }
}

fn metaspace() -> Metaspace {
    Metaspace::new(METASPACE, PrependScheme::Always, true)
}

fn byte_token(byte: u8) -> String {
    format!("<0x{byte:02X}>")
}

/// Rebuilds a trained BPE with the vocabulary laid out as specials, bytes,
/// learnt pieces (in their trained order), and byte fallback on. Merges refer
/// to pieces by text, so renumbering keeps them valid.
fn with_byte_tokens(trained: &BPE) -> Result<BPE, TextError> {
    let json_err = |context| {
        move |source| TextError::TokenizerJson {
            context,
            source: Some(source),
        }
    };
    let shape_err = |context| TextError::TokenizerJson {
        context,
        source: None,
    };
    let mut json = serde_json::to_value(trained).map_err(json_err("serialising trained BPE"))?;
    let model = json
        .as_object_mut()
        .ok_or_else(|| shape_err("trained BPE is not an object"))?;
    let mut learnt: Vec<(&String, u64)> = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| shape_err("trained BPE has no vocab map"))?
        .iter()
        .map(|(piece, id)| id.as_u64().map(|id| (piece, id)))
        .collect::<Option<_>>()
        .ok_or_else(|| shape_err("trained BPE has a non-integer id"))?;
    learnt.sort_by_key(|&(_, id)| id);

    let mut vocab = Map::new();
    let fixed = SPECIAL_TOKENS
        .iter()
        .map(|t| t.to_string())
        .chain((0..=255u8).map(byte_token));
    for piece in fixed.chain(learnt.into_iter().map(|(piece, _)| piece.clone())) {
        if !vocab.contains_key(&piece) {
            let id = vocab.len();
            vocab.insert(piece, Value::from(id));
        }
    }
    model.insert("vocab".into(), Value::Object(vocab));
    model.insert("byte_fallback".into(), Value::Bool(true));
    model.insert(
        "unk_token".into(),
        Value::from(SPECIAL_TOKENS[UNK_ID as usize]),
    );
    // Through text: BPE's deserialiser borrows strings, which `from_value` cannot lend.
    let text = serde_json::to_string(&json).map_err(json_err("serialising rebuilt BPE"))?;
    serde_json::from_str(&text).map_err(json_err("rebuilding BPE with byte tokens"))
}
