//! `relais train`, `relais eval` and `relais translate`: the model's command line.
//!
//! Training reads the Tatoeba corpus, splits it (leak-free, fixed seed), trains
//! the shared tokenizer on the train split when the output directory has none,
//! and runs the resumable trainer of `relais-model`; the output directory is a
//! model directory (`model.safetensors`, `model.json`, `tokenizer.json`) plus
//! `checkpoints/` and `metrics.json`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use relais_model::artifacts::{Provenance, TOKENIZER_FILE};
use relais_model::batch::SplitMix;
use relais_model::infer::search::{self, SearchOptions};
use relais_model::{Config, Pair, Scores, TrainData, TrainOptions, Trainer};
use relais_model::{Engine, Precision};
use relais_text::{
    clean_sentence, corpus_bleu, corpus_chrf, corpus_hash, group_references, read_pairs, split,
    SplitConfig, TextTokenizer,
};

/// Model subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Train (or resume training) a translation model on a Tatoeba export.
    Train(TrainArgs),
    /// Score a model with corpus BLEU and chrF on a test set.
    Eval(EvalArgs),
    /// Translate English lines from stdin into French lines on stdout.
    Translate(TranslateArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The corpus: a manythings.org zip or a tab-separated file.
    #[arg(long, value_name = "PATH")]
    corpus: PathBuf,
    /// The run / model directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A model configuration file (JSON, the `Config` fields).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    config: Option<PathBuf>,
    /// A named configuration: `base` (the shipped shape) or `tiny`.
    #[arg(long, default_value = "base")]
    preset: String,
    /// Continue from the latest checkpoint in DIR.
    #[arg(long)]
    resume: bool,
    /// Start a new run from the weights (and tokenizer) of this model
    /// directory instead of random weights; its step count carries over.
    #[arg(long, value_name = "MODEL_DIR", conflicts_with_all = ["resume", "config"])]
    init_from: Option<PathBuf>,
    /// Stop when the run reaches this many optimiser steps (over all sessions).
    #[arg(long)]
    max_steps: Option<u64>,
    /// Stop after this many minutes of this session.
    #[arg(long)]
    max_minutes: Option<f64>,
    /// Padded tokens per batch.
    #[arg(long, default_value_t = 4096)]
    max_tokens: usize,
    /// Peak learning rate (reached after the warm-up).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 300)]
    warmup: u64,
    /// Validate (loss, greedy BLEU/chrF) every N steps.
    #[arg(long, default_value_t = 500)]
    eval_every: u64,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 200)]
    checkpoint_every: u64,
    /// Stop after N validations without improvement (0: never).
    #[arg(long, default_value_t = 10)]
    patience: usize,
    /// Validation sentences (a fixed random sample) translated for BLEU/chrF.
    #[arg(long, default_value_t = 1000)]
    bleu_sentences: usize,
    /// Vocabulary size of a newly trained tokenizer.
    #[arg(long, default_value_t = 8000)]
    vocab_size: usize,
    /// Seed of batching and dropout.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model directory.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// The corpus zip (its test split is used) or a tab-separated English/French file.
    #[arg(long, value_name = "FILE")]
    test: PathBuf,
    #[command(flatten)]
    decode: DecodeFlags,
}

/// How to decode: weight precision and search.
#[derive(Debug, Args)]
pub struct DecodeFlags {
    /// Beam width (1: greedy decoding).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    beam: u16,
    /// Beam hypotheses are ranked by log-probability / length^PENALTY.
    #[arg(long, default_value_t = 1.0)]
    length_penalty: f32,
    /// Weights in memory: int8 (quantised per channel) or f32 (as trained).
    #[arg(long, default_value = "int8")]
    precision: Precision,
}

impl DecodeFlags {
    fn search(&self) -> SearchOptions {
        SearchOptions {
            beam: usize::from(self.beam),
            length_penalty: self.length_penalty,
            forced_len: None,
        }
    }

    fn describe(&self) -> String {
        match self.beam {
            1 => format!("greedy, {}", self.precision),
            k => format!(
                "beam {k}, length penalty {}, {}",
                self.length_penalty, self.precision
            ),
        }
    }
}

#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// A model directory.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    #[command(flatten)]
    decode: DecodeFlags,
}

/// Runs a model subcommand.
pub fn run(cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::Train(args) => train(args),
        ModelCommand::Eval(args) => eval(args),
        ModelCommand::Translate(args) => translate(args),
    }
}

fn encode_all(tok: &TextTokenizer, texts: &[&str]) -> anyhow::Result<Vec<Vec<u32>>> {
    tok.encode_batch(texts).context("tokenizing")
}

/// Token-id pairs; for validation the first `groups.len()` pairs hold one
/// reference of each distinct English sentence, in group order.
fn encode_pairs(tok: &TextTokenizer, pairs: &[relais_text::Pair]) -> anyhow::Result<Vec<Pair>> {
    let en: Vec<&str> = pairs.iter().map(|p| p.en.as_str()).collect();
    let fr: Vec<&str> = pairs.iter().map(|p| p.fr.as_str()).collect();
    let (en, fr) = (encode_all(tok, &en)?, encode_all(tok, &fr)?);
    Ok(en
        .into_iter()
        .zip(fr)
        .map(|(src, tgt)| Pair { src, tgt })
        .collect())
}

/// Seed of the order of the validation sentences.
const VALID_ORDER_SEED: u64 = 0x7A11_DA7E;

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let device = relais_model::default_device()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let all = read_pairs(&args.corpus)
        .with_context(|| format!("reading corpus {}", args.corpus.display()))?;
    let split_cfg = SplitConfig::default();
    let splits = split(&all, &split_cfg).context("splitting the corpus")?;
    eprintln!(
        "corpus: {} pairs -> train {}, valid {}, test {}",
        all.len(),
        splits.train.len(),
        splits.valid.len(),
        splits.test.len()
    );
    let tok_path = args.out.join(TOKENIZER_FILE);
    if let Some(init) = &args.init_from {
        let from = init.join(TOKENIZER_FILE);
        if !tok_path.is_file() {
            std::fs::copy(&from, &tok_path)
                .with_context(|| format!("copying {} into the run", from.display()))?;
        } else if std::fs::read(&from).ok() != std::fs::read(&tok_path).ok() {
            bail!(
                "{} holds another tokenizer than {}",
                args.out.display(),
                init.display()
            );
        }
    }
    let tok = if tok_path.is_file() {
        TextTokenizer::load(&tok_path).with_context(|| format!("loading {}", tok_path.display()))?
    } else {
        eprintln!(
            "training a {}-piece tokenizer on the train split",
            args.vocab_size
        );
        let tok = TextTokenizer::train_on_pairs(&splits.train, args.vocab_size)
            .context("training the tokenizer")?;
        tok.save(&tok_path)
            .with_context(|| format!("saving {}", tok_path.display()))?;
        tok
    };
    let train_pairs = encode_pairs(&tok, &splits.train)?;
    // Validation: first one pair per distinct English sentence (BLEU sample, in
    // group order), then the remaining pairs (loss only).
    // The corpus is sorted by length: shuffle (fixed seed) so any prefix used
    // for BLEU is a fair sample.
    let mut groups = group_references(&splits.valid);
    SplitMix::new(VALID_ORDER_SEED).shuffle(&mut groups);
    let mut ordered: Vec<relais_text::Pair> = groups
        .iter()
        .map(|(en, refs)| relais_text::Pair {
            en: en.clone(),
            fr: refs[0].clone(),
        })
        .collect();
    for (en, refs) in &groups {
        ordered.extend(refs[1..].iter().map(|fr| relais_text::Pair {
            en: en.clone(),
            fr: fr.clone(),
        }));
    }
    let valid_pairs = encode_pairs(&tok, &ordered)?;
    let refs: Vec<Vec<String>> = groups.into_iter().map(|(_, r)| r).collect();
    let score = |hyps: &[Vec<u32>]| -> Scores {
        let text: Vec<String> = hyps
            .iter()
            .map(|h| tok.decode(h).unwrap_or_default())
            .collect();
        let r = &refs[..text.len()];
        Scores {
            bleu: corpus_bleu(&text, r).map(|b| b.score).unwrap_or(0.0),
            chrf: corpus_chrf(&text, r).unwrap_or(0.0),
        }
    };
    let opts = TrainOptions {
        max_tokens: args.max_tokens,
        peak_lr: args.lr,
        warmup_steps: args.warmup,
        max_steps: args.max_steps,
        max_minutes: args.max_minutes,
        eval_every: args.eval_every,
        checkpoint_every: args.checkpoint_every,
        patience: (args.patience > 0).then_some(args.patience),
        valid_bleu_pairs: args.bleu_sentences,
        seed: args.seed,
        provenance: Provenance {
            corpus_sha256: corpus_hash(&all),
            split_seed: split_cfg.seed,
            train_pairs: splits.train.len(),
            valid_pairs: splits.valid.len(),
        },
        ..TrainOptions::default()
    };
    let mut trainer = if args.resume {
        let t = Trainer::resume(opts, &args.out, &device).context("resuming")?;
        eprintln!("resuming at step {}", t.state().step);
        t
    } else if let Some(init) = &args.init_from {
        let t = Trainer::warm_start(init, opts, &args.out, &device)
            .with_context(|| format!("starting from {}", init.display()))?;
        eprintln!(
            "starting from the weights of {} (step {})",
            init.display(),
            t.state().step
        );
        t
    } else {
        let cfg = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_str::<Config>(&text)
                    .with_context(|| format!("parsing {}", path.display()))?
            }
            None => Config::preset(&args.preset, tok.vocab_size())?,
        };
        if cfg.vocab != tok.vocab_size() {
            bail!(
                "config vocab {} differs from the tokenizer's {}",
                cfg.vocab,
                tok.vocab_size()
            );
        }
        Trainer::new(&cfg, opts, &args.out, &device)
            .context("starting training (pass --resume to continue a run)")?
    };
    let data = TrainData {
        train: &train_pairs,
        valid: &valid_pairs,
        score: Some(&score),
    };
    let summary = trainer.train(&data)?;
    let v = summary.last_valid.as_ref();
    println!(
        "stopped ({:?}) at step {}: valid loss {:.4}, BLEU {:.2}, chrF {:.2}, {:.0} target tokens/s; model in {}",
        summary.reason,
        summary.steps,
        v.map(|v| v.loss).unwrap_or(f64::NAN),
        v.and_then(|v| v.bleu).unwrap_or(f64::NAN),
        v.and_then(|v| v.chrf).unwrap_or(f64::NAN),
        summary.tokens_per_sec,
        args.out.display()
    );
    Ok(())
}

/// A loaded model directory: the inference engine and the tokenizer.
struct Loaded {
    engine: Engine,
    tok: TextTokenizer,
    search: SearchOptions,
}

fn load(dir: &Path, flags: &DecodeFlags) -> anyhow::Result<Loaded> {
    let (engine, _card) = Engine::load(dir, flags.precision)?;
    let tok_path = dir.join(TOKENIZER_FILE);
    if !tok_path.is_file() {
        bail!(
            "model directory {}: missing {TOKENIZER_FILE}",
            dir.display()
        );
    }
    let tok = TextTokenizer::load(&tok_path)
        .with_context(|| format!("loading {}", tok_path.display()))?;
    if tok.vocab_size() != engine.config().vocab {
        bail!(
            "model directory {}: tokenizer has {} pieces, the model {}",
            dir.display(),
            tok.vocab_size(),
            engine.config().vocab
        );
    }
    Ok(Loaded {
        engine,
        tok,
        search: flags.search(),
    })
}

impl Loaded {
    /// Translations of cleaned English sentences, in order.
    fn translate(&self, sentences: &[String]) -> anyhow::Result<Vec<String>> {
        let cleaned: Vec<String> = sentences.iter().map(|s| clean_sentence(s)).collect();
        let refs: Vec<&str> = cleaned.iter().map(String::as_str).collect();
        let ids = encode_all(&self.tok, &refs)?;
        let out = search::translate(&self.engine, &ids, &self.search);
        out.iter()
            .zip(&cleaned)
            .map(|(h, src)| {
                if src.is_empty() {
                    Ok(String::new())
                } else {
                    self.tok.decode(h).context("detokenizing")
                }
            })
            .collect()
    }
}

fn is_zip(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f.read(&mut magic)?;
    Ok(n == 4 && &magic == b"PK\x03\x04")
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let loaded = load(&args.model, &args.decode)?;
    let pairs =
        read_pairs(&args.test).with_context(|| format!("reading {}", args.test.display()))?;
    let test = if is_zip(&args.test)? {
        split(&pairs, &SplitConfig::default())?.test
    } else {
        pairs
    };
    let groups = group_references(&test);
    if groups.is_empty() {
        bail!("{} holds no test pairs", args.test.display());
    }
    let sources: Vec<String> = groups.iter().map(|(en, _)| en.clone()).collect();
    let refs: Vec<Vec<String>> = groups.into_iter().map(|(_, r)| r).collect();
    let hyps = loaded.translate(&sources)?;
    let bleu = corpus_bleu(&hyps, &refs)?;
    let chrf = corpus_chrf(&hyps, &refs)?;
    println!(
        "BLEU {:.2}  chrF {:.2}  ({} sentences, {})",
        bleu.score,
        chrf,
        sources.len(),
        args.decode.describe()
    );
    Ok(())
}

/// Lines translated together.
const TRANSLATE_BATCH: usize = 64;

fn translate(args: TranslateArgs) -> anyhow::Result<()> {
    let loaded = load(&args.model, &args.decode)?;
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut lines = stdin.lines();
    loop {
        let mut chunk = Vec::with_capacity(TRANSLATE_BATCH);
        for line in lines.by_ref().take(TRANSLATE_BATCH) {
            chunk.push(line.context("reading stdin")?);
        }
        if chunk.is_empty() {
            return Ok(());
        }
        for out in loaded.translate(&chunk)? {
            // One output line per input line: never let a newline through.
            writeln!(stdout, "{}", out.replace(['\n', '\r'], " "))?;
        }
        stdout.flush()?;
    }
}
