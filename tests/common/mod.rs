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
