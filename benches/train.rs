//! Criterion benchmark of one training iteration (D step then G step, Adam, the defaults)
//! of the `small`, `unet` and `seed` presets at batch 16 on the cpu device, 64×64 windows.
//! One iteration of `seed` takes seconds, so the sample count is criterion's minimum (10)
//! and the whole bench takes a few minutes on 2 cores.
//!
//! Run: `cargo bench --no-default-features --bench train` (optionally with a filter, e.g.
//! `-- small`). Results and the machine: docs/perf.md.

use criterion::{criterion_group, criterion_main, Criterion};
use satcolor::device::cpu::CpuDevice;
use satcolor::model::{HeadTensors, LossConfig, ModelConfig};
use satcolor::train::{defaults, OptimizerConfig, Trainer};
use std::time::Duration;

/// Windows per batch, as in the timing request.
const BATCH: usize = 16;

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

/// Benchmarks `train_step` of `preset` after one warm-up iteration.
fn bench_preset(c: &mut Criterion, preset: &str) {
    let dev = CpuDevice::new();
    let cfg = ModelConfig::preset(preset).expect("a known preset");
    let opt = OptimizerConfig::adam(defaults::LR);
    let mut t = Trainer::new(&dev, &cfg, BATCH, 1, LossConfig::default(), opt, opt)
        .expect("trainer for a preset");
    // A luma sensor model, so that the head's projection runs as it does in training.
    let head = HeadTensors {
        sensor_weight: vec![0.299, 0.587, 0.114],
        ..HeadTensors::unfitted(1, 3)
    };
    t.g.set_head(&dev, &head).expect("a head for 1 → 3 bands");
    let x = data(t.g.input_len(), 1);
    let y = data(t.g.output_len(), 2);
    t.set_batch(&dev, &x, &y).expect("batch of the right size");
    t.step(&dev).expect("first iteration");
    let mut g = c.benchmark_group("train_iteration");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(1));
    g.measurement_time(Duration::from_secs(if preset == "seed" { 40 } else { 8 }));
    g.bench_function(format!("{preset}/batch{BATCH}"), |b| {
        b.iter(|| t.step(&dev).expect("iteration"))
    });
    g.finish();
}

fn iterations(c: &mut Criterion) {
    bench_preset(c, "small");
    bench_preset(c, "unet");
    bench_preset(c, "seed");
}

criterion_group!(benches, iterations);
criterion_main!(benches);
