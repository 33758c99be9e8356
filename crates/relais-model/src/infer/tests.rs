//! The engine against the candle model it is copied from, and the search
//! invariants: batched equals unbatched, beam 1 equals greedy, forced lengths.

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};

use super::search::{translate, SearchOptions};
use super::{Engine, Precision};
use crate::batch::Tokens;
use crate::model::special::BOS;
use crate::{Config, Transformer};

/// A random model whose outputs are peaked enough for stable argmaxes.
fn model(seed: u64) -> Transformer {
    let mut cfg = Config::tiny(40);
    cfg.enc_layers = 2;
    cfg.dec_layers = 2;
    cfg.max_len = 48;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Transformer::new(&cfg, vb).expect("model");
    let vars: Vec<(String, candle_core::Var)> = varmap
        .data()
        .lock()
        .expect("varmap")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    crate::model::init_weights(&vars, seed).expect("init");
    model
}

fn sources() -> Vec<Vec<u32>> {
    vec![
        vec![5, 6, 7],
        vec![8, 9, 10, 11, 12, 13, 14],
        vec![15],
        vec![16, 17, 18, 19, 20],
        vec![21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31],
    ]
}

#[test]
fn each_cached_step_gives_the_logits_of_a_full_prefix_decode() {
    let model = model(1);
    let engine = Engine::new(&model, Precision::F32).expect("engine");
    let srcs = sources();
    let target: Vec<u32> = vec![BOS, 7, 9, 11, 13, 15, 17];
    for src in &srcs {
        // Full decode of the whole target prefix with the training model.
        let memory = model
            .encode(&Tokens::pad(&[crate::batch::source_ids(src, 48)]), None)
            .expect("encode");
        let h = model
            .decode(&Tokens::pad(std::slice::from_ref(&target)), &memory, None)
            .expect("decode");
        let full = model
            .logits(&h)
            .expect("logits")
            .to_vec2::<f32>()
            .expect("vec");
        // The engine, one cached position at a time.
        let encoded = engine.encode(&[src], super::Threads::Pool);
        let mut state = engine.start(&encoded, target.len());
        for (t, &tok) in target.iter().enumerate() {
            let step = engine.step(&encoded, &mut state, &[tok]);
            for (a, b) in step.iter().zip(&full[t]) {
                assert!((a - b).abs() < 1e-3, "position {t}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn engine_greedy_equals_the_candle_models_greedy() {
    let model = model(2);
    let engine = Engine::new(&model, Precision::F32).expect("engine");
    let srcs = sources();
    let want = crate::decode::greedy(&model, &srcs).expect("candle greedy");
    let got = translate(&engine, &srcs, &SearchOptions::greedy());
    assert_eq!(got, want);
    assert!(
        got.iter().any(|h| h.len() > 1),
        "something decoded: {got:?}"
    );
}

#[test]
fn batched_decoding_equals_one_sentence_at_a_time() {
    let model = model(3);
    for precision in [Precision::F32, Precision::Int8] {
        let engine = Engine::new(&model, precision).expect("engine");
        let srcs = sources();
        for opts in [SearchOptions::greedy(), SearchOptions::beam(4)] {
            let batched = translate(&engine, &srcs, &opts);
            for (src, hyp) in srcs.iter().zip(&batched) {
                let alone = translate(&engine, std::slice::from_ref(src), &opts);
                assert_eq!(&alone[0], hyp, "{precision} {opts:?} {src:?}");
            }
        }
    }
}

#[test]
fn beam_search_of_width_one_is_greedy() {
    let model = model(4);
    let engine = Engine::new(&model, Precision::F32).expect("engine");
    let srcs = sources();
    let greedy = translate(&engine, &srcs, &SearchOptions::greedy());
    let opts = SearchOptions {
        beam: 1,
        ..SearchOptions::default()
    };
    let beam1 = super::search::beam_search(&engine, &srcs, &opts);
    assert_eq!(beam1, greedy);
}

#[test]
fn beam_search_finds_at_least_as_likely_translations_on_average() {
    let model = model(5);
    let engine = Engine::new(&model, Precision::F32).expect("engine");
    let srcs = sources();
    let opts = SearchOptions {
        beam: 4,
        length_penalty: 0.0,
        forced_len: None,
    };
    let greedy = translate(&engine, &srcs, &SearchOptions::greedy());
    let beam = translate(&engine, &srcs, &opts);
    let total = |hyps: &[Vec<u32>]| -> f32 {
        srcs.iter()
            .zip(hyps)
            .map(|(s, h)| super::search::log_prob(&engine, s, h))
            .sum()
    };
    assert!(
        total(&beam) >= total(&greedy) - 1e-3,
        "beam {} < greedy {}",
        total(&beam),
        total(&greedy)
    );
}

#[test]
fn forced_decoding_makes_exactly_n_tokens_with_greedy_and_beam() {
    let model = model(6);
    let engine = Engine::new(&model, Precision::Int8).expect("engine");
    let srcs = sources();
    for beam in [1, 4] {
        let opts = SearchOptions {
            beam,
            length_penalty: 1.0,
            forced_len: Some(14),
        };
        let hyps = translate(&engine, &srcs, &opts);
        assert!(hyps.iter().all(|h| h.len() == 14), "beam {beam}: {hyps:?}");
    }
}

#[test]
fn outputs_are_bounded_by_the_input_length() {
    let model = model(7);
    let engine = Engine::new(&model, Precision::F32).expect("engine");
    let srcs = sources();
    for opts in [SearchOptions::greedy(), SearchOptions::beam(3)] {
        for (s, h) in srcs.iter().zip(translate(&engine, &srcs, &opts)) {
            assert!(
                h.len() <= 2 * s.len() + 10,
                "{opts:?}: {} tokens for {}",
                h.len(),
                s.len()
            );
        }
    }
}

#[test]
fn int8_weights_are_a_quarter_of_f32() {
    let model = model(8);
    let f = Engine::new(&model, Precision::F32).expect("engine");
    let q = Engine::new(&model, Precision::Int8).expect("engine");
    let (fb, qb) = (f.weight_bytes(), q.weight_bytes());
    assert!(qb * 3 < fb, "int8 {qb} bytes vs f32 {fb}");
}
