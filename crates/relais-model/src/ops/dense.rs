//! Element-wise and dense kernels: dropout, bias (+ ReLU + dropout), linear
//! layers as one graph node, and residual connections with dropout.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor,
};
use rayon::prelude::*;

use super::kernels::{f32_slice, last_dim, with_f32, ROW_BLOCK};

// ---------------------------------------------------------------- dropout

/// Inverted dropout whose mask is a hash of `(seed, element index)`, so a
/// backward pass regenerates it instead of storing it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropoutOp {
    pub p: f32,
    pub seed: u32,
}

#[inline(always)]
fn hash32(i: u32, seed: u32) -> u32 {
    let mut h = i.wrapping_mul(0x9E37_79B1) ^ seed;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// Elements per parallel work item of the element-wise kernels.
const ELEM_BLOCK: usize = 16 * 1024;

impl DropoutOp {
    /// The mask of element `i`, already scaled: 0 or `1 / (1 - p)`.
    #[inline(always)]
    fn factor(&self, i: usize) -> f32 {
        let threshold = (self.p as f64 * u32::MAX as f64) as u32;
        if hash32(i as u32, self.seed) >= threshold {
            1.0 / (1.0 - self.p)
        } else {
            0.0
        }
    }

    /// `y[i] = x[i] * factor(i)`.
    fn apply_slice(&self, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(ELEM_BLOCK)
            .zip(x.par_chunks(ELEM_BLOCK))
            .enumerate()
            .for_each(|(blk, (yb, xb))| {
                let base = blk * ELEM_BLOCK;
                for (i, (yv, xv)) in yb.iter_mut().zip(xb).enumerate() {
                    *yv = xv * self.factor(base + i);
                }
            });
        y
    }
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        "relais-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        Ok((CpuStorage::F32(self.apply_slice(x)), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(self)?))
    }
}

// ---------------------------------------------------------------- bias (+ ReLU, + dropout)

/// `y = drop(act(x + b))` over rows of `(N, C)`, `act` ReLU or identity; the
/// backward sums the gradient over rows for `b` in one pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BiasOp {
    pub relu: bool,
    pub drop: Option<DropoutOp>,
}

impl CustomOp2 for BiasOp {
    fn name(&self) -> &'static str {
        "relais-bias-act"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, b) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let c = last_dim(l1, name)?;
        if b.len() != c {
            bail!("{name}: bias has {} elements for rows of {c}", b.len());
        }
        let mut y = vec![0f32; x.len()];
        let relu = self.relu;
        y.par_chunks_mut(c * ROW_BLOCK)
            .zip(x.par_chunks(c * ROW_BLOCK))
            .enumerate()
            .for_each(|(blk, (yb, xb))| {
                let base = blk * ROW_BLOCK * c;
                for (r, (yr, xr)) in yb.chunks_mut(c).zip(xb.chunks(c)).enumerate() {
                    for j in 0..c {
                        let v = xr[j] + b[j];
                        yr[j] = if relu { v.max(0.0) } else { v };
                    }
                    if let Some(d) = &self.drop {
                        let row = base + r * c;
                        for (j, v) in yr.iter_mut().enumerate() {
                            *v *= d.factor(row + j);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let c = b.elem_count();
        let mut g = grad.flatten_all()?.to_vec1::<f32>()?;
        if self.relu {
            let drop_scale = self.drop.map_or(1.0, |d| 1.0 / (1.0 - d.p));
            with_f32(res, |y| {
                g.par_chunks_mut(ELEM_BLOCK)
                    .zip(y.par_chunks(ELEM_BLOCK))
                    .for_each(|(gc, yc)| {
                        for (gv, yv) in gc.iter_mut().zip(yc) {
                            *gv = if *yv > 0.0 { *gv * drop_scale } else { 0.0 };
                        }
                    });
            })?;
        } else if let Some(d) = &self.drop {
            g = d.apply_slice(&g);
        }
        let db = g
            .par_chunks(c * ROW_BLOCK)
            .map(|gb| {
                let mut acc = vec![0f32; c];
                for gr in gb.chunks(c) {
                    acc.iter_mut().zip(gr).for_each(|(a, v)| *a += v);
                }
                acc
            })
            .reduce(
                || vec![0f32; c],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let dev = grad.device();
        Ok((
            Some(Tensor::from_vec(g, grad.shape(), dev)?),
            Some(Tensor::from_vec(db, b.shape(), dev)?),
        ))
    }
}

// ---------------------------------------------------------------- linear

/// `y = drop(act(x W + b))` for `(N, in)` inputs and an `(in, out)` weight as
/// one graph node: the product runs through candle's GEMM inside the op, and
/// the backward computes `dx = g W^T`, `dW = x^T g`, `db = sum_rows(g)` itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinearOp {
    pub bias: BiasOp,
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "relais-linear"
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
        let (x, w) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let (&[n, d_in], &[w_in, d_out]) = (l1.dims(), l2.dims()) else {
            bail!("{name}: expects (N, in) and (in, out)")
        };
        if d_in != w_in {
            bail!("{name}: input width {d_in} against weight {:?}", l2.dims());
        }
        let dev = candle_core::Device::Cpu;
        let y = Tensor::from_slice(x, (n, d_in), &dev)?.matmul(&Tensor::from_slice(
            w,
            (d_in, d_out),
            &dev,
        )?)?;
        let (storage, layout) = y.storage_and_layout();
        match &*storage {
            Storage::Cpu(cpu) => self.bias.cpu_fwd(cpu, layout, s3, l3),
            _ => bail!("{name}: product left the CPU"),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (g, db) = self.bias.bwd(x, b, res, grad)?;
        let Some(g) = g else {
            bail!("{}: no output gradient", self.name())
        };
        let dx = g.matmul(&w.t()?)?;
        let dw = x.t()?.matmul(&g)?;
        Ok((Some(dx), Some(dw), db))
    }
}

// ---------------------------------------------------------------- residual + dropout

/// `y = x + drop(a)` for two tensors of the same shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResidualOp {
    pub drop: DropoutOp,
}

impl CustomOp2 for ResidualOp {
    fn name(&self) -> &'static str {
        "relais-residual-dropout"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, a) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        if x.len() != a.len() {
            bail!("{name}: operands differ in size");
        }
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(ELEM_BLOCK)
            .zip(x.par_chunks(ELEM_BLOCK).zip(a.par_chunks(ELEM_BLOCK)))
            .enumerate()
            .for_each(|(blk, (yb, (xb, ab)))| {
                let base = blk * ELEM_BLOCK;
                for (i, (yv, (xv, av))) in yb.iter_mut().zip(xb.iter().zip(ab)).enumerate() {
                    *yv = xv + av * self.drop.factor(base + i);
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _a: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let ga = grad.contiguous()?.apply_op1_no_bwd(&self.drop)?;
        Ok((Some(grad.clone()), Some(ga)))
    }
}
