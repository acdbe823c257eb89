//! 2×2 stride-2 max pooling.

use crate::ops::activation::reference::act_backward;
use crate::ops::{check_len, Act, Pool2dShape};
use crate::Result;

/// The window of output `(oh, ow)` of plane `p` as indices into x, in row-major order.
fn window(s: &Pool2dShape, p: usize, oh: usize, ow: usize) -> [usize; 4] {
    let top = p * s.h * s.w + 2 * oh * s.w + 2 * ow;
    [top, top + 1, top + s.w, top + s.w + 1]
}

/// The index of the first maximum (row-major) of the window.
fn first_max(x: &[f64], win: [usize; 4]) -> usize {
    let mut best = win[0];
    for &i in &win[1..] {
        if x[i] > x[best] {
            best = i;
        }
    }
    best
}

/// `y[n, c, oh, ow] = max` of the 2×2 window at `(2·oh, 2·ow)`.
pub fn max_pool2d_forward(s: &Pool2dShape, x: &[f64]) -> Result<Vec<f64>> {
    s.validate()?;
    check_len("max_pool2d_forward", "x", x.len(), s.x_len())?;
    let mut y = Vec::with_capacity(s.y_len());
    for p in 0..s.n * s.c {
        for oh in 0..s.h_out() {
            for ow in 0..s.w_out() {
                y.push(x[first_max(x, window(s, p, oh, ow))]);
            }
        }
    }
    Ok(y)
}

/// `dx`: each `dy` goes to the first maximum of its window, all else 0; then the backward
/// of `act`, whose output `x` is.
pub fn max_pool2d_backward(s: &Pool2dShape, x: &[f64], dy: &[f64], act: Act) -> Result<Vec<f64>> {
    s.validate()?;
    check_len("max_pool2d_backward", "x", x.len(), s.x_len())?;
    check_len("max_pool2d_backward", "dy", dy.len(), s.y_len())?;
    let mut dx = vec![0.0; s.x_len()];
    let mut o = 0;
    for p in 0..s.n * s.c {
        for oh in 0..s.h_out() {
            for ow in 0..s.w_out() {
                dx[first_max(x, window(s, p, oh, ow))] += dy[o];
                o += 1;
            }
        }
    }
    act_backward(act, x, &dx)
}

/// `dx0` plus the gradient [`max_pool2d_backward`] routes (without an activation), then
/// the backward of `act`, whose output `x` is, on every element: the pooling's backward
/// accumulated into a gradient that other consumers of `x` already hold.
pub fn max_pool2d_backward_add(
    s: &Pool2dShape,
    x: &[f64],
    dy: &[f64],
    act: Act,
    dx0: &[f64],
) -> Result<Vec<f64>> {
    s.validate()?;
    check_len("max_pool2d_backward_add", "dx", dx0.len(), s.x_len())?;
    let routed = max_pool2d_backward(s, x, dy, Act::Identity)?;
    let sum: Vec<f64> = dx0.iter().zip(&routed).map(|(a, r)| a + r).collect();
    act_backward(act, x, &sum)
}
