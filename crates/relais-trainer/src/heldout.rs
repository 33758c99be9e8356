//! The held-out splits: fixed valid and test pairs that judge every candidate
//! and that no training pair may share a sentence with.

use std::collections::HashSet;
use std::path::Path;

use relais_text::{read_pairs, split, Pair, SplitConfig};

use crate::TrainerError;

/// Valid and test pairs of the held-out corpus, and every sentence in them.
#[derive(Debug, Clone)]
pub struct Heldout {
    pub valid: Vec<Pair>,
    pub test: Vec<Pair>,
    sentences: HashSet<String>,
}

impl Heldout {
    /// Splits the corpus at `path` as `relais train` does (same seed), with
    /// `sentences` distinct English sentences in each of valid and test.
    pub fn load(path: &Path, sentences: usize) -> Result<Heldout, TrainerError> {
        let err = |source| TrainerError::Heldout {
            path: path.to_path_buf(),
            source,
        };
        let all = read_pairs(path).map_err(err)?;
        let config = SplitConfig {
            test_english: sentences,
            valid_english: sentences,
            ..SplitConfig::default()
        };
        let splits = split(&all, &config).map_err(err)?;
        Ok(Heldout::new(splits.valid, splits.test))
    }

    pub fn new(valid: Vec<Pair>, test: Vec<Pair>) -> Heldout {
        let sentences = valid
            .iter()
            .chain(&test)
            .flat_map(|p| [p.en.clone(), p.fr.clone()])
            .collect();
        Heldout {
            valid,
            test,
            sentences,
        }
    }

    /// Whether `pair` may be trained on: neither side is a held-out sentence.
    pub fn allows(&self, pair: &Pair) -> bool {
        !self.sentences.contains(&pair.en) && !self.sentences.contains(&pair.fr)
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
    fn pairs_touching_a_held_out_sentence_are_refused() {
        let h = Heldout::new(vec![pair("Hi.", "Salut.")], vec![pair("Go.", "Va !")]);
        assert!(!h.allows(&pair("Hi.", "Bonjour.")), "English held out");
        assert!(!h.allows(&pair("Go away.", "Va !")), "French held out");
        assert!(h.allows(&pair("Run.", "Cours !")));
    }
}
