//! Fused embedding lookup for the CPU: `table[id] * scale + position`, with a
//! backward that scatter-adds the gradient rows into the table.

use std::sync::Arc;

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

#[derive(Debug, Clone)]
pub(crate) struct EmbedOp {
    /// Row-major ids of `ids.len() / len` sequences.
    pub ids: Arc<Vec<u32>>,
    /// `(len, d)` position rows, flattened.
    pub pos: Arc<Vec<f32>>,
    pub len: usize,
    pub scale: f32,
}

impl CustomOp1 for EmbedOp {
    fn name(&self) -> &'static str {
        "relais-embed"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let table = match (s, l.contiguous_offsets()) {
            (CpuStorage::F32(v), Some((a, b))) => &v[a..b],
            _ => bail!("embed: table must be contiguous f32"),
        };
        let &[vocab, d] = l.dims() else {
            bail!("embed: table must be (V, d)")
        };
        if self.len == 0
            || self.pos.len() != self.len * d
            || !self.ids.len().is_multiple_of(self.len)
        {
            bail!(
                "embed: {} ids do not fit sequences of {}",
                self.ids.len(),
                self.len
            );
        }
        if let Some(&bad) = self.ids.iter().find(|&&i| i as usize >= vocab) {
            bail!("embed: id {bad} outside the vocabulary of {vocab}");
        }
        let mut out = vec![0f32; self.ids.len() * d];
        out.par_chunks_mut(d)
            .zip(self.ids.par_iter())
            .enumerate()
            .for_each(|(r, (row, &id))| {
                let e = &table[id as usize * d..][..d];
                let p = &self.pos[(r % self.len) * d..][..d];
                for j in 0..d {
                    row[j] = e[j] * self.scale + p[j];
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((self.ids.len(), d))))
    }

    fn bwd(&self, table: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (vocab, d) = table.dims2()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let mut dt = vec![0f32; vocab * d];
        for (row, &id) in g.chunks(d).zip(self.ids.iter()) {
            let dst = &mut dt[id as usize * d..][..d];
            for j in 0..d {
                dst[j] += row[j] * self.scale;
            }
        }
        Ok(Some(Tensor::from_vec(dt, (vocab, d), table.device())?))
    }
}
