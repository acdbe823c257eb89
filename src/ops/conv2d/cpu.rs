//! 2-D convolution (cross-correlation, NCHW) on the cpu device, and the three passes that
//! the transposed convolution reuses: the forward pass `y = W ⋆ x`, the input gradient and
//! the weight gradient.
//!
//! Stride 1 and 2 with rows at least 8 wide and kernels (per phase) wider than 1×1 run the
//! direct register-blocked tiles of
//! `conv2d/direct.rs` (stride 2 as a stride-1 correlation of x's four phases, or into ∂x's
//! four phases; see `Direct::worthwhile` for what stays with the GEMM). Otherwise im2col +
//! GEMM: `y_n = W · col(x_n)` with W viewed as `[c_out, c_in·k·k]`,
//! `dx_n = col2im(Wᵀ · dy_n)`, `dW = Σ_n dy_n · col(x_n)ᵀ` (images added in order 0..n).
//!
//! In the GEMM paths images run in parallel when there are at least as many as threads;
//! otherwise they run one after another with the GEMM and im2col split over the threads.
//! The arithmetic is the same either way, so results do not depend on the number of threads.

pub(crate) use super::direct::BiasAct;
use super::direct::Direct;
use crate::ops::activation::cpu::bias_act;
use crate::ops::gemm::im2col::{col2im, im2col, Geometry};
use crate::ops::gemm::matmul::{matmul, matmul_strided, MatRef};
use crate::ops::gemm::scratch::with_scratch;
use crate::ops::reduce::cpu::channel_sums;
use crate::ops::{check_len, Act, Conv2dShape};
use crate::Result;
use rayon::prelude::*;

/// Columns (output pixels) per im2col tile of the forward pass.
const TILE_COLS: usize = 512;

/// Calls `f(i, out_i, parallel_inside)` for every image `i` of `out` (images of `len`
/// elements): in parallel over images, or in order with `parallel_inside` set.
fn for_each_image(out: &mut [f32], len: usize, f: impl Fn(usize, &mut [f32], bool) + Sync) {
    if len == 0 {
        return;
    }
    let images = out.len() / len;
    let threads = rayon::current_num_threads();
    if threads > 1 && images >= threads {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, o)| f(i, o, false));
    } else {
        out.chunks_mut(len)
            .enumerate()
            .for_each(|(i, o)| f(i, o, threads > 1));
    }
}

/// The forward pass `y = act(conv(x, w) + bias)` of geometry `g`.
pub(crate) fn forward(g: &Geometry, x: &[f32], w: &[f32], epi: BiasAct<'_>, y: &mut [f32]) {
    let (x_len, y_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    if let Some(d) = Direct::forward(g) {
        d.run(x, w, epi, y);
        return;
    }
    let epilogue = |y_n: &mut [f32]| bias_act(y_n, g.hw_out(), epi.bias, epi.act);
    let wm = MatRef::row_major(w, g.c_out, g.col_rows());
    for_each_image(y, y_len, |i, y_n, par| {
        let x_n = &x[i * x_len..(i + 1) * x_len];
        if g.is_pointwise() {
            matmul(
                y_n,
                wm,
                MatRef::row_major(x_n, g.c_in, g.hw_out()),
                false,
                par,
            );
        } else {
            // Column tiles of a few output rows keep the column matrix in cache.
            let rows = (TILE_COLS / g.w_out).max(1);
            with_scratch(g.col_rows() * rows * g.w_out, |col| {
                for oh in (0..g.h_out).step_by(rows) {
                    let tile = oh..(oh + rows).min(g.h_out);
                    let cols = tile.len() * g.w_out;
                    im2col(g, x_n, tile, col, par);
                    let cm = MatRef::row_major(col, g.col_rows(), cols);
                    matmul_strided(&mut y_n[oh * g.w_out..], g.hw_out(), wm, cm, false, par);
                }
            });
        }
        epilogue(y_n);
    });
}

/// The input gradient `dx = act(convᵀ(dy, w) + bias)` of geometry `g` (the bias and
/// activation serve the transposed convolution's forward pass).
pub(crate) fn backward_input(
    g: &Geometry,
    w: &[f32],
    dy: &[f32],
    epi: BiasAct<'_>,
    dx: &mut [f32],
) {
    let (x_len, y_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    if let Some(d) = Direct::adjoint(g) {
        d.run(dy, w, epi, dx);
        return;
    }
    let epilogue = |dx_n: &mut [f32]| bias_act(dx_n, g.hw_in(), epi.bias, epi.act);
    let wt = MatRef::row_major(w, g.c_out, g.col_rows()).t();
    for_each_image(dx, x_len, |i, dx_n, par| {
        let dy_n = MatRef::row_major(&dy[i * y_len..(i + 1) * y_len], g.c_out, g.hw_out());
        if g.is_pointwise() {
            matmul(dx_n, wt, dy_n, false, par);
        } else {
            with_scratch(g.col_rows() * g.hw_out(), |col| {
                matmul(col, wt, dy_n, false, par);
                col2im(g, col, dx_n, par);
            });
        }
        epilogue(dx_n);
    });
}

/// The weight gradient of geometry `g`: stride 1 by the direct tiles; otherwise
/// `dW = Σ_n dy_n · col(x_n)ᵀ`, images and column tiles accumulated in a fixed order (each
/// GEMM split over the threads). Either way the sum is the same whatever the number of
/// threads.
pub(crate) fn backward_weight(g: &Geometry, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    if let Some(d) = Direct::forward(g) {
        d.weight_gradient(x, dy, dw);
        return;
    }
    let (x_len, y_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    let par = rayon::current_num_threads() > 1;
    let rows = if g.is_pointwise() {
        g.h_out
    } else {
        (TILE_COLS / g.w_out).max(1)
    };
    let mut first = true;
    with_scratch(g.col_rows() * rows * g.w_out, |col| {
        for i in 0..g.n {
            let x_n = &x[i * x_len..(i + 1) * x_len];
            let dy_n = &dy[i * y_len..(i + 1) * y_len];
            for oh in (0..g.h_out).step_by(rows) {
                let tile = oh..(oh + rows).min(g.h_out);
                let cols = tile.len() * g.w_out;
                let dy_tile = MatRef {
                    data: &dy_n[oh * g.w_out..],
                    rows: g.c_out,
                    cols,
                    row_stride: g.hw_out(),
                    col_stride: 1,
                };
                let ct = if g.is_pointwise() {
                    MatRef::row_major(x_n, g.c_in, g.hw_out()).t()
                } else {
                    im2col(g, x_n, tile, col, par);
                    MatRef::row_major(col, g.col_rows(), cols).t()
                };
                matmul(dw, dy_tile, ct, !first, par);
                first = false;
            }
        }
    });
}

/// Validates the shape and the lengths of x, w, y.
fn check(op: &'static str, s: &Conv2dShape, x: usize, w: usize, y: usize) -> Result<Geometry> {
    s.validate()?;
    check_len(op, "x", x, s.x_len())?;
    check_len(op, "w", w, s.w_len())?;
    check_len(op, "y", y, s.y_len())?;
    Ok(Geometry::new(s))
}

/// `y = act(conv2d(x, w) + b)`.
pub fn conv2d_forward(
    s: &Conv2dShape,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    act: Act,
    y: &mut [f32],
) -> Result<()> {
    let g = check("conv2d_forward", s, x.len(), w.len(), y.len())?;
    if let Some(b) = b {
        check_len("conv2d_forward", "b", b.len(), s.c_out)?;
    }
    forward(&g, x, w, BiasAct { bias: b, act }, y);
    Ok(())
}

/// `dx` from the pre-activation output gradient `dy`.
pub fn conv2d_backward_input(s: &Conv2dShape, w: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    let g = check("conv2d_backward_input", s, dx.len(), w.len(), dy.len())?;
    backward_input(&g, w, dy, BiasAct::NONE, dx);
    Ok(())
}

/// `dw` and, if given, `db` from the pre-activation output gradient `dy`.
pub fn conv2d_backward_weight(
    s: &Conv2dShape,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let op = "conv2d_backward_weight";
    let g = check(op, s, x.len(), dw.len(), dy.len())?;
    if let Some(db) = &db {
        check_len(op, "db", db.len(), s.c_out)?;
    }
    backward_weight(&g, x, dy, dw);
    if let Some(db) = db {
        channel_sums(dy, s.n, s.c_out, g.hw_out(), db);
    }
    Ok(())
}
