//! AdamW with decoupled weight decay, global-norm gradient clipping and a
//! warm-up + inverse-square-root learning-rate schedule; its state can be saved
//! and restored for resumable training.

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{Device, Result, Tensor, Var};
use rayon::prelude::*;

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices only (not biases or norms).
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-9,
            weight_decay: 0.01,
        }
    }
}

/// Linear warm-up to `peak` over `warmup` steps, then `peak * sqrt(warmup / step)`.
pub fn inverse_sqrt_lr(step: u64, peak: f64, warmup: u64) -> f64 {
    let s = step.max(1) as f64;
    let w = warmup.max(1) as f64;
    peak * (s / w).min((w / s).sqrt())
}

/// The optimiser: named parameters with first and second moment estimates.
#[derive(Debug)]
pub struct AdamW {
    params: Vec<(String, Var)>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: u64,
    hp: AdamWParams,
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1::<f32>()
}

impl AdamW {
    /// An optimiser over `params` (sorted by name for a stable order).
    pub fn new(mut params: Vec<(String, Var)>, hp: AdamWParams) -> Self {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params
            .iter()
            .map(|(_, p)| vec![0f32; p.elem_count()])
            .collect();
        let v = params
            .iter()
            .map(|(_, p)| vec![0f32; p.elem_count()])
            .collect();
        Self {
            params,
            m,
            v,
            t: 0,
            hp,
        }
    }

    /// The parameters being optimised.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Global L2 norm of the gradients in `grads`.
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut sq = 0f64;
        for (_, p) in &self.params {
            if let Some(g) = grads.get(p.as_tensor()) {
                sq += g
                    .sqr()?
                    .sum_all()?
                    .to_dtype(candle_core::DType::F64)?
                    .to_scalar::<f64>()?;
            }
        }
        Ok(sq.sqrt())
    }

    /// One update with learning rate `lr`, clipping gradients to global norm `clip`.
    /// Returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: f64) -> Result<f64> {
        let gs: Vec<Option<Vec<f32>>> = self
            .params
            .iter()
            .map(|(_, p)| grads.get(p.as_tensor()).map(flat).transpose())
            .collect::<Result<_>>()?;
        let norm = gs
            .iter()
            .flatten()
            .map(|g| g.par_iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>())
            .sum::<f64>()
            .sqrt();
        let clip_scale = if norm > clip && norm.is_finite() {
            clip / norm
        } else {
            1.0
        };
        self.t += 1;
        let hp = self.hp;
        let bc1 = 1.0 - hp.beta1.powi(self.t as i32);
        let bc2 = 1.0 - hp.beta2.powi(self.t as i32);
        let step_size = (lr / bc1) as f32;
        let (b1, b2, eps) = (hp.beta1 as f32, hp.beta2 as f32, hp.eps as f32);
        let inv_bc2 = (1.0 / bc2) as f32;
        let cs = clip_scale as f32;
        for (((_, p), g), (m, v)) in self
            .params
            .iter()
            .zip(&gs)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            let Some(g) = g else { continue };
            let mut w = flat(p.as_tensor())?;
            let decay = if p.rank() >= 2 {
                (1.0 - lr * hp.weight_decay) as f32
            } else {
                1.0
            };
            w.par_iter_mut()
                .zip(g.par_iter())
                .zip(m.par_iter_mut().zip(v.par_iter_mut()))
                .for_each(|((w, g), (m, v))| {
                    let g = g * cs;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *w = *w * decay - step_size * *m / ((*v * inv_bc2).sqrt() + eps);
                });
            let t = Tensor::from_vec(w, p.shape(), p.device())?.to_dtype(p.dtype())?;
            p.set(&t)?;
        }
        Ok(norm)
    }

    /// Number of updates done so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Writes the moments to a safetensors file (`m.NAME`, `v.NAME`, and `t`).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map = HashMap::new();
        for ((name, p), (m, v)) in self.params.iter().zip(self.m.iter().zip(&self.v)) {
            map.insert(
                format!("m.{name}"),
                Tensor::from_slice(m, p.shape(), &Device::Cpu)?,
            );
            map.insert(
                format!("v.{name}"),
                Tensor::from_slice(v, p.shape(), &Device::Cpu)?,
            );
        }
        map.insert(
            "t".to_string(),
            Tensor::new(&[self.t as f32], &Device::Cpu)?,
        );
        candle_core::safetensors::save(&map, path)
    }

    /// Restores moments written by [`AdamW::save`]; every parameter must be present.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let map = candle_core::safetensors::load(path, &Device::Cpu)?;
        for ((name, p), (m, v)) in self
            .params
            .iter()
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            for (prefix, dst) in [("m", m), ("v", v)] {
                let key = format!("{prefix}.{name}");
                let Some(t) = map.get(&key) else {
                    candle_core::bail!("optimizer state lacks {key}")
                };
                if t.dims() != p.dims() {
                    candle_core::bail!(
                        "optimizer state {key} has shape {:?}, parameter has {:?}",
                        t.dims(),
                        p.dims()
                    );
                }
                *dst = flat(t)?;
            }
        }
        let Some(t) = map.get("t") else {
            candle_core::bail!("optimizer state lacks t")
        };
        self.t = t.to_vec1::<f32>()?.first().copied().unwrap_or(0.0) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((inverse_sqrt_lr(50, 1e-3, 100) - 5e-4).abs() < 1e-12);
        assert!((inverse_sqrt_lr(100, 1e-3, 100) - 1e-3).abs() < 1e-12);
        assert!((inverse_sqrt_lr(400, 1e-3, 100) - 5e-4).abs() < 1e-12);
    }

    #[test]
    fn adamw_minimises_a_quadratic_and_round_trips_state() {
        let x = Var::from_vec(vec![3f32, -2.0], 2, &Device::Cpu).unwrap();
        let mut opt = AdamW::new(
            vec![("x".into(), x.clone())],
            AdamWParams {
                weight_decay: 0.0,
                ..Default::default()
            },
        );
        for _ in 0..300 {
            let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            opt.step(&grads, 0.05, 1.0).unwrap();
        }
        let v = x.as_tensor().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|a| a.abs() < 0.05), "{v:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.safetensors");
        opt.save(&path).unwrap();
        let mut other = AdamW::new(vec![("x".into(), x.clone())], AdamWParams::default());
        other.load(&path).unwrap();
        assert_eq!(other.t, 300);
        assert_eq!(other.m, opt.m);
        assert_eq!(other.v, opt.v);
    }
}
