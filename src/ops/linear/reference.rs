//! The linear layer.

use crate::ops::{check_len, LinearShape};
use crate::Result;

fn check(op: &'static str, s: &LinearShape, x: usize, w: usize) -> Result<()> {
    s.validate()?;
    check_len(op, "x", x, s.n * s.k)?;
    check_len(op, "w", w, s.m * s.k)
}

/// `y[i, j] = b[j] + Σ_l x[i, l] · w[j, l]`.
pub fn linear_forward(s: &LinearShape, x: &[f64], w: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    check("linear_forward", s, x.len(), w.len())?;
    check_len("linear_forward", "b", b.len(), s.m)?;
    let mut y = vec![0.0; s.n * s.m];
    for i in 0..s.n {
        for j in 0..s.m {
            let mut acc = b[j];
            for l in 0..s.k {
                acc += x[i * s.k + l] * w[j * s.k + l];
            }
            y[i * s.m + j] = acc;
        }
    }
    Ok(y)
}

/// `(dx, dw, db)`: `dx[i, l] = Σ_j dy[i, j]·w[j, l]`, `dw[j, l] = Σ_i dy[i, j]·x[i, l]`,
/// `db[j] = Σ_i dy[i, j]`.
pub fn linear_backward(
    s: &LinearShape,
    x: &[f64],
    w: &[f64],
    dy: &[f64],
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    check("linear_backward", s, x.len(), w.len())?;
    check_len("linear_backward", "dy", dy.len(), s.n * s.m)?;
    let mut dx = vec![0.0; s.n * s.k];
    let mut dw = vec![0.0; s.m * s.k];
    let mut db = vec![0.0; s.m];
    for i in 0..s.n {
        for j in 0..s.m {
            let g = dy[i * s.m + j];
            db[j] += g;
            for l in 0..s.k {
                dx[i * s.k + l] += g * w[j * s.k + l];
                dw[j * s.k + l] += g * x[i * s.k + l];
            }
        }
    }
    Ok((dx, dw, db))
}
