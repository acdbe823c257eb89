//! The f64 reference of the activations and their backward.

use crate::ops::{check_len, Act};
use crate::Result;

/// `act(z)`.
pub fn act_forward(act: Act, z: f64) -> f64 {
    match act {
        Act::Identity => z,
        Act::Relu => z.max(0.0),
        Act::LeakyRelu(slope) => {
            if z > 0.0 {
                z
            } else {
                slope as f64 * z
            }
        }
    }
}

/// `dy · act'(z)` written with the activation's output `y` (`y > 0` ⇔ `z > 0`).
pub fn act_backward(act: Act, y: &[f64], dy: &[f64]) -> Result<Vec<f64>> {
    check_len("act_backward", "dy", dy.len(), y.len())?;
    let slope = match act {
        Act::Identity => 1.0,
        Act::Relu => 0.0,
        Act::LeakyRelu(s) => s as f64,
    };
    Ok(y.iter()
        .zip(dy)
        .map(|(&y, &g)| if y > 0.0 { g } else { slope * g })
        .collect())
}
