//! The `[trainer]` section: continuous training (`relais trainer`).

use std::path::PathBuf;
use std::time::Duration;

use relais_bus::config::parse_duration;
use serde::{Deserialize, Deserializer};

use crate::ConfigError;

/// How `relais trainer` trains, judges and promotes candidates. The dataset
/// is read from `audit.database_url`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerSettings {
    /// Runs live here, one directory per run (checkpoints, candidate model).
    pub work_dir: PathBuf,
    /// The held-out corpus (zip or TSV): its valid and test splits judge
    /// every candidate and no pair sharing a sentence with them is trained on.
    pub heldout: PathBuf,
    /// Distinct English sentences in each held-out split.
    pub heldout_sentences: usize,
    /// Shape of a model trained from scratch: `base` or `tiny`.
    pub preset: String,
    /// Continue from the production model's weights and tokenizer (when its
    /// shape is the preset's) instead of starting from random weights.
    pub warm_start: bool,
    /// Optimiser steps per run.
    pub steps: u64,
    /// Longest a run trains, in minutes (it then stops and is judged).
    pub max_minutes: f64,
    /// Padded tokens per batch.
    pub batch_tokens: usize,
    pub peak_lr: f64,
    pub warmup_steps: u64,
    /// Vocabulary of a tokenizer trained from scratch.
    pub vocab_size: usize,
    /// Validate every this many steps.
    pub eval_every: u64,
    /// Also train on this schedule when the dataset changed since the last run.
    #[serde(deserialize_with = "de_duration")]
    pub schedule: Duration,
    /// After a dataset update, wait this long for more (a burst is one run).
    #[serde(deserialize_with = "de_duration")]
    pub coalesce: Duration,
    /// Promote when the candidate's test BLEU beats production's by at least
    /// this much and its validation loss is not worse.
    pub promote_margin: f64,
}

impl TrainerSettings {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.to_owned(),
            })
        };
        if !matches!(self.preset.as_str(), "base" | "tiny") {
            return bad("trainer.preset", "must be `base` or `tiny`");
        }
        if self.steps == 0 {
            return bad("trainer.steps", "must be at least 1");
        }
        if self.batch_tokens < 64 {
            return bad("trainer.batch_tokens", "must be at least 64");
        }
        if self.heldout_sentences == 0 {
            return bad("trainer.heldout_sentences", "must be at least 1");
        }
        if self.eval_every == 0 {
            return bad("trainer.eval_every", "must be at least 1");
        }
        if !self.max_minutes.is_finite() || self.max_minutes <= 0.0 {
            return bad("trainer.max_minutes", "must be positive");
        }
        if !self.peak_lr.is_finite() || self.peak_lr <= 0.0 {
            return bad("trainer.peak_lr", "must be positive");
        }
        if self.schedule.is_zero() {
            return bad("trainer.schedule", "must be longer than zero");
        }
        if !self.promote_margin.is_finite() {
            return bad("trainer.promote_margin", "must be a number");
        }
        Ok(())
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: write a whole number and a unit (ms, s, m, h), e.g. \"30s\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Toml};

    use crate::Settings;

    fn load(extra: &str) -> Result<Settings, crate::ConfigError> {
        let figment = Settings::figment(None)?.merge(Toml::string(extra));
        Settings::from_figment(figment)
    }

    #[test]
    fn defaults_train_the_shipped_shape_weekly() {
        let s = load("").expect("defaults");
        assert_eq!(s.trainer.preset, "base");
        assert!(s.trainer.warm_start);
        assert_eq!(
            s.trainer.schedule,
            std::time::Duration::from_secs(7 * 24 * 3600)
        );
        assert_eq!(s.trainer.promote_margin, 0.5);
    }

    #[test]
    fn bad_values_are_named() {
        for (toml, key) in [
            ("[trainer]\npreset = \"huge\"\n", "trainer.preset"),
            ("[trainer]\nsteps = 0\n", "trainer.steps"),
            ("[trainer]\nmax_minutes = 0.0\n", "trainer.max_minutes"),
        ] {
            let err = load(toml).expect_err(toml);
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
    }
}
