//! The promotion rule: a candidate replaces production only when it is
//! better on the same held-out test split.

use serde::{Deserialize, Serialize};

/// A model's figures on the held-out splits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    /// Greedy corpus BLEU on the test split.
    pub bleu: f64,
    /// Greedy chrF on the test split.
    pub chrf: f64,
    /// Mean NLL per target token on the valid split (in its own tokens).
    pub valid_loss: f64,
}

/// Whether to promote, and why (recorded with the version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub promote: bool,
    pub reason: String,
}

/// Promote when there is no production model, or when the candidate's BLEU
/// is at least `margin` above production's and its validation loss is not
/// worse. Losses in different tokenizations are not comparable
/// (`same_tokenizer` false): then BLEU alone decides.
pub fn decide(
    candidate: &Judged,
    production: Option<&Judged>,
    same_tokenizer: bool,
    margin: f64,
) -> Decision {
    let Some(prod) = production else {
        return Decision {
            promote: true,
            reason: format!(
                "no production model yet; candidate BLEU {:.2}",
                candidate.bleu
            ),
        };
    };
    let gain = candidate.bleu - prod.bleu;
    if gain < margin {
        return Decision {
            promote: false,
            reason: format!(
                "BLEU {:.2} vs production {:.2}: gain {gain:+.2} is under the margin {margin:.2}",
                candidate.bleu, prod.bleu
            ),
        };
    }
    if same_tokenizer && candidate.valid_loss > prod.valid_loss {
        return Decision {
            promote: false,
            reason: format!(
                "BLEU {:.2} vs {:.2} is better but validation loss {:.4} is worse than {:.4}",
                candidate.bleu, prod.bleu, candidate.valid_loss, prod.valid_loss
            ),
        };
    }
    let loss = if same_tokenizer {
        format!(
            "validation loss {:.4} vs {:.4}",
            candidate.valid_loss, prod.valid_loss
        )
    } else {
        "validation losses not comparable (different tokenizers)".to_owned()
    };
    Decision {
        promote: true,
        reason: format!(
            "BLEU {:.2} vs production {:.2} (gain {gain:+.2} >= margin {margin:.2}); {loss}",
            candidate.bleu, prod.bleu
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(bleu: f64, valid_loss: f64) -> Judged {
        Judged {
            bleu,
            chrf: 50.0,
            valid_loss,
        }
    }

    #[test]
    fn the_first_model_is_promoted() {
        assert!(decide(&j(1.0, 9.0), None, true, 0.5).promote);
    }

    #[test]
    fn bleu_must_clear_the_margin() {
        let d = decide(&j(30.4, 1.0), Some(&j(30.0, 1.1)), true, 0.5);
        assert!(!d.promote, "{}", d.reason);
        assert!(d.reason.contains("margin"));
        assert!(decide(&j(30.5, 1.0), Some(&j(30.0, 1.1)), true, 0.5).promote);
    }

    #[test]
    fn a_worse_loss_blocks_only_when_comparable() {
        let d = decide(&j(35.0, 1.2), Some(&j(30.0, 1.1)), true, 0.5);
        assert!(!d.promote && d.reason.contains("loss"), "{}", d.reason);
        assert!(decide(&j(35.0, 1.2), Some(&j(30.0, 1.1)), false, 0.5).promote);
    }

    #[test]
    fn a_huge_margin_forces_no_promotion() {
        assert!(!decide(&j(99.0, 0.1), Some(&j(1.0, 9.0)), true, 1000.0).promote);
    }
}
