//! Fused CPU kernels for normalisation and softmax as candle custom ops, each
//! with a hand-written backward, plus helpers shared by the other kernels.
//!
//! candle's own `layer_norm` and `softmax_last_dim` have no backward pass, and the
//! composed versions cost several memory passes each; these do one or two passes
//! over contiguous rows, split across the rayon pool.

use std::sync::Arc;

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor,
};
use rayon::prelude::*;

/// Rows per parallel work item.
pub(super) const ROW_BLOCK: usize = 64;

pub(super) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v,
        _ => bail!("{op}: only f32 is supported"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: input must be contiguous"),
    }
}

pub(super) fn last_dim(l: &Layout, op: &str) -> Result<usize> {
    match l.dims().last() {
        Some(&d) if d > 0 => Ok(d),
        _ => bail!("{op}: needs a non-empty last dimension"),
    }
}

/// `e^x` to about 1e-7 relative error, written so the loop auto-vectorises.
#[inline(always)]
pub(crate) fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let bits = ((n as i32 + 127) << 23) as u32;
    p * f32::from_bits(bits)
}

/// Runs `f` on the contiguous f32 CPU data of `t` without copying it.
pub(crate) fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => Ok(f(&v[a..b])),
        _ => bail!("expected contiguous f32 CPU data"),
    }
}

// ---------------------------------------------------------------- layer norm

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` over the last dimension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerNormOp {
    pub eps: f32,
}

fn row_stats(x: &[f32], eps: f32) -> (f32, f32) {
    let d = x.len() as f32;
    let mean = x.iter().sum::<f32>() / d;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "relais-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, g, b) = (
            f32_slice(s1, l1, name)?,
            f32_slice(s2, l2, name)?,
            f32_slice(s3, l3, name)?,
        );
        let d = last_dim(l1, name)?;
        if g.len() != d || b.len() != d {
            bail!("{name}: gamma/beta must have {d} elements");
        }
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(d * ROW_BLOCK)
            .zip(x.par_chunks(d * ROW_BLOCK))
            .for_each(|(yb, xb)| {
                for (yr, xr) in yb.chunks_mut(d).zip(xb.chunks(d)) {
                    let (mean, rstd) = row_stats(xr, self.eps);
                    for j in 0..d {
                        yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
                    }
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = gamma.elem_count();
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let gs = gamma.flatten_all()?.to_vec1::<f32>()?;
        let dys = grad.flatten_all()?.to_vec1::<f32>()?;
        let mut dx = vec![0f32; xs.len()];
        let eps = self.eps;
        let (dg, db) = dx
            .par_chunks_mut(d * ROW_BLOCK)
            .zip(
                xs.par_chunks(d * ROW_BLOCK)
                    .zip(dys.par_chunks(d * ROW_BLOCK)),
            )
            .map(|(dxb, (xb, dyb))| {
                let mut dg = vec![0f32; d];
                let mut db = vec![0f32; d];
                let mut xhat = vec![0f32; d];
                for ((dxr, xr), dyr) in dxb.chunks_mut(d).zip(xb.chunks(d)).zip(dyb.chunks(d)) {
                    let (mean, rstd) = row_stats(xr, eps);
                    let (mut s1, mut s2) = (0f32, 0f32);
                    for j in 0..d {
                        xhat[j] = (xr[j] - mean) * rstd;
                        let dxh = dyr[j] * gs[j];
                        s1 += dxh;
                        s2 += dxh * xhat[j];
                        dg[j] += dyr[j] * xhat[j];
                        db[j] += dyr[j];
                    }
                    let (m1, m2) = (s1 / d as f32, s2 / d as f32);
                    for j in 0..d {
                        dxr[j] = rstd * (dyr[j] * gs[j] - m1 - xhat[j] * m2);
                    }
                }
                (dg, db)
            })
            .reduce(
                || (vec![0f32; d], vec![0f32; d]),
                |(mut a1, mut b1), (a2, b2)| {
                    a1.iter_mut().zip(&a2).for_each(|(a, b)| *a += b);
                    b1.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
                    (a1, b1)
                },
            );
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dg, gamma.shape(), dev)?),
            Some(Tensor::from_vec(db, gamma.shape(), dev)?),
        ))
    }
}

// ---------------------------------------------------------------- masked softmax

/// Which keys each query row may attend to; rows are `(batch, head, query)`.
#[derive(Debug, Clone)]
pub struct AttnMask {
    /// Valid (non-padding) keys per batch row; keys are right-padded.
    pub key_lens: Arc<Vec<usize>>,
    /// Query `q` (at absolute position `q + q_offset`) sees keys `0..=q + q_offset` only.
    pub causal: bool,
    /// Absolute position of the first query row (for incremental decoding).
    pub q_offset: usize,
}

impl AttnMask {
    /// Keys visible to the query at `(batch b, query q)` among `tk` keys.
    #[inline]
    pub(crate) fn visible(&self, b: usize, q: usize, tk: usize) -> usize {
        let k = self.key_lens.get(b).copied().unwrap_or(tk).min(tk);
        if self.causal {
            k.min(q + self.q_offset + 1)
        } else {
            k
        }
    }
}

/// Softmax over the last dimension of `(B, H, Tq, Tk)` scores with masked keys set to zero.
#[derive(Debug, Clone)]
pub(crate) struct MaskedSoftmaxOp {
    pub mask: AttnMask,
    /// Factor applied to the scores before the softmax.
    pub scale: f32,
}

impl CustomOp1 for MaskedSoftmaxOp {
    fn name(&self) -> &'static str {
        "relais-masked-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = f32_slice(s, l, name)?;
        let dims = l.dims();
        let [_, h, tq, tk] = *dims else {
            bail!("{name}: expects (B, H, Tq, Tk), got {dims:?}")
        };
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(tk * ROW_BLOCK)
            .zip(x.par_chunks(tk * ROW_BLOCK))
            .enumerate()
            .for_each(|(blk, (yb, xb))| {
                for (i, (yr, xr)) in yb.chunks_mut(tk).zip(xb.chunks(tk)).enumerate() {
                    let row = blk * ROW_BLOCK + i;
                    let (b, q) = (row / (h * tq), row % tq);
                    let n = self.mask.visible(b, q, tk);
                    if n == 0 {
                        continue;
                    }
                    let m = xr[..n].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sc = self.scale;
                    let mut sum = 0f32;
                    for j in 0..n {
                        let e = fast_exp((xr[j] - m) * sc);
                        yr[j] = e;
                        sum += e;
                    }
                    let inv = 1.0 / sum;
                    yr[..n].iter_mut().for_each(|v| *v *= inv);
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(
            &grad.contiguous()?,
            &SoftmaxBwdOp { scale: self.scale },
        )?))
    }
}

/// `dx = scale * y * (dy - sum(dy * y))` row-wise.
struct SoftmaxBwdOp {
    scale: f32,
}

impl CustomOp2 for SoftmaxBwdOp {
    fn name(&self) -> &'static str {
        "relais-softmax-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (y, dy) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let d = last_dim(l1, name)?;
        let mut dx = vec![0f32; y.len()];
        dx.par_chunks_mut(d * ROW_BLOCK)
            .zip(
                y.par_chunks(d * ROW_BLOCK)
                    .zip(dy.par_chunks(d * ROW_BLOCK)),
            )
            .for_each(|(dxb, (yb, dyb))| {
                for ((dxr, yr), dyr) in dxb.chunks_mut(d).zip(yb.chunks(d)).zip(dyb.chunks(d)) {
                    let dot: f32 = yr.iter().zip(dyr).map(|(a, b)| a * b).sum();
                    for j in 0..d {
                        dxr[j] = self.scale * yr[j] * (dyr[j] - dot);
                    }
                }
            });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::fast_exp;

    #[test]
    fn fast_exp_is_accurate() {
        let mut x = -80.0f32;
        while x < 80.0 {
            let (a, b) = (fast_exp(x), x.exp());
            assert!(((a - b) / b).abs() < 2e-6, "exp({x}) = {a}, want {b}");
            x += 0.37;
        }
    }
}
