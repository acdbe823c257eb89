//! Optimizer steps with PyTorch's formulas and order of operations.

use crate::ops::{check_len, AdamParams, SgdParams};
use crate::Result;

/// `(p, mom)` after one SGD step: `g' = g + wd·p; mom = μ·mom + g'; p = p − lr·mom`.
pub fn sgd_step(hp: &SgdParams, p: &[f64], g: &[f64], mom: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    check_len("sgd_step", "g", g.len(), p.len())?;
    check_len("sgd_step", "mom", mom.len(), p.len())?;
    let (lr, mu, wd) = (hp.lr as f64, hp.momentum as f64, hp.weight_decay as f64);
    let mut p_new = Vec::with_capacity(p.len());
    let mut mom_new = Vec::with_capacity(p.len());
    for i in 0..p.len() {
        let g = g[i] + wd * p[i];
        let buf = mu * mom[i] + g;
        mom_new.push(buf);
        p_new.push(p[i] - lr * buf);
    }
    Ok((p_new, mom_new))
}

/// `(p, m, v)` after Adam step `t` (1-based): `g' = g + wd·p`, `m = β1·m + (1 − β1)·g'`,
/// `v = β2·v + (1 − β2)·g'²`, `denom = √v / √(1 − β2^t) + ε`,
/// `p = p − (lr / (1 − β1^t)) · m / denom`.
pub fn adam_step(
    hp: &AdamParams,
    t: u64,
    p: &[f64],
    g: &[f64],
    m: &[f64],
    v: &[f64],
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    check_len("adam_step", "g", g.len(), p.len())?;
    check_len("adam_step", "m", m.len(), p.len())?;
    check_len("adam_step", "v", v.len(), p.len())?;
    let (lr, b1, b2) = (hp.lr as f64, hp.beta1 as f64, hp.beta2 as f64);
    let (eps, wd) = (hp.eps as f64, hp.weight_decay as f64);
    let t = i32::try_from(t).unwrap_or(i32::MAX);
    let bias_correction1 = 1.0 - b1.powi(t);
    let bias_correction2 = 1.0 - b2.powi(t);
    let step_size = lr / bias_correction1;
    let (mut p_new, mut m_new, mut v_new) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..p.len() {
        let g = g[i] + wd * p[i];
        let m_i = b1 * m[i] + (1.0 - b1) * g;
        let v_i = b2 * v[i] + (1.0 - b2) * g * g;
        let denom = v_i.sqrt() / bias_correction2.sqrt() + eps;
        p_new.push(p[i] - step_size * m_i / denom);
        m_new.push(m_i);
        v_new.push(v_i);
    }
    Ok((p_new, m_new, v_new))
}
