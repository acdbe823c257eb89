//! Launch code of 2×2 stride-2 max pooling (kernels/max_pool2d.cu).

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{MAX_POOL2D_BACKWARD, MAX_POOL2D_FORWARD, MAX_POOL2D_FORWARD_H16};
use crate::ops::{check_len, Act, Pool2dShape};
use crate::Result;

/// [`Device::max_pool2d_forward`](crate::device::Device::max_pool2d_forward): one thread
/// per output element.
pub(crate) fn max_pool2d_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Pool2dShape,
    x: &E::Buf,
    y: &mut E::Buf,
) -> Result<()> {
    let op = "max_pool2d_forward";
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.x_len())?;
    check_len(op, "y", dev.exec().len(y), s.y_len())?;
    to_i32(op, s.x_len())?;
    if s.y_len() == 0 {
        return Ok(());
    }
    let (kernel, fmt) = dev.storage_kernel(&MAX_POOL2D_FORWARD, &MAX_POOL2D_FORWARD_H16);
    let mut args = vec![
        Arg::In("x", x),
        Arg::Out("y", y),
        Arg::I32("planes", to_i32(op, s.n * s.c)?),
        Arg::I32("h", to_i32(op, s.h)?),
        Arg::I32("wd", to_i32(op, s.w)?),
    ];
    args.extend(fmt.map(|f| Arg::I32("fmt", f)));
    dev.exec().launch(kernel, elementwise(s.y_len()), &mut args)
}

/// [`Device::max_pool2d_backward`](crate::device::Device::max_pool2d_backward) and, with
/// `accumulate`, [`Device::max_pool2d_backward_add`](crate::device::Device::max_pool2d_backward_add):
/// one thread per 2×2 block of dx, each recomputing its window's first maximum from x and
/// applying `act`'s derivative there (with `accumulate`, to each element's sum).
pub(crate) fn max_pool2d_backward<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Pool2dShape,
    x: &E::Buf,
    dy: &E::Buf,
    act: Act,
    accumulate: bool,
    dx: &mut E::Buf,
) -> Result<()> {
    max_pool2d_backward_slices(dev, s, x, (dy, 1), act, accumulate, dx)
}

/// [`max_pool2d_backward`] of a gradient `dy` given as `slices` partial sums (a split-K
/// convolution's, `slices × s.y_len()` values), added in the pass in the order
/// `sum_slices` adds them: the same bits as that launch and this op's.
pub(crate) fn max_pool2d_backward_slices<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Pool2dShape,
    x: &E::Buf,
    (dy, slices): (&E::Buf, usize),
    act: Act,
    accumulate: bool,
    dx: &mut E::Buf,
) -> Result<()> {
    let op = if accumulate {
        "max_pool2d_backward_add"
    } else {
        "max_pool2d_backward"
    };
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.x_len())?;
    check_len(op, "dy", dev.exec().len(dy), slices * s.y_len())?;
    to_i32(op, slices * s.y_len())?;
    check_len(op, "dx", dev.exec().len(dx), s.x_len())?;
    if s.x_len() == 0 {
        return Ok(());
    }
    let (act_kind, slope) = act.code();
    // A thread per 2×2 block of dx (kernels/max_pool2d.cu).
    let blocks = s.n * s.c * s.h.div_ceil(2) * s.w.div_ceil(2);
    dev.exec().launch(
        &MAX_POOL2D_BACKWARD,
        elementwise(blocks),
        &mut [
            Arg::In("x", x),
            Arg::In("dy", dy),
            Arg::Out("dx", dx),
            Arg::I32("planes", to_i32(op, s.n * s.c)?),
            Arg::I32("h", to_i32(op, s.h)?),
            Arg::I32("wd", to_i32(op, s.w)?),
            Arg::I32("act", act_kind),
            Arg::F32("slope", slope),
            Arg::I32("accumulate", i32::from(accumulate)),
            Arg::I32("slices", to_i32(op, slices.max(1))?),
        ],
    )
}
