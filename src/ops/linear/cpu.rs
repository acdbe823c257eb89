//! The linear layer `y = x·wᵀ + b` (D's last layer) through GEMM.

use crate::ops::gemm::matmul::{matmul, MatRef};
use crate::ops::reduce::cpu::channel_sums;
use crate::ops::{check_len, LinearShape};
use crate::Result;

/// Whether a GEMM of this many multiply-adds is worth splitting over threads.
fn worth_threads(madds: usize) -> bool {
    madds >= 1 << 16 && rayon::current_num_threads() > 1
}

/// `y = x·wᵀ + b` with x `[n, k]`, w `[m, k]`, b `[m]`, y `[n, m]`.
pub fn linear_forward(
    s: &LinearShape,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let op = "linear_forward";
    s.validate()?;
    check_len(op, "x", x.len(), s.n * s.k)?;
    check_len(op, "w", w.len(), s.m * s.k)?;
    check_len(op, "b", b.len(), s.m)?;
    check_len(op, "y", y.len(), s.n * s.m)?;
    let xm = MatRef::row_major(x, s.n, s.k);
    let wt = MatRef::row_major(w, s.m, s.k).t();
    matmul(y, xm, wt, false, worth_threads(s.n * s.m * s.k));
    if s.m > 0 {
        for row in y.chunks_exact_mut(s.m) {
            for (v, b) in row.iter_mut().zip(b) {
                *v += *b;
            }
        }
    }
    Ok(())
}

/// `dx = dy·w` (if wanted), `dw = dyᵀ·x`, `db = Σ_n dy` (summed in batch order).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    s: &LinearShape,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: &mut [f32],
) -> Result<()> {
    let op = "linear_backward";
    s.validate()?;
    check_len(op, "x", x.len(), s.n * s.k)?;
    check_len(op, "w", w.len(), s.m * s.k)?;
    check_len(op, "dy", dy.len(), s.n * s.m)?;
    check_len(op, "dw", dw.len(), s.m * s.k)?;
    check_len(op, "db", db.len(), s.m)?;
    if let Some(dx) = &dx {
        check_len(op, "dx", dx.len(), s.n * s.k)?;
    }
    let par = worth_threads(s.n * s.m * s.k);
    let dym = MatRef::row_major(dy, s.n, s.m);
    if let Some(dx) = dx {
        matmul(dx, dym, MatRef::row_major(w, s.m, s.k), false, par);
    }
    matmul(dw, dym.t(), MatRef::row_major(x, s.n, s.k), false, par);
    // db[j] = Σ_n dy[n, j]: dy read as [n, m, 1].
    channel_sums(dy, s.n, s.m, 1, db);
    Ok(())
}
