//! Measures `Translator::translate_batch` on a random-weight tiny model (or the
//! model directory given as the first argument): wall time per batch for
//! several batch sizes. `cargo run --release -p relais-worker --example decode_latency [DIR]`

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use relais_model::artifacts::{save_model_dir, ModelCard, TOKENIZER_FILE};
use relais_model::{Config, Transformer};
use relais_text::TextTokenizer;
use relais_worker::Translator;

fn tiny_model_dir(root: &Path) -> PathBuf {
    let dir = root.join("tiny");
    let corpus = ["Hello.", "Bonjour.", "The cat sleeps.", "Le chat dort."];
    let tokenizer = TextTokenizer::train(corpus, 300).expect("tokenizer");
    let config = Config::tiny(tokenizer.vocab_size());
    let varmap = VarMap::new();
    Transformer::new(
        &config,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .expect("model");
    let vars: Vec<_> = varmap
        .data()
        .lock()
        .expect("vars")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    relais_model::model::init_weights(&vars, 7).expect("init");
    let weights: HashMap<String, Tensor> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let card = ModelCard {
        config,
        provenance: Default::default(),
        metrics: Default::default(),
        training: Default::default(),
        weights_dtype: "f32".into(),
    };
    save_model_dir(&dir, &weights, &card).expect("save");
    tokenizer.save(dir.join(TOKENIZER_FILE)).expect("tokenizer");
    dir
}

fn main() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| tiny_model_dir(root.path()));
    let translator = Translator::load(&dir).expect("model loads");
    println!("model {} from {}", translator.version(), dir.display());
    let text = "The cat sleeps on the mat. I like green tea.".to_owned();
    for size in [1usize, 4, 16, 64] {
        let texts = vec![text.clone(); size];
        translator.translate_batch(&texts).expect("warm-up");
        let runs = 5;
        let started = Instant::now();
        for _ in 0..runs {
            translator.translate_batch(&texts).expect("translate");
        }
        let per_batch = started.elapsed() / runs;
        println!(
            "batch of {size:>2} requests ({:>3} sentences): {:>8.2} ms per batch, {:>6.2} ms per request",
            size * 2,
            per_batch.as_secs_f64() * 1000.0,
            per_batch.as_secs_f64() * 1000.0 / size as f64
        );
    }
}
