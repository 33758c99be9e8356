//! Greedy and beam search over the [`Engine`].
//!
//! Sources are decoded in batches of similar length. A sentence leaves the
//! batch as soon as it is finished (its rows are dropped from the decoder
//! state), so it stops costing work. Every output is bounded relative to its
//! input: at most `2 * source tokens + 10` tokens (and the model's maximum).

use rayon::prelude::*;

use super::{DecoderState, Encoded, Engine, Threads};
use crate::model::special::{BOS, EOS};

/// Sources decoded together.
const SEARCH_BATCH: usize = 64;
/// Fewest sources a thread decodes on its own: larger batches are split into
/// one part per thread, each decoded without further synchronisation (many
/// tiny parallel sections per step cost more than they save).
const MIN_PART: usize = 4;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// Hypotheses kept per sentence (1: greedy).
    pub beam: usize,
    /// Beam hypotheses are ranked by `log p / length^length_penalty`
    /// (length counts the end-of-sentence token); 0 ranks by `log p` alone.
    pub length_penalty: f32,
    /// Generate exactly this many tokens per sentence, never the end of
    /// sentence (what decode benchmarks measure).
    pub forced_len: Option<usize>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            beam: 1,
            length_penalty: 1.0,
            forced_len: None,
        }
    }
}

impl SearchOptions {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Self::default()
    }

    /// Beam search with `beam` hypotheses and the default length penalty.
    pub fn beam(beam: usize) -> Self {
        Self {
            beam: beam.max(1),
            ..Self::default()
        }
    }
}

/// Translations of `srcs` (token ids without EOS), in input order, each
/// without BOS/EOS.
pub fn translate(engine: &Engine, srcs: &[Vec<u32>], opts: &SearchOptions) -> Vec<Vec<u32>> {
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    order.sort_by_key(|&i| srcs[i].len());
    let mut out = vec![Vec::new(); srcs.len()];
    let threads = rayon::current_num_threads();
    for chunk in order.chunks(SEARCH_BATCH) {
        let parts = (chunk.len() / MIN_PART).clamp(1, threads);
        // Interleaved, so that every part gets sentences of every length.
        let subsets: Vec<Vec<usize>> = (0..parts)
            .map(|p| chunk.iter().skip(p).step_by(parts).copied().collect())
            .collect();
        let run = |subset: &Vec<usize>, threads: Threads| {
            let batch: Vec<&[u32]> = subset.iter().map(|&i| srcs[i].as_slice()).collect();
            if opts.beam <= 1 {
                greedy_batch(engine, &batch, opts.forced_len, threads)
            } else {
                beam_batch(engine, &batch, opts, threads)
            }
        };
        let decoded: Vec<Vec<Vec<u32>>> = if parts == 1 {
            vec![run(&subsets[0], Threads::Pool)]
        } else {
            subsets
                .par_iter()
                .map(|sub| run(sub, Threads::One))
                .collect()
        };
        for (subset, hyps) in subsets.iter().zip(decoded) {
            for (&i, hyp) in subset.iter().zip(hyps) {
                out[i] = hyp;
            }
        }
    }
    out
}

/// Beam search of every source even when `opts.beam` is 1 (which
/// [`translate`] decodes greedily, with the same result).
pub fn beam_search(engine: &Engine, srcs: &[Vec<u32>], opts: &SearchOptions) -> Vec<Vec<u32>> {
    let batch: Vec<&[u32]> = srcs.iter().map(Vec::as_slice).collect();
    batch
        .chunks(SEARCH_BATCH)
        .flat_map(|chunk| beam_batch(engine, chunk, opts, Threads::Pool))
        .collect()
}

/// Log-probability the model gives to `hyp` followed by EOS as the
/// translation of `src`.
pub fn log_prob(engine: &Engine, src: &[u32], hyp: &[u32]) -> f32 {
    let encoded = engine.encode(&[src], Threads::One);
    let mut state = engine.start(&encoded, hyp.len() + 1);
    let mut last = BOS;
    let mut total = 0.0;
    for &tok in hyp.iter().chain(std::iter::once(&EOS)) {
        let logits = engine.step(&encoded, &mut state, &[last]);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_z = max + logits.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
        total += logits[tok as usize] - log_z;
        last = tok;
    }
    total
}

/// Most tokens each source may produce.
fn limits(engine: &Engine, srcs: &[&[u32]], forced: Option<usize>) -> Vec<usize> {
    let most = engine.max_positions() - 1;
    srcs.iter()
        .map(|s| forced.unwrap_or(2 * s.len() + 10).min(most))
        .collect()
}

/// One batch of greedy decoding.
fn greedy_batch(
    engine: &Engine,
    srcs: &[&[u32]],
    forced: Option<usize>,
    threads: Threads,
) -> Vec<Vec<u32>> {
    let limits = limits(engine, srcs, forced);
    let encoded = engine.encode(srcs, threads);
    let longest = limits.iter().copied().max().unwrap_or(0);
    let mut state = engine.start(&encoded, longest + 1);
    let mut hyps = vec![Vec::new(); srcs.len()];
    let mut last = vec![BOS; srcs.len()];
    let vocab = engine.config().vocab;
    while state.rows() > 0 {
        let step = state.steps();
        let logits = engine.step(&encoded, &mut state, &last);
        let mut keep = Vec::with_capacity(state.rows());
        let mut next = Vec::with_capacity(state.rows());
        for (r, &s) in state.sources().iter().enumerate() {
            let row = &logits[r * vocab..][..vocab];
            let tok = argmax(row, forced.is_some());
            if (tok == EOS && forced.is_none()) || step >= limits[s] {
                continue;
            }
            hyps[s].push(tok);
            if hyps[s].len() < limits[s] {
                keep.push(r);
                next.push(tok);
            }
        }
        if keep.len() != state.rows() {
            state.keep(&keep);
        }
        last = next;
    }
    hyps
}

/// Index of the largest value (skipping EOS when `no_eos`).
fn argmax(row: &[f32], no_eos: bool) -> u32 {
    let mut best = (f32::NEG_INFINITY, 0u32);
    for (i, &v) in row.iter().enumerate() {
        if v > best.0 && !(no_eos && i as u32 == EOS) {
            best = (v, i as u32);
        }
    }
    best.1
}

/// A live or finished hypothesis.
#[derive(Debug, Clone)]
struct Hyp {
    tokens: Vec<u32>,
    /// Sum of token log-probabilities.
    logp: f32,
}

/// Per-sentence beam bookkeeping.
#[derive(Debug, Default)]
struct Beams {
    /// Live hypotheses, one per decoder row of this sentence, best first.
    alive: Vec<Hyp>,
    /// Finished hypotheses with their ranking scores.
    finished: Vec<(f32, Hyp)>,
}

/// A candidate extension: row, token, total log-probability.
type Candidate = (usize, u32, f32);

fn normalised(logp: f32, len: usize, penalty: f32) -> f32 {
    if penalty == 0.0 {
        logp
    } else {
        logp / (len.max(1) as f32).powf(penalty)
    }
}

/// `ln(sum(exp(row)))`, with 16 independent lanes so that it vectorises.
fn log_sum_exp(row: &[f32]) -> f32 {
    const L: usize = 16;
    let chunks = row.chunks_exact(L);
    let tail = chunks.remainder();
    let mut lanes = [f32::NEG_INFINITY; L];
    for c in chunks.clone() {
        for l in 0..L {
            lanes[l] = lanes[l].max(c[l]);
        }
    }
    let max = tail.iter().copied().fold(
        lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        f32::max,
    );
    let mut sums = [0f32; L];
    for c in chunks {
        for l in 0..L {
            sums[l] += crate::ops::fast_exp(c[l] - max);
        }
    }
    let sum = sums.iter().sum::<f32>()
        + tail
            .iter()
            .map(|&v| crate::ops::fast_exp(v - max))
            .sum::<f32>();
    max + sum.ln()
}

/// The `k` best tokens of a row of logits as log-probabilities, best first.
fn top_log_probs(row: &[f32], k: usize, no_eos: bool) -> Vec<(u32, f32)> {
    let log_z = log_sum_exp(row);
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for (i, &v) in row.iter().enumerate() {
        if no_eos && i as u32 == EOS {
            continue;
        }
        if top.len() == k && v <= top[k - 1].1 {
            continue;
        }
        let at = top.partition_point(|&(_, t)| t >= v);
        top.insert(at, (i as u32, v));
        top.truncate(k);
    }
    top.into_iter().map(|(i, v)| (i, v - log_z)).collect()
}

/// One batch of beam search.
fn beam_batch(
    engine: &Engine,
    srcs: &[&[u32]],
    opts: &SearchOptions,
    threads: Threads,
) -> Vec<Vec<u32>> {
    let k = opts.beam;
    let forced = opts.forced_len;
    let limits = limits(engine, srcs, forced);
    let encoded: Encoded = engine.encode(srcs, threads);
    let longest = limits.iter().copied().max().unwrap_or(0);
    let mut state: DecoderState = engine.start(&encoded, longest + 1);
    let mut beams: Vec<Beams> = (0..srcs.len())
        .map(|_| Beams {
            alive: vec![Hyp {
                tokens: Vec::new(),
                logp: 0.0,
            }],
            ..Beams::default()
        })
        .collect();
    let mut last = vec![BOS; srcs.len()];
    let vocab = engine.config().vocab;
    while state.rows() > 0 {
        let step = state.steps();
        let logits = engine.step(&encoded, &mut state, &last);
        // Each row's k + 1 best tokens hold its k best that are not EOS.
        let top = |row: &[f32]| top_log_probs(row, k + 1, forced.is_some());
        let per_row: Vec<Vec<(u32, f32)>> = match threads {
            Threads::Pool => logits.par_chunks(vocab).map(top).collect(),
            Threads::One => logits.chunks(vocab).map(top).collect(),
        };
        // Rows of one sentence are consecutive: group candidates by sentence.
        let mut parents = Vec::new();
        let mut next = Vec::new();
        let mut r = 0;
        while r < state.rows() {
            let s = state.sources()[r];
            let n = beams[s].alive.len();
            let mut cands: Vec<Candidate> = (r..r + n)
                .flat_map(|row| {
                    let base = beams[s].alive[row - r].logp;
                    per_row[row].iter().map(move |&(t, lp)| (row, t, base + lp))
                })
                .collect();
            cands.sort_by(|a, b| b.2.total_cmp(&a.2));
            let b = &mut beams[s];
            let mut alive = Vec::with_capacity(k);
            for (rank, &(row, tok, logp)) in cands.iter().enumerate() {
                if alive.len() == k {
                    break;
                }
                let parent = &b.alive[row - r];
                if tok == EOS {
                    // An end of sentence counts only among the k best.
                    if rank < k {
                        let hyp = Hyp {
                            tokens: parent.tokens.clone(),
                            logp,
                        };
                        let score = normalised(logp, hyp.tokens.len() + 1, opts.length_penalty);
                        b.finished.push((score, hyp));
                    }
                    continue;
                }
                let mut tokens = parent.tokens.clone();
                tokens.push(tok);
                alive.push((row, Hyp { tokens, logp }));
            }
            b.alive.clear();
            let at_limit = step + 1 >= limits[s];
            if b.finished.len() >= k || at_limit || alive.is_empty() {
                for (_, hyp) in alive {
                    let score = normalised(hyp.logp, hyp.tokens.len() + 1, opts.length_penalty);
                    b.finished.push((score, hyp));
                }
            } else {
                for (row, hyp) in alive {
                    parents.push(row);
                    next.push(*hyp.tokens.last().unwrap_or(&BOS));
                    b.alive.push(hyp);
                }
            }
            r += n;
        }
        state.keep(&parents);
        last = next;
    }
    beams
        .into_iter()
        .map(|b| {
            b.finished
                .into_iter()
                .max_by(|x, y| x.0.total_cmp(&y.0))
                .map(|(_, h)| h.tokens)
                .unwrap_or_default()
        })
        .collect()
}
