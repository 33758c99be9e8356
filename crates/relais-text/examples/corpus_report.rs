//! Reads the corpus, splits it, trains the tokenizer and checks the round
//! trip on every sentence, printing sizes and timings.
//!
//! `cargo run -p relais-text --release --example corpus_report -- [ZIP] [VOCAB] [OUT_DIR]`

use std::time::Instant;

use relais_text::{
    corpus_hash, distinct_english, read_corpus, split, LineMode, SplitConfig, TextTokenizer,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let zip = args
        .next()
        .unwrap_or_else(|| "../shared/data/fra-eng.zip".into());
    let vocab: usize = args.next().map_or(Ok(8_000), |v| v.parse())?;
    let out_dir = args.next();

    let start = Instant::now();
    let corpus = read_corpus(&zip, LineMode::Strict)?;
    println!(
        "read {} pairs from {:?} in {:.2?} ({} lines, {} blank, {} duplicates dropped)",
        corpus.pairs.len(),
        corpus.stats.member,
        start.elapsed(),
        corpus.stats.lines,
        corpus.stats.blank_lines,
        corpus.stats.duplicates
    );
    println!("corpus sha256 {}", corpus_hash(&corpus.pairs));

    let start = Instant::now();
    let config = SplitConfig::default();
    let splits = split(&corpus.pairs, &config)?;
    println!(
        "split in {:.2?} with {config:?}: {:?}",
        start.elapsed(),
        splits.stats
    );
    for (name, part) in [
        ("train", &splits.train),
        ("valid", &splits.valid),
        ("test", &splits.test),
    ] {
        println!(
            "  {name:5} {:7} pairs, {:6} distinct English, sha256 {}",
            part.len(),
            distinct_english(part),
            &corpus_hash(part)[..16]
        );
    }

    let start = Instant::now();
    let tokenizer = TextTokenizer::train_on_pairs(&splits.train, vocab)?;
    println!(
        "trained BPE (requested {vocab}, got {}) on train split in {:.2?}",
        tokenizer.vocab_size(),
        start.elapsed()
    );

    let start = Instant::now();
    let sentences: Vec<&str> = corpus
        .pairs
        .iter()
        .flat_map(|p| [p.en.as_str(), p.fr.as_str()])
        .collect();
    let encoded = tokenizer.encode_batch(&sentences)?;
    let (mut failures, mut tokens, mut byte_tokens) = (0usize, 0usize, 0usize);
    for (sentence, ids) in sentences.iter().zip(&encoded) {
        tokens += ids.len();
        byte_tokens += ids.iter().filter(|&&id| (4..260).contains(&id)).count();
        if tokenizer.decode(ids)? != *sentence {
            failures += 1;
            if failures <= 5 {
                println!("  round trip FAILED: {sentence:?}");
            }
        }
    }
    println!(
        "round trip over {} sentences in {:.2?}: {failures} failures; {:.2} tokens/sentence, {byte_tokens} byte-fallback tokens",
        sentences.len(),
        start.elapsed(),
        tokens as f64 / sentences.len() as f64
    );
    if let Some(dir) = out_dir {
        let path = std::path::Path::new(&dir).join("tokenizer.json");
        tokenizer.save(&path)?;
        println!("saved {}", path.display());
    }
    Ok(())
}
