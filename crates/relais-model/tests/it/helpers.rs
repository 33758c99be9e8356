use relais_model::batch::{Pair, SplitMix};
use relais_model::{Config, Scores};

/// A toy "translation" task: the target is the source reversed with each token
/// shifted by one, over a vocabulary of `vocab` ids (ids 0-3 are special).
pub fn toy_pairs(n: usize, vocab: u32, seed: u64) -> Vec<Pair> {
    let mut rng = SplitMix::new(seed);
    (0..n)
        .map(|_| {
            let len = 3 + (rng.next_u64() % 5) as usize;
            let src: Vec<u32> = (0..len)
                .map(|_| 4 + (rng.next_u64() % (vocab as u64 - 5)) as u32)
                .collect();
            let tgt = src.iter().rev().map(|t| t + 1).collect();
            Pair { src, tgt }
        })
        .collect()
}

pub fn tiny() -> Config {
    Config {
        d_model: 64,
        heads: 4,
        ff: 128,
        enc_layers: 2,
        dec_layers: 2,
        ..Config::tiny(24)
    }
}

/// Token-level BLEU-4 (whole-corpus, with brevity penalty) over id sequences,
/// enough to check memorisation without the text crate.
pub fn id_bleu(hyps: &[Vec<u32>], refs: &[Vec<u32>]) -> f64 {
    let mut matches = [0usize; 4];
    let mut totals = [0usize; 4];
    let (mut hyp_len, mut ref_len) = (0, 0);
    for (h, r) in hyps.iter().zip(refs) {
        hyp_len += h.len();
        ref_len += r.len();
        for n in 1..=4 {
            if h.len() < n {
                continue;
            }
            let mut counts = std::collections::HashMap::new();
            for g in r.windows(n) {
                *counts.entry(g).or_insert(0usize) += 1;
            }
            for g in h.windows(n) {
                totals[n - 1] += 1;
                if let Some(c) = counts.get_mut(g) {
                    if *c > 0 {
                        *c -= 1;
                        matches[n - 1] += 1;
                    }
                }
            }
        }
    }
    if matches.contains(&0) {
        return 0.0;
    }
    let log_p: f64 = (0..4)
        .map(|i| (matches[i] as f64 / totals[i] as f64).ln())
        .sum::<f64>()
        / 4.0;
    let bp = if hyp_len >= ref_len {
        1.0
    } else {
        (1.0 - ref_len as f64 / hyp_len.max(1) as f64).exp()
    };
    100.0 * bp * log_p.exp()
}

pub fn id_scores(refs: Vec<Vec<u32>>) -> impl Fn(&[Vec<u32>]) -> Scores {
    move |hyps| Scores {
        bleu: id_bleu(hyps, &refs[..hyps.len()]),
        chrf: 0.0,
    }
}
