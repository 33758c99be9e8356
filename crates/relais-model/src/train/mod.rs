//! The trainer: token-count batches, AdamW with warm-up and inverse-sqrt decay,
//! gradient clipping, periodic validation (loss and greedy BLEU/chrF), atomic
//! checkpoints with exact resume, early stopping, the best model written as a
//! model directory, a progress bar and `metrics.json`.

mod checkpoint;
mod options;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

pub use checkpoint::{TrainPoint, TrainState, ValidPoint};
pub use options::{ScoreFn, Scores, StopReason, TrainData, TrainOptions, TrainSummary};

use crate::artifacts::{save_model_dir, write_json, CardMetrics, ModelCard, TrainingInfo};
use crate::batch::{make_batches, Batch, Pair};
use crate::config::Config;
use crate::error::{ModelError, Result};
use crate::layers::Dropout;
use crate::model::Transformer;
use crate::optim::{inverse_sqrt_lr, AdamW};

/// A training run living in `run_dir`: checkpoints, `metrics.json` and the best
/// model (`model.safetensors` + `model.json`).
pub struct Trainer {
    model: Transformer,
    opt: AdamW,
    opts: TrainOptions,
    state: TrainState,
    run_dir: PathBuf,
    device: Device,
    progress: Option<Box<ProgressFn>>,
}

/// A point of the run as it happens, for [`Trainer::on_progress`].
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    Train(&'a TrainPoint),
    Valid(&'a ValidPoint),
}

/// Called with every training-curve and validation point.
pub type ProgressFn = dyn FnMut(Progress<'_>) + Send;

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("run_dir", &self.run_dir)
            .field("step", &self.state.step)
            .finish()
    }
}

/// Sum of losses and target tokens over a set of batches.
fn total_loss(
    model: &Transformer,
    pairs: &[Pair],
    max_tokens: usize,
    smoothing: f32,
) -> Result<f64> {
    let cfg = model.config();
    let (mut loss, mut tokens) = (0f64, 0usize);
    for idx in make_batches(pairs, max_tokens, cfg.max_len, 0) {
        let refs: Vec<&Pair> = idx.iter().map(|&i| &pairs[i]).collect();
        let batch = Batch::new(&refs, cfg.max_len);
        loss += model.eval_loss(&batch, smoothing)? as f64;
        tokens += batch.tokens;
    }
    Ok(loss / tokens.max(1) as f64)
}

/// Mean negative log-likelihood per target token of `model` on `pairs`
/// (no label smoothing): how candidate and production models are compared.
pub fn mean_loss(model: &Transformer, pairs: &[Pair], max_tokens: usize) -> Result<f64> {
    total_loss(model, pairs, max_tokens, 0.0)
}

/// A short description of the machine, for `model.json`.
pub fn hardware(device: &Device) -> String {
    match device {
        Device::Cpu => {
            let model = std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("model name"))
                        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
                })
                .unwrap_or_else(|| "unknown".into());
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            format!("cpu: {model} ({threads} threads)")
        }
        other => format!("{other:?}"),
    }
}

impl Trainer {
    /// A fresh run of `cfg` in `run_dir` (which must hold no checkpoint).
    pub fn new(cfg: &Config, opts: TrainOptions, run_dir: &Path, device: &Device) -> Result<Self> {
        cfg.validate()?;
        if checkpoint::latest(run_dir)?.is_some() {
            return Err(ModelError::Data(format!(
                "{} already holds a training run; resume it or choose another directory",
                run_dir.display()
            )));
        }
        let varmap = VarMap::new();
        let model = Transformer::new(cfg, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
        let vars = Self::named_vars(&varmap);
        crate::model::init_weights(&vars, opts.seed)?;
        let opt = AdamW::new(vars, opts.adamw);
        let state = TrainState::new(cfg.clone(), opts.seed);
        Ok(Self {
            model,
            opt,
            opts,
            state,
            run_dir: run_dir.to_path_buf(),
            device: device.clone(),
            progress: None,
        })
    }

    /// Continues the run in `run_dir` from its latest checkpoint (same step,
    /// same data position, same optimiser state). Its config wins over any other.
    pub fn resume(opts: TrainOptions, run_dir: &Path, device: &Device) -> Result<Self> {
        let ckpt = checkpoint::latest(run_dir)?
            .ok_or_else(|| ModelError::NoCheckpoint(run_dir.to_path_buf()))?;
        let state = checkpoint::load_state(&ckpt)?;
        let mut varmap = VarMap::new();
        let model = Transformer::new(
            &state.config,
            VarBuilder::from_varmap(&varmap, DType::F32, device),
        )?;
        varmap.load(ckpt.join(checkpoint::WEIGHTS))?;
        let mut opt = AdamW::new(Self::named_vars(&varmap), opts.adamw);
        opt.load(&ckpt.join(checkpoint::OPTIMIZER))?;
        Ok(Self {
            model,
            opt,
            opts,
            state,
            run_dir: run_dir.to_path_buf(),
            device: device.clone(),
            progress: None,
        })
    }

    /// A new run in `run_dir` that starts from the weights of the model
    /// directory `model_dir` (f32 or f16) instead of random ones. The step
    /// count, tokens and training time carry over from its `model.json`, so the
    /// learning-rate schedule continues where that model left it and the
    /// totals stay honest; the optimiser moments start from zero and the data
    /// order is a fresh shuffle.
    pub fn warm_start(
        model_dir: &Path,
        opts: TrainOptions,
        run_dir: &Path,
        device: &Device,
    ) -> Result<Self> {
        let (source, card) = crate::artifacts::load_model(model_dir, device)?;
        drop(source);
        let mut trainer = Self::new(&card.config, opts, run_dir, device)?;
        let bytes = std::fs::read(model_dir.join(crate::artifacts::WEIGHTS_FILE)).map_err(
            crate::artifacts::io_err("read", &model_dir.join(crate::artifacts::WEIGHTS_FILE)),
        )?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
        for (name, var) in trainer.opt.params() {
            let t = tensors.get(name).ok_or_else(|| {
                ModelError::Data(format!("{}: no weight named {name}", model_dir.display()))
            })?;
            var.set(&t.to_dtype(DType::F32)?)?;
        }
        let s = &mut trainer.state;
        s.step = card.training.steps;
        s.target_tokens = card.training.target_tokens;
        s.train_secs = card.training.seconds;
        // Any epoch number the source run cannot have reached: a new order.
        s.epoch = 1 << 20;
        Ok(trainer)
    }

    /// Resumes when `run_dir` holds a checkpoint, else starts afresh with `cfg`.
    pub fn open(cfg: &Config, opts: TrainOptions, run_dir: &Path, device: &Device) -> Result<Self> {
        if checkpoint::latest(run_dir)?.is_some() {
            Self::resume(opts, run_dir, device)
        } else {
            Self::new(cfg, opts, run_dir, device)
        }
    }

    fn named_vars(varmap: &VarMap) -> Vec<(String, candle_core::Var)> {
        match varmap.data().lock() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(poisoned) => poisoned
                .into_inner()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub fn model(&self) -> &Transformer {
        &self.model
    }

    /// Reports every training-curve point and validation to `f` (e.g. to
    /// publish progress events) besides the log and `metrics.json`.
    pub fn on_progress(&mut self, f: impl FnMut(Progress<'_>) + Send + 'static) {
        self.progress = Some(Box::new(f));
    }

    pub fn state(&self) -> &TrainState {
        &self.state
    }

    pub fn options_mut(&mut self) -> &mut TrainOptions {
        &mut self.opts
    }

    /// Trainable parameters by name.
    pub fn parameters(&self) -> &[(String, candle_core::Var)] {
        self.opt.params()
    }

    fn weights(&self) -> std::collections::HashMap<String, candle_core::Tensor> {
        self.opt
            .params()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    }

    /// Writes a checkpoint of the current state.
    pub fn checkpoint(&self) -> Result<PathBuf> {
        let weights = self.weights();
        checkpoint::save(
            &self.run_dir,
            &self.state,
            self.opts.keep_checkpoints,
            |dir| {
                crate::artifacts::save_tensors(
                    &weights,
                    DType::F32,
                    &dir.join(checkpoint::WEIGHTS),
                )?;
                self.opt.save(&dir.join(checkpoint::OPTIMIZER))?;
                Ok(())
            },
        )
    }

    fn card(&self, metrics: CardMetrics) -> ModelCard {
        ModelCard {
            config: self.state.config.clone(),
            provenance: self.opts.provenance.clone(),
            metrics,
            training: TrainingInfo {
                steps: self.state.step,
                seconds: self.state.train_secs,
                target_tokens: self.state.target_tokens,
                tokens_per_sec: self.state.target_tokens as f64 / self.state.train_secs.max(1e-9),
                hardware: hardware(&self.device),
            },
            weights_dtype: "f32".into(),
        }
    }

    /// Writes the current weights as a model directory `dir`.
    pub fn save_model(&self, dir: &Path, metrics: CardMetrics) -> Result<()> {
        save_model_dir(dir, &self.weights(), &self.card(metrics))
    }

    fn write_metrics(&self) -> Result<()> {
        #[derive(Serialize)]
        struct Metrics<'a> {
            steps: u64,
            epoch: u64,
            target_tokens: u64,
            train_secs: f64,
            tokens_per_sec: f64,
            best_step: Option<u64>,
            best_valid_loss: Option<f64>,
            best_bleu: Option<f64>,
            train: &'a [TrainPoint],
            valid: &'a [ValidPoint],
        }
        let s = &self.state;
        write_json(
            &self.run_dir.join("metrics.json"),
            &Metrics {
                steps: s.step,
                epoch: s.epoch,
                target_tokens: s.target_tokens,
                train_secs: s.train_secs,
                tokens_per_sec: s.target_tokens as f64 / s.train_secs.max(1e-9),
                best_step: s.best_step,
                best_valid_loss: s.best_valid_loss,
                best_bleu: s.best_bleu,
                train: &s.train_curve,
                valid: &s.valid_curve,
            },
        )
    }

    /// Validation loss (NLL per token) and, with a scorer, greedy BLEU/chrF.
    pub fn validate(&self, data: &TrainData) -> Result<(f64, Option<Scores>)> {
        let n = data.valid.len().min(self.opts.valid_loss_pairs);
        let loss = total_loss(&self.model, &data.valid[..n], self.opts.max_tokens, 0.0)?;
        let scores = match data.score {
            Some(score) => {
                let n = data.valid.len().min(self.opts.valid_bleu_pairs);
                let srcs: Vec<Vec<u32>> = data.valid[..n].iter().map(|p| p.src.clone()).collect();
                // The inference engine (f32, exact) decodes much faster than
                // the training graph.
                let engine = crate::Engine::new(&self.model, crate::Precision::F32)?;
                Some(score(&crate::infer::search::translate(
                    &engine,
                    &srcs,
                    &crate::infer::search::SearchOptions::greedy(),
                )))
            }
            None => None,
        };
        Ok((loss, scores))
    }

    /// Validates, records the point, saves the model directory on improvement;
    /// returns whether patience ran out.
    fn evaluate(&mut self, data: &TrainData, elapsed: f64, log: &dyn Fn(String)) -> Result<bool> {
        let (loss, scores) = self.validate(data)?;
        let s = &mut self.state;
        let better_loss = s.best_valid_loss.is_none_or(|b| loss < b);
        let better_bleu = match (scores, s.best_bleu) {
            (Some(sc), Some(b)) => sc.bleu > b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        s.valid_curve.push(ValidPoint {
            step: s.step,
            loss,
            bleu: scores.map(|x| x.bleu),
            chrf: scores.map(|x| x.chrf),
            elapsed_secs: elapsed,
        });
        if let (Some(report), Some(point)) = (self.progress.as_mut(), s.valid_curve.last()) {
            report(Progress::Valid(point));
        }
        if better_loss {
            s.best_valid_loss = Some(loss);
        }
        if better_bleu {
            s.best_bleu = scores.map(|x| x.bleu);
        }
        // The kept model is the best by BLEU when scored, else by loss.
        let improved_model = if scores.is_some() {
            better_bleu
        } else {
            better_loss
        };
        let bleu_txt = scores
            .map(|x| format!(" bleu {:.2} chrf {:.2}", x.bleu, x.chrf))
            .unwrap_or_default();
        log(format!(
            "step {} valid loss {loss:.4}{bleu_txt}{}",
            s.step,
            if improved_model { " (best)" } else { "" }
        ));
        if better_loss || better_bleu {
            s.evals_since_best = 0;
        } else {
            s.evals_since_best += 1;
        }
        if improved_model {
            s.best_step = Some(s.step);
            let metrics = CardMetrics {
                valid_loss: Some(loss),
                bleu: scores.map(|x| x.bleu),
                chrf: scores.map(|x| x.chrf),
            };
            self.save_model(&self.run_dir.clone(), metrics)?;
        }
        self.write_metrics()?;
        Ok(self
            .opts
            .patience
            .is_some_and(|p| self.state.evals_since_best >= p))
    }

    /// Trains until a step or time budget runs out or validation stops improving,
    /// then validates and checkpoints.
    pub fn train(&mut self, data: &TrainData) -> Result<TrainSummary> {
        if data.train.is_empty() || data.valid.is_empty() {
            return Err(ModelError::Data(
                "training and validation sets must not be empty".into(),
            ));
        }
        std::fs::create_dir_all(&self.run_dir)
            .map_err(crate::artifacts::io_err("create", &self.run_dir))?;
        let cfg = self.state.config.clone();
        let session = Instant::now();
        let base_secs = self.state.train_secs;
        let budget = self
            .opts
            .max_minutes
            .map(|m| Duration::from_secs_f64(m * 60.0));
        let bar = self.progress_bar();
        let log = |msg: String| {
            if bar.is_hidden() {
                eprintln!("{msg}");
            } else {
                bar.println(msg);
            }
        };
        let (max_tokens, seed) = (self.opts.max_tokens, self.state.seed);
        let batches_for = |epoch: u64| {
            make_batches(
                data.train,
                max_tokens,
                cfg.max_len,
                seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )
        };
        let mut batches = batches_for(self.state.epoch);
        let (mut win_loss, mut win_tokens, mut win_steps, mut win_norm) =
            (0f64, 0usize, 0u64, 0f64);
        let mut win_start = Instant::now();
        let mut last_eval = self.state.valid_curve.last().map(|v| v.step);
        let session_tokens_start = self.state.target_tokens;
        let reason = loop {
            if self.opts.max_steps.is_some_and(|m| self.state.step >= m) {
                break StopReason::MaxSteps;
            }
            if budget.is_some_and(|b| session.elapsed() >= b) {
                break StopReason::TimeBudget;
            }
            if self.state.batch_pos >= batches.len() {
                self.state.epoch += 1;
                self.state.batch_pos = 0;
                batches = batches_for(self.state.epoch);
            }
            let refs: Vec<&Pair> = batches[self.state.batch_pos]
                .iter()
                .map(|&i| &data.train[i])
                .collect();
            let batch = Batch::new(&refs, cfg.max_len);
            let dropout = Dropout::new(
                cfg.dropout,
                self.state
                    .seed
                    .wrapping_add(self.state.step.wrapping_mul(0x2545_F491_4F6C_DD1D)),
            );
            let loss = (self.model.loss(&batch, Some(&dropout))? / batch.tokens as f64)?;
            let loss_val = loss.to_dtype(DType::F32)?.to_scalar::<f32>()?;
            if !loss_val.is_finite() {
                return Err(ModelError::Diverged {
                    step: self.state.step,
                    loss: loss_val,
                });
            }
            let grads = loss.backward()?;
            drop(loss);
            let lr = inverse_sqrt_lr(
                self.state.step + 1,
                self.opts.peak_lr,
                self.opts.warmup_steps,
            );
            let norm = self.opt.step(&grads, lr, self.opts.clip_norm)?;
            drop(grads);
            self.state.step += 1;
            self.state.batch_pos += 1;
            self.state.target_tokens += batch.tokens as u64;
            self.state.train_secs = base_secs + session.elapsed().as_secs_f64();
            win_loss += loss_val as f64 * batch.tokens as f64;
            win_tokens += batch.tokens;
            win_steps += 1;
            win_norm += norm;
            let session_tps = (self.state.target_tokens - session_tokens_start) as f64
                / session.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(self.state.step);
            bar.set_message(format!(
                "loss {loss_val:.3} | {session_tps:.0} tok/s | lr {lr:.2e} | epoch {}",
                self.state.epoch
            ));
            if self.state.step.is_multiple_of(self.opts.log_every) {
                let secs = win_start.elapsed().as_secs_f64();
                let point = TrainPoint {
                    step: self.state.step,
                    loss: win_loss / win_tokens.max(1) as f64,
                    lr,
                    grad_norm: win_norm / win_steps.max(1) as f64,
                    tokens_per_sec: win_tokens as f64 / secs.max(1e-9),
                    elapsed_secs: self.state.train_secs,
                };
                if bar.is_hidden() {
                    eprintln!(
                        "step {} loss {:.4} lr {:.2e} |g| {:.2} {:.0} tok/s epoch {} elapsed {:.0}s",
                        point.step, point.loss, lr, point.grad_norm, point.tokens_per_sec, self.state.epoch, point.elapsed_secs
                    );
                }
                if let Some(report) = self.progress.as_mut() {
                    report(Progress::Train(&point));
                }
                self.state.train_curve.push(point);
                (win_loss, win_tokens, win_steps, win_norm) = (0.0, 0, 0, 0.0);
                win_start = Instant::now();
            }
            if self.state.step.is_multiple_of(self.opts.eval_every) {
                last_eval = Some(self.state.step);
                let stop = self.evaluate(data, self.state.train_secs, &log)?;
                if stop {
                    self.checkpoint()?;
                    break StopReason::EarlyStopping;
                }
            }
            if self.state.step.is_multiple_of(self.opts.checkpoint_every) {
                self.checkpoint()?;
            }
        };
        if last_eval != Some(self.state.step) {
            self.evaluate(data, self.state.train_secs, &log)?;
        }
        self.checkpoint()?;
        self.write_metrics()?;
        bar.finish_and_clear();
        Ok(TrainSummary {
            reason,
            steps: self.state.step,
            last_valid: self.state.valid_curve.last().cloned(),
            tokens_per_sec: (self.state.target_tokens - session_tokens_start) as f64
                / session.elapsed().as_secs_f64().max(1e-9),
        })
    }

    fn progress_bar(&self) -> ProgressBar {
        if !self.opts.progress_bar {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(self.opts.max_steps.unwrap_or(0));
        let template = if self.opts.max_steps.is_some() {
            "{elapsed_precise} [{bar:30}] step {pos}/{len} ETA {eta} | {msg}"
        } else {
            "{elapsed_precise} step {pos} | {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_position(self.state.step);
        bar
    }
}
