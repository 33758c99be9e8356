//! Label-smoothed cross-entropy kernels: on logits, and fused with the output
//! projection so the `(N, V)` logits never enter the autograd graph.

use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::{f32_slice, fast_exp, last_dim, with_f32, ROW_BLOCK};

// ---------------------------------------------------------------- cross-entropy

/// Per-row label-smoothed cross-entropy of row-major `(N, V)` logits `x`;
/// padding rows give 0. With `want_grad`, also the gradient of each row's loss
/// (softmax minus the smoothed target), else an empty vector.
pub(crate) fn ce_rows(
    x: &[f32],
    v: usize,
    targets: &[u32],
    pad: u32,
    eps: f32,
    want_grad: bool,
) -> (Vec<f32>, Vec<f32>) {
    let off = eps / v as f32;
    let mut loss = vec![0f32; targets.len()];
    let mut grad = if want_grad {
        vec![0f32; x.len()]
    } else {
        Vec::new()
    };
    let row = |i: usize, lr: &mut f32, xr: &[f32], gr: Option<&mut [f32]>| {
        let t = targets[i];
        if t == pad {
            return;
        }
        let m = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum_x: f32 = xr.iter().sum();
        let sum = match gr {
            Some(gr) => {
                let mut sum = 0f32;
                for (g, &xv) in gr.iter_mut().zip(xr) {
                    *g = fast_exp(xv - m);
                    sum += *g;
                }
                let inv = 1.0 / sum;
                gr.iter_mut().for_each(|g| *g = *g * inv - off);
                if let Some(gt) = gr.get_mut(t as usize) {
                    *gt -= 1.0 - eps;
                }
                sum
            }
            None => xr.iter().map(|&xv| fast_exp(xv - m)).sum(),
        };
        let xt = xr.get(t as usize).copied().unwrap_or(0.0);
        *lr = m + sum.ln() - (1.0 - eps) * xt - off * sum_x;
    };
    let blocks = loss
        .par_chunks_mut(ROW_BLOCK)
        .zip(x.par_chunks(v * ROW_BLOCK))
        .enumerate();
    if want_grad {
        blocks
            .zip(grad.par_chunks_mut(v * ROW_BLOCK))
            .for_each(|((blk, (lb, xb)), gb)| {
                for (i, ((lr, xr), gr)) in lb
                    .iter_mut()
                    .zip(xb.chunks(v))
                    .zip(gb.chunks_mut(v))
                    .enumerate()
                {
                    row(blk * ROW_BLOCK + i, lr, xr, Some(gr));
                }
            });
    } else {
        blocks.for_each(|(blk, (lb, xb))| {
            for (i, (lr, xr)) in lb.iter_mut().zip(xb.chunks(v)).enumerate() {
                row(blk * ROW_BLOCK + i, lr, xr, None);
            }
        });
    }
    (loss, grad)
}

type GradStash = Arc<Mutex<Option<Vec<f32>>>>;

fn stash_put(stash: &GradStash, grad: Vec<f32>, name: &str) -> Result<()> {
    match stash.lock() {
        Ok(mut s) => {
            *s = Some(grad);
            Ok(())
        }
        Err(_) => bail!("{name}: gradient stash poisoned"),
    }
}

/// Takes the stashed `(N, V)` gradient and scales row `i` by `scale[i]`.
fn stash_take_scaled(
    stash: &GradStash,
    v: usize,
    grad_res: &Tensor,
    name: &str,
) -> Result<Vec<f32>> {
    let g = match stash.lock() {
        Ok(mut s) => s.take(),
        Err(_) => bail!("{name}: gradient stash poisoned"),
    };
    let Some(mut g) = g else {
        bail!("{name}: backward without forward")
    };
    let scale = grad_res.to_vec1::<f32>()?;
    g.par_chunks_mut(v)
        .zip(scale.par_iter())
        .for_each(|(row, s)| row.iter_mut().for_each(|x| *x *= s));
    Ok(g)
}

/// Per-row label-smoothed cross-entropy of `(N, V)` logits; padding rows give 0.
///
/// The forward pass also computes the gradient of each row and keeps it for
/// the backward pass, which only scales it.
#[derive(Debug, Clone)]
pub(crate) struct SmoothedCeOp {
    pub targets: Arc<Vec<u32>>,
    pub pad: u32,
    pub smoothing: f32,
    pub grad: Option<GradStash>,
}

impl CustomOp1 for SmoothedCeOp {
    fn name(&self) -> &'static str {
        "relais-smoothed-ce"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = f32_slice(s, l, name)?;
        let v = last_dim(l, name)?;
        let n = x.len() / v;
        if self.targets.len() != n {
            bail!("{name}: {} targets for {n} rows", self.targets.len());
        }
        let (loss, grad) = ce_rows(
            x,
            v,
            &self.targets,
            self.pad,
            self.smoothing,
            self.grad.is_some(),
        );
        if let Some(stash) = &self.grad {
            stash_put(stash, grad, name)?;
        }
        Ok((CpuStorage::F32(loss), Shape::from(n)))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let name = self.name();
        let Some(stash) = &self.grad else {
            bail!("{name}: built without gradient")
        };
        let g = stash_take_scaled(stash, arg.dim(1)?, grad_res, name)?;
        Ok(Some(Tensor::from_vec(g, arg.shape(), arg.device())?))
    }
}

/// Output projection and label-smoothed cross-entropy in one op: per-row loss
/// of `logits = h W^T` for `(N, d)` states `h` and a `(V, d)` weight `W`. The
/// `(N, V)` logits never enter the autograd graph; the backward multiplies the
/// stashed logit gradient into `dh = G W` and `dW = G^T h` directly.
#[derive(Debug, Clone)]
pub(crate) struct ProjectedCeOp {
    pub targets: Arc<Vec<u32>>,
    pub pad: u32,
    pub smoothing: f32,
    pub grad: GradStash,
}

impl CustomOp2 for ProjectedCeOp {
    fn name(&self) -> &'static str {
        "relais-projected-ce"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (h, w) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let (&[n, d], &[v, dw]) = (l1.dims(), l2.dims()) else {
            bail!("{name}: expects (N, d) and (V, d)")
        };
        if d != dw || self.targets.len() != n {
            bail!(
                "{name}: shapes {:?} / {:?} with {} targets",
                l1.dims(),
                l2.dims(),
                self.targets.len()
            );
        }
        let dev = candle_core::Device::Cpu;
        let logits = Tensor::from_slice(h, (n, d), &dev)?
            .matmul(&Tensor::from_slice(w, (v, d), &dev)?.t()?)?;
        let (loss, grad) = with_f32(&logits, |x| {
            ce_rows(x, v, &self.targets, self.pad, self.smoothing, true)
        })?;
        stash_put(&self.grad, grad, name)?;
        Ok((CpuStorage::F32(loss), Shape::from(n)))
    }

    fn bwd(
        &self,
        h: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, v) = (h.dim(0)?, w.dim(0)?);
        let g = Tensor::from_vec(
            stash_take_scaled(&self.grad, v, grad_res, self.name())?,
            (n, v),
            h.device(),
        )?;
        let dh = g.matmul(w)?;
        let dw = h.t()?.matmul(&g)?.t()?.contiguous()?;
        Ok((Some(dh), Some(dw)))
    }
}
