//! Launch code of the optimizer updates (kernels/optim.cu).

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{ADAM_STEP, SGD_STEP};
use crate::ops::{check_len, shape_err, AdamParams, SgdParams};
use crate::Result;

/// [`Device::sgd_step`](crate::device::Device::sgd_step).
pub(crate) fn sgd_step<E: KernelExec>(
    dev: &GpuDevice<E>,
    hp: &SgdParams,
    p: &mut E::Buf,
    g: &E::Buf,
    mom: &mut E::Buf,
) -> Result<()> {
    let op = "sgd_step";
    let n = dev.exec().len(p);
    check_len(op, "g", dev.exec().len(g), n)?;
    check_len(op, "momentum buffer", dev.exec().len(mom), n)?;
    if n == 0 {
        return Ok(());
    }
    dev.exec().launch(
        &SGD_STEP,
        elementwise(n),
        &mut [
            Arg::Out("p", p),
            Arg::In("g", g),
            Arg::Out("mom", mom),
            Arg::I32("n", to_i32(op, n)?),
            Arg::F32("lr", hp.lr),
            Arg::F32("momentum", hp.momentum),
            Arg::F32("weight_decay", hp.weight_decay),
        ],
    )
}

/// [`Device::adam_step`](crate::device::Device::adam_step). The bias corrections are
/// computed in f64 on the host, as PyTorch computes them in Python floats.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_step<E: KernelExec>(
    dev: &GpuDevice<E>,
    hp: &AdamParams,
    t: u64,
    p: &mut E::Buf,
    g: &E::Buf,
    m: &mut E::Buf,
    v: &mut E::Buf,
) -> Result<()> {
    let op = "adam_step";
    if t == 0 {
        return Err(shape_err(op, "the step number t is 1-based".into()));
    }
    let n = dev.exec().len(p);
    check_len(op, "g", dev.exec().len(g), n)?;
    check_len(op, "m", dev.exec().len(m), n)?;
    check_len(op, "v", dev.exec().len(v), n)?;
    if n == 0 {
        return Ok(());
    }
    let steps = t as f64;
    let step_size = f64::from(hp.lr) / (1.0 - f64::from(hp.beta1).powf(steps));
    let bc2_sqrt = (1.0 - f64::from(hp.beta2).powf(steps)).sqrt();
    dev.exec().launch(
        &ADAM_STEP,
        elementwise(n),
        &mut [
            Arg::Out("p", p),
            Arg::In("g", g),
            Arg::Out("m", m),
            Arg::Out("v", v),
            Arg::I32("n", to_i32(op, n)?),
            Arg::F32("beta1", hp.beta1),
            Arg::F32("beta2", hp.beta2),
            Arg::F32("eps", hp.eps),
            Arg::F32("weight_decay", hp.weight_decay),
            Arg::F32("step_size", step_size as f32),
            Arg::F32("bc2_sqrt", bc2_sqrt as f32),
        ],
    )
}
