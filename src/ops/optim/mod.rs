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

impl AdamParams {
    /// The scalars of step `t` (1-based) that every device's Adam reads from a
    /// two-element buffer: `[lr / (1 − β1^t), √(1 − β2^t)]`, computed in f64 (as PyTorch
    /// computes them in Python floats) and rounded to f32. One function for every device,
    /// so a run resumed on another device continues with the same numbers.
    pub fn step_scalars(&self, t: u64) -> crate::Result<[f32; 2]> {
        if t == 0 {
            return Err(crate::ops::shape_err(
                "adam_step",
                "step t is 1-based, got 0".into(),
            ));
        }
        let steps = t as f64;
        let bc1 = 1.0 - f64::from(self.beta1).powf(steps);
        let bc2 = 1.0 - f64::from(self.beta2).powf(steps);
        Ok([(f64::from(self.lr) / bc1) as f32, bc2.sqrt() as f32])
    }
}

#[cfg(test)]
mod tests {
    use super::AdamParams;

    #[test]
    fn adam_step_scalars_by_hand() {
        // β1 = 1/2, β2 = 3/4, lr = 1: 1 − β1^t = 1/2, 3/4, 7/8 and 1 − β2^t = 1/4, 7/16,
        // 37/64.
        let hp = AdamParams {
            lr: 1.0,
            beta1: 0.5,
            beta2: 0.75,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        assert_eq!(hp.step_scalars(1).unwrap(), [2.0, 0.5]);
        assert_eq!(
            hp.step_scalars(2).unwrap(),
            [(4.0f64 / 3.0) as f32, (7.0f64 / 16.0).sqrt() as f32]
        );
        assert_eq!(
            hp.step_scalars(3).unwrap(),
            [(8.0f64 / 7.0) as f32, (37.0f64 / 64.0).sqrt() as f32]
        );
        assert!(hp.step_scalars(0).is_err());
        // Far into a run both corrections are 1 in f32.
        assert_eq!(hp.step_scalars(1 << 40).unwrap(), [1.0, 1.0]);
    }
}
