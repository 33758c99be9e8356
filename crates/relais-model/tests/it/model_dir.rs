use candle_core::Device;
use relais_model::artifacts::{load_card, CardMetrics, CARD_FILE, WEIGHTS_FILE};
use relais_model::{load_model, Config, TrainOptions, Trainer};

use crate::helpers::tiny;

/// A freshly initialised model directory of `cfg`.
fn model_dir(cfg: &Config) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    let t = Trainer::new(
        cfg,
        TrainOptions {
            progress_bar: false,
            ..TrainOptions::default()
        },
        run.path(),
        &Device::Cpu,
    )
    .unwrap();
    t.save_model(dir.path(), CardMetrics::default()).unwrap();
    dir
}

fn load_err(dir: &std::path::Path) -> String {
    load_model(dir, &Device::Cpu)
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_saved_model_loads_with_its_card() {
    let dir = model_dir(&tiny());
    let (model, card) = load_model(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(model.config(), &tiny());
    assert_eq!(card.config, tiny());
    assert_eq!(load_card(dir.path()).unwrap(), card);
}

#[test]
fn missing_directory_or_files_are_reported() {
    let err = load_err(std::path::Path::new("/nonexistent/relais-model"));
    assert!(err.contains("does not exist"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = load_err(empty.path());
    assert!(err.contains("missing model.json"), "{err}");
    let dir = model_dir(&tiny());
    std::fs::remove_file(dir.path().join(WEIGHTS_FILE)).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("missing model.safetensors"), "{err}");
}

#[test]
fn corrupt_files_are_reported() {
    let dir = model_dir(&tiny());
    let weights = dir.path().join(WEIGHTS_FILE);
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("model.safetensors is corrupt"), "{err}");
    std::fs::write(dir.path().join(CARD_FILE), b"{ not json").unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("model.json is unreadable"), "{err}");
}

#[test]
fn weights_that_do_not_fit_the_config_are_reported() {
    let small = model_dir(&tiny());
    let big = model_dir(&Config {
        d_model: 96,
        ..tiny()
    });
    std::fs::copy(
        big.path().join(WEIGHTS_FILE),
        small.path().join(WEIGHTS_FILE),
    )
    .unwrap();
    let err = load_err(small.path());
    assert!(err.contains("does not match the config"), "{err}");
    assert!(
        err.contains("shape"),
        "error should name the shape mismatch: {err}"
    );
    // Fewer layers in the card than in the weights: extra tensors are reported too.
    let deep = model_dir(&Config {
        enc_layers: 3,
        ..tiny()
    });
    std::fs::copy(
        deep.path().join(WEIGHTS_FILE),
        small.path().join(WEIGHTS_FILE),
    )
    .unwrap();
    let err = load_err(small.path());
    assert!(err.contains("holds") && err.contains("needs"), "{err}");
}
