//! Launch code of kernels/concat.cu: the channel concatenation of the U-Net's skip
//! connections and its split in the backward pass.

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{CONCAT_CHANNELS, CONCAT_CHANNELS_H16, SPLIT_CHANNELS};
use crate::ops::{check_len, ConcatShape};
use crate::Result;

/// The kernels' size arguments: total elements, and the per-image elements of a and b.
fn sizes(op: &'static str, s: &ConcatShape) -> Result<[i32; 3]> {
    s.validate()?;
    Ok([
        to_i32(op, s.y_len())?,
        to_i32(op, s.c_a * s.plane)?,
        to_i32(op, s.c_b * s.plane)?,
    ])
}

/// [`Device::concat_channels`](crate::device::Device::concat_channels).
pub(crate) fn concat_channels<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &ConcatShape,
    a: &E::Buf,
    b: &E::Buf,
    y: &mut E::Buf,
) -> Result<()> {
    let op = "concat_channels";
    let [total, a_len, b_len] = sizes(op, s)?;
    check_len(op, "a", dev.exec().len(a), s.a_len())?;
    check_len(op, "b", dev.exec().len(b), s.b_len())?;
    check_len(op, "y", dev.exec().len(y), s.y_len())?;
    // A copy: the 16-bit instance needs no format.
    let (kernel, _) = dev.storage_kernel(&CONCAT_CHANNELS, &CONCAT_CHANNELS_H16);
    dev.exec().launch(
        kernel,
        elementwise(s.y_len()),
        &mut [
            Arg::In("a", a),
            Arg::In("b", b),
            Arg::Out("y", y),
            Arg::I32("total", total),
            Arg::I32("a_len", a_len),
            Arg::I32("b_len", b_len),
        ],
    )
}

/// [`Device::split_channels`](crate::device::Device::split_channels).
pub(crate) fn split_channels<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &ConcatShape,
    dy: &E::Buf,
    da: &mut E::Buf,
    db: &mut E::Buf,
) -> Result<()> {
    let op = "split_channels";
    let [total, a_len, b_len] = sizes(op, s)?;
    check_len(op, "dy", dev.exec().len(dy), s.y_len())?;
    check_len(op, "da", dev.exec().len(da), s.a_len())?;
    check_len(op, "db", dev.exec().len(db), s.b_len())?;
    dev.exec().launch(
        &SPLIT_CHANNELS,
        elementwise(s.y_len()),
        &mut [
            Arg::In("dy", dy),
            Arg::Out("da", da),
            Arg::Out("db", db),
            Arg::I32("total", total),
            Arg::I32("a_len", a_len),
            Arg::I32("b_len", b_len),
        ],
    )
}
