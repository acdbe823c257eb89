//! The parity cases of the reduce family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::selftest::{f64s, junk, out, Output, Rng};
use crate::Result;

/// The plain sum; parameters: the length.
pub struct Sum;

impl Op for Sum {
    const NAME: &'static str = "sum";
    const FAMILY: &'static str = "reduce";
    const METHODS: &'static [(&'static str, &'static str)] = &[("sum", "sum")];
    type Params = usize;

    fn cases() -> Vec<OpCase<Self::Params>> {
        OpCase::lengths(&[(1, false), (1000, true), (100_003, true)])
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let len = *p;
        let x = rng.vec(len, -0.5, 1.0);
        let xd = dev.upload(&x)?;
        let mut s = junk(dev, rng, 1)?;
        dev.sum(&xd, &mut s)?;
        Ok(vec![out(
            "sum",
            dev.download(&s)?,
            vec![reference::sum(&f64s(&x))],
        )])
    }
}

/// The sum of squares; parameters: the length.
pub struct SumSquares;

impl Op for SumSquares {
    const NAME: &'static str = "sum_squares";
    const FAMILY: &'static str = "reduce";
    const METHODS: &'static [(&'static str, &'static str)] = &[("sum_squares", "out")];
    type Params = usize;

    fn cases() -> Vec<OpCase<Self::Params>> {
        OpCase::lengths(&[(1, false), (2593, true), (100_003, false)])
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let len = *p;
        let x = rng.vec(len, -1.0, 1.0);
        let out0 = rng.uniform(0.0, 1.0);
        let xd = dev.upload(&x)?;
        let mut o = dev.upload(&[out0])?;
        dev.sum_squares(&xd, &mut o)?;
        Ok(vec![out(
            "out",
            dev.download(&o)?,
            vec![reference::sum_squares(&f64s(&x), out0 as f64)],
        )])
    }
}
