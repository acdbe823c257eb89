//! Optimizer updates, fused elementwise: SGD with momentum and Adam, with PyTorch's
//! formulas and order of operations (see [`SgdParams`] and [`AdamParams`]).

use crate::ops::CHUNK;
use crate::ops::{check_len, AdamParams, SgdParams};
use crate::Result;
use rayon::prelude::*;

/// `g' = g + wd·p; mom ← μ·mom + g'; p ← p − lr·mom`.
pub fn sgd_step(hp: &SgdParams, p: &mut [f32], g: &[f32], mom: &mut [f32]) -> Result<()> {
    check_len("sgd_step", "g", g.len(), p.len())?;
    check_len("sgd_step", "mom", mom.len(), p.len())?;
    let SgdParams {
        lr,
        momentum,
        weight_decay,
    } = *hp;
    p.par_chunks_mut(CHUNK)
        .zip(mom.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (p, mom))| {
            for (i, (p, mom)) in p.iter_mut().zip(mom.iter_mut()).enumerate() {
                let g = g[c * CHUNK + i] + weight_decay * *p;
                *mom = momentum * *mom + g;
                *p -= lr * *mom;
            }
        });
    Ok(())
}

/// An Adam step: `g' = g + wd·p; m ← β1·m + (1−β1)·g'; v ← β2·v + (1−β2)·g'²;`
/// `p ← p − step · m / (√v / √bc2 + ε)` with `[step, √bc2] = bias`, the step's scalars
/// ([`AdamParams::step_scalars`]).
pub fn adam_step(
    hp: &AdamParams,
    bias: &[f32],
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<()> {
    let op = "adam_step";
    check_len(op, "g", g.len(), p.len())?;
    check_len(op, "m", m.len(), p.len())?;
    check_len(op, "v", v.len(), p.len())?;
    check_len(op, "bias", bias.len(), 2)?;
    let AdamParams {
        beta1,
        beta2,
        eps,
        weight_decay,
        ..
    } = *hp;
    let (step, bc2_sqrt) = (bias[0], bias[1]);
    p.par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
        .enumerate()
        .for_each(|(c, (p, (m, v)))| {
            for i in 0..p.len() {
                let g = g[c * CHUNK + i] + weight_decay * p[i];
                m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                let denom = v[i].sqrt() / bc2_sqrt + eps;
                p[i] -= step * (m[i] / denom);
            }
        });
    Ok(())
}
