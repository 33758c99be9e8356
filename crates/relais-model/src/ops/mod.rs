//! Differentiable building blocks: layer norm, attention, masked softmax,
//! embedding, bias/residual with dropout, label-smoothed cross-entropy.
//!
//! On the CPU each is one fused custom op with a hand-written backward
//! (`kernels`, `dense`, `loss`, `attention`, `embed`); on other devices the same maths is composed from candle ops
//! (slower, but differentiable and device-agnostic). The composed versions are
//! also the reference the fused ones are tested against.

mod attention;
mod dense;
mod embed;
mod kernels;
mod loss;

use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Tensor, D};

pub use attention::AttnLayout;
use dense::{BiasOp, DropoutOp, LinearOp, ResidualOp};
pub(crate) use kernels::fast_exp;
pub use kernels::AttnMask;
use kernels::{LayerNormOp, MaskedSoftmaxOp};
use loss::{ProjectedCeOp, SmoothedCeOp};

/// Layer-norm epsilon used throughout the model.
pub const LN_EPS: f32 = 1e-5;

/// Whether the fused CPU kernels apply to `t`.
fn fused(t: &Tensor) -> bool {
    matches!(t.device(), Device::Cpu) && t.dtype() == DType::F32
}

/// Layer norm over the last dimension.
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?
            .apply_op3(gamma, beta, LayerNormOp { eps: LN_EPS })
    } else {
        layer_norm_composed(x, gamma, beta)
    }
}

/// Layer norm from elementary (differentiable) candle ops.
pub fn layer_norm_composed(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + LN_EPS as f64)?.sqrt()?)?;
    xn.broadcast_mul(gamma)?.broadcast_add(beta)
}

/// Softmax of `scale * scores` over keys for `(B, H, Tq, Tk)` attention scores,
/// masked by `mask`.
pub fn masked_softmax(scores: &Tensor, mask: &AttnMask, scale: f32) -> Result<Tensor> {
    if fused(scores) {
        scores.contiguous()?.apply_op1(MaskedSoftmaxOp {
            mask: mask.clone(),
            scale,
        })
    } else {
        masked_softmax_composed(scores, mask, scale)
    }
}

/// Masked softmax from elementary candle ops (an additive `-inf`-like bias).
pub fn masked_softmax_composed(scores: &Tensor, mask: &AttnMask, scale: f32) -> Result<Tensor> {
    let (b, _h, tq, tk) = scores.dims4()?;
    let mut bias = vec![0f32; b * tq * tk];
    for bi in 0..b {
        for q in 0..tq {
            let n = mask.visible(bi, q, tk);
            let row = &mut bias[(bi * tq + q) * tk..(bi * tq + q + 1) * tk];
            row[n..].iter_mut().for_each(|v| *v = -1e9);
        }
    }
    let bias = Tensor::from_vec(bias, (b, 1, tq, tk), scores.device())?.to_dtype(scores.dtype())?;
    let x = (scores * scale as f64)?.broadcast_add(&bias)?;
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Multi-head attention core over row-major projections placed as `layout`
/// says (see [`AttnLayout`]); returns `(B * Tq, d)`.
pub fn attention(
    q: &Tensor,
    kv: &Tensor,
    layout: AttnLayout,
    mask: &AttnMask,
    scale: f32,
) -> Result<Tensor> {
    if fused(q) {
        let op = attention::AttentionOp {
            mask: mask.clone(),
            layout,
            scale,
        };
        q.contiguous()?.apply_op2(&kv.contiguous()?, op)
    } else {
        attention_composed(q, kv, layout, mask, scale)
    }
}

/// The attention core from candle matrix products and [`masked_softmax_composed`].
pub fn attention_composed(
    q: &Tensor,
    kv: &Tensor,
    l: AttnLayout,
    mask: &AttnMask,
    scale: f32,
) -> Result<Tensor> {
    l.check(q.dims(), kv.dims())?;
    let dh = l.d / l.heads;
    let heads = |x: &Tensor, off: usize, t: usize| -> Result<Tensor> {
        x.narrow(1, off, l.d)?
            .reshape((l.batch, t, l.heads, dh))?
            .transpose(1, 2)?
            .contiguous()
    };
    let (qh, kh, vh) = (
        heads(q, l.q_off, l.tq)?,
        heads(kv, l.k_off, l.tk)?,
        heads(kv, l.v_off, l.tk)?,
    );
    let p = masked_softmax_composed(&qh.matmul(&kh.t()?)?, mask, scale)?;
    p.matmul(&vh)?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((l.batch * l.tq, l.d))
}

/// Token embeddings times `scale` plus sinusoidal positions, for `rows` sequences
/// of `len` ids each (row-major), positions starting at `offset`; `(rows * len, d)`.
pub fn embed(
    table: &Tensor,
    positions: &Tensor,
    ids: &[u32],
    len: usize,
    offset: usize,
    scale: f32,
) -> Result<Tensor> {
    let (_, d) = table.dims2()?;
    if fused(table) {
        let pos = positions
            .narrow(0, offset, len)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let op = embed::EmbedOp {
            ids: Arc::new(ids.to_vec()),
            pos: Arc::new(pos),
            len,
            scale,
        };
        table.apply_op1(op)
    } else {
        let idx = Tensor::from_slice(ids, ids.len(), table.device())?;
        let x = (table.index_select(&idx, 0)? * scale as f64)?.reshape((
            ids.len() / len.max(1),
            len,
            d,
        ))?;
        x.broadcast_add(&positions.narrow(0, offset, len)?.detach())?
            .reshape((ids.len(), d))
    }
}

/// Summed label-smoothed cross-entropy of `(N, V)` logits against `targets`,
/// skipping positions whose target is `pad`. Returns a scalar (the sum, not the mean).
pub fn smoothed_cross_entropy(
    logits: &Tensor,
    targets: &[u32],
    pad: u32,
    smoothing: f32,
) -> Result<Tensor> {
    if fused(logits) {
        let op = SmoothedCeOp {
            targets: Arc::new(targets.to_vec()),
            pad,
            smoothing,
            grad: Some(Arc::new(Mutex::new(None))),
        };
        logits.contiguous()?.apply_op1(op)?.sum_all()
    } else {
        smoothed_cross_entropy_composed(logits, targets, pad, smoothing)
    }
}

/// [`smoothed_cross_entropy`] of the logits `h W^T` for `(N, d)` states and a
/// `(V, d)` output weight, without materialising the logits in the graph.
pub fn projected_cross_entropy(
    h: &Tensor,
    w: &Tensor,
    targets: &[u32],
    pad: u32,
    smoothing: f32,
) -> Result<Tensor> {
    if fused(h) {
        let op = ProjectedCeOp {
            targets: Arc::new(targets.to_vec()),
            pad,
            smoothing,
            grad: Arc::new(Mutex::new(None)),
        };
        h.contiguous()?.apply_op2(&w.contiguous()?, op)?.sum_all()
    } else {
        smoothed_cross_entropy_composed(&h.matmul(&w.t()?)?, targets, pad, smoothing)
    }
}

/// The same loss without keeping any gradient (validation): per-row losses summed.
pub fn cross_entropy_eval(
    logits: &Tensor,
    targets: &[u32],
    pad: u32,
    smoothing: f32,
) -> Result<f32> {
    if fused(logits) {
        let op = SmoothedCeOp {
            targets: Arc::new(targets.to_vec()),
            pad,
            smoothing,
            grad: None,
        };
        logits
            .contiguous()?
            .apply_op1_no_bwd(&op)?
            .sum_all()?
            .to_scalar::<f32>()
    } else {
        smoothed_cross_entropy_composed(&logits.detach(), targets, pad, smoothing)?
            .to_scalar::<f32>()
    }
}

/// Label-smoothed cross-entropy from elementary candle ops.
pub fn smoothed_cross_entropy_composed(
    logits: &Tensor,
    targets: &[u32],
    pad: u32,
    smoothing: f32,
) -> Result<Tensor> {
    let (_, v) = logits.dims2()?;
    let logp = {
        let max = logits.max_keepdim(D::Minus1)?.detach();
        let x = logits.broadcast_sub(&max)?;
        x.broadcast_sub(&x.exp()?.sum_keepdim(D::Minus1)?.log()?)?
    };
    let dev = logits.device();
    let tgt = Tensor::from_slice(targets, targets.len(), dev)?;
    let keep: Vec<f32> = targets
        .iter()
        .map(|&t| if t == pad { 0.0 } else { 1.0 })
        .collect();
    let keep = Tensor::from_vec(keep, targets.len(), dev)?.to_dtype(logits.dtype())?;
    let nll = logp.gather(&tgt.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?;
    let smooth = logp.sum(1)?.neg()?;
    let per_row = ((nll * (1.0 - smoothing) as f64)? + (smooth * (smoothing / v as f32) as f64)?)?;
    (per_row * keep)?.sum_all()
}

/// `drop(act(x + b))` with `b` broadcast over the rows of `x`; `act` is ReLU
/// when `relu` is set, and `drop` is dropout `(p, seed)` when given.
pub fn bias_add(x: &Tensor, b: &Tensor, relu: bool, drop: Option<(f32, u32)>) -> Result<Tensor> {
    let drop = drop.filter(|(p, _)| *p > 0.0);
    if fused(x) {
        let drop = drop.map(|(p, seed)| DropoutOp { p, seed });
        x.contiguous()?.apply_op2(b, BiasOp { relu, drop })
    } else {
        let mut y = x.broadcast_add(b)?;
        if relu {
            y = y.relu()?;
        }
        match drop {
            Some((p, seed)) => dropout(&y, p, seed),
            None => Ok(y),
        }
    }
}

/// `drop(act(x W + b))` for `(N, in)` inputs and an `(in, out)` weight: one
/// graph node on the CPU, [`bias_add`] after a candle product elsewhere.
pub fn linear(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    relu: bool,
    drop: Option<(f32, u32)>,
) -> Result<Tensor> {
    if fused(x) {
        let drop = drop
            .filter(|(p, _)| *p > 0.0)
            .map(|(p, seed)| DropoutOp { p, seed });
        x.contiguous()?.apply_op3(
            &w.contiguous()?,
            b,
            LinearOp {
                bias: BiasOp { relu, drop },
            },
        )
    } else {
        bias_add(&x.matmul(w)?, b, relu, drop)
    }
}

/// `x + drop(a)`: a residual connection with dropout `(p, seed)` on the branch.
pub fn residual(x: &Tensor, a: &Tensor, drop: Option<(f32, u32)>) -> Result<Tensor> {
    match drop.filter(|(p, _)| *p > 0.0) {
        Some((p, seed)) if fused(x) => x.contiguous()?.apply_op2(
            &a.contiguous()?,
            ResidualOp {
                drop: DropoutOp { p, seed },
            },
        ),
        Some((p, seed)) => x + dropout(a, p, seed)?,
        None => x + a,
    }
}

/// Inverted dropout with probability `p`; the mask is derived from `seed`.
pub fn dropout(x: &Tensor, p: f32, seed: u32) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    if fused(x) {
        x.contiguous()?.apply_op1(DropoutOp { p, seed })
    } else {
        candle_nn::ops::dropout(x, p)
    }
}

#[cfg(test)]
mod tests;
