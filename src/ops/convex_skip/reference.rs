//! The f64 reference of the convex skip.

use crate::ops::check_len;
use crate::Result;

/// The logistic function `1 / (1 + e^(−t))`.
pub fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

/// `u = σ(θ)·a + (1 − σ(θ))·b`.
pub fn convex_skip_forward(theta: f64, a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    check_len("convex_skip_forward", "b", b.len(), a.len())?;
    let alpha = sigmoid(theta);
    Ok(a.iter()
        .zip(b)
        .map(|(&a, &b)| alpha * a + (1.0 - alpha) * b)
        .collect())
}

/// `(da, db, dθ)` with `da = σ·du`, `db = (1 − σ)·du`, `dθ = σ(1 − σ)·Σ du·(a − b)`.
pub fn convex_skip_backward(
    theta: f64,
    a: &[f64],
    b: &[f64],
    du: &[f64],
) -> Result<(Vec<f64>, Vec<f64>, f64)> {
    check_len("convex_skip_backward", "b", b.len(), a.len())?;
    check_len("convex_skip_backward", "du", du.len(), a.len())?;
    let alpha = sigmoid(theta);
    let da = du.iter().map(|&g| alpha * g).collect();
    let db = du.iter().map(|&g| (1.0 - alpha) * g).collect();
    let mut dot = 0.0;
    for i in 0..a.len() {
        dot += du[i] * (a[i] - b[i]);
    }
    Ok((da, db, alpha * (1.0 - alpha) * dot))
}
