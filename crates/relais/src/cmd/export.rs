//! `relais export`: copy a model directory with its weights stored as f16 (the
//! shipped form: half the size, decoded as f32) or f32.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use relais_model::artifacts::{load_card, save_model_dir, TOKENIZER_FILE, WEIGHTS_FILE};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The model directory to copy (what `relais train` writes).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Where the copy goes; created if needed.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How the weights are stored in the copy.
    #[arg(long, value_enum, default_value_t = WeightsDtype::F16)]
    dtype: WeightsDtype,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WeightsDtype {
    F16,
    F32,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    if args.out == args.model {
        bail!("--out must differ from --model");
    }
    // Loading the model first checks every weight's name and shape.
    relais_model::load_model(&args.model, &candle_core::Device::Cpu)
        .with_context(|| format!("checking {}", args.model.display()))?;
    let mut card = load_card(&args.model)?;
    let weights =
        candle_core::safetensors::load(args.model.join(WEIGHTS_FILE), &candle_core::Device::Cpu)
            .with_context(|| format!("reading {}", args.model.join(WEIGHTS_FILE).display()))?;
    card.weights_dtype = match args.dtype {
        WeightsDtype::F16 => "f16",
        WeightsDtype::F32 => "f32",
    }
    .into();
    save_model_dir(&args.out, &weights, &card)
        .with_context(|| format!("writing {}", args.out.display()))?;
    std::fs::copy(
        args.model.join(TOKENIZER_FILE),
        args.out.join(TOKENIZER_FILE),
    )
    .with_context(|| format!("copying {TOKENIZER_FILE}"))?;
    let size = std::fs::metadata(args.out.join(WEIGHTS_FILE))?.len();
    println!(
        "wrote {} ({:.1} MB of {:?} weights)",
        args.out.display(),
        size as f64 / 1e6,
        args.dtype
    );
    Ok(())
}
