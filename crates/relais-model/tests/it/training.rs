use candle_core::Device;
use relais_model::batch::{Batch, Pair};
use relais_model::decode::greedy;
use relais_model::layers::Dropout;
use relais_model::{TrainData, TrainOptions, Trainer};

use crate::helpers::{id_bleu, id_scores, tiny, toy_pairs};

fn quiet(opts: TrainOptions) -> TrainOptions {
    TrainOptions {
        progress_bar: false,
        ..opts
    }
}

#[test]
fn every_parameter_gets_a_nonzero_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = relais_model::Config {
        dropout: 0.1,
        ..tiny()
    };
    let trainer = Trainer::new(
        &cfg,
        quiet(TrainOptions::default()),
        dir.path(),
        &Device::Cpu,
    )
    .unwrap();
    let pairs = toy_pairs(8, 24, 1);
    let refs: Vec<&Pair> = pairs.iter().collect();
    let batch = Batch::new(&refs, cfg.max_len);
    let drop = Dropout::new(cfg.dropout, 7);
    let loss = trainer.model().loss(&batch, Some(&drop)).unwrap();
    let grads = loss.backward().unwrap();
    assert!(!trainer.parameters().is_empty());
    let expected = relais_model::artifacts::expected_names(&cfg);
    assert_eq!(trainer.parameters().len(), expected);
    for (name, var) in trainer.parameters() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name} got no gradient"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            norm > 0.0 && norm.is_finite(),
            "{name} has gradient norm {norm}"
        );
    }
}

#[test]
fn tiny_model_memorises_fifty_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = toy_pairs(50, 24, 2);
    let refs: Vec<Vec<u32>> = pairs.iter().map(|p| p.tgt.clone()).collect();
    let score = id_scores(refs.clone());
    let opts = quiet(TrainOptions {
        max_tokens: 256,
        peak_lr: 3e-3,
        warmup_steps: 30,
        max_steps: Some(400),
        eval_every: 100,
        checkpoint_every: 1000,
        patience: None,
        valid_bleu_pairs: 50,
        ..TrainOptions::default()
    });
    let mut trainer = Trainer::new(&tiny(), opts, dir.path(), &Device::Cpu).unwrap();
    let data = TrainData {
        train: &pairs,
        valid: &pairs,
        score: Some(&score),
    };
    let summary = trainer.train(&data).unwrap();
    assert_eq!(summary.steps, 400);
    let srcs: Vec<Vec<u32>> = pairs.iter().map(|p| p.src.clone()).collect();
    let bleu = id_bleu(&greedy(trainer.model(), &srcs).unwrap(), &refs);
    assert!(bleu > 90.0, "BLEU {bleu} after 400 steps");
    // The best model was written as a model directory and loads back.
    let (model, card) = relais_model::load_model(dir.path(), &Device::Cpu).unwrap();
    assert!(card.metrics.bleu.unwrap() > 90.0);
    assert_eq!(card.config, tiny());
    assert!(id_bleu(&greedy(&model, &srcs).unwrap(), &refs) > 90.0);
    assert!(dir.path().join("metrics.json").is_file());
}

#[test]
fn killed_and_resumed_run_continues_where_it_stopped() {
    let pairs = toy_pairs(120, 24, 3);
    let valid = toy_pairs(20, 24, 4);
    let data = TrainData {
        train: &pairs,
        valid: &valid,
        score: None,
    };
    let opts = |max_steps| {
        quiet(TrainOptions {
            max_tokens: 128,
            peak_lr: 2e-3,
            warmup_steps: 10,
            max_steps: Some(max_steps),
            log_every: 5,
            eval_every: 1000,
            checkpoint_every: 20,
            patience: None,
            ..TrainOptions::default()
        })
    };
    let cfg = relais_model::Config {
        dropout: 0.1,
        ..tiny()
    };
    // One uninterrupted run of 60 steps.
    let straight = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(&cfg, opts(60), straight.path(), &Device::Cpu).unwrap();
    t.train(&data).unwrap();
    let reference = t.state().train_curve.clone();
    // The same run "killed" after step 40 (its last checkpoint), then resumed.
    let dir = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(&cfg, opts(40), dir.path(), &Device::Cpu).unwrap();
    first.train(&data).unwrap();
    drop(first);
    assert!(
        Trainer::new(&cfg, opts(60), dir.path(), &Device::Cpu).is_err(),
        "a fresh start over a run must be refused"
    );
    let mut resumed = Trainer::resume(opts(60), dir.path(), &Device::Cpu).unwrap();
    assert_eq!(resumed.state().step, 40);
    let summary = resumed.train(&data).unwrap();
    assert_eq!(summary.steps, 60);
    let curve = &resumed.state().train_curve;
    assert_eq!(
        curve.iter().map(|p| p.step).collect::<Vec<_>>(),
        reference.iter().map(|p| p.step).collect::<Vec<_>>()
    );
    for (a, b) in curve.iter().zip(&reference) {
        assert!(
            (a.loss - b.loss).abs() < 1e-3 * b.loss,
            "step {}: resumed loss {} vs uninterrupted {}",
            a.step,
            a.loss,
            b.loss
        );
    }
    assert!(
        curve.last().unwrap().loss < curve.first().unwrap().loss,
        "loss did not fall: {curve:?}"
    );
}

#[test]
fn resume_without_a_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        Trainer::resume(quiet(TrainOptions::default()), dir.path(), &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");
}
