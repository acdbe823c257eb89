//! The parity cases of the convex_skip family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::selftest::{f64s, junk, out, rounded, Output, Rng};
use crate::Result;

/// The convex skip forward and backward; parameters (θ, length).
pub struct ConvexSkip;

impl Op for ConvexSkip {
    const NAME: &'static str = "convex_skip";
    const FAMILY: &'static str = "convex_skip";
    const METHODS: &'static [(&'static str, &'static str)] = &[
        ("convex_skip_forward", "u"),
        ("convex_skip_backward", "dtheta"),
    ];
    type Params = (f32, usize);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (theta, len, quick) in [
            (0.0, 3315, true),
            (1.5, 1, false),
            (-3.0, 24576, true),
            (8.0, 1000, false),
        ] {
            v.push(OpCase {
                shape: format!("θ={theta} len {len}"),
                params: (theta, len),
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
        let (theta, len) = *p;
        let run = |rng: &mut Rng| {
            let theta = f.round(theta);
            let a = rounded(rng.vec(len, 0.0, 1.0), f);
            let b = rounded(rng.vec(len, -1.0, 0.5), f);
            let (td, ad, bd) = (dev.upload(&[theta])?, dev.upload(&a)?, dev.upload(&b)?);
            let mut u = junk(dev, rng, len)?;
            dev.convex_skip_forward(&td, &ad, &bd, &mut u)?;
            let ru = reference::convex_skip_forward(theta as f64, &f64s(&a), &f64s(&b))?;
            Ok(vec![out("u", dev.download(&u)?, ru)])
        };
        Some(run(rng))
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (theta, len) = *p;
        // Inputs biased so that Σ du·(a − b) does not cancel to nothing.
        let (a, b, du) = (
            rng.vec(len, 0.0, 1.0),
            rng.vec(len, -1.0, 0.5),
            rng.vec(len, -0.5, 1.0),
        );
        let (td, ad, bd, dud) = (
            dev.upload(&[theta])?,
            dev.upload(&a)?,
            dev.upload(&b)?,
            dev.upload(&du)?,
        );
        let mut u = junk(dev, rng, len)?;
        dev.convex_skip_forward(&td, &ad, &bd, &mut u)?;
        let (mut da, mut db, mut dt) = (
            junk(dev, rng, len)?,
            junk(dev, rng, len)?,
            junk(dev, rng, 1)?,
        );
        dev.convex_skip_backward(&td, &ad, &bd, &dud, &mut da, &mut db, &mut dt)?;
        let (a64, b64, du64) = (f64s(&a), f64s(&b), f64s(&du));
        let ru = reference::convex_skip_forward(theta as f64, &a64, &b64)?;
        let (rda, rdb, rdt) = reference::convex_skip_backward(theta as f64, &a64, &b64, &du64)?;
        Ok(vec![
            out("u", dev.download(&u)?, ru),
            out("da", dev.download(&da)?, rda),
            out("db", dev.download(&db)?, rdb),
            out("dtheta", dev.download(&dt)?, vec![rdt]),
        ])
    }
}
