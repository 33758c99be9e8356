//! Transformer layers: linear, layer norm, attention, feed-forward, and the
//! pre-norm encoder and decoder layers built from them.
//!
//! Every layer is `new(cfg, vb)` + `forward`. Activations stay 2-D, `(B * T, d)`
//! row-major, so no reshapes or transposes enter the autograd graph; the
//! attention op reads sequence structure from an [`AttnLayout`].

use std::cell::Cell;

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::config::Config;
use crate::ops::{self, AttnLayout, AttnMask};

/// Dropout settings for one forward pass: each call draws a fresh mask seed.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    seed: u32,
    calls: Cell<u32>,
}

impl Dropout {
    /// Dropout with probability `p`, masks derived from `seed` (e.g. the step number).
    pub fn new(p: f32, seed: u64) -> Self {
        Self {
            p,
            seed: (seed ^ (seed >> 32)) as u32,
            calls: Cell::new(0),
        }
    }

    /// The `(p, seed)` of the next dropout mask, `None` when dropout is off.
    pub fn next(drop: Option<&Self>) -> Option<(f32, u32)> {
        match drop {
            Some(d) if d.p > 0.0 => {
                let n = d.calls.get();
                d.calls.set(n.wrapping_add(1));
                Some((
                    d.p,
                    d.seed
                        .wrapping_mul(0x2545_F491)
                        .wrapping_add(n.wrapping_mul(0x9E37_79B9)),
                ))
            }
            _ => None,
        }
    }

    /// Applies dropout to `x` (the identity when `drop` is `None`).
    pub fn apply(drop: Option<&Self>, x: &Tensor) -> Result<Tensor> {
        match Self::next(drop) {
            Some((p, seed)) => ops::dropout(x, p, seed),
            None => Ok(x.clone()),
        }
    }

    /// `x + drop(a)`.
    pub fn residual(drop: Option<&Self>, x: &Tensor, a: &Tensor) -> Result<Tensor> {
        ops::residual(x, a, Self::next(drop))
    }
}

/// `y = x W + b` for `(N, in)` inputs. The weight is stored `(in, out)` so the
/// product needs no transpose (in the graph or in memory).
#[derive(Debug, Clone)]
pub struct Linear {
    pub(crate) w: Tensor,
    pub(crate) b: Tensor,
}

impl Linear {
    pub fn new(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<Self> {
        let std = (2.0 / (d_in + d_out) as f64).sqrt();
        let w = vb.get_with_hints(
            (d_in, d_out),
            "weight",
            Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        )?;
        let b = vb.get_with_hints(d_out, "bias", Init::Const(0.0))?;
        Ok(Self { w, b })
    }

    /// `drop(act(x W + b))`: ReLU when `relu` is set, then dropout when given.
    pub fn forward_act(&self, x: &Tensor, relu: bool, drop: Option<&Dropout>) -> Result<Tensor> {
        ops::linear(x, &self.w, &self.b, relu, Dropout::next(drop))
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_act(x, false, None)
    }
}

/// Layer norm with learned gain and bias (differentiable; see [`ops::layer_norm`]).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub(crate) gamma: Tensor,
    pub(crate) beta: Tensor,
}

impl LayerNorm {
    pub fn new(d: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gamma: vb.get_with_hints(d, "weight", Init::Const(1.0))?,
            beta: vb.get_with_hints(d, "bias", Init::Const(0.0))?,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::layer_norm(x, &self.gamma, &self.beta)
    }
}

/// Sequence shapes of one attention call.
#[derive(Debug, Clone)]
pub struct AttnShape {
    /// Sequences in the batch.
    pub batch: usize,
    /// Query positions per sequence.
    pub tq: usize,
    /// Key positions per sequence.
    pub tk: usize,
    /// Which keys each query sees.
    pub mask: AttnMask,
}

/// Causal self-attention (or bidirectional, by mask) with one fused
/// query/key/value projection.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    pub(crate) qkv: Linear,
    pub(crate) o: Linear,
    d: usize,
    heads: usize,
}

impl SelfAttention {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            qkv: Linear::new(d, 3 * d, vb.pp("qkv"))?,
            o: Linear::new(d, d, vb.pp("o"))?,
            d,
            heads: cfg.heads,
        })
    }

    fn scale(&self) -> f32 {
        1.0 / ((self.d / self.heads) as f32).sqrt()
    }

    /// Attention of `(B * T, d)` states over themselves.
    pub fn forward(&self, x: &Tensor, shape: &AttnShape) -> Result<Tensor> {
        let qkv = self.qkv.forward(x)?;
        let d = self.d;
        let layout = AttnLayout {
            batch: shape.batch,
            tq: shape.tq,
            tk: shape.tk,
            d,
            heads: self.heads,
            q_width: 3 * d,
            q_off: 0,
            kv_width: 3 * d,
            k_off: d,
            v_off: 2 * d,
        };
        self.o.forward(&ops::attention(
            &qkv,
            &qkv,
            layout,
            &shape.mask,
            self.scale(),
        )?)
    }

    /// Incremental forward of `(B, d)` new states (one position each): their keys
    /// and values are appended to `cache` (`(B, T, 2d)` as `(B * T, 2d)` rows).
    pub fn forward_cached(
        &self,
        x: &Tensor,
        cache: &mut Option<(Tensor, usize)>,
        mask: &AttnMask,
    ) -> Result<Tensor> {
        let d = self.d;
        let b = x.dim(0)?;
        let qkv = self.qkv.forward(x)?;
        let kv_new = qkv.narrow(1, d, 2 * d)?.reshape((b, 1, 2 * d))?;
        let (kv, t) = match cache.take() {
            Some((kv, t)) => (
                Tensor::cat(&[&kv.reshape((b, t, 2 * d))?, &kv_new], 1)?,
                t + 1,
            ),
            None => (kv_new, 1),
        };
        let kv = kv.reshape((b * t, 2 * d))?;
        let layout = AttnLayout {
            batch: b,
            tq: 1,
            tk: t,
            d,
            heads: self.heads,
            q_width: 3 * d,
            q_off: 0,
            kv_width: 2 * d,
            k_off: 0,
            v_off: d,
        };
        let out = self.o.forward(&ops::attention(
            &qkv.contiguous()?,
            &kv,
            layout,
            mask,
            self.scale(),
        )?)?;
        *cache = Some((kv, t));
        Ok(out)
    }
}

/// Cross-attention of decoder states over the encoder memory.
#[derive(Debug, Clone)]
pub struct CrossAttention {
    pub(crate) q: Linear,
    pub(crate) kv: Linear,
    pub(crate) o: Linear,
    d: usize,
    heads: usize,
}

impl CrossAttention {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            q: Linear::new(d, d, vb.pp("q"))?,
            kv: Linear::new(d, 2 * d, vb.pp("kv"))?,
            o: Linear::new(d, d, vb.pp("o"))?,
            d,
            heads: cfg.heads,
        })
    }

    /// Keys and values of the memory, `(B * S, 2d)`; computed once per decode.
    pub fn memory_kv(&self, memory: &Tensor) -> Result<Tensor> {
        self.kv.forward(memory)
    }

    /// Attention of `(B * Tq, d)` states over projected memory keys/values.
    pub fn forward(&self, x: &Tensor, kv: &Tensor, shape: &AttnShape) -> Result<Tensor> {
        let d = self.d;
        let q = self.q.forward(x)?;
        let layout = AttnLayout {
            batch: shape.batch,
            tq: shape.tq,
            tk: shape.tk,
            d,
            heads: self.heads,
            q_width: d,
            q_off: 0,
            kv_width: 2 * d,
            k_off: 0,
            v_off: d,
        };
        let scale = 1.0 / ((d / self.heads) as f32).sqrt();
        self.o
            .forward(&ops::attention(&q, kv, layout, &shape.mask, scale)?)
    }
}

/// Position-wise feed-forward block: linear + ReLU, dropout, linear.
#[derive(Debug, Clone)]
pub struct FeedForward {
    pub(crate) up: Linear,
    pub(crate) down: Linear,
}

impl FeedForward {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            up: Linear::new(cfg.d_model, cfg.ff, vb.pp("up"))?,
            down: Linear::new(cfg.ff, cfg.d_model, vb.pp("down"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, drop: Option<&Dropout>) -> Result<Tensor> {
        self.down.forward(&self.up.forward_act(x, true, drop)?)
    }
}

/// Pre-norm encoder layer: `x + drop(attn(ln(x)))`, then `x + drop(ff(ln(x)))`.
#[derive(Debug, Clone)]
pub struct EncoderLayer {
    pub(crate) ln1: LayerNorm,
    pub(crate) attn: SelfAttention,
    pub(crate) ln2: LayerNorm,
    pub(crate) ff: FeedForward,
}

impl EncoderLayer {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            ln1: LayerNorm::new(cfg.d_model, vb.pp("ln1"))?,
            attn: SelfAttention::new(cfg, vb.pp("self_attn"))?,
            ln2: LayerNorm::new(cfg.d_model, vb.pp("ln2"))?,
            ff: FeedForward::new(cfg, vb.pp("ff"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, shape: &AttnShape, drop: Option<&Dropout>) -> Result<Tensor> {
        let a = self.attn.forward(&self.ln1.forward(x)?, shape)?;
        let x = Dropout::residual(drop, x, &a)?;
        let f = self.ff.forward(&self.ln2.forward(&x)?, drop)?;
        Dropout::residual(drop, &x, &f)
    }
}

/// Keys and values a decoder layer has seen so far, for incremental decoding.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    self_kv: Option<(Tensor, usize)>,
    cross_kv: Option<Tensor>,
}

/// Pre-norm decoder layer: causal self-attention, cross-attention, feed-forward.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    pub(crate) ln1: LayerNorm,
    pub(crate) self_attn: SelfAttention,
    pub(crate) ln2: LayerNorm,
    pub(crate) cross_attn: CrossAttention,
    pub(crate) ln3: LayerNorm,
    pub(crate) ff: FeedForward,
}

impl DecoderLayer {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            ln1: LayerNorm::new(cfg.d_model, vb.pp("ln1"))?,
            self_attn: SelfAttention::new(cfg, vb.pp("self_attn"))?,
            ln2: LayerNorm::new(cfg.d_model, vb.pp("ln2"))?,
            cross_attn: CrossAttention::new(cfg, vb.pp("cross_attn"))?,
            ln3: LayerNorm::new(cfg.d_model, vb.pp("ln3"))?,
            ff: FeedForward::new(cfg, vb.pp("ff"))?,
        })
    }

    /// Full-sequence forward (training): `causal` over the target, `cross` over
    /// the `(B * S, d)` memory.
    pub fn forward(
        &self,
        x: &Tensor,
        memory: &Tensor,
        causal: &AttnShape,
        cross: &AttnShape,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        let a = self.self_attn.forward(&self.ln1.forward(x)?, causal)?;
        let x = Dropout::residual(drop, x, &a)?;
        let kv = self.cross_attn.memory_kv(memory)?;
        let c = self
            .cross_attn
            .forward(&self.ln2.forward(&x)?, &kv, cross)?;
        let x = Dropout::residual(drop, &x, &c)?;
        let f = self.ff.forward(&self.ln3.forward(&x)?, drop)?;
        Dropout::residual(drop, &x, &f)
    }

    /// Forward of one new position per sequence (`(B, d)`), using and extending `cache`.
    pub fn forward_cached(
        &self,
        x: &Tensor,
        memory: &Tensor,
        causal: &AttnMask,
        cross: &AttnShape,
        cache: &mut LayerCache,
    ) -> Result<Tensor> {
        let a = self
            .self_attn
            .forward_cached(&self.ln1.forward(x)?, &mut cache.self_kv, causal)?;
        let x = (x + a)?;
        let kv = match cache.cross_kv.take() {
            Some(kv) => kv,
            None => self.cross_attn.memory_kv(memory)?,
        };
        let c = self
            .cross_attn
            .forward(&self.ln2.forward(&x)?, &kv, cross)?;
        cache.cross_kv = Some(kv);
        let x = (x + c)?;
        x.clone() + self.ff.forward(&self.ln3.forward(&x)?, None)?
    }
}
