//! Model shape and regularisation settings, with the `tiny` and `base` presets.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The shape of a Transformer encoder-decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Width of every hidden state.
    pub d_model: usize,
    /// Attention heads per attention block (`d_model` must divide by it).
    pub heads: usize,
    /// Width of the feed-forward inner layer.
    pub ff: usize,
    /// Encoder layers.
    pub enc_layers: usize,
    /// Decoder layers.
    pub dec_layers: usize,
    /// Shared source/target vocabulary size.
    pub vocab: usize,
    /// Longest sequence (in tokens, BOS/EOS included) the model accepts.
    pub max_len: usize,
    /// Dropout on embeddings, residual branches and the feed-forward activation.
    pub dropout: f32,
    /// Label smoothing of the training loss.
    pub label_smoothing: f32,
    /// Share one embedding matrix between source, target and output projection.
    pub tie_embeddings: bool,
}

impl Config {
    /// A model small enough to train in seconds, for tests.
    pub fn tiny(vocab: usize) -> Self {
        Self {
            d_model: 32,
            heads: 2,
            ff: 64,
            enc_layers: 1,
            dec_layers: 1,
            vocab,
            max_len: 64,
            dropout: 0.0,
            label_smoothing: 0.1,
            tie_embeddings: true,
        }
    }

    /// The shipped default's shape: d256, 4 heads, ff 1024, 3+3 layers, 8k vocabulary.
    pub fn base() -> Self {
        Self {
            d_model: 256,
            heads: 4,
            ff: 1024,
            enc_layers: 3,
            dec_layers: 3,
            vocab: 8000,
            max_len: 128,
            dropout: 0.1,
            label_smoothing: 0.1,
            tie_embeddings: true,
        }
    }

    /// A preset by name (`tiny` or `base`).
    pub fn preset(name: &str, vocab: usize) -> Result<Self> {
        match name {
            "tiny" => Ok(Self::tiny(vocab)),
            "base" => Ok(Self {
                vocab,
                ..Self::base()
            }),
            other => Err(ModelError::Config(format!(
                "unknown preset {other:?} (known: tiny, base)"
            ))),
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.heads.max(1)
    }

    /// Checks that the values fit together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::Config(m));
        if self.d_model == 0
            || self.heads == 0
            || self.ff == 0
            || self.vocab < 5
            || self.max_len < 3
        {
            return bad(format!(
                "sizes must be positive (vocab >= 5, max_len >= 3): {self:?}"
            ));
        }
        if !self.d_model.is_multiple_of(self.heads) {
            return bad(format!(
                "d_model {} is not a multiple of heads {}",
                self.d_model, self.heads
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) || !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("dropout and label_smoothing must lie in [0, 1)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_round_trip() {
        for cfg in [Config::tiny(50), Config::base()] {
            cfg.validate().unwrap();
            let json = serde_json::to_string(&cfg).unwrap();
            assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), cfg);
        }
        assert!(Config::preset("huge", 10).is_err());
        let bad = Config {
            heads: 3,
            ..Config::tiny(50)
        };
        assert!(bad.validate().is_err());
    }
}
