//! Finite-difference checks of the hand-coded backward passes of G, D and the whole
//! training losses, for every parameter tensor.
//!
//! The networks run on [`F64Device`], a `Device` whose buffers are f64 and whose ops are
//! the crate's f64 references (`satcolor::ops::<family>::reference`), so the model code under test (the
//! wiring of forward and backward passes, skips, gradient accumulation, loss terms) is
//! exactly the code that runs on cpu / emu / cuda, while the arithmetic is precise enough
//! for central differences with a tiny step (h = 1e-6, 1e-4 for θ; tolerance 1e-5 relative;
//! the largest error seen is 4.8e-6, L_G of a conv1 weight under the consistent head): ReLU
//! and max-pool kinks are practically never crossed by such a step, and a wrong backward
//! shows up as an error of order 1, not 1e-6. (The f32 backends are compared with the
//! PyTorch reference in tests/model_golden.rs.)
//!
//! For each tensor a few random entries plus the entry with the largest analytic gradient
//! are differentiated; the error is `max |analytic − numeric| / scale` over them, with
//! `scale = max(max |numeric|, 1e-3 · largest gradient of the network)`: the floor keeps
//! the rounding noise of the loss (a sum of thousands of terms, ~1e-10 after dividing by
//! 2h) from failing tensors whose true gradient is tiny, such as θ of layer 2.

#[allow(dead_code)]
mod common;
mod model_support;

use model_support::{f64s, F64Device};

use common::rng;
use rand::Rng;
use satcolor::model::{
    AdvLoss, Discriminator, Generator, GeneratorKind, GradMode, Head, LossConfig, ModelConfig,
    PixelStats,
};
use satcolor::train::{OptimizerConfig, Trainer};

/// Step of the central differences.
const H: f64 = 1e-6;
/// Step for the skip weights θ: a scalar that moves every activation after it, whose
/// gradient is small (a sum of cancelling terms), so that the rounding noise of the loss
/// divided by 2·H would reach 3e-5 of it under the consistent head (whose output carries
/// the input's large K·x term); 1e-4 agrees with the analytic value to about 1e-7.
const H_THETA: f64 = 1e-4;
/// Largest accepted relative error.
const TOL: f64 = 1e-5;
/// Random entries checked per tensor (besides the largest-gradient one).
const ENTRIES: usize = 5;

/// A small config: window 32, `filters` 3, kernel 3, the given stride, input bands and
/// head.
fn tiny(stride: usize, in_bands: usize, head: Head) -> ModelConfig {
    ModelConfig {
        in_bands,
        out_bands: 3,
        window: 32,
        filters: 3,
        kernel: 3,
        stride,
        outer_layers: 3,
        disc_widths: vec![2, 3, 4, 4, 5],
        leaky_slope: 0.2,
        head,
        ..ModelConfig::small()
    }
}

fn uniform(g: &mut impl Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| g.random_range(lo..hi)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// Compares the analytic gradient `grad` of one tensor with central differences of
/// `loss` in a few entries of `values[k]` (perturbed in place through `entry`).
fn check_tensor(
    what: &str,
    grad: &[f64],
    floor: f64,
    seed: u64,
    mut entry: impl FnMut(usize, f64),
    mut loss: impl FnMut() -> f64,
) -> f64 {
    let mut g = rng(seed);
    let largest = (0..grad.len())
        .max_by(|&a, &b| grad[a].abs().total_cmp(&grad[b].abs()))
        .unwrap();
    let mut idx: Vec<usize> = (0..ENTRIES.min(grad.len()))
        .map(|_| g.random_range(0..grad.len()))
        .collect();
    idx.push(largest);
    let (mut worst, mut scale) = (0.0f64, floor);
    let h = if what.ends_with("theta") { H_THETA } else { H };
    for &i in &idx {
        entry(i, h);
        let up = loss();
        entry(i, -2.0 * h);
        let down = loss();
        entry(i, h);
        let numeric = (up - down) / (2.0 * h);
        worst = worst.max((numeric - grad[i]).abs());
        scale = scale.max(numeric.abs());
    }
    let err = worst / scale;
    println!("{what}: {err:.1e}");
    assert!(
        err <= TOL,
        "{what}: analytic and numeric gradients differ by {err:e} (entries {idx:?})"
    );
    assert!(
        grad[largest].abs() > 1e-12,
        "{what}: the whole gradient is zero (a dead network checks nothing)"
    );
    err
}

/// `1e-3 ·` the largest gradient entry over all `grads`.
fn floor_of(grads: &[Vec<f64>]) -> f64 {
    1e-3 * grads.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()))
}

/// Random non-zero θ, so that every skip mixes two different tensors; positive biases, so
/// that few ReLUs of these tiny layers (3 filters) are dead; for the consistent head, a
/// non-zero residual layer (a fresh one is zero and passes no gradient back) and a head
/// whose projection is active, fitted to random pixels of a 3-band "sensor".
fn liven(dev: &F64Device, g: &mut Generator<F64Device>, seed: u64) {
    let mut r = rng(seed);
    let last = match g.config().generator {
        GeneratorKind::Outer => format!("g.outer.{}.deconv.weight", g.config().outer_layers - 1),
        GeneratorKind::Unet => "g.out.weight".into(),
    };
    let consistent = g.config().head == Head::Consistent;
    for (spec, v) in g.params.specs.iter().zip(&mut g.params.values) {
        if spec.name.ends_with("theta") {
            v[0] = r.random_range(-1.5..1.5);
        } else if spec.name.ends_with("bias") && spec.name != "g.lift.bias" {
            v.iter_mut().for_each(|b| *b = r.random_range(0.05..0.3));
        } else if consistent && spec.name == last {
            v.iter_mut().for_each(|w| *w = r.random_range(-0.3..0.3));
        }
    }
    if consistent {
        let (ci, co) = (g.config().in_bands, g.config().out_bands);
        let mut stats = PixelStats::new(ci, co);
        for _ in 0..200 {
            let y: Vec<f32> = (0..co).map(|_| r.random_range(0.0..1.0)).collect();
            // Input band i weighs the targets 0.6, 0.3, 0.1 from band i·(C_out − 1) on: a
            // well-conditioned sensor model.
            let x: Vec<f32> = (0..ci)
                .map(|i| {
                    let w = [0.6, 0.3, 0.1];
                    (0..co)
                        .map(|o| w[o.abs_diff(i * (co - 1)).min(2)] * y[o])
                        .sum::<f32>()
                        + r.random_range(-0.05..0.05)
                })
                .collect();
            stats.add(&x, &y);
        }
        g.set_head(dev, &stats.fit().unwrap()).unwrap();
    }
}

/// The configurations checked: strides 1 and 2, one and two input bands, both heads.
fn cases() -> Vec<ModelConfig> {
    vec![
        tiny(1, 1, Head::Raw),
        tiny(2, 2, Head::Raw),
        tiny(1, 1, Head::Consistent),
        tiny(2, 2, Head::Consistent),
        tiny_unet(1),
        tiny_unet(2),
    ]
}

/// A three-level U-Net (widths 2, 3, 4) at window 32 with `in_bands` input bands.
fn tiny_unet(in_bands: usize) -> ModelConfig {
    ModelConfig {
        generator: GeneratorKind::Unet,
        unet_widths: vec![2, 3, 4],
        ..tiny(1, in_bands, Head::Consistent)
    }
}

#[test]
fn generator_gradients_match_finite_differences() {
    let dev = F64Device::default();
    for (case, cfg) in cases().into_iter().enumerate() {
        let (stride, head) = (cfg.stride, cfg.head.name());
        let head = format!("{} {head}", cfg.generator.name());
        let mut g = Generator::new(&dev, &cfg, 2, 11 + case as u64).unwrap();
        liven(&dev, &mut g, 5);
        let mut rg = rng(40 + case as u64);
        let x = uniform(&mut rg, g.input_len(), 0.0, 1.0);
        let proj = uniform(&mut rg, g.output_len(), -1.0, 1.0);
        g.forward(&dev, &x).unwrap();
        // The loss is proj·(G − G₀), G₀ the unperturbed output: the same gradient as
        // proj·G, without the rounding noise of summing the large terms that do not move.
        let base = g.output().clone();
        g.output_and_grad().1.clone_from(&proj);
        g.backward(&dev, &x).unwrap();
        let grads = g.params.grads.clone();
        for k in 0..grads.len() {
            let name = g.params.specs[k].name.clone();
            if name == "g.outer.0.theta" {
                // u_1 = σ(θ)·h_0 + (1 − σ(θ))·h_0 does not depend on θ_1.
                assert_eq!(grads[k], vec![0.0], "{name}");
                continue;
            }
            let cell = std::cell::RefCell::new(&mut g);
            check_tensor(
                &format!("stride {stride}, {head} head: {name}"),
                &grads[k],
                floor_of(&grads),
                k as u64,
                |i, d| cell.borrow_mut().params.values[k][i] += d,
                || {
                    let mut g = cell.borrow_mut();
                    g.forward(&dev, &x).unwrap();
                    let moved: Vec<f64> =
                        g.output().iter().zip(&base).map(|(a, b)| a - b).collect();
                    dot(&proj, &moved)
                },
            );
        }
    }
}

#[test]
fn discriminator_gradients_match_finite_differences() {
    let dev = F64Device::default();
    let cfg = tiny(2, 1, Head::Raw);
    let mut d = Discriminator::new(&dev, &cfg, 3, 3).unwrap();
    let mut rg = rng(9);
    let x = uniform(&mut rg, d.input_len(), -1.0, 1.0);
    let proj = uniform(&mut rg, 3, -1.0, 1.0);
    d.forward(&dev, &x).unwrap();
    let mut dx = vec![0.0; x.len()];
    d.backward(&dev, &x, &proj, GradMode::Overwrite, Some(&mut dx))
        .unwrap();
    let grads = d.params.grads.clone();
    let cell = std::cell::RefCell::new((&mut d, x));
    for k in 0..grads.len() {
        let name = cell.borrow().0.params.specs[k].name.clone();
        check_tensor(
            &name,
            &grads[k],
            floor_of(&grads),
            k as u64,
            |i, delta| cell.borrow_mut().0.params.values[k][i] += delta,
            || {
                let (d, x) = &mut *cell.borrow_mut();
                d.forward(&dev, x).unwrap();
                dot(&proj, d.logits())
            },
        );
    }
    check_tensor(
        "d input",
        &dx,
        floor_of(std::slice::from_ref(&dx)),
        99,
        |i, delta| cell.borrow_mut().1[i] += delta,
        || {
            let (d, x) = &mut *cell.borrow_mut();
            d.forward(&dev, x).unwrap();
            dot(&proj, d.logits())
        },
    );
}

fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// L_D and L_G of the spec, written out independently of the trainer, on the trainer's
/// current parameters.
fn losses(
    dev: &F64Device,
    t: &mut Trainer<F64Device>,
    x: &[f64],
    y: &[f64],
    loss: &LossConfig,
    lambda: f64,
) -> (f64, f64) {
    let n = t.g.batch() as f64;
    t.g.forward(dev, &x.to_vec()).unwrap();
    let gx = t.g.output().clone();
    t.d.forward(dev, &y.to_vec()).unwrap();
    let real: f64 = t.d.logits().iter().map(|&z| softplus(-z)).sum();
    t.d.forward(dev, &gx).unwrap();
    let fake_z = t.d.logits().clone();
    let fake: f64 = fake_z.iter().map(|&z| softplus(z)).sum();
    let l2: f64 =
        t.d.params
            .specs
            .iter()
            .zip(&t.d.params.values)
            .filter(|(s, _)| s.weight)
            .map(|(_, w)| w.iter().map(|w| w * w).sum::<f64>())
            .sum();
    let l_d = (real + fake) / n + loss.lambda_d as f64 * l2;
    let adv: f64 = fake_z
        .iter()
        .map(|&z| match loss.adv {
            AdvLoss::NonSaturating => softplus(-z),
            AdvLoss::Saturating => -softplus(z),
        })
        .sum::<f64>()
        / n;
    let mse = gx
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / gx.len() as f64;
    (l_d, adv + lambda * mse)
}

/// With learning rate 0 an iteration changes no weight, so the gradients it leaves are
/// ∂L_D/∂θ_D (D step) and ∂L_G/∂θ_G (G step) at the current parameters.
#[test]
fn training_losses_gradients_match_finite_differences() {
    let dev = F64Device::default();
    for (case, (adv, cfg)) in [
        (AdvLoss::NonSaturating, tiny(2, 1, Head::Raw)),
        (AdvLoss::Saturating, tiny(2, 1, Head::Consistent)),
        (AdvLoss::NonSaturating, tiny_unet(1)),
    ]
    .into_iter()
    .enumerate()
    {
        let cfg = &cfg;
        let loss = LossConfig {
            lambda_d: 0.05,
            lambda_start: 3.0,
            adv,
            ..LossConfig::default()
        };
        let mut t = Trainer::new(
            &dev,
            cfg,
            2,
            21 + case as u64,
            loss,
            OptimizerConfig::sgd(0.0),
            OptimizerConfig::sgd(0.0),
        )
        .unwrap();
        liven(&dev, &mut t.g, 8);
        let mut rg = rng(60 + case as u64);
        let x = uniform(&mut rg, t.g.input_len(), 0.0, 1.0);
        let y = uniform(&mut rg, t.g.output_len(), 0.0, 1.0);
        let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
        // The batch goes through f32; use the f32-rounded values everywhere.
        let (x, y) = (f64s(&f32s(&x)), f64s(&f32s(&y)));
        let reported = t.train_step(&dev, &f32s(&x), &f32s(&y)).unwrap();
        let lambda = reported.lambda_g as f64;
        let (l_d, l_g) = losses(&dev, &mut t, &x, &y, &loss, lambda);
        assert!(((reported.d_loss as f64) - l_d).abs() <= 1e-6 * l_d.abs());
        assert!(((reported.g_loss as f64) - l_g).abs() <= 1e-6 * l_g.abs().max(1.0));
        let d_grads = t.d.params.grads.clone();
        let g_grads = t.g.params.grads.clone();
        let cell = std::cell::RefCell::new(t);
        for (k, grad) in d_grads.iter().enumerate() {
            let name = cell.borrow().d.params.specs[k].name.clone();
            check_tensor(
                &format!(
                    "{adv:?}, {} {} head L_D: {name}",
                    cfg.generator.name(),
                    cfg.head.name()
                ),
                grad,
                floor_of(&d_grads),
                k as u64,
                |i, delta| cell.borrow_mut().d.params.values[k][i] += delta,
                || losses(&dev, &mut cell.borrow_mut(), &x, &y, &loss, lambda).0,
            );
        }
        for (k, grad) in g_grads.iter().enumerate() {
            let name = cell.borrow().g.params.specs[k].name.clone();
            if name == "g.outer.0.theta" {
                continue;
            }
            check_tensor(
                &format!(
                    "{adv:?}, {} {} head L_G: {name}",
                    cfg.generator.name(),
                    cfg.head.name()
                ),
                grad,
                floor_of(&g_grads),
                k as u64,
                |i, delta| cell.borrow_mut().g.params.values[k][i] += delta,
                || losses(&dev, &mut cell.borrow_mut(), &x, &y, &loss, lambda).1,
            );
        }
    }
}

/// The consistent head's output against the spec's formula written out here in f64
/// (ŷ = A·x + b + r; G = ŷ + Mᵀ(M·Mᵀ + εI)⁻¹(x − M·ŷ − m), the 2×2 inverse in closed
/// form), with r the output of the same network under a head that adds nothing (A = 0,
/// b = 0, M = 0: G = r); and the consistency itself, M·G(x) + m = x.
#[test]
fn consistent_head_follows_the_spec_formula() {
    let dev = F64Device::default();
    let cfg = tiny(2, 2, Head::Consistent);
    let mut g = Generator::new(&dev, &cfg, 2, 3).unwrap();
    liven(&dev, &mut g, 4);
    let head = g.head().unwrap().clone();
    let x = uniform(&mut rng(7), g.input_len(), 0.0, 1.0);
    g.forward(&dev, &x).unwrap();
    let out = g.output().clone();
    let zero = satcolor::model::HeadTensors {
        base_weight: vec![0.0; 6],
        base_bias: vec![0.0; 3],
        sensor_weight: vec![0.0; 6],
        sensor_bias: vec![0.0; 2],
        ..head.clone()
    };
    g.set_head(&dev, &zero).unwrap();
    g.forward(&dev, &x).unwrap();
    let r = g.output().clone();

    let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|&a| a as f64).collect() };
    let (a, b, m, mb) = (
        f(&head.base_weight),
        f(&head.base_bias),
        f(&head.sensor_weight),
        f(&head.sensor_bias),
    );
    // M·Mᵀ + εI and its inverse.
    let mm = |i: usize, j: usize| (0..3).map(|o| m[i * 3 + o] * m[j * 3 + o]).sum::<f64>();
    let eps = 1e-6 * (mm(0, 0) + mm(1, 1)) / 2.0;
    let (p, q, rr) = (mm(0, 0) + eps, mm(0, 1), mm(1, 1) + eps);
    let det = p * rr - q * q;
    let inv = [rr / det, -q / det, -q / det, p / det];
    let plane = 32 * 32;
    let (mut worst, mut worst_consistency) = (0.0f64, 0.0f64);
    for n in 0..2 {
        for px in 0..plane {
            let xi = |i: usize| x[(n * 2 + i) * plane + px];
            let yhat: Vec<f64> = (0..3)
                .map(|o| {
                    a[o * 2] * xi(0) + a[o * 2 + 1] * xi(1) + b[o] + r[(n * 3 + o) * plane + px]
                })
                .collect();
            let resid: Vec<f64> = (0..2)
                .map(|i| xi(i) - (0..3).map(|o| m[i * 3 + o] * yhat[o]).sum::<f64>() - mb[i])
                .collect();
            let z = [
                inv[0] * resid[0] + inv[1] * resid[1],
                inv[2] * resid[0] + inv[3] * resid[1],
            ];
            for o in 0..3 {
                let want = yhat[o] + m[o] * z[0] + m[3 + o] * z[1];
                let got = out[(n * 3 + o) * plane + px];
                worst = worst.max((got - want).abs());
            }
            for i in 0..2 {
                let back: f64 = (0..3)
                    .map(|o| m[i * 3 + o] * out[(n * 3 + o) * plane + px])
                    .sum::<f64>()
                    + mb[i];
                worst_consistency = worst_consistency.max((back - xi(i)).abs());
            }
        }
    }
    println!("head vs formula {worst:.1e}, |M·G + m − x| {worst_consistency:.1e}");
    assert!(
        worst < 1e-5,
        "the head differs from the spec's formula by {worst:e}"
    );
    assert!(
        worst_consistency < 1e-5,
        "M·G(x) + m misses x by {worst_consistency:e}"
    );
    // The residual is not trivially zero, so the check above saw the projection act on it.
    assert!(r.iter().any(|v| v.abs() > 1e-2));
}
