//! 2-D transposed convolution (PyTorch's `conv_transpose2d`, weight `[c_in, c_out, k, k]`).
//!
//! A transposed convolution is the adjoint of the convolution that maps its output back to
//! its input: the conv2d geometry with input `[c_out, h_out, w_out]`, output
//! `[c_in, h, w]`, the same k, stride and padding, and the same weight tensor read as
//! `[c_in (conv outputs), c_out (conv inputs), k, k]`. So its forward is that conv's input
//! gradient, its input gradient is that conv's forward, and its weight
//! gradient is that conv's weight gradient with the roles of x and dy swapped.

use crate::ops::conv2d::cpu::{backward_input, backward_weight, forward, BiasAct};
use crate::ops::gemm::im2col::Geometry;
use crate::ops::reduce::cpu::channel_sums;
use crate::ops::{check_len, shape_err, Act, Conv2dShape, ConvTranspose2dShape};
use crate::Result;

/// Validates the shape and the lengths of x, w, y; returns the adjoint conv's geometry.
fn check(
    op: &'static str,
    s: &ConvTranspose2dShape,
    x: usize,
    w: usize,
    y: usize,
) -> Result<Geometry> {
    if s.h == 0 || s.w == 0 {
        return Err(shape_err(op, format!("empty input in {s:?}")));
    }
    s.validate()?;
    check_len(op, "x", x, s.x_len())?;
    check_len(op, "w", w, s.w_len())?;
    check_len(op, "y", y, s.y_len())?;
    let conv = Conv2dShape {
        n: s.n,
        c_in: s.c_out,
        h: s.h_out(),
        w: s.w_out(),
        c_out: s.c_in,
        k: s.k,
        stride: s.stride,
        pad: s.pad,
    };
    let g = Geometry::new(&conv);
    debug_assert_eq!((g.h_out, g.w_out), (s.h, s.w));
    Ok(g)
}

/// `y = act(conv_transpose2d(x, w) + b)`.
pub fn conv_transpose2d_forward(
    s: &ConvTranspose2dShape,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    act: Act,
    y: &mut [f32],
) -> Result<()> {
    let op = "conv_transpose2d_forward";
    let g = check(op, s, x.len(), w.len(), y.len())?;
    if let Some(b) = b {
        check_len(op, "b", b.len(), s.c_out)?;
    }
    let epi = BiasAct {
        bias: b,
        act,
        mask: None,
    };
    backward_input(&g, w, x, epi, y);
    Ok(())
}

/// `dx` from the pre-activation output gradient `dy`.
pub fn conv_transpose2d_backward_input(
    s: &ConvTranspose2dShape,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let g = check(
        "conv_transpose2d_backward_input",
        s,
        dx.len(),
        w.len(),
        dy.len(),
    )?;
    forward(&g, dy, w, BiasAct::NONE, dx);
    Ok(())
}

/// `dx` from the pre-activation output gradient `dy`, on through the activation whose
/// output (x's shape) is `y`: `dx = conv(dy, w) · act'(y)`, applied in the pass's
/// epilogue.
pub fn conv_transpose2d_backward_input_act(
    s: &ConvTranspose2dShape,
    w: &[f32],
    dy: &[f32],
    (act, y): (Act, &[f32]),
    dx: &mut [f32],
) -> Result<()> {
    let op = "conv_transpose2d_backward_input_act";
    let g = check(op, s, dx.len(), w.len(), dy.len())?;
    check_len(op, "y", y.len(), s.x_len())?;
    let epi = BiasAct {
        mask: Some((act, y)),
        ..BiasAct::NONE
    };
    forward(&g, dy, w, epi, dx);
    Ok(())
}

/// `dw` and, if given, `db` from the pre-activation output gradient `dy`.
pub fn conv_transpose2d_backward_weight(
    s: &ConvTranspose2dShape,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let op = "conv_transpose2d_backward_weight";
    let g = check(op, s, x.len(), dw.len(), dy.len())?;
    if let Some(db) = &db {
        check_len(op, "db", db.len(), s.c_out)?;
    }
    backward_weight(&g, dy, x, dw);
    if let Some(db) = db {
        channel_sums(dy, s.n, s.c_out, g.hw_in(), db);
    }
    Ok(())
}
