//! The f64 reference of the losses and the L2 penalty.

use crate::ops::check_len;
use crate::ops::convex_skip::reference::sigmoid;
use crate::Result;

/// `softplus(z) = log(1 + e^z)`, computed as `max(z, 0) + log1p(e^(−|z|))` (no overflow).
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// `(loss, dz)`: `loss = loss_in + scale · Σ_i [softplus(z_i) − t_i·z_i]`, `dz_i = scale·(σ(z_i) −
/// t_i)`, with `t_i = target` for the first `first` logits and `1 − target` after.
///
/// `softplus(z) − t·z` is evaluated as `(1 − t)·max(z, 0) − t·min(z, 0) + log1p(e^(−|z|))`
/// (the same value; no cancellation for large |z|).
pub fn bce_with_logits(
    z: &[f64],
    target: f64,
    first: usize,
    scale: f64,
    loss_in: f64,
) -> Result<(f64, Vec<f64>)> {
    super::check_first("bce_with_logits", first, z.len())?;
    let t = |i: usize| if i < first { target } else { 1.0 - target };
    let mut total = 0.0;
    for (i, &z) in z.iter().enumerate() {
        let t = t(i);
        total += (1.0 - t) * z.max(0.0) - t * z.min(0.0) + (-z.abs()).exp().ln_1p();
    }
    let dz = z
        .iter()
        .enumerate()
        .map(|(i, &z)| scale * (sigmoid(z) - t(i)))
        .collect();
    Ok((loss_in + scale * total, dz))
}

/// `(loss, da)`: `loss = loss_in + scale · Σ (a − b)²`, `da = 2·scale·(a − b)`.
pub fn mse(a: &[f64], b: &[f64], scale: f64, loss_in: f64) -> Result<(f64, Vec<f64>)> {
    check_len("mse", "b", b.len(), a.len())?;
    let mut total = 0.0;
    for i in 0..a.len() {
        total += (a[i] - b[i]) * (a[i] - b[i]);
    }
    let da = a
        .iter()
        .zip(b)
        .map(|(a, b)| 2.0 * scale * (a - b))
        .collect();
    Ok((loss_in + scale * total, da))
}

/// `(loss, dw)`: `loss = loss_in + scale · Σ w²`, `dw = dw_in + 2·scale·w`.
pub fn l2_penalty(w: &[f64], scale: f64, loss_in: f64, dw_in: &[f64]) -> Result<(f64, Vec<f64>)> {
    check_len("l2_penalty", "dw", dw_in.len(), w.len())?;
    let total: f64 = w.iter().map(|w| w * w).sum();
    let dw = w
        .iter()
        .zip(dw_in)
        .map(|(w, d)| d + 2.0 * scale * w)
        .collect();
    Ok((loss_in + scale * total, dw))
}
