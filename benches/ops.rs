//! Criterion benchmarks of the CPU ops at the model spec's shapes (`seed` preset: batch 16,
//! 64×64, C_out = 3, F = 32, k = 9; `small` preset: F = 16, k = 5, stride 2; the
//! discriminator's 3×3 convolutions), plus the f64 reference of one convolution as a
//! baseline. Throughput is reported in multiply-adds per second ("elements").
//!
//! Run: `cargo bench --no-default-features --bench ops` (optionally with a filter, e.g.
//! `-- seed/conv1`).

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use satcolor::ops::{
    conv2d, conv_transpose2d, max_pool2d, optim, Act, AdamParams, Conv2dShape,
    ConvTranspose2dShape, Pool2dShape,
};
use std::time::Duration;

/// Deterministic pseudo-random values in [−1, 1).
fn data(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

fn conv(n: usize, c_in: usize, c_out: usize, hw: usize, k: usize, stride: usize) -> Conv2dShape {
    Conv2dShape {
        n,
        c_in,
        h: hw,
        w: hw,
        c_out,
        k,
        stride,
        pad: (k - 1) / 2,
    }
}

/// Forward, input-gradient and weight-gradient benchmarks of one convolution.
fn bench_conv(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    s: Conv2dShape,
    act: Act,
    backward: bool,
) {
    let madds = (s.y_len() * s.c_in * s.k * s.k) as u64;
    g.throughput(Throughput::Elements(madds));
    let (x, w, b, dy) = (
        data(s.x_len(), 1),
        data(s.w_len(), 2),
        data(s.c_out, 3),
        data(s.y_len(), 4),
    );
    let (mut y, mut dx, mut dw, mut db) = (
        vec![0.0; s.y_len()],
        vec![0.0; s.x_len()],
        vec![0.0; s.w_len()],
        vec![0.0; s.c_out],
    );
    g.bench_function(format!("{name}/forward"), |bn| {
        bn.iter(|| conv2d::cpu::conv2d_forward(&s, &x, &w, Some(&b), act, &mut y).unwrap())
    });
    if backward {
        g.bench_function(format!("{name}/backward_input"), |bn| {
            bn.iter(|| conv2d::cpu::conv2d_backward_input(&s, &w, &dy, &mut dx).unwrap())
        });
        g.bench_function(format!("{name}/backward_weight"), |bn| {
            bn.iter(|| {
                conv2d::cpu::conv2d_backward_weight(&s, &x, &dy, &mut dw, Some(&mut db)).unwrap()
            })
        });
    }
}

/// Forward, input-gradient and weight-gradient benchmarks of one transposed convolution.
fn bench_deconv(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, s: ConvTranspose2dShape) {
    let madds = (s.x_len() * s.c_out * s.k * s.k) as u64;
    g.throughput(Throughput::Elements(madds));
    let (x, w, b, dy) = (
        data(s.x_len(), 5),
        data(s.w_len(), 6),
        data(s.c_out, 7),
        data(s.y_len(), 8),
    );
    let (mut y, mut dx, mut dw, mut db) = (
        vec![0.0; s.y_len()],
        vec![0.0; s.x_len()],
        vec![0.0; s.w_len()],
        vec![0.0; s.c_out],
    );
    g.bench_function(format!("{name}/forward"), |bn| {
        bn.iter(|| {
            conv_transpose2d::cpu::conv_transpose2d_forward(&s, &x, &w, Some(&b), Act::Relu, &mut y)
                .unwrap()
        })
    });
    g.bench_function(format!("{name}/backward_input"), |bn| {
        bn.iter(|| {
            conv_transpose2d::cpu::conv_transpose2d_backward_input(&s, &w, &dy, &mut dx).unwrap()
        })
    });
    g.bench_function(format!("{name}/backward_weight"), |bn| {
        bn.iter(|| {
            conv_transpose2d::cpu::conv_transpose2d_backward_weight(
                &s,
                &x,
                &dy,
                &mut dw,
                Some(&mut db),
            )
            .unwrap()
        })
    });
}

/// The generator's layers in the `seed` preset (batch 16, 64×64, F = 32, k = 9, stride 1).
fn seed_generator(c: &mut Criterion) {
    let mut g = c.benchmark_group("seed");
    bench_conv(
        &mut g,
        "lift 1→3 k1",
        conv(16, 1, 3, 64, 1, 1),
        Act::Identity,
        false,
    );
    bench_conv(
        &mut g,
        "conv1 3→32 k9",
        conv(16, 3, 32, 64, 9, 1),
        Act::Relu,
        true,
    );
    bench_conv(
        &mut g,
        "conv2 32→32 k9",
        conv(16, 32, 32, 64, 9, 1),
        Act::Relu,
        true,
    );
    let s = ConvTranspose2dShape {
        n: 16,
        c_in: 32,
        h: 64,
        w: 64,
        c_out: 3,
        k: 9,
        stride: 1,
        pad: 4,
        out_pad: 0,
    };
    bench_deconv(&mut g, "deconv 32→3 k9", s);
    g.finish();
}

/// The generator's strided layers in the `small` preset (F = 16, k = 5, stride 2).
fn small_generator(c: &mut Criterion) {
    let mut g = c.benchmark_group("small");
    bench_conv(
        &mut g,
        "conv1 3→16 k5",
        conv(16, 3, 16, 64, 5, 1),
        Act::Relu,
        true,
    );
    bench_conv(
        &mut g,
        "conv2 16→16 k5 s2",
        conv(16, 16, 16, 64, 5, 2),
        Act::Relu,
        true,
    );
    let s = ConvTranspose2dShape {
        n: 16,
        c_in: 16,
        h: 32,
        w: 32,
        c_out: 3,
        k: 5,
        stride: 2,
        pad: 2,
        out_pad: 1,
    };
    bench_deconv(&mut g, "deconv 16→3 k5 s2", s);
    g.finish();
}

/// The discriminator's five 3×3 convolutions (seed widths), batch 16, and its pooling.
fn discriminator(c: &mut Criterion) {
    let mut g = c.benchmark_group("disc");
    let widths = [3, 64, 128, 256, 512, 1024];
    for j in 0..5 {
        let hw = 64 >> j;
        let s = conv(16, widths[j], widths[j + 1], hw, 3, 1);
        bench_conv(
            &mut g,
            &format!("conv{j} {}→{} {hw}²", widths[j], widths[j + 1]),
            s,
            Act::LeakyRelu(0.2),
            j < 2,
        );
    }
    let p = Pool2dShape {
        n: 16,
        c: 64,
        h: 64,
        w: 64,
    };
    let (x, mut y) = (data(p.x_len(), 9), vec![0.0; p.y_len()]);
    g.throughput(Throughput::Elements(p.x_len() as u64));
    g.bench_function("pool 64×64²/forward", |bn| {
        bn.iter(|| max_pool2d::cpu::max_pool2d_forward(&p, &x, &mut y).unwrap())
    });
    g.finish();
}

/// An Adam step over the seed generator's parameter count (about 250k).
fn optimizer(c: &mut Criterion) {
    let mut g = c.benchmark_group("optim");
    let len = 250_000;
    let hp = AdamParams {
        lr: 2e-4,
        beta1: 0.5,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let (mut p, grad, mut m, mut v) =
        (data(len, 10), data(len, 11), vec![0.0; len], vec![0.0; len]);
    g.throughput(Throughput::Elements(len as u64));
    g.bench_function("adam 250k", |bn| {
        bn.iter(|| optim::cpu::adam_step(&hp, 3, &mut p, &grad, &mut m, &mut v).unwrap())
    });
    g.finish();
}

/// The seed preset's conv1 on one image: CPU backend against the naive f64 reference.
fn reference_baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let s = conv(1, 3, 32, 64, 9, 1);
    g.throughput(Throughput::Elements(
        (s.y_len() * s.c_in * s.k * s.k) as u64,
    ));
    let (x, w, b) = (data(s.x_len(), 1), data(s.w_len(), 2), data(s.c_out, 3));
    let mut y = vec![0.0; s.y_len()];
    g.bench_function("conv1 n1/cpu", |bn| {
        bn.iter(|| conv2d::cpu::conv2d_forward(&s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap())
    });
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let (x, w, b) = (f64s(&x), f64s(&w), f64s(&b));
    g.bench_function("conv1 n1/reference", |bn| {
        bn.iter(|| conv2d::reference::conv2d_forward(&s, &x, &w, Some(&b), Act::Relu).unwrap())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = seed_generator, small_generator, discriminator, optimizer, reference_baseline
}
criterion_main!(benches);
