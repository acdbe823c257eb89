//! Losses: BCE with logits (softplus form), squared error, L2 weight penalty. Each *adds*
//! its value to a one-element loss buffer (sums in f64 in a fixed order) and writes (or,
//! for the penalty, adds) its gradient.

use crate::ops::check_len;
use crate::ops::loss::check_first;
use crate::ops::reduce::cpu::det_sum;
use crate::ops::CHUNK;
use crate::Result;
use rayon::prelude::*;

/// `softplus(z) − t·z` written as `(1 − t)·max(z, 0) − t·min(z, 0) + log1p(exp(−|z|))`:
/// no overflow for any z and no cancellation for t in [0, 1] (all three terms ≥ 0).
#[inline]
fn bce_term(z: f64, t: f64) -> f64 {
    (1.0 - t) * z.max(0.0) - t * z.min(0.0) + (-z.abs()).exp().ln_1p()
}

/// The logistic function in f32 without overflow.
#[inline]
fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Adds `scale · Σ_i [softplus(z_i) − t_i·z_i]` to `loss[0]`; writes `dz_i = scale·(σ(z_i) −
/// t_i)`, with `t_i = target` for `i < first` and `1 − target` after.
pub fn bce_with_logits(
    z: &[f32],
    target: f32,
    first: usize,
    scale: f32,
    loss: &mut [f32],
    dz: &mut [f32],
) -> Result<()> {
    let op = "bce_with_logits";
    check_len(op, "loss", loss.len(), 1)?;
    check_len(op, "dz", dz.len(), z.len())?;
    check_first(op, first, z.len())?;
    let t = |i: usize| if i < first { target } else { 1.0 - target };
    let total = det_sum(z.len(), |i| bce_term(z[i] as f64, t(i) as f64));
    loss[0] = (loss[0] as f64 + scale as f64 * total) as f32;
    dz.par_chunks_mut(CHUNK)
        .zip(z.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(c, (d, z))| {
            for (i, (d, &z)) in d.iter_mut().zip(z).enumerate() {
                *d = scale * (sigmoid(z) - t(c * CHUNK + i));
            }
        });
    Ok(())
}

/// Adds `scale · Σ (a − b)²` to `loss[0]`; writes `da = 2·scale·(a − b)`.
pub fn mse(a: &[f32], b: &[f32], scale: f32, loss: &mut [f32], da: &mut [f32]) -> Result<()> {
    check_len("mse", "loss", loss.len(), 1)?;
    check_len("mse", "b", b.len(), a.len())?;
    check_len("mse", "da", da.len(), a.len())?;
    let total = det_sum(a.len(), |i| {
        let d = a[i] as f64 - b[i] as f64;
        d * d
    });
    loss[0] = (loss[0] as f64 + scale as f64 * total) as f32;
    let two_scale = 2.0 * scale;
    da.par_chunks_mut(CHUNK).enumerate().for_each(|(c, d)| {
        for (i, d) in d.iter_mut().enumerate() {
            let j = c * CHUNK + i;
            *d = two_scale * (a[j] - b[j]);
        }
    });
    Ok(())
}

/// Adds `scale · Σ w²` to `loss[0]` and `2·scale·w` to `dw`.
pub fn l2_penalty(w: &[f32], scale: f32, loss: &mut [f32], dw: &mut [f32]) -> Result<()> {
    check_len("l2_penalty", "loss", loss.len(), 1)?;
    check_len("l2_penalty", "dw", dw.len(), w.len())?;
    let total = det_sum(w.len(), |i| (w[i] as f64) * (w[i] as f64));
    loss[0] = (loss[0] as f64 + scale as f64 * total) as f32;
    let two_scale = 2.0 * scale;
    dw.par_chunks_mut(CHUNK)
        .zip(w.par_chunks(CHUNK))
        .for_each(|(d, w)| {
            for (d, &w) in d.iter_mut().zip(w) {
                *d += two_scale * w;
            }
        });
    Ok(())
}
