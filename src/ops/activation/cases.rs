//! The parity cases of the activation family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::ops::Act;
use crate::selftest::{act_name, f64s, out, Output, Rng};
use crate::Result;

/// The activation backward; parameters (activation, length).
pub struct ActBackward;

impl Op for ActBackward {
    const NAME: &'static str = "act_backward";
    const FAMILY: &'static str = "activation";
    const METHODS: &'static [(&'static str, &'static str)] = &[("act_backward", "dy")];
    type Params = (Act, usize);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        let (relu, leaky, id) = (Act::Relu, Act::LeakyRelu(0.2), Act::Identity);
        for (act, len, quick) in [
            (relu, 1000, true),
            (leaky, 4099, true),
            (id, 17, false),
            (leaky, 1, false),
        ] {
            v.push(OpCase {
                shape: format!("{} len {len}", act_name(act)),
                params: (act, len),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (act, len) = *p;
        // y = act(z), with some exact zeros.
        let y: Vec<f32> = (0..len)
            .map(|i| {
                let z = if i % 11 == 3 {
                    0.0
                } else {
                    rng.uniform(-1.0, 1.0)
                };
                reference::act_forward(act, z as f64) as f32
            })
            .collect();
        let dy = rng.vec(len, -1.0, 1.0);
        let yd = dev.upload(&y)?;
        let mut dyd = dev.upload(&dy)?;
        dev.act_backward(act, &yd, &mut dyd)?;
        let rdy = reference::act_backward(act, &f64s(&y), &f64s(&dy))?;
        Ok(vec![out("dy", dev.download(&dyd)?, rdy)])
    }
}
