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
