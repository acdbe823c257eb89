//! Launch code of the optimizer updates (kernels/optim.cu).

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{ADAM_STEP, SGD_STEP};
use crate::ops::{check_len, AdamParams, SgdParams};
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

/// [`Device::adam_step`](crate::device::Device::adam_step): the step's scalars
/// ([`AdamParams::step_scalars`]) come from the two-element buffer `bias`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_step<E: KernelExec>(
    dev: &GpuDevice<E>,
    hp: &AdamParams,
    bias: &E::Buf,
    p: &mut E::Buf,
    g: &E::Buf,
    m: &mut E::Buf,
    v: &mut E::Buf,
) -> Result<()> {
    let op = "adam_step";
    check_len(op, "bias", dev.exec().len(bias), 2)?;
    let n = dev.exec().len(p);
    check_len(op, "g", dev.exec().len(g), n)?;
    check_len(op, "m", dev.exec().len(m), n)?;
    check_len(op, "v", dev.exec().len(v), n)?;
    if n == 0 {
        return Ok(());
    }
    dev.exec().launch(
        &ADAM_STEP,
        elementwise(n),
        &mut [
            Arg::Out("p", p),
            Arg::In("g", g),
            Arg::Out("m", m),
            Arg::Out("v", v),
            Arg::In("bias", bias),
            Arg::I32("n", to_i32(op, n)?),
            Arg::F32("beta1", hp.beta1),
            Arg::F32("beta2", hp.beta2),
            Arg::F32("eps", hp.eps),
            Arg::F32("weight_decay", hp.weight_decay),
        ],
    )
}
