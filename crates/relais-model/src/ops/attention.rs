//! Fused multi-head attention core for the CPU: `softmax(scale * Q K^T + mask) V`
//! per head, reading queries, keys and values straight out of row-major
//! projection matrices (no head transposes, no copies) and with a hand-written
//! backward that recomputes the attention weights.
//!
//! Sentences are short (tens of tokens), so the per-head products are tiny;
//! looping over them in Rust beats thousands of separate GEMM calls.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::{fast_exp, AttnMask};

/// Where queries, keys and values sit in their source matrices.
///
/// Queries: rows `b * tq + i` of a `(B * Tq, q_width)` matrix, columns
/// `q_off..q_off + d`. Keys/values: rows `b * tk + j` of a `(B * Tk, kv_width)`
/// matrix, columns `k_off..k_off + d` and `v_off..v_off + d`. Head `h` uses
/// columns `h * d / heads ..` of each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttnLayout {
    pub batch: usize,
    pub tq: usize,
    pub tk: usize,
    pub d: usize,
    pub heads: usize,
    pub q_width: usize,
    pub q_off: usize,
    pub kv_width: usize,
    pub k_off: usize,
    pub v_off: usize,
}

impl AttnLayout {
    fn dh(&self) -> usize {
        self.d / self.heads
    }

    pub(crate) fn check(&self, q_dims: &[usize], kv_dims: &[usize]) -> Result<()> {
        let ok = self.heads > 0
            && self.d.is_multiple_of(self.heads)
            && q_dims == [self.batch * self.tq, self.q_width]
            && kv_dims == [self.batch * self.tk, self.kv_width]
            && self.q_off + self.d <= self.q_width
            && self.k_off + self.d <= self.kv_width
            && self.v_off + self.d <= self.kv_width;
        if !ok {
            bail!("attention layout {self:?} does not fit q {q_dims:?} / kv {kv_dims:?}");
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AttentionOp {
    pub mask: AttnMask,
    pub layout: AttnLayout,
    pub scale: f32,
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

impl AttentionOp {
    /// Attention weights of query `i` (row slice `qb` of batch row `bi`) for head
    /// column `hq` / `hk` into `p[..n]`; returns `n`, the visible keys.
    #[inline]
    fn weights(
        &self,
        qi: &[f32],
        kb: &[f32],
        bi: usize,
        i: usize,
        hk: usize,
        p: &mut [f32],
    ) -> usize {
        let l = &self.layout;
        let (dh, kw) = (l.dh(), l.kv_width);
        let n = self.mask.visible(bi, i, l.tk);
        if n == 0 {
            return 0;
        }
        let mut m = f32::NEG_INFINITY;
        for j in 0..n {
            let s = dot(qi, &kb[j * kw + hk..][..dh]) * self.scale;
            p[j] = s;
            m = m.max(s);
        }
        let mut sum = 0f32;
        for pj in &mut p[..n] {
            *pj = fast_exp(*pj - m);
            sum += *pj;
        }
        let inv = 1.0 / sum;
        p[..n].iter_mut().for_each(|v| *v *= inv);
        n
    }
}

fn f32_data<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => bail!("attention: inputs must be contiguous f32"),
    }
}

impl CustomOp2 for AttentionOp {
    fn name(&self) -> &'static str {
        "relais-attention"
    }

    fn cpu_fwd(
        &self,
        sq: &CpuStorage,
        lq: &Layout,
        skv: &CpuStorage,
        lkv: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let l = self.layout;
        l.check(lq.dims(), lkv.dims())?;
        let (q, kv) = (f32_data(sq, lq)?, f32_data(skv, lkv)?);
        let (dh, qw, kw, d) = (l.dh(), l.q_width, l.kv_width, l.d);
        let mut out = vec![0f32; l.batch * l.tq * d];
        out.par_chunks_mut(l.tq * d)
            .enumerate()
            .for_each(|(bi, ob)| {
                let qb = &q[bi * l.tq * qw..][..l.tq * qw];
                let kb = &kv[bi * l.tk * kw..][..l.tk * kw];
                let mut p = vec![0f32; l.tk];
                for h in 0..l.heads {
                    for i in 0..l.tq {
                        let qi = &qb[i * qw + l.q_off + h * dh..][..dh];
                        let n = self.weights(qi, kb, bi, i, l.k_off + h * dh, &mut p);
                        let oi = &mut ob[i * d + h * dh..][..dh];
                        for j in 0..n {
                            axpy(p[j], &kb[j * kw + l.v_off + h * dh..][..dh], oi);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((l.batch * l.tq, d))))
    }

    fn bwd(
        &self,
        q_t: &Tensor,
        kv_t: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let l = self.layout;
        let (dh, qw, kw, d) = (l.dh(), l.q_width, l.kv_width, l.d);
        let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let (q, kv, dout) = (flat(q_t)?, flat(kv_t)?, flat(grad)?);
        let (qn, kn) = (l.tq * qw, l.tk * kw);
        let mut dq = vec![0f32; q.len()];
        let mut dkv = vec![0f32; kv.len()];
        dq.par_chunks_mut(qn)
            .zip(dkv.par_chunks_mut(kn))
            .enumerate()
            .for_each(|(bi, (dqb, dkb))| {
                let qb = &q[bi * qn..][..qn];
                let kb = &kv[bi * kn..][..kn];
                let db = &dout[bi * l.tq * d..][..l.tq * d];
                let mut p = vec![0f32; l.tk];
                let mut ds = vec![0f32; l.tk];
                for h in 0..l.heads {
                    let (qc, kc, vc) = (l.q_off + h * dh, l.k_off + h * dh, l.v_off + h * dh);
                    for i in 0..l.tq {
                        let qi = &qb[i * qw + qc..][..dh];
                        let n = self.weights(qi, kb, bi, i, kc, &mut p);
                        let doi = &db[i * d + h * dh..][..dh];
                        let mut pdp = 0f32;
                        for j in 0..n {
                            ds[j] = dot(doi, &kb[j * kw + vc..][..dh]);
                            pdp += p[j] * ds[j];
                        }
                        let dqi = &mut dqb[i * qw + qc..][..dh];
                        for j in 0..n {
                            let s = p[j] * (ds[j] - pdp) * self.scale;
                            axpy(s, &kb[j * kw + kc..][..dh], dqi);
                        }
                        for j in 0..n {
                            let s = p[j] * (ds[j] - pdp) * self.scale;
                            axpy(s, qi, &mut dkb[j * kw + kc..][..dh]);
                            axpy(p[j], doi, &mut dkb[j * kw + vc..][..dh]);
                        }
                    }
                }
            });
        let dev = q_t.device();
        Ok((
            Some(Tensor::from_vec(dq, q_t.shape(), dev)?),
            Some(Tensor::from_vec(dkv, kv_t.shape(), dev)?),
        ))
    }
}
