//! max_pool2d: 2×2 stride-2 max pooling and its backward (to the first maximum).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::MaxPool2d;

/// A gradient's way back through a 2×2 max pooling `p = maxpool2×2(x)` and the activation
/// whose output `x` is: [`Device::max_pool2d_backward`](crate::device::Device::max_pool2d_backward),
/// or with `add` [`Device::max_pool2d_backward_add`](crate::device::Device::max_pool2d_backward_add).
#[derive(Clone, Copy, Debug)]
pub struct Unpool<'a, B> {
    /// The pooling's shape.
    pub shape: &'a Pool2dShape,
    /// Its input, the activation's output.
    pub x: &'a B,
    /// The activation.
    pub act: crate::ops::Act,
    /// Whether the routed gradient is added to what ∂x already holds.
    pub add: bool,
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
    /// Checks that the shape's lengths can be computed (no overflow), as every device does
    /// before it uses them. Empty shapes are valid: their ops do nothing.
    pub fn validate(&self) -> crate::Result<()> {
        crate::ops::checked_product(&[self.n, self.c, self.h, self.w])
            .map(drop)
            .ok_or_else(|| {
                crate::ops::shape_err("max_pool2d", format!("{self:?}: too many elements"))
            })
    }
}
