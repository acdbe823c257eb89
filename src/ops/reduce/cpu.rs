//! Deterministic reductions on the CPU (fixed chunking, partial sums in f64 added in
//! chunk order): the plain sum, the sum of squares, and the helpers the losses, the convex
//! skip and the bias gradients use.

use crate::ops::{check_len, CHUNK};
use crate::Result;
use rayon::prelude::*;

/// `Σ_i f(i)` over `0..len` in f64: partial sums over fixed chunks of [`CHUNK`] indices,
/// computed in parallel and added in chunk order, so the result does not depend on the
/// number of threads.
pub(crate) fn det_sum(len: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    let partials: Vec<f64> = (0..len.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| (c * CHUNK..((c + 1) * CHUNK).min(len)).map(&f).sum())
        .collect();
    partials.iter().sum()
}

/// `out[c] = Σ_n Σ_p x[n, c, p]` for x `[n, c, hw]` (bias gradients), each channel summed
/// in f64 in index order, channels in parallel.
pub(crate) fn channel_sums(x: &[f32], n: usize, c: usize, hw: usize, out: &mut [f32]) {
    out.par_iter_mut().enumerate().for_each(|(ch, o)| {
        let mut acc = 0.0f64;
        for i in 0..n {
            acc += x[(i * c + ch) * hw..][..hw]
                .iter()
                .map(|&v| v as f64)
                .sum::<f64>();
        }
        *o = acc as f32;
    });
}

/// `out[0] = Σ x` (deterministic order).
pub fn sum(x: &[f32], out: &mut [f32]) -> Result<()> {
    check_len("sum", "out", out.len(), 1)?;
    out[0] = det_sum(x.len(), |i| x[i] as f64) as f32;
    Ok(())
}

/// `out[0] += Σ x²` (deterministic order; the sum of squares in f64, added to `out[0]` in
/// f64 and rounded once).
pub fn sum_squares(x: &[f32], out: &mut [f32]) -> Result<()> {
    check_len("sum_squares", "out", out.len(), 1)?;
    let s = det_sum(x.len(), |i| {
        let v = x[i] as f64;
        v * v
    });
    out[0] = (out[0] as f64 + s) as f32;
    Ok(())
}
