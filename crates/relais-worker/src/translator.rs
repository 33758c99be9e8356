//! [`Translator`]: a model directory loaded into the inference engine
//! ([`relais_model::Engine`]), translating whole texts in one batched search.
//!
//! Pure computation (no tokio, no NATS); callers run
//! [`Translator::translate_batch`] on a blocking thread. The weights are
//! immutable and every call keeps its own decoder state, so one `Arc<Translator>`
//! serves any number of concurrent callers.

use std::path::{Path, PathBuf};

use relais_model::artifacts::{read_json, CARD_FILE, TOKENIZER_FILE};
use relais_model::infer::search::{translate, SearchOptions};
use relais_model::{Engine, Precision};
use relais_text::{clean_sentence, reassemble, segment, split_long, TextTokenizer};

use crate::WorkerError;

/// A loaded model, its tokenizer and its version. `Send + Sync`: share it
/// with an `Arc`.
pub struct Translator {
    engine: Engine,
    options: DecodeOptions,
    tokenizer: TextTokenizer,
    version: String,
    dir: PathBuf,
    /// `byte_fallback[id]`: the piece is a raw byte (`<0xNN>`), i.e. text the
    /// vocabulary learned from the training data has no subword for.
    byte_fallback: Vec<bool>,
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator")
            .field("version", &self.version)
            .field("dir", &self.dir)
            .finish()
    }
}

/// How a [`Translator`] holds its weights and searches.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecodeOptions {
    /// Weight storage (int8 by default).
    pub precision: Precision,
    /// Greedy (the default) or beam search.
    pub search: SearchOptions,
}

impl DecodeOptions {
    /// The options of the `[worker]` settings (`precision`, `beam`).
    pub fn from_settings(settings: &relais_config::WorkerSettings) -> Result<Self, WorkerError> {
        let precision = settings.precision.parse().map_err(|reason: String| {
            WorkerError::Settings(relais_config::ConfigError::Value {
                key: "worker.precision",
                reason,
            })
        })?;
        Ok(Self {
            precision,
            search: SearchOptions::beam(settings.beam),
        })
    }
}

/// Where one sentence piece's translation goes back.
struct Slot {
    text: usize,
    segment: usize,
}

impl Translator {
    /// Loads `dir` with the default [`DecodeOptions`] (int8, greedy).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, WorkerError> {
        Self::load_with(dir, DecodeOptions::default())
    }

    /// Loads `dir`: `model.json`, `model.safetensors` and `tokenizer.json`.
    /// The version is `model.json`'s `version` when it has one, else the
    /// directory's name. Every problem names the directory and what is wrong.
    pub fn load_with(dir: impl AsRef<Path>, options: DecodeOptions) -> Result<Self, WorkerError> {
        let dir = dir.as_ref().to_path_buf();
        let model_err = |source| WorkerError::Model {
            dir: dir.clone(),
            source,
        };
        let (engine, card) = Engine::load(&dir, options.precision).map_err(model_err)?;
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let tokenizer =
            TextTokenizer::load(&tokenizer_path).map_err(|source| WorkerError::Tokenizer {
                path: tokenizer_path,
                source,
            })?;
        if tokenizer.vocab_size() > card.config.vocab {
            return Err(WorkerError::VocabMismatch {
                dir,
                tokenizer: tokenizer.vocab_size(),
                model: card.config.vocab,
            });
        }
        let version = version_of(&dir);
        let byte_fallback = (0..tokenizer.vocab_size() as u32)
            .map(|id| {
                tokenizer
                    .id_to_token(id)
                    .is_some_and(|t| t.len() == 6 && t.starts_with("<0x") && t.ends_with('>'))
            })
            .collect();
        Ok(Translator {
            engine,
            options,
            tokenizer,
            version,
            dir,
            byte_fallback,
        })
    }

    /// How this translator decodes.
    pub fn options(&self) -> DecodeOptions {
        self.options
    }

    /// The model version named on every completion.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Most tokens of one sentence piece given to the model (the rest of its
    /// `max_len` is the end-of-sentence token).
    pub fn max_tokens(&self) -> usize {
        self.engine.config().max_len.saturating_sub(1).max(1)
    }

    /// Translates each text: cuts it into sentences ([`segment`]), cuts
    /// sentences over [`Translator::max_tokens`] ([`split_long`]), decodes
    /// every piece of every text in one search, and puts each text back
    /// together with its original whitespace. Empty texts give empty
    /// translations. Blocking and CPU-heavy.
    pub fn translate_batch(&self, texts: &[String]) -> Result<Vec<String>, WorkerError> {
        let max_tokens = self.max_tokens();
        let mut segments = Vec::with_capacity(texts.len());
        let mut sources: Vec<Vec<u32>> = Vec::new();
        let mut slots: Vec<(Slot, String)> = Vec::new();
        for (t, text) in texts.iter().enumerate() {
            let segs = segment(text);
            for (s, seg) in segs.iter().enumerate() {
                let sentence = clean_sentence(&seg.text);
                let count = |piece: &str| self.tokenizer.encode(piece).map_or(0, |ids| ids.len());
                for piece in split_long(&sentence, max_tokens, count) {
                    sources.push(self.tokenizer.encode(&piece.text)?);
                    slots.push((
                        Slot {
                            text: t,
                            segment: s,
                        },
                        piece.separator_after,
                    ));
                }
            }
            segments.push(segs);
        }
        self.record_drift(&sources);
        let hyps = translate(&self.engine, &sources, &self.options.search);
        let mut translated: Vec<Vec<String>> = segments
            .iter()
            .map(|segs| vec![String::new(); segs.len()])
            .collect();
        for ((slot, separator), ids) in slots.iter().zip(&hyps) {
            let piece = self.tokenizer.decode(ids)?;
            let out = &mut translated[slot.text][slot.segment];
            out.push_str(piece.trim());
            out.push_str(separator);
        }
        Ok(segments
            .into_iter()
            .zip(translated)
            .map(|(segs, outs)| {
                let pairs: Vec<_> = segs.into_iter().zip(outs).collect();
                reassemble(&pairs)
            })
            .collect())
    }
}

impl Translator {
    /// The data-drift signal: how many input subwords are raw-byte fallbacks
    /// (characters the training data never showed; near zero on Tatoeba-like
    /// input) and how long inputs are, in subwords.
    fn record_drift(&self, sources: &[Vec<u32>]) {
        let fallback = sources
            .iter()
            .flatten()
            .filter(|&&id| self.byte_fallback.get(id as usize).copied().unwrap_or(true))
            .count();
        let lengths: Vec<usize> = sources.iter().map(Vec::len).collect();
        crate::metrics::input_drift(fallback, &lengths);
    }
}

/// `model.json`'s `version` when set, else the directory's name.
fn version_of(dir: &Path) -> String {
    let from_card = read_json::<serde_json::Value>(&dir.join(CARD_FILE))
        .ok()
        .and_then(|card| card.get("version")?.as_str().map(str::to_owned))
        .filter(|v| !v.trim().is_empty());
    from_card.unwrap_or_else(|| {
        let named = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        named
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn translator_is_shareable_across_threads() {
        assert_send_sync::<Translator>();
    }

    #[test]
    fn version_falls_back_to_the_directory_name() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("v42");
        std::fs::create_dir(&dir).expect("mkdir");
        assert_eq!(version_of(&dir), "v42");
        std::fs::write(dir.join(CARD_FILE), r#"{"version": "2026-12-01"}"#).expect("card");
        assert_eq!(version_of(&dir), "2026-12-01");
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = Translator::load("/nonexistent/model").expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/model"), "{err}");
    }
}
