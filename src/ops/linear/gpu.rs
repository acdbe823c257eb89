//! Launch code of the linear layer (kernels/linear.cu; its bias gradient uses
//! reduce.cu's `channel_sum`).

use crate::device::gpu::launch::{elementwise, grid_yz, reduce_threads, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec, LaunchConfig};
use crate::kernels::{LINEAR_BACKWARD_INPUT, LINEAR_BACKWARD_WEIGHT, LINEAR_FORWARD};
use crate::ops::reduce::gpu::channel_sum;
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

/// [`Device::linear_backward`](crate::device::Device::linear_backward): dx and dw one
/// thread per element, db one block per output feature.
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
    check_len(op, "x", dev.exec().len(x), s.n * s.k)?;
    check_len(op, "w", dev.exec().len(w), s.m * s.k)?;
    check_len(op, "dy", dev.exec().len(dy), s.n * s.m)?;
    check_len(op, "dw", dev.exec().len(dw), s.m * s.k)?;
    check_len(op, "db", dev.exec().len(db), s.m)?;
    if let Some(dx) = &dx {
        check_len(op, "dx", dev.exec().len(dx), s.n * s.k)?;
    }
    check_sizes(op, s)?;
    let (n, k, m) = (to_i32(op, s.n)?, to_i32(op, s.k)?, to_i32(op, s.m)?);
    if let Some(dx) = dx {
        if s.n * s.k > 0 {
            dev.exec().launch(
                &LINEAR_BACKWARD_INPUT,
                elementwise(s.n * s.k),
                &mut [
                    Arg::In("dy", dy),
                    Arg::In("w", w),
                    Arg::Out("dx", dx),
                    Arg::I32("n", n),
                    Arg::I32("k", k),
                    Arg::I32("m", m),
                ],
            )?;
        }
    }
    if s.m * s.k > 0 {
        dev.exec().launch(
            &LINEAR_BACKWARD_WEIGHT,
            elementwise(s.m * s.k),
            &mut [
                Arg::In("dy", dy),
                Arg::In("x", x),
                Arg::Out("dw", dw),
                Arg::I32("n", n),
                Arg::I32("k", k),
                Arg::I32("m", m),
            ],
        )?;
    }
    if s.m == 0 {
        return Ok(());
    }
    channel_sum(dev, op, (s.n, s.m, 1), dy, db)
}
