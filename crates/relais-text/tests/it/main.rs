//! Integration tests of relais-text: the real corpus, zip/TSV files on disk,
//! tokenizer training and sacreBLEU fixtures.

mod corpus;
mod helpers;
mod metrics;
mod segment;
mod tokenizer;
