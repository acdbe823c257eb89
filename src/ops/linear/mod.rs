//! linear: the linear layer `y = x·wᵀ + b` (the discriminator's last layer).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::Linear;

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

impl LinearShape {
    /// Checks that the shape's lengths (x, w, y) can be computed (no overflow), as every
    /// device does before it uses them. Empty shapes are valid: their ops do nothing.
    pub fn validate(&self) -> crate::Result<()> {
        for dims in [[self.n, self.k], [self.m, self.k], [self.n, self.m]] {
            if crate::ops::checked_product(&dims).is_none() {
                return Err(crate::ops::shape_err(
                    "linear",
                    format!("{self:?}: too many elements"),
                ));
            }
        }
        Ok(())
    }
}
