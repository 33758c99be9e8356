//! The model directory: `model.safetensors` (weights), `model.json` (the model
//! card: config, provenance, metrics) and `tokenizer.json` (written by the
//! caller). Every file is written atomically (temporary file, then rename).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{ModelError, Result};
use crate::model::Transformer;

/// Weights file name inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Model card file name inside a model directory.
pub const CARD_FILE: &str = "model.json";
/// Tokenizer file name inside a model directory.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Where the training data came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// SHA-256 of the corpus file.
    pub corpus_sha256: String,
    /// Seed of the train/valid/test split.
    pub split_seed: u64,
    /// Training pairs.
    pub train_pairs: usize,
    /// Validation pairs.
    pub valid_pairs: usize,
}

/// Quality on the validation split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CardMetrics {
    /// Validation negative log-likelihood per target token.
    pub valid_loss: Option<f64>,
    /// Greedy corpus BLEU on the validation sample.
    pub bleu: Option<f64>,
    /// Greedy corpus chrF on the validation sample.
    pub chrf: Option<f64>,
}

/// How the weights were trained.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub steps: u64,
    pub seconds: f64,
    pub target_tokens: u64,
    pub tokens_per_sec: f64,
    pub hardware: String,
}

/// `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub config: Config,
    pub provenance: Provenance,
    pub metrics: CardMetrics,
    pub training: TrainingInfo,
    /// Storage type of the weights (`f32` or `f16`); they load as f32.
    pub weights_dtype: String,
}

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ModelError + 'a {
    move |e| ModelError::io(action, path, e)
}

/// A temporary sibling of `path`, renamed over it by [`commit`].
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

pub(crate) fn commit(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::rename(tmp, path).map_err(io_err("rename into", path))
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
    commit(&tmp, path)
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes)
}

/// Reads JSON from `path`.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io_err("read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Saves named tensors as safetensors at `path` atomically, converted to `dtype`.
pub fn save_tensors(tensors: &HashMap<String, Tensor>, dtype: DType, path: &Path) -> Result<()> {
    let converted = tensors
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.to_dtype(dtype)?.to_device(&Device::Cpu)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    let tmp = tmp_path(path);
    candle_core::safetensors::save(&converted, &tmp)?;
    commit(&tmp, path)
}

/// Writes weights and card into `dir` (created if needed); weights go first so a
/// card never describes weights that are not there yet.
pub fn save_model_dir(
    dir: &Path,
    weights: &HashMap<String, Tensor>,
    card: &ModelCard,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let dtype = match card.weights_dtype.as_str() {
        "f16" => DType::F16,
        _ => DType::F32,
    };
    save_tensors(weights, dtype, &dir.join(WEIGHTS_FILE))?;
    write_json(&dir.join(CARD_FILE), card)
}

fn dir_err(dir: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::ModelDir {
        dir: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads and checks `model.json` of a model directory.
pub fn load_card(dir: &Path) -> Result<ModelCard> {
    if !dir.is_dir() {
        return Err(dir_err(dir, "does not exist or is not a directory"));
    }
    let card_path = dir.join(CARD_FILE);
    if !card_path.is_file() {
        return Err(dir_err(
            dir,
            format!("missing {CARD_FILE} (is this a model directory?)"),
        ));
    }
    let card: ModelCard = read_json(&card_path)
        .map_err(|e| dir_err(dir, format!("{CARD_FILE} is unreadable: {e}")))?;
    card.config
        .validate()
        .map_err(|e| dir_err(dir, format!("{CARD_FILE}: {e}")))?;
    Ok(card)
}

/// Loads the model of a directory written by [`save_model_dir`] onto `device`.
/// Every weight must be present with the shape `model.json` implies.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Transformer, ModelCard)> {
    let card = load_card(dir)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    if !weights_path.is_file() {
        return Err(dir_err(dir, format!("missing {WEIGHTS_FILE}")));
    }
    let bytes = std::fs::read(&weights_path).map_err(io_err("read", &weights_path))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| dir_err(dir, format!("{WEIGHTS_FILE} is corrupt: {e}")))?;
    let n_file = tensors.len();
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    let model = Transformer::new(&card.config, vb.clone()).map_err(|e| {
        dir_err(
            dir,
            format!("{WEIGHTS_FILE} does not match the config in {CARD_FILE}: {e}"),
        )
    })?;
    let expected = expected_names(&card.config);
    if n_file != expected {
        return Err(dir_err(
            dir,
            format!(
                "{WEIGHTS_FILE} holds {n_file} tensors, the config in {CARD_FILE} needs {expected}"
            ),
        ));
    }
    Ok((model, card))
}

/// Number of weight tensors a model of `cfg` has (each linear and norm has two).
pub fn expected_names(cfg: &Config) -> usize {
    let enc = 2 * (2 + 2 + 2); // ln1, self_attn.{qkv,o}, ln2, ff.{up,down}
    let dec = 2 * (3 + 2 + 3 + 2); // ln1-3, self_attn.{qkv,o}, cross_attn.{q,kv,o}, ff.{up,down}
    1 + usize::from(!cfg.tie_embeddings) + cfg.enc_layers * enc + cfg.dec_layers * dec + 2 * 2
}

/// Writes a model directory of `cfg` with random weights (seeded) and an
/// empty training record: what tests and benchmarks of the inference path
/// use. The caller adds `tokenizer.json`.
pub fn save_random_model_dir(dir: &Path, cfg: &Config, seed: u64) -> Result<()> {
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    Transformer::new(cfg, vb)?;
    let vars: Vec<(String, candle_core::Var)> = match varmap.data().lock() {
        Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Err(poisoned) => poisoned
            .into_inner()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    crate::model::init_weights(&vars, seed)?;
    let weights: HashMap<String, Tensor> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let card = ModelCard {
        config: cfg.clone(),
        provenance: Provenance::default(),
        metrics: CardMetrics::default(),
        training: TrainingInfo::default(),
        weights_dtype: "f32".into(),
    };
    save_model_dir(dir, &weights, &card)
}
