//! The f64 reference of conv2d, straight from its definition (see [`crate::ops`] on
//! references).

use crate::ops::activation::reference::act_forward;
use crate::ops::{check_len, Act, Conv2dShape};
use crate::Result;

/// Index of `[a, b, c, d]` in a contiguous tensor of dims `[_, nb, nc, nd]`.
pub(crate) fn at(a: usize, b: usize, c: usize, d: usize, nb: usize, nc: usize, nd: usize) -> usize {
    ((a * nb + b) * nc + c) * nd + d
}

/// The input coordinate `o·stride − pad + kk` if it lies inside `0..n`.
pub(crate) fn tap(o: usize, stride: usize, pad: usize, kk: usize, n: usize) -> Option<usize> {
    (o * stride + kk).checked_sub(pad).filter(|&i| i < n)
}

fn check_conv(op: &'static str, s: &Conv2dShape, x: usize, w: usize, y: usize) -> Result<()> {
    s.validate()?;
    check_len(op, "x", x, s.x_len())?;
    check_len(op, "w", w, s.w_len())?;
    check_len(op, "y", y, s.y_len())
}

/// `y[n, co, oh, ow] = act(b[co] + Σ_{ci, kh, kw} x[n, ci, oh·s − p + kh, ow·s − p + kw] ·
/// w[co, ci, kh, kw])`, out-of-range x being 0.
pub fn conv2d_forward(
    s: &Conv2dShape,
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    act: Act,
) -> Result<Vec<f64>> {
    check_conv("conv2d_forward", s, x.len(), w.len(), s.y_len())?;
    if let Some(b) = b {
        check_len("conv2d_forward", "b", b.len(), s.c_out)?;
    }
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut y = vec![0.0; s.y_len()];
    for n in 0..s.n {
        for co in 0..s.c_out {
            for oh in 0..ho {
                for ow in 0..wo {
                    let mut z = b.map_or(0.0, |b| b[co]);
                    for ci in 0..s.c_in {
                        for kh in 0..s.k {
                            for kw in 0..s.k {
                                let (Some(ih), Some(iw)) = (
                                    tap(oh, s.stride, s.pad, kh, s.h),
                                    tap(ow, s.stride, s.pad, kw, s.w),
                                ) else {
                                    continue;
                                };
                                z += x[at(n, ci, ih, iw, s.c_in, s.h, s.w)]
                                    * w[at(co, ci, kh, kw, s.c_in, s.k, s.k)];
                            }
                        }
                    }
                    y[at(n, co, oh, ow, s.c_out, ho, wo)] = act_forward(act, z);
                }
            }
        }
    }
    Ok(y)
}

/// `dx[n, ci, ih, iw] = Σ w[co, ci, kh, kw] · dy[n, co, oh, ow]` over every output and tap
/// that read x at `(ih, iw)`.
pub fn conv2d_backward_input(s: &Conv2dShape, w: &[f64], dy: &[f64]) -> Result<Vec<f64>> {
    check_conv("conv2d_backward_input", s, s.x_len(), w.len(), dy.len())?;
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut dx = vec![0.0; s.x_len()];
    for n in 0..s.n {
        for co in 0..s.c_out {
            for oh in 0..ho {
                for ow in 0..wo {
                    let g = dy[at(n, co, oh, ow, s.c_out, ho, wo)];
                    for ci in 0..s.c_in {
                        for kh in 0..s.k {
                            for kw in 0..s.k {
                                if let (Some(ih), Some(iw)) = (
                                    tap(oh, s.stride, s.pad, kh, s.h),
                                    tap(ow, s.stride, s.pad, kw, s.w),
                                ) {
                                    dx[at(n, ci, ih, iw, s.c_in, s.h, s.w)] +=
                                        w[at(co, ci, kh, kw, s.c_in, s.k, s.k)] * g;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(dx)
}

/// `(dw, db)`: `dw[co, ci, kh, kw] = Σ_{n, oh, ow} dy[n, co, oh, ow] · x[n, ci, ih, iw]`,
/// `db[co] = Σ_{n, oh, ow} dy[n, co, oh, ow]`.
pub fn conv2d_backward_weight(
    s: &Conv2dShape,
    x: &[f64],
    dy: &[f64],
) -> Result<(Vec<f64>, Vec<f64>)> {
    check_conv("conv2d_backward_weight", s, x.len(), s.w_len(), dy.len())?;
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut dw = vec![0.0; s.w_len()];
    let mut db = vec![0.0; s.c_out];
    for n in 0..s.n {
        for co in 0..s.c_out {
            for oh in 0..ho {
                for ow in 0..wo {
                    let g = dy[at(n, co, oh, ow, s.c_out, ho, wo)];
                    db[co] += g;
                    for ci in 0..s.c_in {
                        for kh in 0..s.k {
                            for kw in 0..s.k {
                                if let (Some(ih), Some(iw)) = (
                                    tap(oh, s.stride, s.pad, kh, s.h),
                                    tap(ow, s.stride, s.pad, kw, s.w),
                                ) {
                                    dw[at(co, ci, kh, kw, s.c_in, s.k, s.k)] +=
                                        g * x[at(n, ci, ih, iw, s.c_in, s.h, s.w)];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok((dw, db))
}
