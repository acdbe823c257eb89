//! The ops of the two networks: their shapes, their exact semantics, and their CPU
//! implementations (`cpu` submodules). Every op has a `*_forward` and a `*_backward`
//! (gradients for inputs and parameters); the CUDA kernels in kernels/ implement the very
//! same contracts, and tests/ checks both against a plain f64 reference.
//!
//! Conventions: tensors are NCHW, f32, contiguous. Backward functions *overwrite* the
//! gradients they produce, except where a doc comment says *adds*.

pub mod cpu;

use crate::kernels::consts;
use crate::{Error, Result};

/// An activation fused into the op that produces a tensor: `y = act(z)`.
///
/// Its backward is computed from the activation's *output* `y` (for these activations
/// `y > 0` exactly when `z > 0`), so pre-activations need not be kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// `y = z`.
    Identity,
    /// `y = max(z, 0)`.
    Relu,
    /// `y = z` for `z > 0`, else `slope·z` (slope > 0).
    LeakyRelu(f32),
}

impl Act {
    /// The encoding the kernels take: (kind, slope) with kind one of the activation codes
    /// of kernels/common.cuh ([`SC_ACT_IDENTITY`](consts::SC_ACT_IDENTITY),
    /// [`SC_ACT_RELU`](consts::SC_ACT_RELU), [`SC_ACT_LEAKY`](consts::SC_ACT_LEAKY)).
    pub fn code(self) -> (i32, f32) {
        match self {
            Act::Identity => (consts::SC_ACT_IDENTITY, 0.0),
            Act::Relu => (consts::SC_ACT_RELU, 0.0),
            Act::LeakyRelu(s) => (consts::SC_ACT_LEAKY, s),
        }
    }
}

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
}

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

/// Shape of 2×2 max pooling with stride 2: x `[n, c, h, w]`, y `[n, c, h/2, w/2]`
/// (a trailing odd row or column is dropped, as PyTorch does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dShape {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
}

impl Pool2dShape {
    /// Output height.
    pub fn h_out(&self) -> usize {
        self.h / 2
    }
    /// Output width.
    pub fn w_out(&self) -> usize {
        self.w / 2
    }
    /// Elements of x.
    pub fn x_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }
    /// Elements of y.
    pub fn y_len(&self) -> usize {
        self.n * self.c * self.h_out() * self.w_out()
    }
}

/// Shape of a channel concatenation (PyTorch's `torch.cat(dim=1)`): a `[n, c_a, h, w]` and
/// b `[n, c_b, h, w]` make y `[n, c_a + c_b, h, w]`, a's channels first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConcatShape {
    /// Batch size.
    pub n: usize,
    /// Channels of the first input.
    pub c_a: usize,
    /// Channels of the second input.
    pub c_b: usize,
    /// Pixels per channel, `h·w`.
    pub plane: usize,
}

impl ConcatShape {
    /// Elements of a.
    pub fn a_len(&self) -> usize {
        self.n * self.c_a * self.plane
    }
    /// Elements of b.
    pub fn b_len(&self) -> usize {
        self.n * self.c_b * self.plane
    }
    /// Elements of y.
    pub fn y_len(&self) -> usize {
        self.a_len() + self.b_len()
    }
    /// Checks that no dimension is empty.
    pub fn validate(&self) -> Result<()> {
        if self.n == 0 || self.c_a == 0 || self.c_b == 0 || self.plane == 0 {
            return Err(shape_err(
                "concat_channels",
                format!("empty dimension in {self:?}"),
            ));
        }
        Ok(())
    }
}

/// Shape of a linear layer: x `[n, k]`, weight `[m, k]`, bias `[m]`, y `[n, m]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    /// Batch size.
    pub n: usize,
    /// Input features.
    pub k: usize,
    /// Output features.
    pub m: usize,
}

/// Hyperparameters of SGD with momentum (PyTorch's formulas, dampening 0, no Nesterov):
/// `g ← g + wd·p; buf ← μ·buf + g; p ← p − lr·buf` (buf starts at zero, which equals
/// PyTorch's first step `buf = g`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdParams {
    /// Learning rate.
    pub lr: f32,
    /// Momentum μ.
    pub momentum: f32,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f32,
}

/// Hyperparameters of Adam (PyTorch's formulas, no AMSGrad):
/// `g ← g + wd·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;`
/// `p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    /// Learning rate.
    pub lr: f32,
    /// β1.
    pub beta1: f32,
    /// β2.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f32,
}

/// Builds a shape error for `op`.
pub(crate) fn shape_err(op: &'static str, reason: String) -> Error {
    Error::Shape { op, reason }
}

/// Checks that a buffer holds exactly `expected` elements.
pub(crate) fn check_len(op: &'static str, what: &str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(shape_err(
            op,
            format!("{what} has {got} elements, expected {expected}"),
        ));
    }
    Ok(())
}
