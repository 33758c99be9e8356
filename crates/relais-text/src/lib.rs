//! Text processing for Relais: the English–French corpus, the shared subword
//! tokenizer and the translation-quality metrics. Pure computation: no async
//! runtime, no bus, no SQL.
//!
//! Layout:
//! - [`corpus`]: read Tatoeba exports (zip or TSV), clean sentences (NFC,
//!   whitespace, French no-break spaces kept), drop duplicates, hash, and
//!   split by connected component so no sentence crosses splits.
//! - [`tokenizer`]: [`TextTokenizer`], one BPE vocabulary shared by English
//!   and French, Metaspace pieces with byte fallback, fixed special ids.
//! - [`metrics`]: sacreBLEU-compatible corpus BLEU and chrF.
//! - [`segment`]: cut pasted English text into sentences and put the
//!   translations back with the original spacing; cut an over-long sentence
//!   into pieces within the model's token budget.
//! - `error`: [`TextError`], the crate's one error type.

pub mod corpus;
mod error;
pub mod metrics;
pub mod segment;
pub mod tokenizer;

pub use corpus::{
    clean_sentence, corpus_hash, distinct_english, group_references, read_corpus, read_pairs,
    split, Corpus, LineMode, Pair, ReadStats, SplitConfig, SplitStats, Splits,
};
pub use error::{LineProblem, TextError};
pub use metrics::{corpus_bleu, corpus_chrf, Bleu};
pub use segment::{reassemble, segment, split_long, Piece, Segment};
pub use tokenizer::TextTokenizer;
