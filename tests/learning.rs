//! Learning is real: the `small` and `unet` presets, trained on `satcolor synth` scenes on
//! the cpu device for a few hundred iterations, colorize held-out scenes with a lower MSE and
//! a higher colorfulness than the gray-replicated baseline (y = gray in every band).
//!
//! The trained model also checks the tiled colorization's seams (issue 4): held-out scenes
//! colorized with tiles that abut (overlap 0) shows jumps across the tile borders; with the
//! default overlap (a quarter window) the jump across its tiles' borders is no larger than
//! between neighbours inside tiles.
//!
//! `small_preset_learns_color` is the CI version (window 32, batch 8, 400 iterations, about
//! 40 s in the test profile), `unet_learns_color` the U-Net's (window 32, batch 8, 200
//! iterations, about 30 s); `small_preset_learns_color_long` (ignored;
//! scripts/learning-check.sh runs it in release) trains at the spec's window 64 and batch 16
//! for 1000 iterations. Both print their figures (docs/perf.md records them).
//!
//! Settings: the training defaults, Adam at lr 1e-3 and a constant λ_G = 10⁴ (the MSE term
//! leads; the adversarial term and D still train every iteration), model seed 1. With the
//! write-up's values (lr 2e-4, λ_start = 100) a few hundred iterations are not enough: the
//! adversarial term dominates once the MSE is small and the MSE stays several times the
//! baseline's.

#![cfg(feature = "geo")]

use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::eval::{gray_replicated, Nchw, Scores};
use satcolor::infer::tiles::positions;
use satcolor::infer::{DeviceColorizer, ImageData};
use satcolor::model::{Bands, Checkpoint, ModelConfig, Normalization};
use satcolor::synth::{write_scenes, SynthOptions};
use satcolor::train::data::{Batch, DataConfig, WindowSampler};
use satcolor::train::{defaults, OptimizerConfig, Trainer};
use std::time::Instant;

/// Adam's learning rate for both networks: the default.
const LR: f32 = defaults::LR;
/// λ_G: the default.
const LAMBDA_G: f32 = defaults::LOSS.lambda_start;
/// Seed of the initial weights.
const MODEL_SEED: u64 = 1;

/// One run of the check.
struct Setup {
    name: &'static str,
    /// The model preset (its window replaced by `window`).
    preset: &'static str,
    window: usize,
    batch: usize,
    iterations: usize,
    /// Held-out windows evaluated (rounded down to a multiple of the batch).
    val_windows: usize,
}

/// G's outputs for the windows of `val`, run through the trainer's generator a batch at a
/// time (its buffers are sized for the training batch).
fn colorize<D: Device>(dev: &D, t: &mut Trainer<D>, val: &Batch, n: usize) -> Vec<f32> {
    let b = t.g.batch();
    let in_len = t.g.input_len();
    let mut x = dev.alloc_zeros(in_len).unwrap();
    let mut out = Vec::with_capacity(n / b * t.g.output_len());
    for chunk in val.x[..n * val.window * val.window].chunks_exact(in_len) {
        dev.write(&mut x, chunk).unwrap();
        t.g.forward(dev, &x).unwrap();
        out.extend(dev.download(t.g.output()).unwrap());
    }
    out
}

fn learns_color(s: &Setup) {
    let dir = std::env::temp_dir().join(format!(
        "satcolor-learning-{}-{}",
        std::process::id(),
        s.name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let files = write_scenes(
        &dir,
        &SynthOptions {
            scenes: 10,
            size: 256,
            seed: 11,
        },
    )
    .unwrap();
    let data = DataConfig {
        window: s.window,
        out_bands: 3,
        val_fraction: 0.2,
        seed: 5,
        ..DataConfig::default()
    };
    let mut sampler = WindowSampler::from_paths(&files, data).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let val = sampler.validation(s.val_windows).unwrap();
    let n = val.batch / s.batch * s.batch;
    assert!(n >= s.batch, "only {} held-out windows", val.batch);

    let cfg = ModelConfig {
        window: s.window,
        ..ModelConfig::preset(s.preset).unwrap()
    };
    let dev = CpuDevice::new();
    let opt = OptimizerConfig::adam(LR);
    let mut t = Trainer::new(&dev, &cfg, s.batch, MODEL_SEED, defaults::LOSS, opt, opt).unwrap();
    let start = Instant::now();
    let mut batch = Batch::default();
    for i in 0..s.iterations {
        sampler.next_batch_into(s.batch, &mut batch).unwrap();
        let l = t.train_step(&dev, &batch.x, &batch.y).unwrap();
        assert!(l.is_finite(), "iteration {i}: {l:?}");
    }
    let secs = start.elapsed().as_secs_f64();

    let shape = Nchw::new(n, 3, s.window, s.window);
    let truth = &val.y[..shape.len()];
    let model = Scores::of(&colorize(&dev, &mut t, &val, n), truth, shape).unwrap();
    let gray = Nchw::new(n, 1, s.window, s.window);
    let base_pred = gray_replicated(&val.x[..gray.len()], gray, 3).unwrap();
    let baseline = Scores::of(&base_pred, truth, shape).unwrap();
    let real = satcolor::eval::colorfulness(truth, shape).unwrap();
    println!(
        "learning check [{}]: {} preset, window {}, batch {}, {} iterations in {:.1} s \
         ({:.3} s/iteration, {} threads; Adam lr {LR}, lambda_G {LAMBDA_G}, seed {MODEL_SEED}); \
         {n} held-out windows:\n  \
         model    MSE {:.5}  PSNR {:.2} dB  colorfulness {:.2}\n  \
         baseline MSE {:.5}  PSNR {:.2} dB  colorfulness {:.2}\n  \
         truth colorfulness {real:.2}",
        s.name,
        s.preset,
        s.window,
        s.batch,
        s.iterations,
        secs,
        secs / s.iterations as f64,
        dev.threads(),
        model.mse,
        model.psnr,
        model.colorfulness,
        baseline.mse,
        baseline.psnr,
        baseline.colorfulness,
    );
    assert!(
        model.mse < baseline.mse,
        "the model's MSE {} is not below the gray baseline's {}",
        model.mse,
        baseline.mse
    );
    assert!(
        model.colorfulness > baseline.colorfulness,
        "the model's colorfulness {} is not above the gray baseline's {}",
        model.colorfulness,
        baseline.colorfulness
    );
    let ckpt = t
        .checkpoint(
            &dev,
            Normalization::byte(&cfg),
            Bands::default_for(&cfg),
            false,
        )
        .unwrap();
    seams(&dev, &ckpt, s.name);
}

/// Mean absolute difference between neighbouring pixels, horizontally and vertically, by
/// the phase (column or row modulo the tile stride) of the second pixel of the pair, over
/// the regularly spaced tiles (`0..end`, before the last tile, which is moved back to the
/// edge). Only even phases: the stride-2 layers leave a period-2 texture, so steps at odd
/// and even positions differ a little; the strides and borders are even.
fn jumps_by_phase(bands: &[f32], size: usize, stride: usize, end: usize) -> Vec<f64> {
    let (mut sum, mut count) = (vec![0f64; stride], vec![0usize; stride]);
    for plane in bands.chunks_exact(size * size) {
        for a in 0..size {
            for c in (2..end).step_by(2) {
                let across = (plane[a * size + c] - plane[a * size + c - 1]).abs() as f64;
                let down = (plane[c * size + a] - plane[(c - 1) * size + a]).abs() as f64;
                sum[c % stride] += across + down;
                count[c % stride] += 2;
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, &n)| s / n.max(1) as f64)
        .collect()
}

/// The seam check on the two held-out scenes of the set, 2 and 7 (see the module docs).
fn seams(dev: &CpuDevice, ckpt: &Checkpoint, name: &str) {
    // A crop at an odd offset, so that tile borders do not line up with the scenes' own
    // structure (drawn on a grid of whole meters).
    let (full, size, off) = (256, 251, (3, 5));
    let plane = full * full;
    let inputs: Vec<ImageData> = [2, 7]
        .iter()
        .map(|&index| {
            let scene = satcolor::synth::render_scene(11, index, full);
            let mut gray = Vec::with_capacity(size * size);
            for r in off.1..off.1 + size {
                for c in off.0..off.0 + size {
                    let i = r * full + c;
                    let [red, g, b] = [0, 1, 2].map(|k| f32::from(scene.rgb[k * plane + i]));
                    gray.push((0.299 * red + 0.587 * g + 0.114 * b).round());
                }
            }
            ImageData::new(size, size, 1, gray).unwrap()
        })
        .collect();
    let mut colorizer = DeviceColorizer::new(dev, ckpt, 8).unwrap();
    let w = ckpt.config.window;
    // The mean jump across tile borders (phases 0 and W mod stride: where a tile starts
    // and where one ends) over the largest mean jump at any other phase inside the tiles.
    let mut ratio = |overlap: usize| {
        let stride = w - overlap;
        let xs = positions(size, w, overlap);
        let end = xs[xs.len() - 2] + stride;
        let mut phases = vec![0f64; stride];
        for input in &inputs {
            let out = colorizer.colorize(input, overlap).unwrap();
            for (p, j) in phases
                .iter_mut()
                .zip(jumps_by_phase(&out.values, size, stride, end))
            {
                *p += j;
            }
        }
        let border_phases = [0, w % stride];
        let at = border_phases.iter().map(|&p| phases[p]).sum::<f64>() / 2.0;
        let inside = (2..stride)
            .step_by(2)
            .filter(|p| !border_phases.contains(p))
            .map(|p| phases[p])
            .fold(0f64, f64::max);
        at / inside
    };
    let (hard, blended) = (ratio(0), ratio(w / 4));
    println!(
        "seams [{name}]: mean jump across tile borders / largest mean jump inside tiles: \
         overlap 0: {hard:.3}, overlap {} (default): {blended:.3}",
        w / 4
    );
    assert!(hard > 1.0, "overlap 0 should show seams: ratio {hard}");
    assert!(
        blended <= 1.0,
        "the default overlap leaves seams: ratio {blended}"
    );
}

#[test]
fn small_preset_learns_color() {
    learns_color(&Setup {
        name: "ci",
        preset: "small",
        window: 32,
        batch: 8,
        iterations: 400,
        val_windows: 64,
    });
}

#[test]
fn unet_learns_color() {
    learns_color(&Setup {
        name: "unet",
        preset: "unet",
        window: 32,
        batch: 8,
        iterations: 200,
        val_windows: 64,
    });
}

#[test]
#[ignore = "minutes: run by scripts/learning-check.sh in release"]
fn small_preset_learns_color_long() {
    learns_color(&Setup {
        name: "long",
        preset: "small",
        window: 64,
        batch: 16,
        iterations: 1000,
        val_windows: 64,
    });
}
