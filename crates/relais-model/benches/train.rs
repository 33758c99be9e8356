//! Training throughput of the `base` model on synthetic Tatoeba-like batches.
//!
//! Prints target tokens per second and the ratio of the achieved training
//! FLOP/s (matrix products of forward + backward, counted analytically) to the
//! FLOP/s of plain matrix products of the same shapes timed in the same run.
//!
//! `cargo bench -p relais-model --bench train` (env: `BENCH_STEPS`, default 10;
//! `BENCH_TOKENS`, default 4096). Compare `CANDLE_NUM_THREADS=1` with the default.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use relais_model::batch::{make_batches, Batch, Pair, SplitMix};
use relais_model::layers::Dropout;
use relais_model::optim::{AdamW, AdamWParams};
use relais_model::{Config, Transformer};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sentence lengths roughly like Tatoeba EN/FR under an 8k BPE (mean ~11).
fn synthetic(n: usize, vocab: u32) -> Vec<Pair> {
    let mut rng = SplitMix::new(42);
    (0..n)
        .map(|_| {
            let len = 4 + (rng.next_u64() % 8 + rng.next_u64() % 8) as usize;
            let mut seq = |l: usize| {
                (0..l)
                    .map(|_| 4 + (rng.next_u64() % (vocab as u64 - 4)) as u32)
                    .collect()
            };
            let src = seq(len);
            let tgt = seq(len + (len / 8));
            Pair { src, tgt }
        })
        .collect()
}

/// Forward + backward matmul FLOPs of one batch.
fn step_flops(cfg: &Config, b: usize, s: usize, t: usize) -> f64 {
    let (d, ff, v) = (cfg.d_model as f64, cfg.ff as f64, cfg.vocab as f64);
    let (b, s, t) = (b as f64, s as f64, t as f64);
    let enc = b * s * (8.0 * d * d + 4.0 * d * ff) + 4.0 * b * s * s * d;
    let dec = b * t * (8.0 * d * d + 4.0 * d * ff) // self-attn proj + ffn
        + 4.0 * b * t * d * d + 4.0 * b * s * d * d // cross q,o on T; k,v on S
        + 4.0 * b * t * t * d + 4.0 * b * t * s * d; // attention products
    let out = 2.0 * b * t * d * v;
    3.0 * (cfg.enc_layers as f64 * enc + cfg.dec_layers as f64 * dec + out)
}

fn matmul_flops_per_sec(
    dev: &Device,
    rows: usize,
    d: usize,
    cols: usize,
) -> candle_core::Result<f64> {
    let a = Tensor::randn(0f32, 1.0, (rows, d), dev)?;
    let w = Tensor::randn(0f32, 1.0, (cols, d), dev)?;
    let _ = a.matmul(&w.t()?)?;
    let reps = 5;
    let t0 = Instant::now();
    for _ in 0..reps {
        let _ = a.matmul(&w.t()?)?;
    }
    Ok(2.0 * (rows * d * cols * reps) as f64 / t0.elapsed().as_secs_f64())
}

fn main() -> candle_core::Result<()> {
    let steps = env("BENCH_STEPS", 10);
    let max_tokens = env("BENCH_TOKENS", 4096);
    let dev = Device::Cpu;
    let cfg = Config::base();
    let varmap = VarMap::new();
    let model = Transformer::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    let params = varmap
        .data()
        .lock()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut opt = AdamW::new(params, AdamWParams::default());
    let pairs = synthetic(40_000, cfg.vocab as u32);
    let batches = make_batches(&pairs, max_tokens, cfg.max_len, 1);
    let (mut tokens, mut flops) = (0usize, 0f64);
    let mut phase = [0f64; 3];
    let mut total = 0f64;
    for (i, idx) in batches.iter().take(steps + 2).enumerate() {
        let refs: Vec<&Pair> = idx.iter().map(|&j| &pairs[j]).collect();
        let batch = Batch::new(&refs, cfg.max_len);
        let t0 = Instant::now();
        let dropout = Dropout::new(cfg.dropout, i as u64);
        let loss = (model.loss(&batch, Some(&dropout))? / batch.tokens as f64)?;
        let _ = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        drop(loss);
        let t2 = Instant::now();
        opt.step(&grads, 1e-4, 1.0)?;
        let t3 = Instant::now();
        if i >= 2 {
            let (b, s, t) = (batch.src.rows, batch.src.len, batch.tgt_in.len);
            tokens += batch.tokens;
            flops += step_flops(&cfg, b, s, t);
            phase[0] += (t1 - t0).as_secs_f64();
            phase[1] += (t2 - t1).as_secs_f64();
            phase[2] += (t3 - t2).as_secs_f64();
            total += (t3 - t0).as_secs_f64();
        }
    }
    let tps = tokens as f64 / total;
    let achieved = flops / total;
    let rows = max_tokens;
    let mm = [
        (cfg.d_model, cfg.d_model),
        (cfg.d_model, cfg.ff),
        (cfg.ff, cfg.d_model),
        (cfg.d_model, cfg.vocab),
    ]
    .iter()
    .map(|&(d, c)| matmul_flops_per_sec(&dev, rows, d, c))
    .collect::<candle_core::Result<Vec<_>>>()?;
    let mm_mean = mm.iter().sum::<f64>() / mm.len() as f64;
    println!(
        "threads: RAYON_NUM_THREADS={:?} CANDLE_NUM_THREADS={:?}",
        std::env::var("RAYON_NUM_THREADS").ok(),
        std::env::var("CANDLE_NUM_THREADS").ok()
    );
    println!("steps {steps}, {:.0} target tokens/step, {:.3} s/step (forward {:.3}, backward {:.3}, optimiser {:.3})",
        tokens as f64 / steps as f64, total / steps as f64, phase[0] / steps as f64, phase[1] / steps as f64, phase[2] / steps as f64);
    println!(
        "training: {tps:.0} target tokens/s, {:.1} GFLOP/s of matrix products",
        achieved / 1e9
    );
    println!(
        "plain matmul ({rows} rows; d->d, d->ff, ff->d, d->vocab): {:?} GFLOP/s",
        mm.iter()
            .map(|f| (f / 1e8).round() / 10.0)
            .collect::<Vec<_>>()
    );
    println!("ratio achieved / matmul-bound: {:.2}", achieved / mm_mean);
    Ok(())
}
