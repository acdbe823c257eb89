//! Activations: the bias + activation epilogue fused into the convolutions, and the
//! activation backward `dy ← dy · act'(y)` computed from the activation's output.

use crate::ops::CHUNK;
use crate::ops::{check_len, Act};
use crate::Result;
use rayon::prelude::*;

/// `act(z)` in f32.
#[inline]
pub(crate) fn apply(act: Act, z: f32) -> f32 {
    match act {
        Act::Identity => z,
        Act::Relu => z.max(0.0),
        Act::LeakyRelu(slope) => {
            if z > 0.0 {
                z
            } else {
                slope * z
            }
        }
    }
}

/// `act'` expressed through the activation's output `y` (`y > 0` exactly when `z > 0`).
#[inline]
pub(crate) fn derivative(act: Act, y: f32) -> f32 {
    match act {
        Act::Identity => 1.0,
        Act::Relu => {
            if y > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Act::LeakyRelu(slope) => {
            if y > 0.0 {
                1.0
            } else {
                slope
            }
        }
    }
}

/// In place on one image `[c, hw]`: `y ← act(y + b[c])` (no bias when `b` is `None`).
pub(crate) fn bias_act(y: &mut [f32], hw: usize, b: Option<&[f32]>, act: Act) {
    if b.is_none() && act == Act::Identity {
        return;
    }
    for (c, row) in y.chunks_exact_mut(hw).enumerate() {
        let bias = b.map_or(0.0, |b| b[c]);
        for v in row {
            *v = apply(act, *v + bias);
        }
    }
}

/// In place: `dy ← dy · act'(y)` where `y` is the activation's output.
pub fn act_backward(act: Act, y: &[f32], dy: &mut [f32]) -> Result<()> {
    check_len("act_backward", "dy", dy.len(), y.len())?;
    if act == Act::Identity {
        return Ok(());
    }
    dy.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK))
        .for_each(|(d, y)| {
            for (d, &y) in d.iter_mut().zip(y) {
                *d *= derivative(act, y);
            }
        });
    Ok(())
}
