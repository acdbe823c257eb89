//! optim: the optimizer steps, SGD with momentum and Adam (PyTorch's formulas).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{AdamStep, SgdStep};

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
