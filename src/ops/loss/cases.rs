//! The parity cases of the loss family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use crate::device::Device;
use crate::ops::registry::{Op, OpCase};
use crate::selftest::{f64s, junk, out, Output, Rng};
use crate::Result;

/// BCE with logits; parameters (length, target, logits of that target (the rest take
/// 1 − target), scale).
pub struct BceWithLogits;

impl Op for BceWithLogits {
    const NAME: &'static str = "bce_with_logits";
    const FAMILY: &'static str = "loss";
    const METHODS: &'static [(&'static str, &'static str)] = &[("bce_with_logits", "dz")];
    type Params = (usize, f32, usize, f32);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (len, target, first, scale, quick) in [
            (1, 1.0, 1, 1.0, false),
            (16, 0.0, 16, 1.0 / 16.0, true),
            (1001, 1.0, 1001, 0.5, true),
            (37, 0.9, 37, 2.0, false),
            // The D step: 16 real then 16 generated windows.
            (32, 1.0, 16, 1.0 / 16.0, true),
            (1001, 0.9, 500, 0.5, false),
            (5, 1.0, 0, 1.0, false),
        ] {
            v.push(OpCase {
                shape: format!("len {len} t={target} first {first} scale {scale}"),
                params: (len, target, first, scale),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (len, target, first, scale) = *p;
        // Mostly moderate logits, with some far in both tails (|z| up to 1e4).
        let z: Vec<f32> = (0..len)
            .map(|i| match i % 7 {
                3 => rng.uniform(5e3, 1e4) * if i % 2 == 0 { 1.0 } else { -1.0 },
                5 => rng.uniform(-60.0, 60.0),
                _ => rng.uniform(-6.0, 6.0),
            })
            .collect();
        let loss0 = rng.uniform(0.0, 1.0);
        let zd = dev.upload(&z)?;
        let mut loss = dev.upload(&[loss0])?;
        let mut dz = junk(dev, rng, len)?;
        dev.bce_with_logits(&zd, target, first, scale, &mut loss, &mut dz)?;
        let (rl, rdz) = reference::bce_with_logits(
            &f64s(&z),
            target as f64,
            first,
            scale as f64,
            loss0 as f64,
        )?;
        Ok(vec![
            out("loss", dev.download(&loss)?, vec![rl]),
            out("dz", dev.download(&dz)?, rdz),
        ])
    }
}

/// Squared error; parameters (length, scale).
pub struct Mse;

impl Op for Mse {
    const NAME: &'static str = "mse";
    const FAMILY: &'static str = "loss";
    const METHODS: &'static [(&'static str, &'static str)] = &[("mse", "loss")];
    type Params = (usize, f32);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (len, scale, quick) in [
            (1, 1.0, false),
            (3315, 1.0 / 3315.0, true),
            (24576, 100.0, false),
        ] {
            v.push(OpCase {
                shape: format!("len {len} scale {scale:e}"),
                params: (len, scale),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (len, scale) = *p;
        let (a, b) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
        let loss0 = rng.uniform(0.0, 1.0);
        let (ad, bd) = (dev.upload(&a)?, dev.upload(&b)?);
        let mut loss = dev.upload(&[loss0])?;
        let mut da = junk(dev, rng, len)?;
        dev.mse(&ad, &bd, scale, &mut loss, &mut da)?;
        let (rl, rda) = reference::mse(&f64s(&a), &f64s(&b), scale as f64, loss0 as f64)?;
        Ok(vec![
            out("loss", dev.download(&loss)?, vec![rl]),
            out("da", dev.download(&da)?, rda),
        ])
    }
}

/// The L2 penalty; parameters (length, scale).
pub struct L2Penalty;

impl Op for L2Penalty {
    const NAME: &'static str = "l2_penalty";
    const FAMILY: &'static str = "loss";
    const METHODS: &'static [(&'static str, &'static str)] = &[("l2_penalty", "dw")];
    type Params = (usize, f32);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        for (len, scale, quick) in [(1, 1.0, false), (2593, 1e-4, true), (83000, 0.5, false)] {
            v.push(OpCase {
                shape: format!("len {len} scale {scale:e}"),
                params: (len, scale),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (len, scale) = *p;
        let (w, dw0) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
        let loss0 = rng.uniform(0.0, 1.0);
        let wd = dev.upload(&w)?;
        let mut loss = dev.upload(&[loss0])?;
        let mut dw = dev.upload(&dw0)?;
        dev.l2_penalty(&wd, scale, &mut loss, &mut dw)?;
        let (rl, rdw) = reference::l2_penalty(&f64s(&w), scale as f64, loss0 as f64, &f64s(&dw0))?;
        Ok(vec![
            out("loss", dev.download(&loss)?, vec![rl]),
            out("dw", dev.download(&dw)?, rdw),
        ])
    }
}
