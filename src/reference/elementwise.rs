//! Activations, the convex skip, gradient accumulation and scaling.

use crate::ops::{check_len, Act};
use crate::Result;

/// `act(z)`.
pub fn act_forward(act: Act, z: f64) -> f64 {
    match act {
        Act::Identity => z,
        Act::Relu => z.max(0.0),
        Act::LeakyRelu(slope) => {
            if z > 0.0 {
                z
            } else {
                slope as f64 * z
            }
        }
    }
}

/// `dy · act'(z)` written with the activation's output `y` (`y > 0` ⇔ `z > 0`).
pub fn act_backward(act: Act, y: &[f64], dy: &[f64]) -> Result<Vec<f64>> {
    check_len("act_backward", "dy", dy.len(), y.len())?;
    let slope = match act {
        Act::Identity => 1.0,
        Act::Relu => 0.0,
        Act::LeakyRelu(s) => s as f64,
    };
    Ok(y.iter()
        .zip(dy)
        .map(|(&y, &g)| if y > 0.0 { g } else { slope * g })
        .collect())
}

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

/// `dst + src`.
pub fn add_assign(dst: &[f64], src: &[f64]) -> Result<Vec<f64>> {
    check_len("add_assign", "src", src.len(), dst.len())?;
    Ok(dst.iter().zip(src).map(|(d, s)| d + s).collect())
}

/// `factor · x`.
pub fn scale(x: &[f64], factor: f64) -> Vec<f64> {
    x.iter().map(|v| factor * v).collect()
}
