//! The parity cases of the optim family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::{AdamParams, SgdParams};
use crate::device::Device;
use crate::ops::registry::{no_part, BenchRun, Op, OpBench, OpCase, STEP};
use crate::selftest::{f64s, out, Output, Rng};
use crate::Result;

/// SGD steps; parameters (hyperparameters, steps, length).
pub struct SgdStep;

impl Op for SgdStep {
    const NAME: &'static str = "sgd_step";
    const FAMILY: &'static str = "optim";
    const METHODS: &'static [(&'static str, &'static str)] = &[("sgd_step", "mom")];
    type Params = (SgdParams, u64, usize);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        let sgd = |lr, momentum, weight_decay| SgdParams {
            lr,
            momentum,
            weight_decay,
        };
        for (hp, steps, len, quick) in [
            (sgd(0.05, 0.9, 0.0), 1, 1000, true),
            (sgd(0.05, 0.9, 1e-2), 3, 1001, true),
            (sgd(2e-4, 0.9, 0.0), 3, 1, false),
        ] {
            let shape = format!(
                "lr {:e} μ {} wd {:e} t=1..{steps} len {len}",
                hp.lr, hp.momentum, hp.weight_decay
            );
            v.push(OpCase {
                shape,
                params: (hp, steps, len),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (hp, steps, len) = *p;
        let p0 = rng.vec(len, -1.0, 1.0);
        let (mut p, mut mom) = (dev.upload(&p0)?, dev.alloc_zeros(len)?);
        let (mut rp, mut rmom) = (f64s(&p0), vec![0.0; len]);
        for _ in 0..steps {
            let g = rng.vec(len, -1.0, 1.0);
            dev.sgd_step(&hp, &mut p, &dev.upload(&g)?, &mut mom)?;
            (rp, rmom) = reference::sgd_step(&hp, &rp, &f64s(&g), &rmom)?;
        }
        Ok(vec![
            out("p", dev.download(&p)?, rp),
            out("mom", dev.download(&mom)?, rmom),
        ])
    }
}

/// Adam steps; parameters (hyperparameters, steps, length).
pub struct AdamStep;

impl Op for AdamStep {
    const NAME: &'static str = "adam_step";
    const FAMILY: &'static str = "optim";
    const METHODS: &'static [(&'static str, &'static str)] = &[("adam_step", "v")];
    type Params = (AdamParams, u64, usize);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        let adam = |lr, weight_decay| AdamParams {
            lr,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        };
        for (hp, steps, len, quick) in [
            (adam(0.05, 0.0), 1, 1000, true),
            (adam(0.05, 1e-2), 3, 1001, true),
            (adam(2e-4, 0.0), 3, 7, false),
        ] {
            let shape = format!(
                "lr {:e} wd {:e} t=1..{steps} len {len}",
                hp.lr, hp.weight_decay
            );
            v.push(OpCase {
                shape,
                params: (hp, steps, len),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (hp, steps, len) = *p;
        let p0 = rng.vec(len, -1.0, 1.0);
        let (mut p, mut m, mut v) = (
            dev.upload(&p0)?,
            dev.alloc_zeros(len)?,
            dev.alloc_zeros(len)?,
        );
        let (mut rp, mut rm, mut rv) = (f64s(&p0), vec![0.0; len], vec![0.0; len]);
        for t in 1..=steps {
            let g = rng.vec(len, -1.0, 1.0);
            let bias = dev.upload(&hp.step_scalars(t)?)?;
            dev.adam_step(&hp, &bias, &mut p, &dev.upload(&g)?, &mut m, &mut v)?;
            (rp, rm, rv) = reference::adam_step(&hp, t, &rp, &f64s(&g), &rm, &rv)?;
        }
        Ok(vec![
            out("p", dev.download(&p)?, rp),
            out("m", dev.download(&m)?, rm),
            out("v", dev.download(&v)?, rv),
        ])
    }

    fn benches() -> Vec<OpBench<Self::Params>> {
        // An Adam step (t = 3) over the seed generator's parameter count (about 250k).
        let hp = AdamParams {
            lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        let len = 250_000;
        let name = "adam 250k".into();
        vec![OpBench {
            group: "optim",
            name,
            params: (hp, 3, len),
            work: len as u64,
            parts: STEP,
        }]
    }

    fn bench_part<'a, D: Device>(
        dev: &'a D,
        p: &Self::Params,
        part: &str,
        rng: &mut Rng,
    ) -> Result<BenchRun<'a>> {
        let (hp, t, len) = *p;
        if part != "step" {
            return Err(no_part(Self::NAME, part));
        }
        let (mut p, g) = (
            dev.upload(&rng.vec(len, -1.0, 1.0))?,
            dev.upload(&rng.vec(len, -1.0, 1.0))?,
        );
        let (mut m, mut v) = (dev.alloc_zeros(len)?, dev.alloc_zeros(len)?);
        let bias = dev.upload(&hp.step_scalars(t)?)?;
        Ok(Box::new(move || {
            dev.adam_step(&hp, &bias, &mut p, &g, &mut m, &mut v)
        }))
    }
}
