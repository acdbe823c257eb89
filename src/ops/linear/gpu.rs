//! Launch code of the linear layer (kernels/linear.cu).

use crate::device::gpu::launch::{elementwise, grid_yz, reduce_threads, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec, LaunchConfig};
use crate::kernels::{LINEAR_BACKWARD, LINEAR_FORWARD};
use crate::ops::{check_len, LinearShape};
use crate::Result;

/// Checks that the element counts of x, w and y fit the kernels' `int` indices.
fn check_sizes(op: &'static str, s: &LinearShape) -> Result<()> {
    to_i32(op, s.n * s.k)?;
    to_i32(op, s.m * s.k)?;
    to_i32(op, s.n * s.m)?;
    Ok(())
}

/// [`Device::linear_forward`](crate::device::Device::linear_forward): one block per output.
pub(crate) fn linear_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &LinearShape,
    x: &E::Buf,
    w: &E::Buf,
    b: &E::Buf,
    y: &mut E::Buf,
) -> Result<()> {
    let op = "linear_forward";
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.n * s.k)?;
    check_len(op, "w", dev.exec().len(w), s.m * s.k)?;
    check_len(op, "b", dev.exec().len(b), s.m)?;
    check_len(op, "y", dev.exec().len(y), s.n * s.m)?;
    check_sizes(op, s)?;
    if s.n == 0 || s.m == 0 {
        return Ok(());
    }
    let cfg = LaunchConfig {
        grid: (to_i32(op, s.m)? as u32, grid_yz(op, "batch", s.n)?, 1),
        block: (reduce_threads(s.k), 1, 1),
        shared_bytes: 0,
    };
    dev.exec().launch(
        &LINEAR_FORWARD,
        cfg,
        &mut [
            Arg::In("x", x),
            Arg::In("w", w),
            Arg::In("b", b),
            Arg::Out("y", y),
            Arg::I32("k", to_i32(op, s.k)?),
            Arg::I32("m", to_i32(op, s.m)?),
        ],
    )
}

/// [`Device::linear_backward`](crate::device::Device::linear_backward): dx, dw and db in
/// one launch, a thread per element.
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear_backward<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &LinearShape,
    x: &E::Buf,
    w: &E::Buf,
    dy: &E::Buf,
    dx: Option<&mut E::Buf>,
    dw: &mut E::Buf,
    db: &mut E::Buf,
) -> Result<()> {
    let op = "linear_backward";
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.n * s.k)?;
    check_len(op, "w", dev.exec().len(w), s.m * s.k)?;
    check_len(op, "dy", dev.exec().len(dy), s.n * s.m)?;
    check_len(op, "dw", dev.exec().len(dw), s.m * s.k)?;
    check_len(op, "db", dev.exec().len(db), s.m)?;
    if let Some(dx) = &dx {
        check_len(op, "dx", dev.exec().len(dx), s.n * s.k)?;
    }
    check_sizes(op, s)?;
    let has_dx = dx.is_some();
    let total = if has_dx { s.n * s.k } else { 0 } + s.m * s.k + s.m;
    if total == 0 {
        return Ok(());
    }
    to_i32(op, total)?;
    // Without dx a 1-element scratch stands in (not written).
    let Some(dx) = dx else {
        return dev.with_split_scratch(1, |unused| {
            launch_backward(dev, op, s, (x, w, dy), (unused, false), dw, db)
        });
    };
    launch_backward(dev, op, s, (x, w, dy), (dx, true), dw, db)
}

/// The `linear_backward` launch (see [`linear_backward`]).
fn launch_backward<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    s: &LinearShape,
    (x, w, dy): (&E::Buf, &E::Buf, &E::Buf),
    (dx, has_dx): (&mut E::Buf, bool),
    dw: &mut E::Buf,
    db: &mut E::Buf,
) -> Result<()> {
    let total = if has_dx { s.n * s.k } else { 0 } + s.m * s.k + s.m;
    dev.exec().launch(
        &LINEAR_BACKWARD,
        elementwise(total),
        &mut [
            Arg::In("dy", dy),
            Arg::In("x", x),
            Arg::In("w", w),
            Arg::Out("dx", dx),
            Arg::Out("dw", dw),
            Arg::Out("db", db),
            Arg::I32("n", to_i32(op, s.n)?),
            Arg::I32("k", to_i32(op, s.k)?),
            Arg::I32("m", to_i32(op, s.m)?),
            Arg::I32("has_dx", i32::from(has_dx)),
        ],
    )
}
