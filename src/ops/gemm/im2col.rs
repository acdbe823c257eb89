//! The convolution geometry shared by conv2d and the transposed convolution, and the
//! im2col / col2im transforms between one image and its column matrix.
//!
//! The column matrix of an image `[c_in, h, w]` has `c_in·k·k` rows, row `(ci·k + kh)·k + kw`,
//! and `h_out·w_out` columns, column `oh·w_out + ow`; its entry is
//! `x[ci, oh·stride − pad + kh, ow·stride − pad + kw]`, or 0 in the padding.

use crate::ops::Conv2dShape;
use rayon::prelude::*;
use std::ops::Range;

/// A validated convolution geometry (a [`Conv2dShape`] with its output size).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub h_out: usize,
    pub w_out: usize,
}

impl Geometry {
    /// The geometry of a shape that passed `validate`.
    pub fn new(s: &Conv2dShape) -> Self {
        Geometry {
            n: s.n,
            c_in: s.c_in,
            h: s.h,
            w: s.w,
            c_out: s.c_out,
            k: s.k,
            stride: s.stride,
            pad: s.pad,
            h_out: s.h_out(),
            w_out: s.w_out(),
        }
    }
    /// Rows of the column matrix (`c_in·k·k`), also the inner size of a weight row.
    pub fn col_rows(&self) -> usize {
        self.c_in * self.k * self.k
    }
    /// Pixels of one input channel.
    pub fn hw_in(&self) -> usize {
        self.h * self.w
    }
    /// Pixels of one output channel (columns of the column matrix).
    pub fn hw_out(&self) -> usize {
        self.h_out * self.w_out
    }
    /// Whether the column matrix is the image itself (1×1 kernel, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }
    /// The output columns `ow` whose input column `ow·stride − pad + kw` lies inside
    /// `0..w`, as a range `lo..hi`.
    fn valid_cols(&self, kw: usize) -> (usize, usize) {
        valid_range(self.w_out, self.w, self.stride, self.pad, kw)
    }
    /// Same for output rows.
    fn valid_rows(&self, kh: usize) -> (usize, usize) {
        valid_range(self.h_out, self.h, self.stride, self.pad, kh)
    }
}

/// The outputs `o` in `0..n_out` with `0 ≤ o·stride − pad + kk < n_in`, as `lo..hi`.
fn valid_range(n_out: usize, n_in: usize, stride: usize, pad: usize, kk: usize) -> (usize, usize) {
    // o·stride + kk ≥ pad  ⇔  o ≥ ceil((pad − kk) / stride)
    let lo = if kk >= pad {
        0
    } else {
        (pad - kk).div_ceil(stride)
    };
    // o·stride + kk < n_in + pad  ⇔  o < ceil((n_in + pad − kk) / stride)
    let hi = if n_in + pad <= kk {
        0
    } else {
        (n_in + pad - kk).div_ceil(stride)
    };
    (lo.min(n_out), hi.min(n_out).max(lo.min(n_out)))
}

/// Fills `col` with the columns of output rows `rows` (`col_rows × rows.len()·w_out`, a
/// column range of the full column matrix) of one image `x` (`[c_in, h, w]`), in
/// parallel over rows of `col` when `parallel`.
pub(crate) fn im2col(g: &Geometry, x: &[f32], rows: Range<usize>, col: &mut [f32], parallel: bool) {
    let hw_out = rows.len() * g.w_out;
    let fill_row = |r: usize, row: &mut [f32]| {
        let (ci, kh, kw) = (r / (g.k * g.k), (r / g.k) % g.k, r % g.k);
        let plane = &x[ci * g.hw_in()..(ci + 1) * g.hw_in()];
        let (oh_lo, oh_hi) = g.valid_rows(kh);
        let (ow_lo, ow_hi) = g.valid_cols(kw);
        for (oh, out) in rows.clone().zip(row.chunks_exact_mut(g.w_out)) {
            if oh < oh_lo || oh >= oh_hi || ow_lo >= ow_hi {
                out.fill(0.0);
                continue;
            }
            let ih = oh * g.stride + kh - g.pad;
            let src = &plane[ih * g.w..(ih + 1) * g.w];
            out[..ow_lo].fill(0.0);
            out[ow_hi..].fill(0.0);
            let iw0 = ow_lo * g.stride + kw - g.pad;
            if g.stride == 1 {
                out[ow_lo..ow_hi].copy_from_slice(&src[iw0..iw0 + ow_hi - ow_lo]);
            } else {
                for (o, v) in out[ow_lo..ow_hi]
                    .iter_mut()
                    .zip(src[iw0..].iter().step_by(g.stride))
                {
                    *o = *v;
                }
            }
        }
    };
    let col = &mut col[..g.col_rows() * hw_out];
    if parallel {
        col.par_chunks_mut(hw_out)
            .enumerate()
            .for_each(|(r, row)| fill_row(r, row));
    } else {
        col.chunks_mut(hw_out)
            .enumerate()
            .for_each(|(r, row)| fill_row(r, row));
    }
}

/// Overwrites one image `x` (`[c_in, h, w]`) with the adjoint of im2col applied to `col`:
/// every column-matrix entry is added to the input pixel it was read from (padding entries
/// are dropped). Runs in parallel over channels when `parallel`; within a channel the
/// additions run in a fixed order.
pub(crate) fn col2im(g: &Geometry, col: &[f32], x: &mut [f32], parallel: bool) {
    let (hw_out, kk) = (g.hw_out(), g.k * g.k);
    let add_channel = |ci: usize, plane: &mut [f32]| {
        plane.fill(0.0);
        for kh in 0..g.k {
            let (oh_lo, oh_hi) = g.valid_rows(kh);
            for kw in 0..g.k {
                let (ow_lo, ow_hi) = g.valid_cols(kw);
                if ow_lo >= ow_hi {
                    continue;
                }
                let row = &col[(ci * kk + kh * g.k + kw) * hw_out..][..hw_out];
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.stride + kh - g.pad;
                    let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
                    let src = &row[oh * g.w_out + ow_lo..oh * g.w_out + ow_hi];
                    let iw0 = ow_lo * g.stride + kw - g.pad;
                    if g.stride == 1 {
                        for (d, v) in dst[iw0..iw0 + src.len()].iter_mut().zip(src) {
                            *d += *v;
                        }
                    } else {
                        for (d, v) in dst[iw0..].iter_mut().step_by(g.stride).zip(src) {
                            *d += *v;
                        }
                    }
                }
            }
        }
    };
    let x = &mut x[..g.c_in * g.hw_in()];
    if parallel {
        x.par_chunks_mut(g.hw_in())
            .enumerate()
            .for_each(|(ci, p)| add_channel(ci, p));
    } else {
        x.chunks_mut(g.hw_in())
            .enumerate()
            .for_each(|(ci, p)| add_channel(ci, p));
    }
}
