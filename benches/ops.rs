//! Criterion benchmarks of the ops on the CPU device at the model spec's shapes, as the
//! registry lists them ([`registry::all_benches`]: the `seed` preset's generator, batch 16,
//! 64×64, F = 32, k = 9; the `small` preset's strided layers; the discriminator's 3×3
//! convolutions and pooling; an Adam step), plus the f64 reference of one convolution as
//! a baseline. Throughput is reported in multiply-adds per second ("elements") for the
//! convolutions, else in elements per second.
//!
//! Run: `cargo bench --no-default-features --bench ops` (optionally with a filter, e.g.
//! `-- seed/conv1`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use satcolor::device::cpu::CpuDevice;
use satcolor::ops::conv2d::reference::conv2d_forward;
use satcolor::ops::registry::{self, CaseKind};
use satcolor::selftest::Rng;
use std::time::Duration;

/// Every benchmark of the registry on the CPU device, one criterion group per preset, and
/// the f64 reference of the `baseline` convolution.
fn ops(c: &mut Criterion) {
    let dev = CpuDevice::new();
    let benches = registry::all_benches();
    let mut groups: Vec<&str> = Vec::new();
    for b in &benches {
        if !groups.contains(&b.group) {
            groups.push(b.group);
        }
    }
    for group in groups {
        let mut g = c.benchmark_group(group);
        for b in benches.iter().filter(|b| b.group == group) {
            g.throughput(Throughput::Elements(b.work));
            for part in b.parts {
                let mut run = b.params.bench_part(&dev, part, &mut Rng(1)).unwrap();
                g.bench_function(format!("{}/{part}", b.name), |bn| {
                    bn.iter(|| run().unwrap())
                });
            }
            if let (true, CaseKind::Conv2d((s, act, bias))) = (group == "baseline", &b.params) {
                let mut rng = Rng(1);
                let mut input = |len| -> Vec<f64> {
                    rng.vec(len, -1.0, 1.0).iter().map(|&x| x as f64).collect()
                };
                let (x, w, bb) = (input(s.x_len()), input(s.w_len()), input(s.c_out));
                let bias = bias.then_some(&bb[..]);
                g.bench_function(format!("{}/reference", b.name), |bn| {
                    bn.iter(|| conv2d_forward(s, &x, &w, bias, *act).unwrap())
                });
            }
        }
        g.finish();
    }
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
    targets = ops
}
criterion_main!(benches);
