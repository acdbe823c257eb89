//! Gradient clipping by global norm (PyTorch's `clip_grad_norm_`): before a network's
//! optimizer step, when the norm `‖g‖ = √(Σ_tensors Σ g²)` of all its gradients together
//! exceeds `max_norm`, every gradient is scaled by `max_norm / (‖g‖ + 1e-6)`.
//!
//! The squared norm accumulates on the device ([`Device::sum_squares`] into one element,
//! tensor after tensor, each in a fixed order), so clipping is deterministic; only that one
//! number comes back to the host. The accumulator is allocated once.

use crate::device::Device;
use crate::model::error::{config_err, ModelResult};
use crate::model::Params;

/// PyTorch's guard against division by zero in the clipping factor.
const EPS: f64 = 1e-6;

/// Clips the global norm of a network's gradients (see the module docs).
pub struct GradClip<D: Device> {
    max_norm: f32,
    /// One element: Σ g² over every tensor.
    acc: D::Buf,
}

impl<D: Device> GradClip<D> {
    /// A clipper to `max_norm`, which must be positive and finite.
    pub fn new(dev: &D, max_norm: f32) -> ModelResult<Self> {
        if !(max_norm.is_finite() && max_norm > 0.0) {
            return Err(config_err(format!(
                "max grad norm must be positive and finite, got {max_norm}"
            )));
        }
        Ok(GradClip {
            max_norm,
            acc: dev.alloc_zeros(1)?,
        })
    }

    /// The norm gradients are clipped to.
    pub fn max_norm(&self) -> f32 {
        self.max_norm
    }

    /// Scales `grads` in place by `max_norm / (‖g‖ + 1e-6)` when their global norm `‖g‖`
    /// exceeds `max_norm`, and returns `‖g‖` as it was before. A non-finite norm is
    /// returned as is and the gradients are left alone (the loss check stops training).
    ///
    /// Where the device keeps the gradients in one allocation ([`Params::spans`]), the
    /// sum and the scaling are one launch each over the span.
    pub fn clip(&mut self, dev: &D, params: &mut Params<D::Buf>) -> ModelResult<f32> {
        dev.write(&mut self.acc, &[0.0])?;
        let grads: &mut [D::Buf] = match &mut params.spans {
            Some(spans) => std::slice::from_mut(&mut spans.grads),
            None => &mut params.grads,
        };
        for g in grads.iter() {
            dev.sum_squares(g, &mut self.acc)?;
        }
        let norm = (dev.download(&self.acc)?[0] as f64).sqrt();
        if norm.is_finite() && norm > self.max_norm as f64 {
            let factor = (self.max_norm as f64 / (norm + EPS)) as f32;
            for g in grads.iter_mut() {
                dev.scale(g, factor)?;
            }
        }
        Ok(norm as f32)
    }
}
