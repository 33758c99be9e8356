//! The Relais translation model: a pre-norm Transformer encoder-decoder written
//! with candle, its fused CPU kernels, a fast inference engine (int8, beam
//! search) and a resumable trainer.
//!
//! Layout:
//! - [`config`]: model shape, `tiny` and `base` presets.
//! - [`ops`]: differentiable fused ops (layer norm, attention, masked softmax,
//!   embedding, bias/residual with dropout, label-smoothed cross-entropy): CPU
//!   custom ops with hand-written backward, composed candle ops on other devices.
//! - [`layers`]: linear, attention, feed-forward, encoder and decoder layers.
//! - [`model`]: the [`Transformer`] (embeddings, stacks, loss).
//! - [`batch`]: padded batches and token-count length bucketing.
//! - [`infer`]: the inference engine ([`Engine`]): weights copied out of
//!   candle into f32 or int8 ([`Precision`]) and run by hand-written kernels
//!   with a key/value cache; [`infer::search`] is greedy and beam search.
//! - [`decode`]: greedy decoding on the candle model itself (the engine's
//!   reference in tests).
//! - [`optim`]: AdamW, clipping, learning-rate schedule.
//! - [`train`]: the [`Trainer`] (validation, checkpoints, resume, early stopping).
//! - [`artifacts`]: the model directory (`model.safetensors`, `model.json`).
//!
//! # Speed on the CPU
//!
//! candle's autograd allocates a zero gradient and adds into it for every
//! input of every graph node, and its `layer_norm`/`softmax_last_dim` have no
//! backward at all. The model therefore keeps the graph small: activations stay
//! 2-D `(B * T, d)` (no reshapes or head transposes), weights are stored
//! `(in, out)` (no transposes), and each of these is one custom op with a
//! hand-written backward: embedding + positions, layer norm, bias + ReLU +
//! dropout, residual + dropout, the attention core (heads read in place), and
//! output projection + label-smoothed cross-entropy (the `(N, V)` logits never
//! enter the graph). What remains is mostly GEMM time.
//!
//! # Threads on the CPU
//!
//! candle runs matrix products on the rayon pool (`RAYON_NUM_THREADS`, default:
//! all physical cores) and element-wise ops on its own barrier pool
//! (`CANDLE_NUM_THREADS`, default: the rayon count) whose workers busy-wait.
//! This crate's element-wise work runs in its own kernels on the rayon pool, so
//! `CANDLE_NUM_THREADS=1` loses nothing and stops the spinning workers from
//! stealing the cores the matrix products need. Measured back to back with the
//! training benchmark on the 2-core machine (`base`, 4k-token batches):
//! 6.2 s/step with the default against 4.3 s/step with `CANDLE_NUM_THREADS=1`.
//! Train with `CANDLE_NUM_THREADS=1`.

pub mod artifacts;
pub mod batch;
pub mod config;
pub mod decode;
mod error;
pub mod infer;
pub mod layers;
pub mod model;
pub mod ops;
pub mod optim;
pub mod train;

pub use artifacts::{load_model, ModelCard};
pub use batch::Pair;
pub use config::Config;
pub use error::{ModelError, Result};
pub use infer::{Engine, Precision};
pub use model::Transformer;
pub use train::{mean_loss, Progress, Scores, TrainData, TrainOptions, Trainer};

/// The device models run on: the first CUDA GPU when built with the `cuda`
/// feature (falling back to the CPU when none is present), else the CPU.
pub fn default_device() -> Result<candle_core::Device> {
    #[cfg(feature = "cuda")]
    {
        Ok(candle_core::Device::cuda_if_available(0)?)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Ok(candle_core::Device::Cpu)
    }
}
