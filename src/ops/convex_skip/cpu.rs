//! The fused convex skip `u = σ(θ)·a + (1 − σ(θ))·b` and its one-pass backward.

use crate::ops::check_len;
use crate::ops::reduce::cpu::det_sum;
use crate::ops::CHUNK;
use crate::Result;
use rayon::prelude::*;

/// `(σ(θ), 1 − σ(θ))` computed in f64 without cancellation, rounded to f32.
fn weights(theta: &[f32]) -> Result<(f32, f32)> {
    check_len("convex_skip", "theta", theta.len(), 1)?;
    let t = theta[0] as f64;
    let sig = |t: f64| 1.0 / (1.0 + (-t).exp());
    Ok((sig(t) as f32, sig(-t) as f32))
}

/// `u = σ(θ)·a + (1 − σ(θ))·b`.
pub fn convex_skip_forward(theta: &[f32], a: &[f32], b: &[f32], u: &mut [f32]) -> Result<()> {
    let (alpha, beta) = weights(theta)?;
    check_len("convex_skip_forward", "b", b.len(), a.len())?;
    check_len("convex_skip_forward", "u", u.len(), a.len())?;
    u.par_chunks_mut(CHUNK).enumerate().for_each(|(c, u)| {
        let (a, b) = (&a[c * CHUNK..], &b[c * CHUNK..]);
        for (i, u) in u.iter_mut().enumerate() {
            *u = alpha * a[i] + beta * b[i];
        }
    });
    Ok(())
}

/// `da = σ(θ)·du`, `db = (1 − σ(θ))·du`, `dθ = σ(θ)(1 − σ(θ))·Σ du·(a − b)` (deterministic
/// sum in f64).
#[allow(clippy::too_many_arguments)]
pub fn convex_skip_backward(
    theta: &[f32],
    a: &[f32],
    b: &[f32],
    du: &[f32],
    da: &mut [f32],
    db: &mut [f32],
    dtheta: &mut [f32],
) -> Result<()> {
    let op = "convex_skip_backward";
    let (alpha, beta) = weights(theta)?;
    for (what, len) in [
        ("b", b.len()),
        ("du", du.len()),
        ("da", da.len()),
        ("db", db.len()),
    ] {
        check_len(op, what, len, a.len())?;
    }
    check_len(op, "dtheta", dtheta.len(), 1)?;
    da.par_chunks_mut(CHUNK)
        .zip(db.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (da, db))| {
            for (i, (da, db)) in da.iter_mut().zip(db.iter_mut()).enumerate() {
                let g = du[c * CHUNK + i];
                *da = alpha * g;
                *db = beta * g;
            }
        });
    let dot = det_sum(a.len(), |i| du[i] as f64 * (a[i] as f64 - b[i] as f64));
    dtheta[0] = (alpha as f64 * beta as f64 * dot) as f32;
    Ok(())
}
