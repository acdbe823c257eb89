//! Launch code of gradient accumulation (plain and scaled) and scaling
//! (kernels/elementwise.cu).

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{ADD_ASSIGN, ADD_ASSIGN_H16, ADD_SCALED, SCALE_IN_PLACE};
use crate::ops::check_len;
use crate::Result;

/// [`Device::add_assign`](crate::device::Device::add_assign).
pub(crate) fn add_assign<E: KernelExec>(
    dev: &GpuDevice<E>,
    dst: &mut E::Buf,
    src: &E::Buf,
) -> Result<()> {
    let op = "add_assign";
    let n = dev.exec().len(dst);
    check_len(op, "src", dev.exec().len(src), n)?;
    if n == 0 {
        return Ok(());
    }
    let (kernel, fmt) = dev.storage_kernel(&ADD_ASSIGN, &ADD_ASSIGN_H16);
    let mut args = vec![
        Arg::Out("dst", dst),
        Arg::In("src", src),
        Arg::I32("n", to_i32(op, n)?),
    ];
    args.extend(fmt.map(|f| Arg::I32("fmt", f)));
    dev.exec().launch(kernel, elementwise(n), &mut args)
}

/// [`Device::add_scaled`](crate::device::Device::add_scaled).
pub(crate) fn add_scaled<E: KernelExec>(
    dev: &GpuDevice<E>,
    dst: &mut E::Buf,
    src: &E::Buf,
    alpha: &E::Buf,
) -> Result<()> {
    let op = "add_scaled";
    let n = dev.exec().len(dst);
    check_len(op, "src", dev.exec().len(src), n)?;
    check_len(op, "alpha", dev.exec().len(alpha), 1)?;
    if n == 0 {
        return Ok(());
    }
    dev.exec().launch(
        &ADD_SCALED,
        elementwise(n),
        &mut [
            Arg::Out("dst", dst),
            Arg::In("src", src),
            Arg::In("alpha", alpha),
            Arg::I32("n", to_i32(op, n)?),
        ],
    )
}

/// [`Device::scale`](crate::device::Device::scale).
pub(crate) fn scale<E: KernelExec>(dev: &GpuDevice<E>, x: &mut E::Buf, factor: f32) -> Result<()> {
    let op = "scale";
    let n = dev.exec().len(x);
    if n == 0 {
        return Ok(());
    }
    dev.exec().launch(
        &SCALE_IN_PLACE,
        elementwise(n),
        &mut [
            Arg::Out("x", x),
            Arg::I32("n", to_i32(op, n)?),
            Arg::F32("factor", factor),
        ],
    )
}
