//! Launch code of the losses, the L2 penalty, the plain sum and the sum of squares
//! (kernels/loss.cu,
//! reduce.cu): each writes its elementwise gradient and per-block partial sums in one
//! launch, then `reduce_partials` adds the partials into the one-element output in a
//! fixed order.

use super::launch::to_i32;
use super::{Arg, GpuDevice, KernelExec};
use crate::kernels::{BCE_WITH_LOGITS, L2_PENALTY, MSE, SUM_PARTIALS, SUM_SQUARES_PARTIALS};
use crate::ops::check_len;
use crate::Result;

/// [`Device::bce_with_logits`](crate::device::Device::bce_with_logits).
pub(super) fn bce_with_logits<E: KernelExec>(
    dev: &GpuDevice<E>,
    z: &E::Buf,
    target: f32,
    scale: f32,
    loss: &mut E::Buf,
    dz: &mut E::Buf,
) -> Result<()> {
    let op = "bce_with_logits";
    let n = dev.exec.len(z);
    check_len(op, "loss", dev.exec.len(loss), 1)?;
    check_len(op, "dz", dev.exec.len(dz), n)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, loss, true, |partials, cfg| {
        dev.exec.launch(
            &BCE_WITH_LOGITS,
            cfg,
            &mut [
                Arg::In("z", z),
                Arg::Out("dz", dz),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::F32("target", target),
                Arg::F32("scale", scale),
            ],
        )
    })
}

/// [`Device::mse`](crate::device::Device::mse).
pub(super) fn mse<E: KernelExec>(
    dev: &GpuDevice<E>,
    a: &E::Buf,
    b: &E::Buf,
    scale: f32,
    loss: &mut E::Buf,
    da: &mut E::Buf,
) -> Result<()> {
    let op = "mse";
    let n = dev.exec.len(a);
    check_len(op, "b", dev.exec.len(b), n)?;
    check_len(op, "loss", dev.exec.len(loss), 1)?;
    check_len(op, "da", dev.exec.len(da), n)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, loss, true, |partials, cfg| {
        dev.exec.launch(
            &MSE,
            cfg,
            &mut [
                Arg::In("a", a),
                Arg::In("b", b),
                Arg::Out("da", da),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::F32("scale", scale),
            ],
        )
    })
}

/// [`Device::l2_penalty`](crate::device::Device::l2_penalty).
pub(super) fn l2_penalty<E: KernelExec>(
    dev: &GpuDevice<E>,
    w: &E::Buf,
    scale: f32,
    loss: &mut E::Buf,
    dw: &mut E::Buf,
) -> Result<()> {
    let op = "l2_penalty";
    let n = dev.exec.len(w);
    check_len(op, "loss", dev.exec.len(loss), 1)?;
    check_len(op, "dw", dev.exec.len(dw), n)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, loss, true, |partials, cfg| {
        dev.exec.launch(
            &L2_PENALTY,
            cfg,
            &mut [
                Arg::In("w", w),
                Arg::Out("dw", dw),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::F32("scale", scale),
            ],
        )
    })
}

/// [`Device::sum`](crate::device::Device::sum).
pub(super) fn sum<E: KernelExec>(dev: &GpuDevice<E>, x: &E::Buf, out: &mut E::Buf) -> Result<()> {
    let op = "sum";
    let n = dev.exec.len(x);
    check_len(op, "out", dev.exec.len(out), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, out, false, |partials, cfg| {
        dev.exec.launch(
            &SUM_PARTIALS,
            cfg,
            &mut [
                Arg::In("x", x),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
            ],
        )
    })
}

/// [`Device::sum_squares`](crate::device::Device::sum_squares): partials of Σ x², added
/// to `out[0]`.
pub(super) fn sum_squares<E: KernelExec>(
    dev: &GpuDevice<E>,
    x: &E::Buf,
    out: &mut E::Buf,
) -> Result<()> {
    let op = "sum_squares";
    let n = dev.exec.len(x);
    check_len(op, "out", dev.exec.len(out), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, out, true, |partials, cfg| {
        dev.exec.launch(
            &SUM_SQUARES_PARTIALS,
            cfg,
            &mut [
                Arg::In("x", x),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
            ],
        )
    })
}
