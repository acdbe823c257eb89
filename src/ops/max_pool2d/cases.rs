//! The parity cases of the max_pool2d family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::Pool2dShape;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{no_part, BenchRun, Op, OpBench, OpCase, FORWARD};
use crate::ops::Act;
use crate::selftest::{act_name, f64s, junk, out, rounded, Output, Rng};
use crate::Result;

/// Max pooling forward and backward (fused with an activation's backward); parameters
/// (shape, inputs with ties, the activation whose output the input is).
pub struct MaxPool2d;

impl Op for MaxPool2d {
    const NAME: &'static str = "max_pool2d";
    const FAMILY: &'static str = "max_pool2d";
    const METHODS: &'static [(&'static str, &'static str)] = &[
        ("max_pool2d_forward", "y"),
        ("max_pool2d_backward", "dx"),
        ("max_pool2d_backward_add", "dx_add"),
    ];
    type Params = (Pool2dShape, bool, Act);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        let leaky = Act::LeakyRelu(0.2);
        for (n, c, h, w, ties, act, quick) in [
            (5, 3, 13, 17, false, Act::Identity, true),
            (5, 3, 13, 17, false, leaky, true),
            (1, 1, 64, 64, false, leaky, false),
            (2, 8, 8, 8, true, Act::Relu, true),
            (3, 2, 3, 5, true, Act::Identity, false),
            (1, 1, 2, 2, false, Act::Relu, false),
        ] {
            let shape = format!(
                "n{n} c{c} {h}×{w}{} {}",
                if ties { " ties" } else { "" },
                act_name(act)
            );
            v.push(OpCase {
                shape,
                params: (Pool2dShape { n, c, h, w }, ties, act),
                quick,
            });
        }
        v
    }

    fn run_half<D: Device>(
        dev: &D,
        p: &Self::Params,
        rng: &mut Rng,
        f: Half,
    ) -> Option<Result<Vec<Output>>> {
        let (s, ties, _) = *p;
        let run = |rng: &mut Rng| {
            let x: Vec<f32> = if ties {
                (0..s.x_len())
                    .map(|_| rng.uniform(0.0, 3.0).floor())
                    .collect()
            } else {
                rounded(rng.vec(s.x_len(), -1.0, 1.0), f)
            };
            let xd = dev.upload(&x)?;
            let mut y = junk(dev, rng, s.y_len())?;
            dev.max_pool2d_forward(&s, &xd, &mut y)?;
            let ry = reference::max_pool2d_forward(&s, &f64s(&x))?;
            Ok(vec![out("y", dev.download(&y)?, ry)])
        };
        Some(run(rng))
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (s, ties, act) = *p;
        let x: Vec<f32> = if ties {
            (0..s.x_len())
                .map(|_| rng.uniform(0.0, 3.0).floor())
                .collect()
        } else {
            rng.vec(s.x_len(), -1.0, 1.0)
        };
        let dy = rng.vec(s.y_len(), -1.0, 1.0);
        let (xd, dyd) = (dev.upload(&x)?, dev.upload(&dy)?);
        let mut y = junk(dev, rng, s.y_len())?;
        dev.max_pool2d_forward(&s, &xd, &mut y)?;
        let mut dx = junk(dev, rng, s.x_len())?;
        dev.max_pool2d_backward(&s, &xd, &dyd, act, &mut dx)?;
        // Accumulated into a gradient already there.
        let dx0 = rng.vec(s.x_len(), -1.0, 1.0);
        let mut dx_add = dev.upload(&dx0)?;
        dev.max_pool2d_backward_add(&s, &xd, &dyd, act, &mut dx_add)?;
        let (x64, dy64) = (f64s(&x), f64s(&dy));
        Ok(vec![
            out(
                "y",
                dev.download(&y)?,
                reference::max_pool2d_forward(&s, &x64)?,
            ),
            out(
                "dx",
                dev.download(&dx)?,
                reference::max_pool2d_backward(&s, &x64, &dy64, act)?,
            ),
            out(
                "dx_add",
                dev.download(&dx_add)?,
                reference::max_pool2d_backward_add(&s, &x64, &dy64, act, &f64s(&dx0))?,
            ),
        ])
    }

    fn benches() -> Vec<OpBench<Self::Params>> {
        // The discriminator's first pooling, batch 16.
        let s = Pool2dShape {
            n: 16,
            c: 64,
            h: 64,
            w: 64,
        };
        let name = "pool 64×64²".into();
        vec![OpBench {
            group: "disc",
            name,
            params: (s, false, Act::Identity),
            work: s.x_len() as u64,
            parts: FORWARD,
        }]
    }

    fn bench_part<'a, D: Device>(
        dev: &'a D,
        p: &Self::Params,
        part: &str,
        rng: &mut Rng,
    ) -> Result<BenchRun<'a>> {
        let (s, _, _) = *p;
        if part != "forward" {
            return Err(no_part(Self::NAME, part));
        }
        let x = dev.upload(&rng.vec(s.x_len(), -1.0, 1.0))?;
        let mut y = dev.alloc_zeros(s.y_len())?;
        Ok(Box::new(move || dev.max_pool2d_forward(&s, &x, &mut y)))
    }
}
