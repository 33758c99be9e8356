//! The crate's single error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while reading a corpus, splitting it,
/// training or using the tokenizer, or scoring translations.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A file could not be opened, read or written.
    #[error("cannot access {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The input looks like a zip archive but cannot be read as one.
    #[error("cannot read zip archive {source_name}")]
    Zip {
        source_name: String,
        #[source]
        source: zip::result::ZipError,
    },

    /// A zip archive holds no `.txt`/`.tsv` member with tab-separated pairs.
    #[error("zip archive {source_name} holds no .txt or .tsv member with tab-separated pairs")]
    NoPairsMember { source_name: String },

    /// The text is not valid UTF-8.
    #[error("{source_name}, line {line}: text is not valid UTF-8")]
    NotUtf8 { source_name: String, line: usize },

    /// A line is not `English<TAB>French[<TAB>attribution]`.
    #[error("{source_name}, line {line}: {problem}")]
    MalformedLine {
        source_name: String,
        line: usize,
        problem: LineProblem,
    },

    /// The corpus is too small for the requested held-out sets.
    #[error(
        "corpus too small to split: {what} needs {needed} distinct English sentences, \
         only {available} were left"
    )]
    CorpusTooSmall {
        what: &'static str,
        needed: usize,
        available: usize,
    },

    /// The `tokenizers` library reported an error.
    #[error("tokenizer: {context}")]
    Tokenizer {
        context: &'static str,
        #[source]
        source: tokenizers::Error,
    },

    /// A tokenizer's (de)serialised model is not what this crate writes.
    #[error("tokenizer model JSON: {context}")]
    TokenizerJson {
        context: &'static str,
        #[source]
        source: Option<serde_json::Error>,
    },

    /// A loaded tokenizer does not put a special token at its fixed id.
    #[error("tokenizer maps special token {token} to {found:?}, expected id {expected}")]
    SpecialTokenId {
        token: &'static str,
        expected: u32,
        found: Option<u32>,
    },

    /// The requested vocabulary cannot hold the special and byte tokens.
    #[error("vocabulary size {requested} is too small: at least {minimum} is needed")]
    VocabTooSmall { requested: usize, minimum: usize },

    /// Hypotheses and reference lists differ in length.
    #[error("{hypotheses} hypotheses but {references} reference lists")]
    LengthMismatch {
        hypotheses: usize,
        references: usize,
    },

    /// A hypothesis has no reference at all.
    #[error("hypothesis {index} has no reference")]
    NoReferences { index: usize },
}

/// Why a corpus line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// No tab: not a pair.
    MissingTab,
    /// More than three tab-separated columns.
    TooManyColumns(usize),
    /// The English column is empty after cleaning.
    EmptyEnglish,
    /// The French column is empty after cleaning.
    EmptyFrench,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingTab => {
                f.write_str("no tab: expected English<TAB>French[<TAB>attribution]")
            }
            Self::TooManyColumns(n) => write!(f, "{n} tab-separated columns, expected 2 or 3"),
            Self::EmptyEnglish => f.write_str("the English side is empty"),
            Self::EmptyFrench => f.write_str("the French side is empty"),
        }
    }
}
