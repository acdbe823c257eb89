//! The parity cases of the linear family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::LinearShape;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::selftest::{f64s, junk, out, Output, Rng};
use crate::Result;

/// The linear layer forward and backward; parameters (shape, with dx).
pub struct Linear;

impl Op for Linear {
    const NAME: &'static str = "linear";
    const FAMILY: &'static str = "linear";
    const METHODS: &'static [(&'static str, &'static str)] =
        &[("linear_forward", "y"), ("linear_backward", "dw")];
    type Params = (LinearShape, bool);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (n, k, m, with_dx, quick) in [
            (1, 13, 3, true, true),
            (5, 37, 1, true, true),
            (16, 4096, 1, true, false), // D's last layer, seed preset
            (2, 64, 7, false, false),
        ] {
            let shape = format!("n{n} k{k} m{m}{}", if with_dx { "" } else { " no dx" });
            v.push(OpCase {
                shape,
                params: (LinearShape { n, k, m }, with_dx),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (s, with_dx) = *p;
        let (x, w) = (rng.vec(s.n * s.k, -1.0, 1.0), rng.vec(s.m * s.k, -1.0, 1.0));
        let (b, dy) = (rng.vec(s.m, -1.0, 1.0), rng.vec(s.n * s.m, -1.0, 1.0));
        let (xd, wd, bd, dyd) = (
            dev.upload(&x)?,
            dev.upload(&w)?,
            dev.upload(&b)?,
            dev.upload(&dy)?,
        );
        let mut y = junk(dev, rng, s.n * s.m)?;
        dev.linear_forward(&s, &xd, &wd, &bd, &mut y)?;
        let mut dx = junk(dev, rng, s.n * s.k)?;
        let (mut dw, mut db) = (junk(dev, rng, s.m * s.k)?, junk(dev, rng, s.m)?);
        dev.linear_backward(
            &s,
            &xd,
            &wd,
            &dyd,
            with_dx.then_some(&mut dx),
            &mut dw,
            &mut db,
        )?;
        let (x64, w64, dy64) = (f64s(&x), f64s(&w), f64s(&dy));
        let ry = reference::linear_forward(&s, &x64, &w64, &f64s(&b))?;
        let (rdx, rdw, rdb) = reference::linear_backward(&s, &x64, &w64, &dy64)?;
        let mut o = vec![out("y", dev.download(&y)?, ry)];
        if with_dx {
            o.push(out("dx", dev.download(&dx)?, rdx));
        }
        o.push(out("dw", dev.download(&dw)?, rdw));
        o.push(out("db", dev.download(&db)?, rdb));
        Ok(o)
    }
}
