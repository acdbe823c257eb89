//! Helpers shared by the test crates: seeded random data, finite differences, and a
//! device wrapper that spoils one op's output (to show that the parity harness fails).

pub mod faulty;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A seeded generator.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `len` uniform values in `[lo, hi)`.
pub fn uniform(rng: &mut StdRng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// `len` uniform f32 values in `[lo, hi)`.
pub fn uniform_f32(rng: &mut StdRng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// `len` distinct values, at least `gap` apart, in random order (for max pooling, so that
/// a finite-difference step cannot change which element is the maximum).
pub fn distinct(rng: &mut StdRng, len: usize, gap: f64) -> Vec<f64> {
    let mut v: Vec<f64> = (0..len)
        .map(|i| (i as f64 - len as f64 / 2.0) * gap)
        .collect();
    for i in (1..len).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
    v
}

/// `Σ r_i · y_i`: a random scalar projection of an op's outputs.
pub fn dot(r: &[f64], y: &[f64]) -> f64 {
    r.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Central differences `(f(x + h·e_i) − f(x − h·e_i)) / 2h` for every coordinate i.
pub fn central_diff(x: &[f64], h: f64, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            xp[i] = x[i] + h;
            let up = f(&xp);
            xp[i] = x[i] - h;
            let down = f(&xp);
            xp[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// Max-norm relative distance `max |a − b| / max |b|` (`b` the finite differences).
pub fn rel_dist(analytic: &[f64], numeric: &[f64]) -> f64 {
    assert_eq!(analytic.len(), numeric.len());
    let scale = numeric.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    let worst = analytic
        .iter()
        .zip(numeric)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    worst / scale
}

/// f32 → f64.
pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// f64 → f32.
pub fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Makes a fresh checkpoint's generator look trained, so that inference tests see every
/// part of it act: with the consistent head, a non-zero residual layer (a fresh one is zero,
/// and G(x) would be the linear baseline alone) and a head fitted as to luma-derived gray
/// (A maps gray to a bluish colour, M holds the luma weights, so the projection acts).
pub fn liven_checkpoint(ckpt: &mut satcolor::model::Checkpoint, seed: u64) {
    use satcolor::model::{GeneratorKind, Head, HeadTensors};
    let cfg = ckpt.config.clone();
    if cfg.head != Head::Consistent {
        return;
    }
    let mut g = rng(seed);
    let last = match cfg.generator {
        GeneratorKind::Outer => format!("g.outer.{}.deconv", cfg.outer_layers - 1),
        GeneratorKind::Unet => "g.out".to_string(),
    };
    for suffix in ["weight", "bias"] {
        let t = ckpt.tensors.get_mut(&format!("{last}.{suffix}")).unwrap();
        t.data
            .iter_mut()
            .for_each(|v| *v = g.random_range(-0.3..0.3));
    }
    let (ci, co) = (cfg.in_bands, cfg.out_bands);
    let luma = [0.299f32, 0.587, 0.114];
    let head = HeadTensors {
        in_bands: ci,
        out_bands: co,
        base_weight: (0..co * ci)
            .map(|k| (0.9 + 0.1 * (k / ci) as f32) / ci as f32)
            .collect(),
        base_bias: (0..co).map(|o| 0.02 * o as f32 - 0.02).collect(),
        // Input band i weighs the outputs with the luma weights rotated by i.
        sensor_weight: (0..ci * co).map(|k| luma[(k % co + k / co) % 3]).collect(),
        sensor_bias: vec![0.01; ci],
    };
    head.insert_into(&mut ckpt.tensors);
}

/// A freshly initialized checkpoint of `cfg` from `seed` (Byte bands, no optimizer state).
pub fn fresh_checkpoint(
    cfg: &satcolor::model::ModelConfig,
    seed: u64,
) -> satcolor::model::Checkpoint {
    use satcolor::device::cpu::CpuDevice;
    use satcolor::model::{Bands, LossConfig, Normalization};
    use satcolor::train::{OptimizerConfig, Trainer};
    let dev = CpuDevice::new();
    let opt = OptimizerConfig::adam(1e-3);
    let t = Trainer::new(&dev, cfg, 1, seed, LossConfig::default(), opt, opt).unwrap();
    t.checkpoint(
        &dev,
        Normalization::byte(cfg),
        Bands::default_for(cfg),
        false,
    )
    .unwrap()
}
