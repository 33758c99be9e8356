//! Batched greedy decoding with a key/value cache on the candle model itself
//! (any device). Serving uses the faster [`crate::infer`] engine; this path
//! is its reference in tests.

use candle_core::Result;

use crate::batch::{source_ids, Tokens};
use crate::layers::LayerCache;
use crate::model::special::{BOS, EOS, PAD};
use crate::model::Transformer;

/// Sentences decoded together.
const DECODE_BATCH: usize = 64;

/// Greedy translations of `srcs` (token ids without EOS), in input order.
/// Each output is cut at EOS (excluded) or at `2 * len + 10` tokens.
pub fn greedy(model: &Transformer, srcs: &[Vec<u32>]) -> Result<Vec<Vec<u32>>> {
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    order.sort_by_key(|&i| srcs[i].len());
    let mut out = vec![Vec::new(); srcs.len()];
    for chunk in order.chunks(DECODE_BATCH) {
        let batch: Vec<&[u32]> = chunk.iter().map(|&i| srcs[i].as_slice()).collect();
        for (&i, hyp) in chunk.iter().zip(greedy_batch(model, &batch)?) {
            out[i] = hyp;
        }
    }
    Ok(out)
}

fn greedy_batch(model: &Transformer, srcs: &[&[u32]]) -> Result<Vec<Vec<u32>>> {
    let cfg = model.config();
    let rows: Vec<Vec<u32>> = srcs.iter().map(|s| source_ids(s, cfg.max_len)).collect();
    let b = rows.len();
    let memory = model.encode(&Tokens::pad(&rows), None)?;
    let limits: Vec<usize> = srcs
        .iter()
        .map(|s| (2 * s.len() + 10).min(cfg.max_len - 1))
        .collect();
    let longest = limits.iter().copied().max().unwrap_or(0);
    let mut hyps = vec![Vec::new(); b];
    let mut done = vec![false; b];
    let mut last = vec![BOS; b];
    let mut cache: Vec<LayerCache> = Vec::new();
    for step in 0..=longest {
        let h = model.decode_step(&last, step, &memory, &mut cache)?;
        let next = model.logits(&h)?.argmax(1)?.to_vec1::<u32>()?;
        for i in 0..b {
            if done[i] {
                last[i] = PAD;
                continue;
            }
            if next[i] == EOS || step >= limits[i] {
                done[i] = true;
            } else {
                hyps[i].push(next[i]);
            }
            last[i] = next[i];
        }
        if done.iter().all(|&d| d) {
            break;
        }
    }
    Ok(hyps)
}
