//! The inference engine: a trained [`Transformer`]'s weights copied into plain
//! arrays (f32, or int8 with per-channel scales) and run by hand-written
//! kernels, with no autograd graph and no per-op tensor bookkeeping.
//!
//! - [`Engine::encode`] runs the encoder once over a batch of sources (packed
//!   end to end, no padding) and projects the cross-attention keys/values of
//!   every decoder layer once.
//! - [`Engine::step`] decodes one position for every live row, appending each
//!   row's self-attention keys/values to its [`DecoderState`].
//! - [`DecoderState::keep`] selects (and repeats) rows: beam search reorders
//!   hypotheses with it, and finished sentences leave the batch with it, so
//!   they stop costing work.
//! - [`search`]: greedy and beam search on top.
//!
//! The engine computes what [`Transformer::decode`] computes (tested against
//! it); it exists because a decode step is a few dozen small products, where
//! candle's per-operation overhead cost more than the arithmetic.

pub mod dense;
pub mod search;
#[cfg(test)]
mod tests;

use rayon::prelude::*;

use crate::batch::source_ids;
use crate::config::Config;
use crate::model::Transformer;
use crate::ops::LN_EPS;
use dense::WeightSource;
pub use dense::{Dense, Precision, Threads};

/// Rows per parallel work item in the row-wise kernels.
const ROWS_PER_TASK: usize = 8;

/// Layer-norm gain and bias.
#[derive(Debug)]
struct Norm {
    gain: Vec<f32>,
    bias: Vec<f32>,
}

impl Norm {
    fn apply(&self, x: &[f32], threads: Threads) -> Vec<f32> {
        let d = self.gain.len();
        let mut y = vec![0f32; x.len()];
        let rows = x.len() / d;
        let work = |(yr, xr): (&mut [f32], &[f32])| {
            let mean = xr.iter().sum::<f32>() / d as f32;
            let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let rstd = 1.0 / (var + LN_EPS).sqrt();
            for j in 0..d {
                yr[j] = (xr[j] - mean) * rstd * self.gain[j] + self.bias[j];
            }
        };
        if threads == Threads::Pool && rows >= 2 * ROWS_PER_TASK {
            y.par_chunks_mut(d).zip(x.par_chunks(d)).for_each(work);
        } else {
            y.chunks_mut(d).zip(x.chunks(d)).for_each(work);
        }
        y
    }
}

#[derive(Debug)]
struct EncoderLayer {
    ln1: Norm,
    qkv: Dense,
    o: Dense,
    ln2: Norm,
    up: Dense,
    down: Dense,
}

#[derive(Debug)]
struct DecoderLayer {
    ln1: Norm,
    qkv: Dense,
    o: Dense,
    ln2: Norm,
    q: Dense,
    kv: Dense,
    co: Dense,
    ln3: Norm,
    up: Dense,
    down: Dense,
}

/// A model loaded for inference. Immutable: share it between threads.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    precision: Precision,
    /// `(vocab, d)` token embeddings.
    emb: Vec<f32>,
    /// `(max_len, d)` position table.
    pos: Vec<f32>,
    out: Dense,
    enc: Vec<EncoderLayer>,
    enc_ln: Norm,
    dec: Vec<DecoderLayer>,
    dec_ln: Norm,
}

/// The encoded sources of a batch.
#[derive(Debug)]
pub struct Encoded {
    /// Where the decode steps of these sources may run.
    threads: Threads,
    /// `(start, len)` of each source's rows in the packed encoder output.
    spans: Vec<(usize, usize)>,
    /// Per decoder layer: cross-attention keys/values `(total source rows, 2d)`.
    cross_kv: Vec<Vec<f32>>,
}

impl Encoded {
    /// Number of sources.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// `true` when there are no sources.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Decoding state of a set of rows (hypotheses), each tied to one source.
#[derive(Debug)]
pub struct DecoderState {
    /// Source index of each row.
    source: Vec<usize>,
    /// Positions decoded so far (the same for every row).
    steps: usize,
    /// Positions each row's cache has room for.
    capacity: usize,
    /// Values per cached position (keys and values: `2d`).
    kv_width: usize,
    /// Per decoder layer: `(rows, capacity, 2d)` self-attention keys/values.
    self_kv: Vec<Vec<f32>>,
}

impl DecoderState {
    /// Source index of each live row.
    pub fn sources(&self) -> &[usize] {
        &self.source
    }

    /// Live rows.
    pub fn rows(&self) -> usize {
        self.source.len()
    }

    /// Positions decoded so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Keeps rows `parents[i]` as the new row `i` (a row may be kept several
    /// times, or dropped): what beam search and finished sentences need.
    pub fn keep(&mut self, parents: &[usize]) {
        let width = self.capacity * self.kv_width;
        let used = self.steps * self.kv_width;
        for kv in &mut self.self_kv {
            let mut next = vec![0f32; parents.len() * width];
            for (row, &p) in next.chunks_mut(width).zip(parents) {
                row[..used].copy_from_slice(&kv[p * width..][..used]);
            }
            *kv = next;
        }
        self.source = parents.iter().map(|&p| self.source[p]).collect();
    }
}

fn tensor_data(t: &candle_core::Tensor) -> crate::Result<Vec<f32>> {
    Ok(t.flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1::<f32>()?)
}

impl Engine {
    /// Copies the weights of `model` into an engine of the given precision.
    pub fn new(model: &Transformer, precision: Precision) -> crate::Result<Self> {
        let cfg = model.config().clone();
        let d = cfg.d_model;
        let norm = |n: &crate::layers::LayerNorm| -> crate::Result<Norm> {
            Ok(Norm {
                gain: tensor_data(&n.gamma)?,
                bias: tensor_data(&n.beta)?,
            })
        };
        let dense = |l: &crate::layers::Linear| -> crate::Result<Dense> {
            let (d_in, d_out) = l.w.dims2()?;
            let data = tensor_data(&l.w)?;
            let src = WeightSource {
                d_in,
                d_out,
                data: &data,
                transposed: false,
            };
            Ok(Dense::new(&src, Some(tensor_data(&l.b)?), precision))
        };
        let emb = tensor_data(&model.emb)?;
        let out_table = match &model.out {
            Some(w) => tensor_data(w)?,
            None => emb.clone(),
        };
        let out = Dense::new(
            &WeightSource {
                d_in: d,
                d_out: cfg.vocab,
                data: &out_table,
                transposed: true,
            },
            None,
            precision,
        );
        drop(out_table);
        let enc = model
            .enc
            .iter()
            .map(|l| {
                Ok(EncoderLayer {
                    ln1: norm(&l.ln1)?,
                    qkv: dense(&l.attn.qkv)?,
                    o: dense(&l.attn.o)?,
                    ln2: norm(&l.ln2)?,
                    up: dense(&l.ff.up)?,
                    down: dense(&l.ff.down)?,
                })
            })
            .collect::<crate::Result<_>>()?;
        let dec = model
            .dec
            .iter()
            .map(|l| {
                Ok(DecoderLayer {
                    ln1: norm(&l.ln1)?,
                    qkv: dense(&l.self_attn.qkv)?,
                    o: dense(&l.self_attn.o)?,
                    ln2: norm(&l.ln2)?,
                    q: dense(&l.cross_attn.q)?,
                    kv: dense(&l.cross_attn.kv)?,
                    co: dense(&l.cross_attn.o)?,
                    ln3: norm(&l.ln3)?,
                    up: dense(&l.ff.up)?,
                    down: dense(&l.ff.down)?,
                })
            })
            .collect::<crate::Result<_>>()?;
        Ok(Self {
            precision,
            emb,
            pos: tensor_data(&model.pos)?,
            out,
            enc,
            enc_ln: norm(&model.enc_ln)?,
            dec,
            dec_ln: norm(&model.dec_ln)?,
            cfg,
        })
    }

    /// Loads a model directory (see [`crate::load_model`]) into an engine.
    pub fn load(
        dir: &std::path::Path,
        precision: Precision,
    ) -> crate::Result<(Self, crate::ModelCard)> {
        let (model, card) = crate::load_model(dir, &candle_core::Device::Cpu)?;
        Ok((Self::new(&model, precision)?, card))
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// How the weights are stored.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Bytes taken by the weight matrices (the embedding table aside).
    pub fn weight_bytes(&self) -> usize {
        let enc: usize = self
            .enc
            .iter()
            .map(|l| {
                [&l.qkv, &l.o, &l.up, &l.down]
                    .iter()
                    .map(|m| m.weight_bytes())
                    .sum::<usize>()
            })
            .sum();
        let dec: usize = self
            .dec
            .iter()
            .map(|l| {
                [&l.qkv, &l.o, &l.q, &l.kv, &l.co, &l.up, &l.down]
                    .iter()
                    .map(|m| m.weight_bytes())
                    .sum::<usize>()
            })
            .sum();
        enc + dec + self.out.weight_bytes()
    }

    /// Most target positions a decode may use (the position table's size).
    pub fn max_positions(&self) -> usize {
        self.cfg.max_len
    }

    fn d(&self) -> usize {
        self.cfg.d_model
    }

    /// `emb[id] * sqrt(d) + pos[p]` for each `(id, p)`.
    fn embed(&self, ids: impl Iterator<Item = (u32, usize)>) -> Vec<f32> {
        let d = self.d();
        let scale = (d as f32).sqrt();
        let mut x = Vec::new();
        for (id, p) in ids {
            let e = &self.emb[id as usize * d..][..d];
            let ps = &self.pos[p * d..][..d];
            x.extend(e.iter().zip(ps).map(|(e, p)| e * scale + p));
        }
        x
    }

    /// Encodes sources (token ids without EOS; cut to `max_len - 1` tokens).
    /// `threads` also applies to every [`Engine::step`] over the result.
    pub fn encode(&self, srcs: &[&[u32]], threads: Threads) -> Encoded {
        let d = self.d();
        let rows: Vec<Vec<u32>> = srcs
            .iter()
            .map(|s| source_ids(s, self.cfg.max_len))
            .collect();
        let mut spans = Vec::with_capacity(rows.len());
        let mut start = 0;
        for r in &rows {
            spans.push((start, r.len()));
            start += r.len();
        }
        let n = start;
        let vocab = self.cfg.vocab as u32;
        let mut x = self.embed(rows.iter().flat_map(|r| {
            r.iter().enumerate().map(move |(p, &id)| {
                (
                    if id < vocab {
                        id
                    } else {
                        crate::model::special::UNK
                    },
                    p,
                )
            })
        }));
        let span_of: Vec<usize> = spans
            .iter()
            .enumerate()
            .flat_map(|(i, &(_, len))| std::iter::repeat_n(i, len))
            .collect();
        let heads = self.cfg.heads;
        for l in &self.enc {
            let qkv = l.qkv.forward(&l.ln1.apply(&x, threads), n, false, threads);
            let mut att = vec![0f32; n * d];
            let row_task = |(i, out): (usize, &mut [f32])| {
                let (s, len) = spans[span_of[i]];
                let kv = &qkv[s * 3 * d..][..len * 3 * d];
                attend(&qkv[i * 3 * d..][..d], kv, 3 * d, d, 2 * d, len, heads, out);
            };
            rows_apply(&mut att, d, threads, row_task);
            add(&mut x, &l.o.forward(&att, n, false, threads));
            let h = l.up.forward(&l.ln2.apply(&x, threads), n, true, threads);
            add(&mut x, &l.down.forward(&h, n, false, threads));
        }
        let memory = self.enc_ln.apply(&x, threads);
        let cross_kv = self
            .dec
            .iter()
            .map(|l| l.kv.forward(&memory, n, false, threads))
            .collect();
        Encoded {
            threads,
            spans,
            cross_kv,
        }
    }

    /// A decoder state with one row per source, room for `capacity` positions.
    pub fn start(&self, encoded: &Encoded, capacity: usize) -> DecoderState {
        let rows = encoded.len();
        let capacity = capacity.clamp(1, self.cfg.max_len);
        DecoderState {
            source: (0..rows).collect(),
            steps: 0,
            capacity,
            kv_width: 2 * self.d(),
            self_kv: self
                .dec
                .iter()
                .map(|_| vec![0f32; rows * capacity * 2 * self.d()])
                .collect(),
        }
    }

    /// Decodes the next position of every row of `state` given its last
    /// token (`BOS` first): the vocabulary logits, `(rows, vocab)`.
    ///
    /// # Panics
    /// When `last` does not have one token per row or the state is full.
    pub fn step(&self, encoded: &Encoded, state: &mut DecoderState, last: &[u32]) -> Vec<f32> {
        let d = self.d();
        let rows = state.rows();
        assert_eq!(last.len(), rows, "one token per row");
        assert!(state.steps < state.capacity, "decoder state is full");
        let t = state.steps;
        let heads = self.cfg.heads;
        let cap = state.capacity;
        let vocab = self.cfg.vocab as u32;
        let threads = encoded.threads;
        let mut x = self.embed(last.iter().map(|&id| {
            (
                if id < vocab {
                    id
                } else {
                    crate::model::special::UNK
                },
                t,
            )
        }));
        for (l, (cache, cross)) in self
            .dec
            .iter()
            .zip(state.self_kv.iter_mut().zip(&encoded.cross_kv))
        {
            // Causal self-attention over the cached positions plus this one.
            let qkv = l
                .qkv
                .forward(&l.ln1.apply(&x, threads), rows, false, threads);
            for r in 0..rows {
                cache[(r * cap + t) * 2 * d..][..2 * d]
                    .copy_from_slice(&qkv[r * 3 * d + d..][..2 * d]);
            }
            let mut att = vec![0f32; rows * d];
            let cache_ref: &[f32] = cache;
            let self_task = |(r, out): (usize, &mut [f32])| {
                let kv = &cache_ref[r * cap * 2 * d..][..(t + 1) * 2 * d];
                attend(&qkv[r * 3 * d..][..d], kv, 2 * d, 0, d, t + 1, heads, out);
            };
            rows_apply(&mut att, d, threads, self_task);
            add(&mut x, &l.o.forward(&att, rows, false, threads));
            // Cross-attention over the row's source.
            let q = l.q.forward(&l.ln2.apply(&x, threads), rows, false, threads);
            let sources = &state.source;
            let cross_task = |(r, out): (usize, &mut [f32])| {
                let (s, len) = encoded.spans[sources[r]];
                let kv = &cross[s * 2 * d..][..len * 2 * d];
                attend(&q[r * d..][..d], kv, 2 * d, 0, d, len, heads, out);
            };
            let mut att = vec![0f32; rows * d];
            rows_apply(&mut att, d, threads, cross_task);
            add(&mut x, &l.co.forward(&att, rows, false, threads));
            let h = l.up.forward(&l.ln3.apply(&x, threads), rows, true, threads);
            add(&mut x, &l.down.forward(&h, rows, false, threads));
        }
        state.steps += 1;
        self.out
            .forward(&self.dec_ln.apply(&x, threads), rows, false, threads)
    }
}

/// Runs `task` on each `d`-wide row of `out`, in parallel when allowed and
/// there are many.
fn rows_apply<F>(out: &mut [f32], d: usize, threads: Threads, task: F)
where
    F: Fn((usize, &mut [f32])) + Sync + Send,
{
    if threads == Threads::Pool && out.len() / d >= 2 * ROWS_PER_TASK {
        out.par_chunks_mut(d).enumerate().for_each(task);
    } else {
        out.chunks_mut(d).enumerate().for_each(task);
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// Multi-head attention of one query `q` (`d` values) over `n` key/value
/// rows of `kv` (row stride `stride`; keys at `k_off`, values at `v_off`),
/// written to `out` (`d` values).
#[allow(clippy::too_many_arguments)]
fn attend(
    q: &[f32],
    kv: &[f32],
    stride: usize,
    k_off: usize,
    v_off: usize,
    n: usize,
    heads: usize,
    out: &mut [f32],
) {
    let d = q.len();
    let dh = d / heads;
    let scale = 1.0 / (dh as f32).sqrt();
    let mut p = vec![0f32; n];
    for h in 0..heads {
        let qh = &q[h * dh..][..dh];
        let mut max = f32::NEG_INFINITY;
        for (j, pj) in p.iter_mut().enumerate() {
            let k = &kv[j * stride + k_off + h * dh..][..dh];
            *pj = dot(qh, k) * scale;
            max = max.max(*pj);
        }
        let mut sum = 0f32;
        for pj in p.iter_mut() {
            *pj = crate::ops::fast_exp(*pj - max);
            sum += *pj;
        }
        let inv = 1.0 / sum;
        let oh = &mut out[h * dh..][..dh];
        oh.fill(0.0);
        for (j, &pj) in p.iter().enumerate() {
            let v = &kv[j * stride + v_off + h * dh..][..dh];
            let w = pj * inv;
            oh.iter_mut().zip(v).for_each(|(o, v)| *o += w * v);
        }
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}
