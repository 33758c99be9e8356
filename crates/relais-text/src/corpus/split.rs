//! Leak-free train/valid/test split by connected component.
//!
//! Sentences are the nodes of a bipartite graph (English sentences on one
//! side, French on the other) and each pair is an edge. A connected component
//! is all pairs sharing an English or French sentence, transitively; whole
//! components go to one split, so no English and no French sentence appears
//! in two splits. Components are ordered by a seeded SHA-256 of their
//! smallest English sentence, which depends neither on the input order nor on
//! the platform, and dealt out: test until it holds `test_english` distinct
//! English sentences, then valid until `valid_english`, then train.
//! Components with more than `max_held_out_component` pairs (clusters of
//! short, common sentences such as "Go." with many translations) always go
//! to train.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::Pair;
use crate::error::TextError;

/// How to split. [`Default`] is the project's fixed split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitConfig {
    /// Seed of the component hash.
    pub seed: u64,
    /// Minimum distinct English sentences in test.
    pub test_english: usize,
    /// Minimum distinct English sentences in valid.
    pub valid_english: usize,
    /// Components with more pairs than this always go to train.
    pub max_held_out_component: usize,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            seed: 20_261_204,
            test_english: 2_000,
            valid_english: 2_000,
            max_held_out_component: 16,
        }
    }
}

/// The three splits, pairs in their input order.
#[derive(Debug, Clone, Default)]
pub struct Splits {
    pub train: Vec<Pair>,
    pub valid: Vec<Pair>,
    pub test: Vec<Pair>,
    pub stats: SplitStats,
}

/// How the sentence graph looked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitStats {
    /// Connected components.
    pub components: usize,
    /// Pairs in the largest component.
    pub largest_component: usize,
    /// Components sent to train because they exceed `max_held_out_component`.
    pub oversized_components: usize,
    /// Pairs in those components.
    pub oversized_pairs: usize,
}

/// Number of distinct English sentences in `pairs`.
pub fn distinct_english(pairs: &[Pair]) -> usize {
    pairs
        .iter()
        .map(|p| p.en.as_str())
        .collect::<HashSet<_>>()
        .len()
}

struct Component {
    key: [u8; 32],
    smallest_en: usize, // pair index whose English is the component's smallest
    pairs: Vec<usize>,
    english: usize,
}

/// Splits `pairs` (expected de-duplicated) into train, valid and test.
///
/// Fails with [`TextError::CorpusTooSmall`] when the held-out sets cannot be
/// filled or nothing would be left to train on.
pub fn split(pairs: &[Pair], config: &SplitConfig) -> Result<Splits, TextError> {
    let components = components(pairs, config.seed);
    let mut stats = SplitStats {
        components: components.len(),
        largest_component: components.iter().map(|c| c.pairs.len()).max().unwrap_or(0),
        ..SplitStats::default()
    };

    #[derive(Clone, Copy, PartialEq)]
    enum Part {
        Train,
        Valid,
        Test,
    }
    let mut part = vec![Part::Train; pairs.len()];
    let (mut test_en, mut valid_en, mut train_en) = (0, 0, 0);
    for component in &components {
        let target = if component.pairs.len() > config.max_held_out_component {
            stats.oversized_components += 1;
            stats.oversized_pairs += component.pairs.len();
            train_en += component.english;
            Part::Train
        } else if test_en < config.test_english {
            test_en += component.english;
            Part::Test
        } else if valid_en < config.valid_english {
            valid_en += component.english;
            Part::Valid
        } else {
            train_en += component.english;
            Part::Train
        };
        for &i in &component.pairs {
            part[i] = target;
        }
    }
    for (what, needed, available) in [
        ("test", config.test_english, test_en),
        ("valid", config.valid_english, valid_en),
        ("train", 1, train_en),
    ] {
        if available < needed {
            return Err(TextError::CorpusTooSmall {
                what,
                needed,
                available,
            });
        }
    }

    let mut splits = Splits {
        stats,
        ..Splits::default()
    };
    for (pair, part) in pairs.iter().zip(part) {
        match part {
            Part::Train => splits.train.push(pair.clone()),
            Part::Valid => splits.valid.push(pair.clone()),
            Part::Test => splits.test.push(pair.clone()),
        }
    }
    Ok(splits)
}

/// Connected components of the English–French sentence graph, in hash order.
fn components(pairs: &[Pair], seed: u64) -> Vec<Component> {
    // Node ids: English sentences first, then French ones (separate
    // namespaces: an English "Non." and a French "Non." are different nodes).
    let mut en_ids: HashMap<&str, usize> = HashMap::new();
    let mut fr_ids: HashMap<&str, usize> = HashMap::new();
    let mut edges = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let next = en_ids.len();
        let en = *en_ids.entry(pair.en.as_str()).or_insert(next);
        let next = fr_ids.len();
        let fr = *fr_ids.entry(pair.fr.as_str()).or_insert(next);
        edges.push((en, fr));
    }
    let mut sets = UnionFind::new(en_ids.len() + fr_ids.len());
    for &(en, fr) in &edges {
        sets.union(en, en_ids.len() + fr);
    }

    let mut by_root: HashMap<usize, Component> = HashMap::new();
    let mut english_seen: HashSet<usize> = HashSet::new();
    for (i, &(en, _)) in edges.iter().enumerate() {
        let root = sets.find(en);
        let component = by_root.entry(root).or_insert_with(|| Component {
            key: [0; 32],
            smallest_en: i,
            pairs: Vec::new(),
            english: 0,
        });
        component.pairs.push(i);
        if english_seen.insert(en) {
            component.english += 1;
        }
        if pairs[i].en < pairs[component.smallest_en].en {
            component.smallest_en = i;
        }
    }
    let mut components: Vec<Component> = by_root.into_values().collect();
    for component in &mut components {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_le_bytes());
        hasher.update(pairs[component.smallest_en].en.as_bytes());
        component.key = hasher.finalize().into();
    }
    // The smallest English sentence is unique to its component, so the order
    // is total and independent of the input order.
    components
        .sort_by(|a, b| (a.key, &pairs[a.smallest_en].en).cmp(&(b.key, &pairs[b.smallest_en].en)));
    components
}

/// Disjoint sets with path halving and union by size.
struct UnionFind {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(en: &str, fr: &str) -> Pair {
        Pair {
            en: en.into(),
            fr: fr.into(),
        }
    }

    #[test]
    fn components_follow_shared_sentences_transitively() {
        // a-x, b-x (share x), b-y (shares b) => one component; c-z alone.
        let pairs = [
            pair("a", "x"),
            pair("c", "z"),
            pair("b", "x"),
            pair("b", "y"),
        ];
        let mut sizes: Vec<(usize, usize)> = components(&pairs, 1)
            .iter()
            .map(|c| (c.pairs.len(), c.english))
            .collect();
        sizes.sort();
        assert_eq!(sizes, vec![(1, 1), (3, 2)]);
    }

    #[test]
    fn same_text_on_both_sides_does_not_link() {
        // "OK." in English and "OK." in French are different nodes.
        let pairs = [pair("OK.", "D'accord."), pair("Fine.", "OK.")];
        assert_eq!(components(&pairs, 1).len(), 2);
    }
}
