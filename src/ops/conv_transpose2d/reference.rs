//! The f64 reference of conv_transpose2d, straight from its definition.

use crate::ops::activation::reference::act_forward;
use crate::ops::conv2d::reference::{at, tap};
use crate::ops::{check_len, Act, ConvTranspose2dShape};
use crate::Result;

fn check_convt(
    op: &'static str,
    s: &ConvTranspose2dShape,
    x: usize,
    w: usize,
    y: usize,
) -> Result<()> {
    if s.h == 0 || s.w == 0 {
        return Err(crate::ops::shape_err(op, format!("empty input in {s:?}")));
    }
    s.validate()?;
    check_len(op, "x", x, s.x_len())?;
    check_len(op, "w", w, s.w_len())?;
    check_len(op, "y", y, s.y_len())
}

/// The output coordinate `i·stride − pad + kk` that input `i` and tap `kk` write to, if it
/// lies inside `0..n` (the padding crops the full output).
fn scatter(i: usize, stride: usize, pad: usize, kk: usize, n: usize) -> Option<usize> {
    tap(i, stride, pad, kk, n)
}

/// Every input pixel scatters `x[n, ci, ih, iw] · w[ci, co, kh, kw]` to
/// `y[n, co, ih·s − p + kh, iw·s − p + kw]`; then bias and activation.
pub fn conv_transpose2d_forward(
    s: &ConvTranspose2dShape,
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    act: Act,
) -> Result<Vec<f64>> {
    check_convt("conv_transpose2d_forward", s, x.len(), w.len(), s.y_len())?;
    if let Some(b) = b {
        check_len("conv_transpose2d_forward", "b", b.len(), s.c_out)?;
    }
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut y = vec![0.0; s.y_len()];
    for n in 0..s.n {
        for ci in 0..s.c_in {
            for ih in 0..s.h {
                for iw in 0..s.w {
                    let v = x[at(n, ci, ih, iw, s.c_in, s.h, s.w)];
                    for co in 0..s.c_out {
                        for kh in 0..s.k {
                            for kw in 0..s.k {
                                if let (Some(oh), Some(ow)) = (
                                    scatter(ih, s.stride, s.pad, kh, ho),
                                    scatter(iw, s.stride, s.pad, kw, wo),
                                ) {
                                    y[at(n, co, oh, ow, s.c_out, ho, wo)] +=
                                        v * w[at(ci, co, kh, kw, s.c_out, s.k, s.k)];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    for n in 0..s.n {
        for co in 0..s.c_out {
            for p in 0..ho * wo {
                let i = (n * s.c_out + co) * ho * wo + p;
                y[i] = act_forward(act, y[i] + b.map_or(0.0, |b| b[co]));
            }
        }
    }
    Ok(y)
}

/// `dx[n, ci, ih, iw] = Σ_{co, kh, kw} w[ci, co, kh, kw] · dy[n, co, ih·s − p + kh, iw·s − p + kw]`.
pub fn conv_transpose2d_backward_input(
    s: &ConvTranspose2dShape,
    w: &[f64],
    dy: &[f64],
) -> Result<Vec<f64>> {
    check_convt(
        "conv_transpose2d_backward_input",
        s,
        s.x_len(),
        w.len(),
        dy.len(),
    )?;
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut dx = vec![0.0; s.x_len()];
    for n in 0..s.n {
        for ci in 0..s.c_in {
            for ih in 0..s.h {
                for iw in 0..s.w {
                    let mut acc = 0.0;
                    for co in 0..s.c_out {
                        for kh in 0..s.k {
                            for kw in 0..s.k {
                                if let (Some(oh), Some(ow)) = (
                                    scatter(ih, s.stride, s.pad, kh, ho),
                                    scatter(iw, s.stride, s.pad, kw, wo),
                                ) {
                                    acc += w[at(ci, co, kh, kw, s.c_out, s.k, s.k)]
                                        * dy[at(n, co, oh, ow, s.c_out, ho, wo)];
                                }
                            }
                        }
                    }
                    dx[at(n, ci, ih, iw, s.c_in, s.h, s.w)] = acc;
                }
            }
        }
    }
    Ok(dx)
}

/// `(dw, db)`: `dw[ci, co, kh, kw] = Σ_{n, ih, iw} x[n, ci, ih, iw] · dy[n, co, oh, ow]`
/// with `(oh, ow)` the pixel that tap writes to; `db[co] = Σ dy[n, co, ·, ·]`.
pub fn conv_transpose2d_backward_weight(
    s: &ConvTranspose2dShape,
    x: &[f64],
    dy: &[f64],
) -> Result<(Vec<f64>, Vec<f64>)> {
    check_convt(
        "conv_transpose2d_backward_weight",
        s,
        x.len(),
        s.w_len(),
        dy.len(),
    )?;
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut dw = vec![0.0; s.w_len()];
    for n in 0..s.n {
        for ci in 0..s.c_in {
            for ih in 0..s.h {
                for iw in 0..s.w {
                    let v = x[at(n, ci, ih, iw, s.c_in, s.h, s.w)];
                    for co in 0..s.c_out {
                        for kh in 0..s.k {
                            for kw in 0..s.k {
                                if let (Some(oh), Some(ow)) = (
                                    scatter(ih, s.stride, s.pad, kh, ho),
                                    scatter(iw, s.stride, s.pad, kw, wo),
                                ) {
                                    dw[at(ci, co, kh, kw, s.c_out, s.k, s.k)] +=
                                        v * dy[at(n, co, oh, ow, s.c_out, ho, wo)];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let mut db = vec![0.0; s.c_out];
    for n in 0..s.n {
        for (co, d) in db.iter_mut().enumerate() {
            *d += dy[(n * s.c_out + co) * ho * wo..][..ho * wo]
                .iter()
                .sum::<f64>();
        }
    }
    Ok((dw, db))
}
