use candle_core::{Device, Tensor, Var};

use super::*;

fn randn(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = crate::batch::SplitMix::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (rng.next_u64() % 20_000) as f32 / 5_000.0 - 2.0)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn fused_layer_norm_matches_candle_and_composed_gradients() {
    let x = Var::from_tensor(&randn(&[3, 5, 16], 1)).unwrap();
    let g = Var::from_tensor(&(randn(&[16], 2) + 1.0).unwrap()).unwrap();
    let b = Var::from_tensor(&randn(&[16], 3)).unwrap();
    let fused = layer_norm(&x, &g, &b).unwrap();
    let reference =
        candle_nn::ops::layer_norm(x.as_tensor(), g.as_tensor(), b.as_tensor(), LN_EPS).unwrap();
    assert!(max_diff(&fused, &reference) < 1e-5);
    let composed = layer_norm_composed(&x, &g, &b).unwrap();
    assert!(max_diff(&fused, &composed) < 1e-5);
    // Gradients of a weighted sum agree with those of the composed version.
    let w = randn(&[3, 5, 16], 4);
    let gf = (&fused * &w)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gc = (&composed * &w)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for v in [&x, &g, &b] {
        let (a, c) = (
            gf.get(v.as_tensor()).unwrap(),
            gc.get(v.as_tensor()).unwrap(),
        );
        assert!(
            max_diff(a, c) < 1e-4,
            "layer norm gradient differs by {}",
            max_diff(a, c)
        );
    }
}

fn mask(b: usize, causal: bool) -> AttnMask {
    AttnMask {
        key_lens: std::sync::Arc::new((0..b).map(|i| 7 - 2 * i).collect()),
        causal,
        q_offset: 0,
    }
}

#[test]
fn fused_softmax_matches_candle_and_composed_gradients() {
    // Without masking it equals candle's softmax.
    let x = randn(&[2, 3, 4, 7], 5);
    let full = AttnMask {
        key_lens: std::sync::Arc::new(vec![7, 7]),
        causal: false,
        q_offset: 0,
    };
    let reference = candle_nn::ops::softmax_last_dim(&(&x * 0.5).unwrap()).unwrap();
    assert!(max_diff(&masked_softmax(&x, &full, 0.5).unwrap(), &reference) < 1e-6);
    for causal in [false, true] {
        let m = mask(2, causal);
        let xv = Var::from_tensor(&x).unwrap();
        let fused = masked_softmax(&xv, &m, 0.5).unwrap();
        let composed = masked_softmax_composed(&xv, &m, 0.5).unwrap();
        assert!(max_diff(&fused, &composed) < 1e-6);
        let w = randn(&[2, 3, 4, 7], 6);
        let gf = (&fused * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gc = (&composed * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(max_diff(gf.get(&xv).unwrap(), gc.get(&xv).unwrap()) < 1e-5);
    }
    // Masked keys get exactly zero weight.
    let p4 = masked_softmax(&x, &mask(2, false), 1.0)
        .unwrap()
        .get(1)
        .unwrap()
        .to_vec3::<f32>()
        .unwrap();
    assert!(p4
        .iter()
        .flatten()
        .all(|row| row[5..].iter().all(|&v| v == 0.0)));
}

#[test]
fn fused_cross_entropy_matches_composed_loss_and_gradient() {
    let logits = Var::from_tensor(&randn(&[6, 11], 7)).unwrap();
    let targets = [3u32, 0, 10, 4, 0, 1];
    for smoothing in [0.0f32, 0.1] {
        let f = smoothed_cross_entropy(&logits, &targets, 0, smoothing).unwrap();
        let c = smoothed_cross_entropy_composed(&logits, &targets, 0, smoothing).unwrap();
        assert!(max_diff(&f, &c) < 1e-4);
        let e = cross_entropy_eval(&logits, &targets, 0, smoothing).unwrap();
        assert!((e - c.to_scalar::<f32>().unwrap()).abs() < 1e-4);
        let gf = (f * 0.5).unwrap().backward().unwrap();
        let gc = (c * 0.5).unwrap().backward().unwrap();
        assert!(max_diff(gf.get(&logits).unwrap(), gc.get(&logits).unwrap()) < 1e-5);
    }
}

#[test]
fn dropout_keeps_expectation_and_backward_uses_the_same_mask() {
    let x =
        Var::from_tensor(&Tensor::ones((100, 100), candle_core::DType::F32, &Device::Cpu).unwrap())
            .unwrap();
    let y = dropout(&x, 0.25, 9).unwrap();
    let vals = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let zeros = vals.iter().filter(|&&v| v == 0.0).count() as f32 / vals.len() as f32;
    assert!((zeros - 0.25).abs() < 0.02, "dropped {zeros}");
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        g.get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        vals
    );
    assert_ne!(
        vals,
        dropout(&x, 0.25, 10)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    );
}

fn check_attention(q: &Var, kv: &Var, layout: AttnLayout, mask: &AttnMask) {
    let f = attention(q, kv, layout, mask, 0.5).unwrap();
    let c = attention_composed(q, kv, layout, mask, 0.5).unwrap();
    assert!(
        max_diff(&f, &c) < 1e-5,
        "attention differs by {}",
        max_diff(&f, &c)
    );
    let w = randn(f.dims(), 14);
    let gf = (&f * &w).unwrap().sum_all().unwrap().backward().unwrap();
    let gc = (&c * &w).unwrap().sum_all().unwrap().backward().unwrap();
    for x in [q, kv] {
        let d = max_diff(gf.get(x).unwrap(), gc.get(x).unwrap());
        assert!(d < 1e-4, "attention gradient differs by {d}");
    }
}

#[test]
fn fused_attention_matches_composed_values_and_gradients() {
    let lens = std::sync::Arc::new(vec![5, 3]);
    // Self-attention reading q, k, v out of one (B * T, 3d) projection.
    for causal in [false, true] {
        let qkv = Var::from_tensor(&randn(&[10, 48], 11)).unwrap();
        let layout = AttnLayout {
            batch: 2,
            tq: 5,
            tk: 5,
            d: 16,
            heads: 4,
            q_width: 48,
            q_off: 0,
            kv_width: 48,
            k_off: 16,
            v_off: 32,
        };
        let m = AttnMask {
            key_lens: lens.clone(),
            causal,
            q_offset: 0,
        };
        check_attention(&qkv, &qkv, layout, &m);
    }
    // Cross-attention: queries (B * 4, d), keys/values (B * 5, 2d).
    let q = Var::from_tensor(&randn(&[8, 16], 12)).unwrap();
    let kv = Var::from_tensor(&randn(&[10, 32], 13)).unwrap();
    let layout = AttnLayout {
        batch: 2,
        tq: 4,
        tk: 5,
        d: 16,
        heads: 2,
        q_width: 16,
        q_off: 0,
        kv_width: 32,
        k_off: 0,
        v_off: 16,
    };
    check_attention(
        &q,
        &kv,
        layout,
        &AttnMask {
            key_lens: lens,
            causal: false,
            q_offset: 0,
        },
    );
}

#[test]
fn fused_embedding_matches_composed_values_and_gradients() {
    let table = Var::from_tensor(&randn(&[9, 8], 31)).unwrap();
    let pos = randn(&[6, 8], 32);
    let ids = [1u32, 4, 4, 0, 8, 2];
    for offset in [0, 3] {
        let f = embed(&table, &pos, &ids, 3, offset, 2.0).unwrap();
        let idx = Tensor::from_slice(&ids, 6, &Device::Cpu).unwrap();
        let rows = (table.index_select(&idx, 0).unwrap() * 2.0).unwrap();
        let p = pos.narrow(0, offset, 3).unwrap();
        let c = rows
            .broadcast_add(&Tensor::cat(&[&p, &p], 0).unwrap())
            .unwrap();
        assert!(max_diff(&f, &c) < 1e-6);
        let w = randn(&[6, 8], 33);
        let gf = (&f * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gc = (&c * &w).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(max_diff(gf.get(&table).unwrap(), gc.get(&table).unwrap()) < 1e-5);
    }
    assert!(
        embed(&table, &pos, &[9], 1, 0, 1.0).is_err(),
        "out-of-vocabulary id accepted"
    );
}

#[test]
fn fused_bias_matches_composed_values_and_gradients() {
    for (relu, drop) in [
        (false, None),
        (true, None),
        (true, Some((0.3f32, 5u32))),
        (false, Some((0.3, 6))),
    ] {
        let x = Var::from_tensor(&randn(&[7, 9], 21)).unwrap();
        let b = Var::from_tensor(&randn(&[9], 22)).unwrap();
        let f = bias_add(&x, &b, relu, drop).unwrap();
        let mut c = x.broadcast_add(&b).unwrap();
        if relu {
            c = c.relu().unwrap();
        }
        if let Some((p, seed)) = drop {
            c = dropout(&c, p, seed).unwrap();
        }
        assert!(max_diff(&f, &c) < 1e-6);
        let w = randn(&[7, 9], 23);
        let gf = (&f * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gc = (&c * &w).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &b] {
            assert!(max_diff(gf.get(v).unwrap(), gc.get(v).unwrap()) < 1e-5);
        }
    }
}

#[test]
fn fused_residual_dropout_matches_composed_values_and_gradients() {
    let x = Var::from_tensor(&randn(&[5, 8], 41)).unwrap();
    let a = Var::from_tensor(&randn(&[5, 8], 42)).unwrap();
    let f = residual(&x, &a, Some((0.25, 3))).unwrap();
    let c = (x.as_tensor() + dropout(&a, 0.25, 3).unwrap()).unwrap();
    assert!(max_diff(&f, &c) < 1e-6);
    let w = randn(&[5, 8], 43);
    let gf = (&f * &w).unwrap().sum_all().unwrap().backward().unwrap();
    let gc = (&c * &w).unwrap().sum_all().unwrap().backward().unwrap();
    for v in [&x, &a] {
        assert!(max_diff(gf.get(v).unwrap(), gc.get(v).unwrap()) < 1e-6);
    }
}

#[test]
fn projected_cross_entropy_matches_composed_loss_and_gradients() {
    let h = Var::from_tensor(&randn(&[6, 8], 51)).unwrap();
    let w = Var::from_tensor(&randn(&[11, 8], 52)).unwrap();
    let targets = [3u32, 0, 10, 4, 0, 1];
    let f = projected_cross_entropy(&h, &w, &targets, 0, 0.1).unwrap();
    let logits = h.matmul(&w.t().unwrap()).unwrap();
    let c = smoothed_cross_entropy_composed(&logits, &targets, 0, 0.1).unwrap();
    assert!(max_diff(&f, &c) < 1e-4);
    let gf = (f * 0.5).unwrap().backward().unwrap();
    let gc = (c * 0.5).unwrap().backward().unwrap();
    for v in [&h, &w] {
        let d = max_diff(gf.get(v).unwrap(), gc.get(v).unwrap());
        assert!(d < 1e-5, "gradient differs by {d}");
    }
}

#[test]
fn fused_linear_matches_composed_values_and_gradients() {
    for (relu, drop) in [(false, None), (true, Some((0.2f32, 9u32)))] {
        let x = Var::from_tensor(&randn(&[7, 5], 61)).unwrap();
        let w = Var::from_tensor(&randn(&[5, 6], 62)).unwrap();
        let b = Var::from_tensor(&randn(&[6], 63)).unwrap();
        let f = linear(&x, &w, &b, relu, drop).unwrap();
        let mut c = x.matmul(&w).unwrap().broadcast_add(&b).unwrap();
        if relu {
            c = c.relu().unwrap();
        }
        if let Some((p, seed)) = drop {
            c = dropout(&c, p, seed).unwrap();
        }
        assert!(max_diff(&f, &c) < 1e-5);
        let m = randn(&[7, 6], 64);
        let gf = (&f * &m).unwrap().sum_all().unwrap().backward().unwrap();
        let gc = (&c * &m).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &w, &b] {
            let d = max_diff(gf.get(v).unwrap(), gc.get(v).unwrap());
            assert!(d < 1e-5, "linear gradient differs by {d}");
        }
    }
}
