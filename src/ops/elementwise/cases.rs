//! The parity cases of the elementwise family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::selftest::{f64s, out, rounded, Output, Rng};
use crate::Result;

/// Gradient accumulation; parameters: the length.
pub struct AddAssign;

impl Op for AddAssign {
    const NAME: &'static str = "add_assign";
    const FAMILY: &'static str = "elementwise";
    const METHODS: &'static [(&'static str, &'static str)] = &[("add_assign", "dst")];
    type Params = usize;

    fn cases() -> Vec<OpCase<Self::Params>> {
        OpCase::lengths(&[(1, false), (4097, true)])
    }

    fn run_half<D: Device>(
        dev: &D,
        p: &Self::Params,
        rng: &mut Rng,
        f: Half,
    ) -> Option<Result<Vec<Output>>> {
        let len = *p;
        let run = |rng: &mut Rng| {
            let dst = rounded(rng.vec(len, -1.0, 1.0), f);
            let src = rounded(rng.vec(len, -1.0, 1.0), f);
            let mut dd = dev.upload(&dst)?;
            dev.add_assign(&mut dd, &dev.upload(&src)?)?;
            let r = reference::add_assign(&f64s(&dst), &f64s(&src))?;
            Ok(vec![out("dst", dev.download(&dd)?, r)])
        };
        Some(run(rng))
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let len = *p;
        let (dst, src) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
        let mut dd = dev.upload(&dst)?;
        dev.add_assign(&mut dd, &dev.upload(&src)?)?;
        Ok(vec![out(
            "dst",
            dev.download(&dd)?,
            reference::add_assign(&f64s(&dst), &f64s(&src))?,
        )])
    }
}

/// Scaled accumulation by a factor in device memory; parameters (length, factor).
pub struct AddScaled;

impl Op for AddScaled {
    const NAME: &'static str = "add_scaled";
    const FAMILY: &'static str = "elementwise";
    const METHODS: &'static [(&'static str, &'static str)] = &[("add_scaled", "dst")];
    type Params = (usize, f32);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (len, alpha, quick) in [(1, 1e4, false), (4097, -0.37, true), (70_001, 3e-3, false)] {
            v.push(OpCase {
                shape: format!("len {len} alpha {alpha:e}"),
                params: (len, alpha),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (len, alpha) = *p;
        let (dst, src) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
        let mut dd = dev.upload(&dst)?;
        dev.add_scaled(&mut dd, &dev.upload(&src)?, &dev.upload(&[alpha])?)?;
        Ok(vec![out(
            "dst",
            dev.download(&dd)?,
            reference::add_scaled(&f64s(&dst), &f64s(&src), f64::from(alpha))?,
        )])
    }
}

/// Scaling in place; parameters (length, factor).
pub struct Scale;

impl Op for Scale {
    const NAME: &'static str = "scale";
    const FAMILY: &'static str = "elementwise";
    const METHODS: &'static [(&'static str, &'static str)] = &[("scale", "x")];
    type Params = (usize, f32);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (len, factor, quick) in [(1, -2.5, false), (4097, 0.37, true), (70_001, 1e-3, false)] {
            v.push(OpCase {
                shape: format!("len {len} factor {factor:e}"),
                params: (len, factor),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (len, factor) = *p;
        let x = rng.vec(len, -1.0, 1.0);
        let mut xd = dev.upload(&x)?;
        dev.scale(&mut xd, factor)?;
        Ok(vec![out(
            "x",
            dev.download(&xd)?,
            reference::scale(&f64s(&x), factor as f64),
        )])
    }
}
