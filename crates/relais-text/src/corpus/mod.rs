//! The English–French corpus: reading, cleaning, hashing, splitting.

mod clean;
mod read;
mod split;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub use clean::{clean_sentence, TYPOGRAPHIC_SPACES};
pub use read::{
    parse_corpus_bytes, parse_tsv, parse_zip, read_corpus, read_pairs, Corpus, LineMode, ReadStats,
};
pub use split::{distinct_english, split, SplitConfig, SplitStats, Splits};

/// One cleaned sentence pair.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Pair {
    pub en: String,
    pub fr: String,
}

/// SHA-256 (lower-case hex) of the pairs in order, each written as
/// `en TAB fr LF`. Identifies the exact data a model was trained on.
pub fn corpus_hash(pairs: &[Pair]) -> String {
    let mut hasher = Sha256::new();
    for pair in pairs {
        hasher.update(pair.en.as_bytes());
        hasher.update(b"\t");
        hasher.update(pair.fr.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Groups pairs by English source for multi-reference scoring: one entry per
/// distinct English sentence, in order of first appearance, with its French
/// translations in order of appearance.
pub fn group_references(pairs: &[Pair]) -> Vec<(String, Vec<String>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for pair in pairs {
        let slot = *index.entry(pair.en.as_str()).or_insert_with(|| {
            groups.push((pair.en.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(pair.fr.clone());
    }
    groups
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
    fn hash_is_sha256_of_the_tsv_form() {
        // sha256("Go.\tVa !\n") computed independently (coreutils sha256sum)
        assert_eq!(
            corpus_hash(&[pair("Go.", "Va !")]),
            "c8ab60c0149f6df0ebd821199d5b7333700ff1101a14c2dc57e4e27c8160cd97"
        );
        assert_ne!(
            corpus_hash(&[pair("a", "b"), pair("c", "d")]),
            corpus_hash(&[pair("c", "d"), pair("a", "b")])
        );
        assert_eq!(corpus_hash(&[]).len(), 64);
    }

    #[test]
    fn groups_references_by_english_in_order() {
        let pairs = [
            pair("Hi.", "Salut."),
            pair("Go.", "Va !"),
            pair("Hi.", "Bonjour."),
        ];
        assert_eq!(
            group_references(&pairs),
            vec![
                (
                    "Hi.".to_string(),
                    vec!["Salut.".to_string(), "Bonjour.".to_string()]
                ),
                ("Go.".to_string(), vec!["Va !".to_string()]),
            ]
        );
    }
}
