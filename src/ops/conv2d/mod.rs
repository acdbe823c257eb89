//! conv2d: the 2-D convolution (cross-correlation) with fused bias and activation, and
//! its input and weight gradients.

mod cases;
pub mod cpu;
mod direct;
pub(crate) mod gpu;
pub mod reference;

pub(crate) use cases::activation_output;
pub use cases::{Conv2d, Conv2dCat, Conv2dInputAct, Conv2dInputUnpool, Conv2dPooled};

use crate::ops::{check_len, shape_err, ConcatShape, Pool2dShape};
use crate::Result;

/// Shape of a 2-D convolution (cross-correlation, as in PyTorch's `conv2d`):
/// x `[n, c_in, h, w]`, weight `[c_out, c_in, k, k]`, bias `[c_out]`,
/// y `[n, c_out, h_out, w_out]` with `h_out = (h + 2·pad − k) / stride + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Square kernel side.
    pub k: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl Conv2dShape {
    /// Output height.
    pub fn h_out(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }
    /// Output width.
    pub fn w_out(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }
    /// Elements of x.
    pub fn x_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    /// Elements of y.
    pub fn y_len(&self) -> usize {
        self.n * self.c_out * self.h_out() * self.w_out()
    }
    /// The 2×2 max pooling of y ([`Device::conv2d_forward_pooled`]).
    ///
    /// [`Device::conv2d_forward_pooled`]: crate::device::Device::conv2d_forward_pooled
    pub fn pooled(&self) -> Pool2dShape {
        Pool2dShape {
            n: self.n,
            c: self.c_out,
            h: self.h_out(),
            w: self.w_out(),
        }
    }
    /// Elements of the weight.
    pub fn w_len(&self) -> usize {
        self.c_out * self.c_in * self.k * self.k
    }
    /// Checks that the shape is one the kernels accept.
    pub fn validate(&self) -> Result<()> {
        if self.n == 0
            || self.c_in == 0
            || self.c_out == 0
            || self.h == 0
            || self.w == 0
            || self.k == 0
            || self.stride == 0
        {
            return Err(shape_err("conv2d", format!("empty dimension in {self:?}")));
        }
        if self.h + 2 * self.pad < self.k || self.w + 2 * self.pad < self.k {
            return Err(shape_err(
                "conv2d",
                format!("kernel larger than padded input in {self:?}"),
            ));
        }
        Ok(())
    }

    /// Checks a convolution of the concatenation `[a; b]` (or the split of its input
    /// gradient), for every device: both shapes valid, `cat` this shape's input (batch,
    /// channels, plane), and the parts a, b and the scratch of its lengths (`a`, `b`,
    /// `scratch`).
    pub(crate) fn check_cat(
        &self,
        op: &'static str,
        cat: &ConcatShape,
        (a, b, scratch): (usize, usize, usize),
    ) -> Result<()> {
        self.validate()?;
        cat.validate()?;
        if cat.n != self.n || cat.c_a + cat.c_b != self.c_in || cat.plane != self.h * self.w {
            return Err(shape_err(
                op,
                format!("{cat:?} is not the input of {self:?}"),
            ));
        }
        check_len(op, "a", a, cat.a_len())?;
        check_len(op, "b", b, cat.b_len())?;
        check_len(op, "scratch", scratch, self.x_len())
    }
}
