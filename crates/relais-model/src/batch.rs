//! Token-count batching with length bucketing, and padded batch tensors.

use std::sync::Arc;

use crate::model::special::{BOS, EOS, PAD};

/// One training example: source and target token ids, without BOS/EOS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub src: Vec<u32>,
    pub tgt: Vec<u32>,
}

/// Right-padded token ids of `rows` sequences of `len` positions, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    pub rows: usize,
    pub len: usize,
    /// Real (non-pad) length of each row.
    pub lens: Arc<Vec<usize>>,
}

impl Tokens {
    /// Pads `seqs` with [`PAD`] to their longest length (at least 1).
    pub fn pad(seqs: &[Vec<u32>]) -> Self {
        let len = seqs.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut ids = vec![PAD; seqs.len() * len];
        for (i, s) in seqs.iter().enumerate() {
            ids[i * len..i * len + s.len()].copy_from_slice(s);
        }
        Self {
            ids,
            rows: seqs.len(),
            len,
            lens: Arc::new(seqs.iter().map(Vec::len).collect()),
        }
    }
}

/// A padded batch ready for the model.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Source rows `tokens EOS PAD*`.
    pub src: Tokens,
    /// Decoder input rows `BOS tokens PAD*`.
    pub tgt_in: Tokens,
    /// Expected outputs, `rows * len` of `tgt_in`, each row `tokens EOS PAD*`.
    pub tgt_out: Vec<u32>,
    /// Non-pad target tokens (the loss is averaged over these).
    pub tokens: usize,
}

/// Source ids as the encoder sees them: truncated to `max_len - 1`, then EOS.
pub fn source_ids(src: &[u32], max_len: usize) -> Vec<u32> {
    let mut s: Vec<u32> = src
        .iter()
        .copied()
        .take(max_len.saturating_sub(1))
        .collect();
    s.push(EOS);
    s
}

impl Batch {
    /// Pads `pairs` into a batch; sequences longer than `max_len` (with BOS/EOS) are cut.
    pub fn new(pairs: &[&Pair], max_len: usize) -> Self {
        let srcs: Vec<Vec<u32>> = pairs.iter().map(|p| source_ids(&p.src, max_len)).collect();
        let cut = |t: &[u32]| t.len().min(max_len.saturating_sub(1));
        let tin: Vec<Vec<u32>> = pairs
            .iter()
            .map(|p| {
                std::iter::once(BOS)
                    .chain(p.tgt[..cut(&p.tgt)].iter().copied())
                    .collect()
            })
            .collect();
        let tgt_in = Tokens::pad(&tin);
        let mut tgt_out = vec![PAD; tgt_in.rows * tgt_in.len];
        for (i, p) in pairs.iter().enumerate() {
            let tr = &p.tgt[..cut(&p.tgt)];
            let row = &mut tgt_out[i * tgt_in.len..(i + 1) * tgt_in.len];
            row[..tr.len()].copy_from_slice(tr);
            row[tr.len()] = EOS;
        }
        let tokens = tin.iter().map(Vec::len).sum();
        Self {
            src: Tokens::pad(&srcs),
            tgt_in,
            tgt_out,
            tokens,
        }
    }
}

/// A small deterministic generator (SplitMix64) for shuffling.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Groups example indices into batches of at most `max_tokens` padded tokens
/// (counting the longer of source and target), sorted by length so little is padding.
/// The same `seed` always gives the same batches in the same order.
pub fn make_batches(
    pairs: &[Pair],
    max_tokens: usize,
    max_len: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut rng = SplitMix::new(seed);
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    rng.shuffle(&mut order);
    let len = |i: usize| {
        let p = &pairs[i];
        (
            (p.tgt.len() + 1).min(max_len),
            (p.src.len() + 1).min(max_len),
        )
    };
    order.sort_by_key(|&i| len(i)); // stable: ties stay shuffled
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut longest = 0;
    for i in order {
        let (t, s) = len(i);
        let l = t.max(s);
        let new_longest = longest.max(l);
        if !cur.is_empty() && new_longest * (cur.len() + 1) > max_tokens {
            batches.push(std::mem::take(&mut cur));
            longest = l;
        } else {
            longest = new_longest;
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    rng.shuffle(&mut batches);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(s: usize, t: usize) -> Pair {
        Pair {
            src: vec![5; s],
            tgt: vec![6; t],
        }
    }

    #[test]
    fn batches_respect_token_budget_and_cover_everything() {
        let pairs: Vec<Pair> = (0..500)
            .map(|i| pair(1 + i % 17, 1 + (i * 7) % 23))
            .collect();
        let batches = make_batches(&pairs, 200, 64, 3);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
        for b in &batches {
            let longest = b
                .iter()
                .map(|&i| (pairs[i].src.len() + 1).max(pairs[i].tgt.len() + 1))
                .max()
                .unwrap();
            assert!(longest * b.len() <= 200 || b.len() == 1);
        }
        assert_eq!(batches, make_batches(&pairs, 200, 64, 3));
        assert_ne!(batches, make_batches(&pairs, 200, 64, 4));
    }

    #[test]
    fn batch_layout_is_bos_tokens_eos_pad() {
        let pairs = [
            Pair {
                src: vec![7, 8],
                tgt: vec![9],
            },
            Pair {
                src: vec![7],
                tgt: vec![9, 10, 11],
            },
        ];
        let refs: Vec<&Pair> = pairs.iter().collect();
        let b = Batch::new(&refs, 16);
        assert_eq!(b.src.ids, vec![7, 8, EOS, 7, EOS, PAD]);
        assert_eq!((b.src.rows, b.src.len), (2, 3));
        assert_eq!(b.src.lens.as_slice(), &[3, 2]);
        assert_eq!(b.tgt_in.ids, vec![BOS, 9, PAD, PAD, BOS, 9, 10, 11]);
        assert_eq!(b.tgt_out, vec![9, EOS, PAD, PAD, 9, 10, 11, EOS]);
        assert_eq!(b.tokens, 6);
    }
}
