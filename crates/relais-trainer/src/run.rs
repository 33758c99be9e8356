//! One training run, blocking (call it on a blocking thread): train a
//! candidate in the run directory, then judge it and production on the same
//! held-out splits. Everything a resumed run needs is in the directory:
//! `run.json` (the plan), `tokenizer.json`, `checkpoints/`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use relais_config::TrainerSettings;
use relais_model::artifacts::{read_json, write_json, Provenance, TOKENIZER_FILE};
use relais_model::infer::search::{translate, SearchOptions};
use relais_model::{mean_loss, Config, Progress, Scores, TrainData, TrainOptions, Trainer};
use relais_text::{corpus_bleu, corpus_chrf, corpus_hash, group_references, Pair, TextTokenizer};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::{Heldout, Judged, TrainerError};

/// `run.json`: what a run trains on and how far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub run_id: String,
    /// The dataset version it trains on (pairs of versions up to this one).
    pub dataset_version: i64,
    /// The production version it starts from (warm start) or is judged against.
    pub parent: Option<String>,
    /// Whether it started from the parent's weights.
    pub warm_started: bool,
    /// The run stops at this optimiser step.
    pub max_steps: u64,
    pub started_at: DateTime<Utc>,
}

/// `outcome.json`, written when a run is over (its absence marks a run to resume).
pub const OUTCOME_FILE: &str = "outcome.json";
/// The plan file.
pub const PLAN_FILE: &str = "run.json";

/// What a finished run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The candidate model directory (the run directory itself).
    pub candidate_dir: PathBuf,
    pub candidate: Judged,
    pub production: Option<Judged>,
    /// Candidate and production share a tokenizer (losses comparable).
    pub same_tokenizer: bool,
    pub steps: u64,
    pub tokens_per_sec: f64,
}

/// How a run begins.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new run in an empty directory; `warm_from` is the production
    /// model directory to continue from, if any.
    Fresh {
        run_id: String,
        dataset_version: i64,
        parent: Option<String>,
        warm_from: Option<PathBuf>,
    },
    /// Continue the run whose directory holds a plan and a checkpoint.
    Resume,
}

/// Reads a run directory's plan.
pub fn plan_of(dir: &Path) -> Result<RunPlan, TrainerError> {
    Ok(read_json(&dir.join(PLAN_FILE))?)
}

/// Token-id pairs, and for validation the first `groups` pairs hold one
/// reference per distinct English sentence (the BLEU sample).
fn encode(tok: &TextTokenizer, pairs: &[Pair]) -> Result<Vec<relais_model::Pair>, TrainerError> {
    let en: Vec<&str> = pairs.iter().map(|p| p.en.as_str()).collect();
    let fr: Vec<&str> = pairs.iter().map(|p| p.fr.as_str()).collect();
    let (en, fr) = (tok.encode_batch(&en)?, tok.encode_batch(&fr)?);
    Ok(en
        .into_iter()
        .zip(fr)
        .map(|(src, tgt)| relais_model::Pair { src, tgt })
        .collect())
}

/// Validation pairs ordered one reference per English sentence first.
fn validation_order(valid: &[Pair]) -> (Vec<Pair>, Vec<Vec<String>>) {
    let groups = group_references(valid);
    let mut ordered: Vec<Pair> = groups
        .iter()
        .map(|(en, refs)| Pair {
            en: en.clone(),
            fr: refs[0].clone(),
        })
        .collect();
    for (en, refs) in &groups {
        ordered.extend(refs[1..].iter().map(|fr| Pair {
            en: en.clone(),
            fr: fr.clone(),
        }));
    }
    let refs = groups.into_iter().map(|(_, r)| r).collect();
    (ordered, refs)
}

/// Trains (or resumes) the run in `dir` on `train`, then judges it.
pub fn execute(
    dir: &Path,
    start: Start,
    settings: &TrainerSettings,
    heldout: &Heldout,
    train: &[Pair],
    production: Option<&Path>,
    progress: impl FnMut(Progress<'_>) + Send + 'static,
) -> Result<RunResult, TrainerError> {
    let train: Vec<Pair> = train
        .iter()
        .filter(|p| heldout.allows(p))
        .cloned()
        .collect();
    if train.is_empty() {
        return Err(TrainerError::NoData);
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let device = relais_model::default_device()?;
    let tok_path = dir.join(TOKENIZER_FILE);
    let fresh = match &start {
        Start::Fresh { warm_from, .. } => {
            if let Some(from) = warm_from {
                std::fs::copy(from.join(TOKENIZER_FILE), &tok_path).map_err(io(&tok_path))?;
            } else {
                TextTokenizer::train_on_pairs(&train, settings.vocab_size)?.save(&tok_path)?;
            }
            true
        }
        Start::Resume => false,
    };
    let tok = TextTokenizer::load(&tok_path)?;
    let train_ids = encode(&tok, &train)?;
    let (valid, refs) = validation_order(&heldout.valid);
    let valid_ids = encode(&tok, &valid)?;
    let score = {
        let tok = tok.clone();
        move |hyps: &[Vec<u32>]| -> Scores {
            let text: Vec<String> = hyps
                .iter()
                .map(|h| tok.decode(h).unwrap_or_default())
                .collect();
            let r = &refs[..text.len()];
            Scores {
                bleu: corpus_bleu(&text, r).map(|b| b.score).unwrap_or(0.0),
                chrf: corpus_chrf(&text, r).unwrap_or(0.0),
            }
        }
    };
    let mut opts = TrainOptions {
        max_tokens: settings.batch_tokens,
        peak_lr: settings.peak_lr,
        warmup_steps: settings.warmup_steps,
        max_minutes: Some(settings.max_minutes),
        eval_every: settings.eval_every,
        checkpoint_every: settings.eval_every.min(200),
        patience: None,
        valid_bleu_pairs: 500,
        progress_bar: false,
        provenance: Provenance {
            corpus_sha256: corpus_hash(&train),
            split_seed: relais_text::SplitConfig::default().seed,
            train_pairs: train.len(),
            valid_pairs: heldout.valid.len(),
        },
        ..TrainOptions::default()
    };
    let mut trainer = match start {
        Start::Fresh {
            run_id,
            dataset_version,
            parent,
            warm_from,
        } => {
            let trainer = match &warm_from {
                Some(from) => Trainer::warm_start(from, opts.clone(), dir, &device)?,
                None => {
                    let cfg = Config::preset(&settings.preset, tok.vocab_size())?;
                    Trainer::new(&cfg, opts.clone(), dir, &device)?
                }
            };
            let plan = RunPlan {
                run_id,
                dataset_version,
                parent,
                warm_started: warm_from.is_some(),
                max_steps: trainer.state().step + settings.steps,
                started_at: Utc::now(),
            };
            write_json(&dir.join(PLAN_FILE), &plan)?;
            trainer
        }
        Start::Resume => Trainer::resume(opts.clone(), dir, &device)?,
    };
    let plan = plan_of(dir)?;
    opts.max_steps = Some(plan.max_steps);
    *trainer.options_mut() = opts;
    trainer.on_progress(progress);
    let data = TrainData {
        train: &train_ids,
        valid: &valid_ids,
        score: Some(&score),
    };
    let summary = trainer.train(&data)?;
    drop(trainer);
    tracing::info!(dir = %dir.display(), steps = summary.steps, fresh, "run trained; judging");
    let candidate = judge(dir, heldout, settings.batch_tokens)?;
    let (production, same_tokenizer) = match production {
        Some(prod) => {
            let same =
                std::fs::read(prod.join(TOKENIZER_FILE)).ok() == std::fs::read(&tok_path).ok();
            (Some(judge(prod, heldout, settings.batch_tokens)?), same)
        }
        None => (None, false),
    };
    Ok(RunResult {
        candidate_dir: dir.to_path_buf(),
        candidate,
        production,
        same_tokenizer,
        steps: summary.steps,
        tokens_per_sec: summary.tokens_per_sec,
    })
}

/// Greedy BLEU/chrF on the test split and mean loss on the valid split of the
/// model directory `dir` (its own tokenizer).
pub fn judge(dir: &Path, heldout: &Heldout, batch_tokens: usize) -> Result<Judged, TrainerError> {
    let device = relais_model::default_device()?;
    let (model, _) = relais_model::load_model(dir, &device)?;
    let tok = TextTokenizer::load(dir.join(TOKENIZER_FILE))?;
    let groups = group_references(&heldout.test);
    let english: Vec<&str> = groups.iter().map(|(en, _)| en.as_str()).collect();
    let ids = tok.encode_batch(&english)?;
    let engine = relais_model::Engine::new(&model, relais_model::Precision::F32)?;
    let hyps: Vec<String> = translate(&engine, &ids, &SearchOptions::greedy())
        .iter()
        .map(|h| tok.decode(h))
        .collect::<Result<_, _>>()?;
    let refs: Vec<Vec<String>> = groups.into_iter().map(|(_, r)| r).collect();
    let bleu = corpus_bleu(&hyps, &refs)?.score;
    let chrf = corpus_chrf(&hyps, &refs)?;
    let valid = encode(&tok, &heldout.valid)?;
    let valid_loss = mean_loss(&model, &valid, batch_tokens)?;
    Ok(Judged {
        bleu,
        chrf,
        valid_loss,
    })
}
