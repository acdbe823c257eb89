//! concat: the channel concatenation of the U-Net's skip connections
//! (`concat_channels`) and its backward (`split_channels`).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::Concat;

use crate::ops::shape_err;
use crate::Result;

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
