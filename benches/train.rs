//! Criterion benchmark of the `small`, `unet` and `seed` presets on the cpu device, 64×64
//! windows, at batch 1, 16 and 64:
//!
//! - group `train_iteration`, ids `{preset}/batch{B}`: one training iteration (D step then
//!   G step, Adam, the training defaults: λ_G 10⁴, non-saturating loss, consistent head with
//!   a luma sensor model) on a fixed batch uploaded once, so the figure is the networks'
//!   compute, not data loading;
//! - group `inference`, ids `{preset}/batch{B}`: G's forward pass alone, as `satcolor
//!   colorize` runs it ([`InferenceGenerator::forward`], the generator of
//!   [`DeviceColorizer`]), on B windows already on the device (no tiling, blending or host
//!   copies);
//! - group `colorize`, ids `{preset}/batch16`: [`DeviceColorizer::colorize_normalized`] of a
//!   512 × 512 gray image in memory, as `satcolor colorize` tiles it by default (64 × 64
//!   tiles overlapping by 16 pixels, 16 per batch, blended with Hann weights): 121 tiles,
//!   0.262 megapixels (the megapixels per second are 0.262 / the time).
//!
//! Each benchmark runs one warm-up iteration of its own, then criterion's (at least one),
//! then criterion's minimum of 10 samples in a target time of [`MEASUREMENT`]; where they
//! cannot fit (`seed` at batch 16 and 64, the batch-64 iterations), criterion warns that it
//! cannot complete 10 samples in that time and runs them anyway (10 single iterations at
//! the least). The whole bench takes about 6 minutes on 2 cores. A benchmark that the
//! filter leaves out builds nothing and runs nothing.
//!
//! With `SATCOLOR_OP_PROFILE=1` in the environment the device times every op, and each
//! benchmark prints where an iteration's time went, op by op (docs/perf.md's breakdowns).
//!
//! Run: `cargo bench --no-default-features --bench train` (optionally with criterion's
//! filter, a regular expression on `{group}/{preset}/batch{B}`, e.g. `-- small` or
//! `-- 'inference/seed/batch1$'`). `scripts/cpu-vs-torch.sh` times each id by it and by
//! the PyTorch reference in pairs, in rounds, and prints the ratios. Results and the
//! machine: docs/perf.md.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::infer::{DeviceColorizer, ImageData, InferenceGenerator, DEFAULT_BATCH};
use satcolor::model::{Bands, Checkpoint, HeadTensors, LossConfig, ModelConfig, Normalization};
use satcolor::train::{defaults, OptimizerConfig, Trainer};
use std::cell::Cell;
use std::time::Duration;

/// The presets, in the order they run.
const PRESETS: [&str; 3] = ["small", "unet", "seed"];

/// Windows per batch.
const BATCHES: [usize; 3] = [1, 16, 64];

/// Side of the image the `colorize` group colorizes.
const IMAGE: usize = 512;

/// Criterion's target measurement time per benchmark (10 samples at least, whatever it
/// takes).
const MEASUREMENT: Duration = Duration::from_secs(5);

/// Deterministic pseudo-random values in [0, 1).
fn data(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as f32 / u32::MAX as f32
        })
        .collect()
}

/// A trainer of `preset` for batches of `batch` with the training defaults, and a luma
/// sensor model, so that the head's projection runs as it does in training.
fn trainer(dev: &CpuDevice, preset: &str, batch: usize) -> Trainer<CpuDevice> {
    let cfg = ModelConfig::preset(preset).expect("a known preset");
    let opt = OptimizerConfig::adam(defaults::LR);
    let mut t = Trainer::new(dev, &cfg, batch, 1, LossConfig::default(), opt, opt)
        .expect("trainer for a preset");
    let head = HeadTensors {
        sensor_weight: vec![0.299, 0.587, 0.114],
        ..HeadTensors::unfitted(1, 3)
    };
    t.g.set_head(dev, &head).expect("a head for 1 → 3 bands");
    t
}

/// Prints the op-by-op time per iteration of a profiled device over `iterations`
/// iterations (nothing when the device is not profiled), then clears it.
fn print_profile(dev: &CpuDevice, name: &str, iterations: u64) {
    let times = dev.op_times();
    if times.is_empty() || iterations == 0 {
        return;
    }
    let total: f64 = times.iter().map(|t| t.time.as_secs_f64()).sum();
    println!("{name}: ops per iteration ({iterations} iterations)");
    println!("| op | ms | calls | share |");
    println!("|---|---:|---:|---:|");
    for t in &times {
        let s = t.time.as_secs_f64();
        println!(
            "| {} | {:.2} | {} | {:.1} % |",
            t.op,
            1e3 * s / iterations as f64,
            t.calls / iterations,
            100.0 * s / total
        );
    }
    println!("| all ops | {:.2} | | |", 1e3 * total / iterations as f64);
    dev.reset_op_times();
}

/// A criterion group with the settings above.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(1));
    g.measurement_time(MEASUREMENT);
    g
}

/// `Trainer::step` of `preset` at `batch`, after one warm-up iteration.
fn bench_train(c: &mut Criterion, dev: &CpuDevice, preset: &str, batch: usize) {
    let mut g = group(c, "train_iteration");
    // Built on the first call, so that a benchmark left out by the filter costs nothing.
    let mut state: Option<Trainer<CpuDevice>> = None;
    let iterations = Cell::new(0);
    let name = format!("{preset}/batch{batch}");
    g.bench_function(&name, |b| {
        let t = state.get_or_insert_with(|| {
            let mut t = trainer(dev, preset, batch);
            let x = data(t.g.input_len(), 1);
            let y = data(t.g.output_len(), 2);
            t.set_batch(dev, &x, &y).expect("batch of the right size");
            t.step(dev).expect("warm-up iteration");
            dev.reset_op_times();
            t
        });
        b.iter(|| {
            iterations.set(iterations.get() + 1);
            t.step(dev).expect("iteration")
        })
    });
    g.finish();
    print_profile(dev, &format!("train_iteration/{name}"), iterations.get());
}

/// `InferenceGenerator::forward` of `preset` (a checkpoint of a fresh trainer, with the
/// luma sensor model) on `batch` windows, after one warm-up pass.
fn bench_inference(c: &mut Criterion, dev: &CpuDevice, preset: &str, batch: usize) {
    let mut g = group(c, "inference");
    let mut state: Option<(InferenceGenerator<CpuDevice>, <CpuDevice as Device>::Buf)> = None;
    let iterations = Cell::new(0);
    let name = format!("{preset}/batch{batch}");
    g.bench_function(&name, |b| {
        let (inf, x) = state.get_or_insert_with(|| {
            let ckpt = checkpoint(dev, preset);
            let mut inf =
                InferenceGenerator::from_checkpoint(dev, &ckpt, batch).expect("generator");
            let x = dev.upload(&data(inf.input_len(), 1)).expect("input batch");
            inf.forward(dev, &x).expect("warm-up pass");
            dev.reset_op_times();
            (inf, x)
        });
        b.iter(|| {
            iterations.set(iterations.get() + 1);
            inf.forward(dev, x).expect("forward pass");
        })
    });
    g.finish();
    print_profile(dev, &format!("inference/{name}"), iterations.get());
}

/// A checkpoint of a fresh `preset` trainer with the luma sensor model.
fn checkpoint(dev: &CpuDevice, preset: &str) -> Checkpoint {
    let t = trainer(dev, preset, 1);
    let cfg = t.g.config().clone();
    t.checkpoint(
        dev,
        Normalization::byte(&cfg),
        Bands::default_for(&cfg),
        false,
    )
    .expect("checkpoint of a fresh trainer")
}

/// [`DeviceColorizer::colorize_normalized`] of `preset` on an [`IMAGE`]-sided gray image with
/// `satcolor colorize`'s defaults (overlap W/4, [`DEFAULT_BATCH`] tiles per batch), after
/// one warm-up run.
fn bench_colorize(c: &mut Criterion, dev: &CpuDevice, preset: &str) {
    let mut g = group(c, "colorize");
    let mut state: Option<(DeviceColorizer<CpuDevice>, ImageData, usize)> = None;
    let iterations = Cell::new(0);
    let name = format!("{preset}/batch{DEFAULT_BATCH}");
    g.bench_function(&name, |b| {
        let (col, image, overlap) = state.get_or_insert_with(|| {
            let ckpt = checkpoint(dev, preset);
            let overlap = ckpt.config.window / 4;
            let mut col = DeviceColorizer::new(dev, &ckpt, DEFAULT_BATCH).expect("colorizer");
            let image = ImageData::new(IMAGE, IMAGE, 1, data(IMAGE * IMAGE, 3)).expect("image");
            col.colorize_normalized(&image, overlap)
                .expect("warm-up run");
            dev.reset_op_times();
            (col, image, overlap)
        });
        b.iter(|| {
            iterations.set(iterations.get() + 1);
            col.colorize_normalized(image, *overlap).expect("colorize")
        })
    });
    g.finish();
    print_profile(dev, &format!("colorize/{name}"), iterations.get());
}

fn benches(c: &mut Criterion) {
    let mut dev = CpuDevice::new();
    if std::env::var_os("SATCOLOR_OP_PROFILE").is_some() {
        dev = dev.profiled();
    }
    for preset in PRESETS {
        for batch in BATCHES {
            bench_train(c, &dev, preset, batch);
        }
    }
    for preset in PRESETS {
        for batch in BATCHES {
            bench_inference(c, &dev, preset, batch);
        }
    }
    for preset in PRESETS {
        bench_colorize(c, &dev, preset);
    }
}

criterion_group!(train, benches);
criterion_main!(train);
