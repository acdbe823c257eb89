//! The parity cases of the concat family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::ConcatShape;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::selftest::{f64s, junk, out, rounded, Output, Rng};
use crate::Result;

/// Channel concatenation and its split; parameters: the shape.
pub struct Concat;

impl Op for Concat {
    const NAME: &'static str = "concat_channels";
    const FAMILY: &'static str = "concat";
    const METHODS: &'static [(&'static str, &'static str)] =
        &[("concat_channels", "y"), ("split_channels", "db")];
    type Params = ConcatShape;

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        // concat_channels (and split_channels): (n, c_a, c_b, h, w, quick)
        for (n, c_a, c_b, h, w, quick) in [
            (3, 2, 5, 13, 17, true),
            (2, 16, 16, 64, 64, false), // the unet preset's top decoder block
            (1, 1, 1, 1, 1, false),
            (4, 7, 3, 5, 9, true),
        ] {
            let s = ConcatShape {
                n,
                c_a,
                c_b,
                plane: h * w,
            };
            v.push(OpCase {
                shape: format!("n{n} c{c_a}+{c_b} {h}×{w}"),
                params: s,
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
        let s = *p;
        let run = |rng: &mut Rng| {
            let a = rounded(rng.vec(s.a_len(), -1.0, 1.0), f);
            let b = rounded(rng.vec(s.b_len(), -1.0, 1.0), f);
            let (ad, bd) = (dev.upload(&a)?, dev.upload(&b)?);
            let mut y = junk(dev, rng, s.y_len())?;
            dev.concat_channels(&s, &ad, &bd, &mut y)?;
            let ry = reference::concat_channels(&s, &f64s(&a), &f64s(&b))?;
            Ok(vec![out("y", dev.download(&y)?, ry)])
        };
        Some(run(rng))
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let s = *p;
        let (a, b) = (rng.vec(s.a_len(), -1.0, 1.0), rng.vec(s.b_len(), -1.0, 1.0));
        let dy = rng.vec(s.y_len(), -1.0, 1.0);
        let (ad, bd, dyd) = (dev.upload(&a)?, dev.upload(&b)?, dev.upload(&dy)?);
        let mut y = junk(dev, rng, s.y_len())?;
        dev.concat_channels(&s, &ad, &bd, &mut y)?;
        let mut da = junk(dev, rng, s.a_len())?;
        let mut db = junk(dev, rng, s.b_len())?;
        dev.split_channels(&s, &dyd, &mut da, &mut db)?;
        let (rda, rdb) = reference::split_channels(&s, &f64s(&dy))?;
        Ok(vec![
            out(
                "y",
                dev.download(&y)?,
                reference::concat_channels(&s, &f64s(&a), &f64s(&b))?,
            ),
            out("da", dev.download(&da)?, rda),
            out("db", dev.download(&db)?, rdb),
        ])
    }
}
