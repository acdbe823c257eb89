//! 2-D convolution (cross-correlation, NCHW) on the cpu device, and the three passes that
//! the transposed convolution reuses: the forward pass `y = W ⋆ x`, the input gradient and
//! the weight gradient.
//!
//! Stride 1 and 2 with rows at least 8 wide and kernels (per phase) wider than 1×1 run the
//! direct register-blocked tiles of
//! `conv2d/direct.rs` (stride 2 as a stride-1 correlation of x's four phases, or into ∂x's
//! four phases; see `Direct::worthwhile` for what stays with the GEMM); of those, the
//! forward pass and input gradient of 3×3 stride-1 layers of 8 channels or more run
//! Winograd F(2×2, 3×3) (`conv2d/direct/winograd.rs`). Otherwise im2col +
//! GEMM: `y_n = W · col(x_n)` with W viewed as `[c_out, c_in·k·k]`,
//! `dx_n = col2im(Wᵀ · dy_n)`, `dW = Σ_n dy_n · col(x_n)ᵀ` (images added in order 0..n).
//!
//! In the GEMM paths images run in parallel when there are at least as many as threads;
//! otherwise they run one after another with the GEMM and im2col split over the threads.
//! The arithmetic is the same either way, so results do not depend on the number of threads.

pub(crate) use super::direct::BiasAct;
use super::direct::{Direct, Input, Output};
use crate::ops::activation::cpu::{bias_act, derivative};
use crate::ops::concat::cpu::{concat_channels, split_channels};
use crate::ops::gemm::im2col::{col2im, im2col, Geometry};
use crate::ops::gemm::matmul::{matmul, matmul_strided, MatRef};
use crate::ops::gemm::scratch::with_scratch;
use crate::ops::reduce::cpu::channel_sums;
use crate::ops::{check_len, Act, ConcatShape, Conv2dShape};
use crate::Result;
use rayon::prelude::*;

/// Columns (output pixels) per im2col tile of the forward pass.
const TILE_COLS: usize = 512;

/// The epilogue of the GEMM paths on image `i`'s output `out` (channels of `plane`
/// elements): bias and activation, then the mask.
fn finish(epi: BiasAct<'_>, i: usize, plane: usize, out: &mut [f32]) {
    bias_act(out, plane, epi.bias, epi.act);
    if let Some((act, m)) = epi.mask {
        let m = &m[i * out.len()..][..out.len()];
        for (o, &m) in out.iter_mut().zip(m) {
            *o *= derivative(act, m);
        }
    }
}

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
        d.run(Input::One(x), w, epi, Output::One(y));
        return;
    }
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
        finish(epi, i, g.hw_out(), y_n);
    });
}

/// The input gradient `dx = act(convᵀ(dy, w) + bias)` of geometry `g` (the bias and
/// activation serve the transposed convolution's forward pass), times the mask's
/// derivative if any.
pub(crate) fn backward_input(
    g: &Geometry,
    w: &[f32],
    dy: &[f32],
    epi: BiasAct<'_>,
    dx: &mut [f32],
) {
    let (x_len, y_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    if let Some(d) = Direct::adjoint(g) {
        d.run(Input::One(dy), w, epi, Output::One(dx));
        return;
    }
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
        finish(epi, i, g.hw_in(), dx_n);
    });
}

/// The weight gradient of geometry `g`: stride 1 by the direct tiles; otherwise
/// `dW = Σ_n dy_n · col(x_n)ᵀ`, images and column tiles accumulated in a fixed order (each
/// GEMM split over the threads). Either way the sum is the same whatever the number of
/// threads.
pub(crate) fn backward_weight(g: &Geometry, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    if let Some(d) = Direct::forward(g) {
        d.weight_gradient(Input::One(x), dy, dw);
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
    let epi = BiasAct {
        bias: b,
        act,
        mask: None,
    };
    forward(&g, x, w, epi, y);
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

/// `dx` from the pre-activation output gradient `dy`, on through the activation whose
/// output (x's shape) is `y`: `dx = convᵀ(dy, w) · act'(y)`, applied as each tile is
/// stored.
pub fn conv2d_backward_input_act(
    s: &Conv2dShape,
    w: &[f32],
    dy: &[f32],
    (act, y): (Act, &[f32]),
    dx: &mut [f32],
) -> Result<()> {
    let op = "conv2d_backward_input_act";
    let g = check(op, s, dx.len(), w.len(), dy.len())?;
    check_len(op, "y", y.len(), s.x_len())?;
    let epi = BiasAct {
        mask: Some((act, y)),
        ..BiasAct::NONE
    };
    backward_input(&g, w, dy, epi, dx);
    Ok(())
}

/// [`Conv2dShape::check_cat`], then s's geometry.
fn check_cat(
    op: &'static str,
    (s, cat): (&Conv2dShape, &ConcatShape),
    lens: (usize, usize, usize),
) -> Result<Geometry> {
    s.check_cat(op, cat, lens)?;
    Ok(Geometry::new(s))
}

/// `y = act(conv2d([a; b], w) + bias)`: the direct tiles read a and b where they run the
/// pass; otherwise `scratch` receives `[a; b]` first.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_cat(
    s: &Conv2dShape,
    cat: &ConcatShape,
    (a, b): (&[f32], &[f32]),
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let op = "conv2d_forward_cat";
    let g = check_cat(op, (s, cat), (a.len(), b.len(), scratch.len()))?;
    check_len(op, "w", w.len(), s.w_len())?;
    check_len(op, "y", y.len(), s.y_len())?;
    if let Some(bias) = bias {
        check_len(op, "b", bias.len(), s.c_out)?;
    }
    let epi = BiasAct {
        bias,
        act,
        mask: None,
    };
    match Direct::forward(&g) {
        Some(d) => d.run(Input::Cat { a, b, c_a: cat.c_a }, w, epi, Output::One(y)),
        None => {
            concat_channels(cat, a, b, scratch)?;
            forward(&g, scratch, w, epi, y);
        }
    }
    Ok(())
}

/// The input gradient of a convolution of `[a; b]` (from the pre-activation `dy`) in its
/// two parts `da` and `db`: written there by the direct tiles where they run the pass;
/// otherwise into `scratch`, split after.
pub fn conv2d_backward_input_cat(
    s: &Conv2dShape,
    cat: &ConcatShape,
    w: &[f32],
    dy: &[f32],
    (da, db): (&mut [f32], &mut [f32]),
    scratch: &mut [f32],
) -> Result<()> {
    let op = "conv2d_backward_input_cat";
    let g = check_cat(op, (s, cat), (da.len(), db.len(), scratch.len()))?;
    check_len(op, "w", w.len(), s.w_len())?;
    check_len(op, "dy", dy.len(), s.y_len())?;
    match Direct::adjoint(&g) {
        Some(d) => {
            let dx = Output::Cat {
                a: da,
                b: db,
                c_a: cat.c_a,
            };
            d.run(Input::One(dy), w, BiasAct::NONE, dx);
        }
        None => {
            backward_input(&g, w, dy, BiasAct::NONE, scratch);
            split_channels(cat, scratch, da, db)?;
        }
    }
    Ok(())
}

/// `dw` and, if given, `db` of a convolution of `[a; b]`: the direct tiles read a and b
/// where they run the pass; otherwise `scratch` receives `[a; b]` first.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_weight_cat(
    s: &Conv2dShape,
    cat: &ConcatShape,
    (a, b): (&[f32], &[f32]),
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    scratch: &mut [f32],
) -> Result<()> {
    let op = "conv2d_backward_weight_cat";
    let g = check_cat(op, (s, cat), (a.len(), b.len(), scratch.len()))?;
    check_len(op, "dw", dw.len(), s.w_len())?;
    check_len(op, "dy", dy.len(), s.y_len())?;
    if let Some(db) = &db {
        check_len(op, "db", db.len(), s.c_out)?;
    }
    match Direct::forward(&g) {
        Some(d) => d.weight_gradient(Input::Cat { a, b, c_a: cat.c_a }, dy, dw),
        None => {
            concat_channels(cat, a, b, scratch)?;
            backward_weight(&g, scratch, dy, dw);
        }
    }
    if let Some(db) = db {
        channel_sums(dy, s.n, s.c_out, g.hw_out(), db);
    }
    Ok(())
}
