//! 2×2 stride-2 max pooling; the backward sends each gradient to the first maximum of its
//! window in row-major order.
//!
//! Each task takes a plane and works through its pairs of input rows. With AVX2, eight
//! windows at a time: the two rows' 16 values split into the windows' left and right
//! columns, the first maximum picked by three ordered compare-and-blend steps (a, then b,
//! c, d, each taken only when strictly greater, as the scalar loop does), and the
//! gradient written back interleaved; the windows past the last multiple of eight, and
//! CPUs without AVX2, take the scalar loop. Both give the same bits.

use crate::ops::activation::cpu::derivative;
use crate::ops::{check_len, simd_available, Act, Pool2dShape};
use crate::Result;
use rayon::prelude::*;

/// Index (0..4, row-major in the window) and value of the first maximum of the window
/// `[top[q], top[q + 1], bottom[q], bottom[q + 1]]`.
#[inline]
fn argmax(top: &[f32], bottom: &[f32], q: usize) -> (usize, f32) {
    let vals = [top[q], top[q + 1], bottom[q], bottom[q + 1]];
    let mut best = (0, vals[0]);
    for (i, &v) in vals.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// What the backward pass does with a window's gradient.
#[derive(Clone, Copy)]
enum Route {
    /// Writes the whole window: `g·act'(max)` at the first maximum, 0 elsewhere.
    Write(Act),
    /// Adds `g` at the first maximum, leaving the rest as it was.
    Add,
}

/// The pooled row `out` of the input rows `top` and `bottom` (windows `0..out.len()`).
fn pool_row(top: &[f32], bottom: &[f32], out: &mut [f32], simd: bool) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected; the function reads and writes whole groups of 8
        // windows inside the rows.
        done = unsafe { avx2::pool_row(top, bottom, out) };
    }
    let _ = simd;
    for (j, o) in out.iter_mut().enumerate().skip(done) {
        *o = argmax(top, bottom, 2 * j).1;
    }
}

/// Routes the gradients `g` of the windows of `top` and `bottom` into `dtop` and
/// `dbottom` (the rows' gradients) as `route` says.
fn route_row(
    (top, bottom): (&[f32], &[f32]),
    g: &[f32],
    route: Route,
    (dtop, dbottom): (&mut [f32], &mut [f32]),
    simd: bool,
) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected; the function reads and writes whole groups of 8
        // windows inside the rows.
        done = unsafe { avx2::route_row((top, bottom), g, route, (dtop, dbottom)) };
    }
    let _ = simd;
    for (j, &g) in g.iter().enumerate().skip(done) {
        let q = 2 * j;
        let (i, m) = argmax(top, bottom, q);
        match route {
            Route::Add => {
                let d = if i < 2 {
                    &mut dtop[q + i]
                } else {
                    &mut dbottom[q + i - 2]
                };
                *d += g;
            }
            Route::Write(act) => {
                let v = g * derivative(act, m);
                let at = |k: usize| if k == i { v } else { 0.0 };
                dtop[q] = at(0);
                dtop[q + 1] = at(1);
                dbottom[q] = at(2);
                dbottom[q + 1] = at(3);
            }
        }
    }
}

/// The AVX2 rows: eight windows per step.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Route;
    use crate::ops::Act;
    use std::arch::x86_64::*;

    /// The windows' left (`a`, `c`) and right (`b`, `d`) columns of 8 windows starting at
    /// input column `q`, in the lane order `[0, 1, 4, 5, 2, 3, 6, 7]` of the windows.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn columns(row: *const f32, q: usize) -> (__m256, __m256) {
        let (lo, hi) = (_mm256_loadu_ps(row.add(q)), _mm256_loadu_ps(row.add(q + 8)));
        (
            _mm256_shuffle_ps::<0x88>(lo, hi),
            _mm256_shuffle_ps::<0xDD>(lo, hi),
        )
    }

    /// Eight windows' values (window order) in the lane order of [`columns`].
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn in_column_order(v: *const f32) -> __m256 {
        let v = _mm256_castps_pd(_mm256_loadu_ps(v));
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(v))
    }

    /// The first maximum of 8 windows and the masks of where it is: (max, b, c, d), each
    /// mask set where that element is the first maximum's candidate taken last.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn first_max(top: *const f32, bottom: *const f32, q: usize) -> [__m256; 4] {
        let (a, b) = columns(top, q);
        let (c, d) = columns(bottom, q);
        let mb = _mm256_cmp_ps::<_CMP_GT_OQ>(b, a);
        let m = _mm256_blendv_ps(a, b, mb);
        let mc = _mm256_cmp_ps::<_CMP_GT_OQ>(c, m);
        let m = _mm256_blendv_ps(m, c, mc);
        let md = _mm256_cmp_ps::<_CMP_GT_OQ>(d, m);
        let m = _mm256_blendv_ps(m, d, md);
        [m, mb, mc, md]
    }

    /// Writes the left and right columns (lane order of [`columns`]) back interleaved at
    /// column `q` of `row`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store_columns(row: *mut f32, q: usize, left: __m256, right: __m256) {
        _mm256_storeu_ps(row.add(q), _mm256_unpacklo_ps(left, right));
        _mm256_storeu_ps(row.add(q + 8), _mm256_unpackhi_ps(left, right));
    }

    /// [`super::pool_row`] for whole groups of 8 windows; returns the windows done.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub unsafe fn pool_row(top: &[f32], bottom: &[f32], out: &mut [f32]) -> usize {
        let groups = out.len() / 8;
        assert!(top.len() >= 16 * groups && bottom.len() >= 16 * groups);
        for k in 0..groups {
            let [m, ..] = first_max(top.as_ptr(), bottom.as_ptr(), 16 * k);
            // Back from the lane order of `columns` to the windows'.
            let m = _mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(m));
            _mm256_storeu_ps(out.as_mut_ptr().add(8 * k), _mm256_castpd_ps(m));
        }
        8 * groups
    }

    /// [`super::route_row`] for whole groups of 8 windows; returns the windows done.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub unsafe fn route_row(
        (top, bottom): (&[f32], &[f32]),
        g: &[f32],
        route: Route,
        (dtop, dbottom): (&mut [f32], &mut [f32]),
    ) -> usize {
        let groups = g.len() / 8;
        let n = 16 * groups;
        assert!(top.len() >= n && bottom.len() >= n && dtop.len() >= n && dbottom.len() >= n);
        let (t, b) = (top.as_ptr(), bottom.as_ptr());
        let (dt, db) = (dtop.as_mut_ptr(), dbottom.as_mut_ptr());
        // act'(m) = m > 0 ? 1 : below.
        let below = match route {
            Route::Write(Act::Identity) | Route::Add => 1.0,
            Route::Write(Act::Relu) => 0.0,
            Route::Write(Act::LeakyRelu(slope)) => slope,
        };
        let (one, below, zero) = (
            _mm256_set1_ps(1.0),
            _mm256_set1_ps(below),
            _mm256_setzero_ps(),
        );
        for k in 0..groups {
            let q = 16 * k;
            let [m, mb, mc, md] = first_max(t, b, q);
            let g = in_column_order(g.as_ptr().add(8 * k));
            // One mask per element: where it is the first maximum.
            let wd = md;
            let wc = _mm256_andnot_ps(md, mc);
            let wb = _mm256_andnot_ps(_mm256_or_ps(mc, md), mb);
            let wa = _mm256_andnot_ps(
                _mm256_or_ps(mb, _mm256_or_ps(mc, md)),
                _mm256_castsi256_ps(_mm256_set1_epi32(-1)),
            );
            match route {
                Route::Write(_) => {
                    let slope = _mm256_blendv_ps(below, one, _mm256_cmp_ps::<_CMP_GT_OQ>(m, zero));
                    let v = _mm256_mul_ps(g, slope);
                    store_columns(dt, q, _mm256_and_ps(wa, v), _mm256_and_ps(wb, v));
                    store_columns(db, q, _mm256_and_ps(wc, v), _mm256_and_ps(wd, v));
                }
                Route::Add => {
                    let (a, b) = columns(dt, q);
                    let (c, d) = columns(db, q);
                    let add = |x: __m256, w: __m256| _mm256_blendv_ps(x, _mm256_add_ps(x, g), w);
                    store_columns(dt, q, add(a, wa), add(b, wb));
                    store_columns(db, q, add(c, wc), add(d, wd));
                }
            }
        }
        8 * groups
    }
}

/// 2×2 stride-2 max pooling of x `[n, c, h, w]` into y `[n, c, h/2, w/2]`.
pub fn max_pool2d_forward(s: &Pool2dShape, x: &[f32], y: &mut [f32]) -> Result<()> {
    s.validate()?;
    check_len("max_pool2d_forward", "x", x.len(), s.x_len())?;
    check_len("max_pool2d_forward", "y", y.len(), s.y_len())?;
    let (ho, wo, hw) = (s.h_out(), s.w_out(), s.h * s.w);
    if ho * wo == 0 {
        return Ok(());
    }
    let simd = simd_available();
    y.par_chunks_mut(ho * wo).enumerate().for_each(|(p, out)| {
        let plane = &x[p * hw..(p + 1) * hw];
        for (oh, out) in out.chunks_exact_mut(wo).enumerate() {
            let (top, bottom) = plane[2 * oh * s.w..(2 * oh + 2) * s.w].split_at(s.w);
            pool_row(top, bottom, out, simd);
        }
    });
    Ok(())
}

/// `dx`: each `dy` goes to the first maximum (row-major) of its window of `x`, times
/// `act`'s derivative there (`x` being that activation's output); every other element
/// (including a dropped odd last row or column) gets 0.
pub fn max_pool2d_backward(
    s: &Pool2dShape,
    x: &[f32],
    dy: &[f32],
    act: Act,
    dx: &mut [f32],
) -> Result<()> {
    backward("max_pool2d_backward", s, x, dy, act, false, dx)
}

/// `dx ← (dx + routed) · act'(x)` on every element, `routed` the gradient
/// [`max_pool2d_backward`] sends to each window's first maximum (without an activation):
/// the pooling's backward added to a gradient other consumers of `x` already hold, then
/// the backward of the activation whose output `x` is.
pub fn max_pool2d_backward_add(
    s: &Pool2dShape,
    x: &[f32],
    dy: &[f32],
    act: Act,
    dx: &mut [f32],
) -> Result<()> {
    backward("max_pool2d_backward_add", s, x, dy, act, true, dx)
}

/// Both backward passes, a plane per task: [`max_pool2d_backward`], or with `accumulate`
/// [`max_pool2d_backward_add`].
fn backward(
    op: &'static str,
    s: &Pool2dShape,
    x: &[f32],
    dy: &[f32],
    act: Act,
    accumulate: bool,
    dx: &mut [f32],
) -> Result<()> {
    s.validate()?;
    check_len(op, "x", x.len(), s.x_len())?;
    check_len(op, "dy", dy.len(), s.y_len())?;
    check_len(op, "dx", dx.len(), s.x_len())?;
    let (ho, wo, hw) = (s.h_out(), s.w_out(), s.h * s.w);
    if hw == 0 {
        return Ok(());
    }
    let w = s.w;
    let simd = simd_available();
    let route = if accumulate {
        Route::Add
    } else {
        Route::Write(act)
    };
    dx.par_chunks_mut(hw).enumerate().for_each(|(p, dplane)| {
        let plane = &x[p * hw..(p + 1) * hw];
        let grads = &dy[p * ho * wo..(p + 1) * ho * wo];
        // Two input rows per output row: every element of a window written at once.
        for oh in 0..ho {
            let rows = plane[2 * oh * w..(2 * oh + 2) * w].split_at(w);
            let (dtop, dbottom) = dplane[2 * oh * w..(2 * oh + 2) * w].split_at_mut(w);
            let g_row = &grads[oh * wo..(oh + 1) * wo];
            route_row(rows, g_row, route, (&mut *dtop, &mut *dbottom), simd);
            if !accumulate {
                // A dropped odd last column.
                dtop[2 * wo..].fill(0.0);
                dbottom[2 * wo..].fill(0.0);
            }
        }
        if accumulate {
            for (d, &v) in dplane.iter_mut().zip(plane) {
                *d *= derivative(act, v);
            }
        } else {
            // A dropped odd last row.
            dplane[2 * ho * w..].fill(0.0);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::Rng;

    /// Rows of values from a few levels (many ties), with a NaN and signed zeros.
    fn rows(rng: &mut Rng, w: usize) -> (Vec<f32>, Vec<f32>) {
        let mut row = || {
            let mut r: Vec<f32> = rng
                .vec(w, -2.0, 2.0)
                .iter()
                .map(|v| (v * 2.0).round() / 2.0)
                .collect();
            r[w / 3] = f32::NAN;
            r[w / 2] = -0.0;
            r
        };
        (row(), row())
    }

    #[test]
    fn avx2_rows_equal_the_scalar_rows_bit_for_bit() {
        if !simd_available() {
            return;
        }
        let mut rng = Rng(11);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        // Widths below one group of 8 windows, at it, and with scalar windows after
        // whole groups (odd widths drop their last column).
        for w in [4, 15, 16, 17, 33, 38, 64, 70] {
            let (top, bottom) = rows(&mut rng, w);
            let wo = w / 2;
            let (mut scalar, mut simd) = (vec![0.0; wo], vec![0.0; wo]);
            pool_row(&top, &bottom, &mut scalar, false);
            pool_row(&top, &bottom, &mut simd, true);
            assert_eq!(bits(&scalar), bits(&simd), "pooled row of width {w}");
            let g = rng.vec(wo, -1.0, 1.0);
            for route in [
                Route::Add,
                Route::Write(Act::Identity),
                Route::Write(Act::Relu),
                Route::Write(Act::LeakyRelu(0.2)),
            ] {
                let start = rng.vec(2 * w, -1.0, 1.0);
                let (mut scalar, mut simd) = (start.clone(), start);
                for (d, simd_on) in [(&mut scalar, false), (&mut simd, true)] {
                    let (dt, db) = d.split_at_mut(w);
                    route_row((&top, &bottom), &g, route, (dt, db), simd_on);
                }
                assert_eq!(bits(&scalar), bits(&simd), "routed row of width {w}");
            }
        }
    }
}
