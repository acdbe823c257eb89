//! Launch code of the losses and the L2 penalty (kernels/loss.cu): each writes its
//! elementwise gradient and per-block partial sums in one launch, then `reduce_partials`
//! ([`crate::ops::reduce`]) adds the partials into the one-element loss in a fixed order.

use crate::device::gpu::launch::to_i32;
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{BCE_WITH_LOGITS, L2_PENALTY, MSE};
use crate::ops::check_len;
use crate::ops::loss::check_first;
use crate::Result;

/// [`Device::bce_with_logits`](crate::device::Device::bce_with_logits).
pub(crate) fn bce_with_logits<E: KernelExec>(
    dev: &GpuDevice<E>,
    z: &E::Buf,
    target: f32,
    first: usize,
    scale: f32,
    loss: &mut E::Buf,
    dz: &mut E::Buf,
) -> Result<()> {
    let op = "bce_with_logits";
    let n = dev.exec().len(z);
    check_len(op, "loss", dev.exec().len(loss), 1)?;
    check_len(op, "dz", dev.exec().len(dz), n)?;
    check_first(op, first, n)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, loss, true, |partials, cfg, accumulate| {
        dev.exec().launch(
            &BCE_WITH_LOGITS,
            cfg,
            &mut [
                Arg::In("z", z),
                Arg::Out("dz", dz),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::F32("target", target),
                Arg::I32("first", n_i32.min(first as i32)),
                Arg::F32("scale", scale),
                Arg::I32("accumulate", i32::from(accumulate)),
            ],
        )
    })
}

/// [`Device::mse`](crate::device::Device::mse).
pub(crate) fn mse<E: KernelExec>(
    dev: &GpuDevice<E>,
    a: &E::Buf,
    b: &E::Buf,
    scale: f32,
    loss: &mut E::Buf,
    da: &mut E::Buf,
) -> Result<()> {
    let op = "mse";
    let n = dev.exec().len(a);
    check_len(op, "b", dev.exec().len(b), n)?;
    check_len(op, "loss", dev.exec().len(loss), 1)?;
    check_len(op, "da", dev.exec().len(da), n)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, loss, true, |partials, cfg, accumulate| {
        dev.exec().launch(
            &MSE,
            cfg,
            &mut [
                Arg::In("a", a),
                Arg::In("b", b),
                Arg::Out("da", da),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::F32("scale", scale),
                Arg::I32("accumulate", i32::from(accumulate)),
            ],
        )
    })
}

/// [`Device::l2_penalty`](crate::device::Device::l2_penalty).
pub(crate) fn l2_penalty<E: KernelExec>(
    dev: &GpuDevice<E>,
    w: &E::Buf,
    scale: f32,
    loss: &mut E::Buf,
    dw: &mut E::Buf,
) -> Result<()> {
    let op = "l2_penalty";
    let n = dev.exec().len(w);
    check_len(op, "loss", dev.exec().len(loss), 1)?;
    check_len(op, "dw", dev.exec().len(dw), n)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, loss, true, |partials, cfg, accumulate| {
        dev.exec().launch(
            &L2_PENALTY,
            cfg,
            &mut [
                Arg::In("w", w),
                Arg::Out("dw", dw),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::F32("scale", scale),
                Arg::I32("accumulate", i32::from(accumulate)),
            ],
        )
    })
}
