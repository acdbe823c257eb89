//! conv_transpose2d: the 2-D transposed convolution (PyTorch's layout) with fused bias and
//! activation, and its input and weight gradients.

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{ConvTranspose2d, ConvTranspose2dInputAct};

use crate::ops::shape_err;
use crate::Result;

/// Shape of a 2-D transposed convolution (PyTorch's `conv_transpose2d`):
/// x `[n, c_in, h, w]`, weight `[c_in, c_out, k, k]` (PyTorch's layout), bias `[c_out]`,
/// y `[n, c_out, h_out, w_out]` with `h_out = (h − 1)·stride − 2·pad + k + out_pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dShape {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub c_out: usize,
    /// Square kernel side.
    pub k: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Padding removed from every side of the full output.
    pub pad: usize,
    /// Extra rows/columns added at the bottom/right (`< stride`).
    pub out_pad: usize,
}

impl ConvTranspose2dShape {
    /// Output height.
    pub fn h_out(&self) -> usize {
        (self.h - 1) * self.stride + self.k + self.out_pad - 2 * self.pad
    }
    /// Output width.
    pub fn w_out(&self) -> usize {
        (self.w - 1) * self.stride + self.k + self.out_pad - 2 * self.pad
    }
    /// Elements of x.
    pub fn x_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    /// Elements of y.
    pub fn y_len(&self) -> usize {
        self.n * self.c_out * self.h_out() * self.w_out()
    }
    /// Elements of the weight.
    pub fn w_len(&self) -> usize {
        self.c_in * self.c_out * self.k * self.k
    }
    /// Checks that the shape is one the kernels accept.
    pub fn validate(&self) -> Result<()> {
        let op = "conv_transpose2d";
        if self.n == 0
            || self.c_in == 0
            || self.c_out == 0
            || self.h == 0
            || self.w == 0
            || self.k == 0
            || self.stride == 0
        {
            return Err(shape_err(op, format!("empty dimension in {self:?}")));
        }
        if self.out_pad >= self.stride {
            return Err(shape_err(
                op,
                format!("out_pad must be < stride in {self:?}"),
            ));
        }
        if (self.h - 1) * self.stride + self.k + self.out_pad <= 2 * self.pad
            || (self.w - 1) * self.stride + self.k + self.out_pad <= 2 * self.pad
        {
            return Err(shape_err(op, format!("empty output in {self:?}")));
        }
        Ok(())
    }
}
