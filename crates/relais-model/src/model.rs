//! The encoder-decoder: embeddings, encoder and decoder stacks, output
//! projection and the training loss.

use std::sync::Arc;

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::batch::{Batch, Tokens};
use crate::config::Config;
use crate::layers::{AttnShape, DecoderLayer, Dropout, EncoderLayer, LayerCache, LayerNorm};
use crate::ops::{self, AttnMask};

/// Reserved token ids (shared with the tokenizer).
pub mod special {
    /// Padding.
    pub const PAD: u32 = 0;
    /// Beginning of a target sentence.
    pub const BOS: u32 = 1;
    /// End of a sentence.
    pub const EOS: u32 = 2;
    /// Unknown piece.
    pub const UNK: u32 = 3;
}

/// A pre-norm Transformer encoder-decoder with a shared vocabulary.
#[derive(Debug, Clone)]
pub struct Transformer {
    cfg: Config,
    pub(crate) emb: Tensor,
    pub(crate) out: Option<Tensor>,
    pub(crate) pos: Tensor,
    pub(crate) enc: Vec<EncoderLayer>,
    pub(crate) enc_ln: LayerNorm,
    pub(crate) dec: Vec<DecoderLayer>,
    pub(crate) dec_ln: LayerNorm,
}

/// The encoded source of a batch.
#[derive(Debug, Clone)]
pub struct Memory {
    /// `(B * S, d)` encoder output.
    pub hidden: Tensor,
    /// Sequences in the batch.
    pub batch: usize,
    /// Padded source length `S`.
    pub len: usize,
    /// Non-padding source length of each row.
    pub src_lens: Arc<Vec<usize>>,
}

impl Memory {
    fn cross_shape(&self, tq: usize) -> AttnShape {
        AttnShape {
            batch: self.batch,
            tq,
            tk: self.len,
            mask: AttnMask {
                key_lens: self.src_lens.clone(),
                causal: false,
                q_offset: 0,
            },
        }
    }
}

/// Sinusoidal position table `(max_len, d)`.
fn positions(max_len: usize, d: usize, dev: &Device) -> Result<Tensor> {
    let mut table = vec![0f32; max_len * d];
    for p in 0..max_len {
        for i in 0..d / 2 {
            let angle = p as f64 / 10_000f64.powf(2.0 * i as f64 / d as f64);
            table[p * d + 2 * i] = angle.sin() as f32;
            table[p * d + 2 * i + 1] = angle.cos() as f32;
        }
    }
    Tensor::from_vec(table, (max_len, d), dev)
}

impl Transformer {
    /// Builds the model; with a `VarMap`-backed `vb` the weights are freshly initialised.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        let emb_init = Init::Randn {
            mean: 0.0,
            stdev: (d as f64).powf(-0.5),
        };
        let emb = vb.get_with_hints((cfg.vocab, d), "emb.weight", emb_init)?;
        let out = if cfg.tie_embeddings {
            None
        } else {
            Some(vb.get_with_hints((cfg.vocab, d), "out.weight", emb_init)?)
        };
        let enc = (0..cfg.enc_layers)
            .map(|i| EncoderLayer::new(cfg, vb.pp(format!("enc.{i}"))))
            .collect::<Result<_>>()?;
        let dec = (0..cfg.dec_layers)
            .map(|i| DecoderLayer::new(cfg, vb.pp(format!("dec.{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            emb,
            out,
            pos: positions(cfg.max_len, d, vb.device())?,
            enc,
            enc_ln: LayerNorm::new(d, vb.pp("enc.ln"))?,
            dec,
            dec_ln: LayerNorm::new(d, vb.pp("dec.ln"))?,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.emb.device()
    }

    /// Scaled token embeddings plus positions `offset..offset + len`, `(rows * len, d)`.
    fn embed(&self, ids: &[u32], len: usize, offset: usize) -> Result<Tensor> {
        let scale = (self.cfg.d_model as f32).sqrt();
        ops::embed(&self.emb, &self.pos, ids, len, offset, scale)
    }

    /// Encodes padded source rows (`tokens EOS PAD*`).
    pub fn encode(&self, src: &Tokens, drop: Option<&Dropout>) -> Result<Memory> {
        let shape = AttnShape {
            batch: src.rows,
            tq: src.len,
            tk: src.len,
            mask: AttnMask {
                key_lens: src.lens.clone(),
                causal: false,
                q_offset: 0,
            },
        };
        let mut x = Dropout::apply(drop, &self.embed(&src.ids, src.len, 0)?)?;
        for layer in &self.enc {
            x = layer.forward(&x, &shape, drop)?;
        }
        Ok(Memory {
            hidden: self.enc_ln.forward(&x)?,
            batch: src.rows,
            len: src.len,
            src_lens: src.lens.clone(),
        })
    }

    /// Final decoder states `(B * T, d)` for padded target-input rows (`BOS tokens PAD*`).
    pub fn decode(
        &self,
        tgt_in: &Tokens,
        memory: &Memory,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        let causal = AttnShape {
            batch: tgt_in.rows,
            tq: tgt_in.len,
            tk: tgt_in.len,
            mask: AttnMask {
                key_lens: tgt_in.lens.clone(),
                causal: true,
                q_offset: 0,
            },
        };
        let cross = memory.cross_shape(tgt_in.len);
        let mut x = Dropout::apply(drop, &self.embed(&tgt_in.ids, tgt_in.len, 0)?)?;
        for layer in &self.dec {
            x = layer.forward(&x, &memory.hidden, &causal, &cross, drop)?;
        }
        self.dec_ln.forward(&x)
    }

    /// Decoder states `(B, d)` for one new token per sequence at position
    /// `offset`, using and extending `cache` (one entry per decoder layer).
    pub fn decode_step(
        &self,
        last: &[u32],
        offset: usize,
        memory: &Memory,
        cache: &mut Vec<LayerCache>,
    ) -> Result<Tensor> {
        cache.resize_with(self.dec.len(), LayerCache::default);
        let causal = AttnMask {
            key_lens: Arc::new(vec![usize::MAX; last.len()]),
            causal: true,
            q_offset: offset,
        };
        let cross = memory.cross_shape(1);
        let mut x = self.embed(last, 1, offset)?;
        for (layer, c) in self.dec.iter().zip(cache.iter_mut()) {
            x = layer.forward_cached(&x, &memory.hidden, &causal, &cross, c)?;
        }
        self.dec_ln.forward(&x)
    }

    /// Vocabulary logits `(N, V)` for decoder states `(N, d)`.
    pub fn logits(&self, h: &Tensor) -> Result<Tensor> {
        let w = self.out.as_ref().unwrap_or(&self.emb);
        h.matmul(&w.t()?)
    }

    /// Final decoder states of a batch, `(B * T, d)`.
    fn batch_states(&self, batch: &Batch, drop: Option<&Dropout>) -> Result<Tensor> {
        let memory = self.encode(&batch.src, drop)?;
        self.decode(&batch.tgt_in, &memory, drop)
    }

    /// Summed label-smoothed training loss of a batch (divide by `batch.tokens`).
    pub fn loss(&self, batch: &Batch, drop: Option<&Dropout>) -> Result<Tensor> {
        let h = self.batch_states(batch, drop)?;
        let w = self.out.as_ref().unwrap_or(&self.emb);
        ops::projected_cross_entropy(
            &h,
            w,
            &batch.tgt_out,
            special::PAD,
            self.cfg.label_smoothing,
        )
    }

    /// Summed loss of a batch without gradients, with the given label smoothing
    /// (0 gives the negative log-likelihood).
    pub fn eval_loss(&self, batch: &Batch, smoothing: f32) -> Result<f32> {
        let logits = self.logits(&self.batch_states(batch, None)?.detach())?;
        ops::cross_entropy_eval(&logits, &batch.tgt_out, special::PAD, smoothing)
    }
}

/// Deterministic initialisation from `seed`: matrices normal with standard
/// deviation `sqrt(2 / (fan_in + fan_out))` (embeddings `d^-0.5`), norm gains 1,
/// biases 0. The same seed always gives the same weights.
pub fn init_weights(vars: &[(String, candle_core::Var)], seed: u64) -> Result<()> {
    let mut sorted: Vec<&(String, candle_core::Var)> = vars.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rng = crate::batch::SplitMix::new(seed ^ 0x5EED_1417_0000_0000);
    for (name, var) in sorted {
        let dims = var.dims().to_vec();
        let values: Vec<f32> = match *dims.as_slice() {
            [rows, cols] => {
                let std = if name.ends_with("emb.weight") || name.ends_with("out.weight") {
                    (cols as f64).powf(-0.5)
                } else {
                    (2.0 / (rows + cols) as f64).sqrt()
                };
                (0..rows * cols)
                    .map(|_| (rng.normal() * std) as f32)
                    .collect()
            }
            [n] if name.ends_with(".weight") => vec![1.0; n],
            _ => vec![0.0; var.elem_count()],
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}
