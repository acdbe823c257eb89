//! 2×2 stride-2 max pooling; the backward sends each gradient to the first maximum of its
//! window in row-major order.

use crate::ops::activation::cpu::derivative;
use crate::ops::{check_len, Act, Pool2dShape};
use crate::Result;
use rayon::prelude::*;

/// Index (0..4, row-major in the window) and value of the first maximum of the window at
/// output `(oh, ow)` of a plane of width `w`.
#[inline]
fn argmax(plane: &[f32], w: usize, oh: usize, ow: usize) -> (usize, f32) {
    let top = 2 * oh * w + 2 * ow;
    let vals = [
        plane[top],
        plane[top + 1],
        plane[top + w],
        plane[top + w + 1],
    ];
    let mut best = (0, vals[0]);
    for (i, &v) in vals.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// 2×2 stride-2 max pooling of x `[n, c, h, w]` into y `[n, c, h/2, w/2]`.
pub fn max_pool2d_forward(s: &Pool2dShape, x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("max_pool2d_forward", "x", x.len(), s.x_len())?;
    check_len("max_pool2d_forward", "y", y.len(), s.y_len())?;
    let (ho, wo, hw) = (s.h_out(), s.w_out(), s.h * s.w);
    if ho * wo == 0 {
        return Ok(());
    }
    y.par_chunks_mut(ho * wo).enumerate().for_each(|(p, out)| {
        let plane = &x[p * hw..(p + 1) * hw];
        for (i, o) in out.iter_mut().enumerate() {
            *o = argmax(plane, s.w, i / wo, i % wo).1;
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
    check_len(op, "x", x.len(), s.x_len())?;
    check_len(op, "dy", dy.len(), s.y_len())?;
    check_len(op, "dx", dx.len(), s.x_len())?;
    let (ho, wo, hw) = (s.h_out(), s.w_out(), s.h * s.w);
    if hw == 0 {
        return Ok(());
    }
    let w = s.w;
    dx.par_chunks_mut(hw).enumerate().for_each(|(p, dplane)| {
        let plane = &x[p * hw..(p + 1) * hw];
        let grads = &dy[p * ho * wo..(p + 1) * ho * wo];
        // Two input rows per output row: every element of a window written at once.
        for oh in 0..ho {
            let g_row = &grads[oh * wo..(oh + 1) * wo];
            let (top, bottom) = dplane[2 * oh * w..(2 * oh + 2) * w].split_at_mut(w);
            for (ow, &g) in g_row.iter().enumerate() {
                let (i, m) = argmax(plane, w, oh, ow);
                let q = 2 * ow;
                if accumulate {
                    let d = if i < 2 {
                        &mut top[q + i]
                    } else {
                        &mut bottom[q + i - 2]
                    };
                    *d += g;
                } else {
                    let v = g * derivative(act, m);
                    let at = |j: usize| if j == i { v } else { 0.0 };
                    top[q] = at(0);
                    top[q + 1] = at(1);
                    bottom[q] = at(2);
                    bottom[q + 1] = at(3);
                }
            }
            if !accumulate {
                // A dropped odd last column.
                top[2 * wo..].fill(0.0);
                bottom[2 * wo..].fill(0.0);
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
