//! Launch code of the elementwise ops (kernels/activation.cu, convex_skip.cu):
//! activation backward, gradient accumulation, scaling and the fused convex skip.

use super::launch::{elementwise, to_i32};
use super::{Arg, GpuDevice, KernelExec};
use crate::kernels::{
    ACT_BACKWARD, ADD_ASSIGN, CONVEX_SKIP_BACKWARD, CONVEX_SKIP_FORWARD, SCALE_IN_PLACE,
};
use crate::ops::{check_len, Act};
use crate::Result;

/// [`Device::act_backward`](crate::device::Device::act_backward).
pub(super) fn act_backward<E: KernelExec>(
    dev: &GpuDevice<E>,
    act: Act,
    y: &E::Buf,
    dy: &mut E::Buf,
) -> Result<()> {
    let op = "act_backward";
    let n = dev.exec.len(y);
    check_len(op, "dy", dev.exec.len(dy), n)?;
    if n == 0 {
        return Ok(());
    }
    let (kind, slope) = act.code();
    dev.exec.launch(
        &ACT_BACKWARD,
        elementwise(n),
        &mut [
            Arg::In("y", y),
            Arg::Out("dy", dy),
            Arg::I32("n", to_i32(op, n)?),
            Arg::I32("act", kind),
            Arg::F32("slope", slope),
        ],
    )
}

/// [`Device::add_assign`](crate::device::Device::add_assign).
pub(super) fn add_assign<E: KernelExec>(
    dev: &GpuDevice<E>,
    dst: &mut E::Buf,
    src: &E::Buf,
) -> Result<()> {
    let op = "add_assign";
    let n = dev.exec.len(dst);
    check_len(op, "src", dev.exec.len(src), n)?;
    if n == 0 {
        return Ok(());
    }
    dev.exec.launch(
        &ADD_ASSIGN,
        elementwise(n),
        &mut [
            Arg::Out("dst", dst),
            Arg::In("src", src),
            Arg::I32("n", to_i32(op, n)?),
        ],
    )
}

/// [`Device::scale`](crate::device::Device::scale).
pub(super) fn scale<E: KernelExec>(dev: &GpuDevice<E>, x: &mut E::Buf, factor: f32) -> Result<()> {
    let op = "scale";
    let n = dev.exec.len(x);
    if n == 0 {
        return Ok(());
    }
    dev.exec.launch(
        &SCALE_IN_PLACE,
        elementwise(n),
        &mut [
            Arg::Out("x", x),
            Arg::I32("n", to_i32(op, n)?),
            Arg::F32("factor", factor),
        ],
    )
}

/// [`Device::convex_skip_forward`](crate::device::Device::convex_skip_forward).
pub(super) fn convex_skip_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    theta: &E::Buf,
    a: &E::Buf,
    b: &E::Buf,
    u: &mut E::Buf,
) -> Result<()> {
    let op = "convex_skip_forward";
    let n = dev.exec.len(a);
    check_len(op, "theta", dev.exec.len(theta), 1)?;
    check_len(op, "b", dev.exec.len(b), n)?;
    check_len(op, "u", dev.exec.len(u), n)?;
    if n == 0 {
        return Ok(());
    }
    dev.exec.launch(
        &CONVEX_SKIP_FORWARD,
        elementwise(n),
        &mut [
            Arg::In("theta", theta),
            Arg::In("a", a),
            Arg::In("b", b),
            Arg::Out("u", u),
            Arg::I32("n", to_i32(op, n)?),
        ],
    )
}

/// [`Device::convex_skip_backward`](crate::device::Device::convex_skip_backward): da, db
/// and per-block partial sums of dθ in one launch, then the fixed-order final sum.
#[allow(clippy::too_many_arguments)]
pub(super) fn convex_skip_backward<E: KernelExec>(
    dev: &GpuDevice<E>,
    theta: &E::Buf,
    a: &E::Buf,
    b: &E::Buf,
    du: &E::Buf,
    da: &mut E::Buf,
    db: &mut E::Buf,
    dtheta: &mut E::Buf,
) -> Result<()> {
    let op = "convex_skip_backward";
    let n = dev.exec.len(a);
    check_len(op, "theta", dev.exec.len(theta), 1)?;
    check_len(op, "b", dev.exec.len(b), n)?;
    check_len(op, "du", dev.exec.len(du), n)?;
    check_len(op, "da", dev.exec.len(da), n)?;
    check_len(op, "db", dev.exec.len(db), n)?;
    check_len(op, "dtheta", dev.exec.len(dtheta), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, dtheta, false, |partials, cfg| {
        dev.exec.launch(
            &CONVEX_SKIP_BACKWARD,
            cfg,
            &mut [
                Arg::In("theta", theta),
                Arg::In("a", a),
                Arg::In("b", b),
                Arg::In("du", du),
                Arg::Out("da", da),
                Arg::Out("db", db),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
            ],
        )
    })
}
