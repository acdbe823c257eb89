//! Launch code of conv_transpose2d (kernels/conv_transpose2d.cu): the forward is the
//! transposed gather, the input gradient the correlation gather of conv2d.cu, the weight
//! gradient `conv2d_weight_grad` with the roles of x and dy swapped, the bias gradient
//! `channel_sum` (see [`crate::ops::conv2d`]'s launch code for the shared helpers).

use crate::device::gpu::{GpuDevice, KernelExec};
use crate::ops::conv2d::gpu::{gather, swapped, weight_grad, Epilogue, Gather, Geometry};
use crate::ops::reduce::gpu::channel_sum;
use crate::ops::{check_len, Act, ConvTranspose2dShape};
use crate::Result;

/// Geometry of a conv_transpose2d as the transposed gather sees it.
fn conv_transpose2d_geometry(s: &ConvTranspose2dShape) -> Geometry {
    Geometry {
        n: s.n,
        c_in: s.c_in,
        h: s.h,
        w: s.w,
        c_out: s.c_out,
        k: s.k,
        stride: s.stride,
        pad: s.pad,
        h_out: s.h_out(),
        w_out: s.w_out(),
    }
}

/// [`Device::conv_transpose2d_forward`](crate::device::Device::conv_transpose2d_forward).
pub(crate) fn conv_transpose2d_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &ConvTranspose2dShape,
    x: &E::Buf,
    w: &E::Buf,
    b: Option<&E::Buf>,
    act: Act,
    y: &mut E::Buf,
) -> Result<()> {
    let op = "conv_transpose2d_forward";
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.x_len())?;
    check_len(op, "w", dev.exec().len(w), s.w_len())?;
    if let Some(b) = b {
        check_len(op, "b", dev.exec().len(b), s.c_out)?;
    }
    check_len(op, "y", dev.exec().len(y), s.y_len())?;
    gather(
        dev,
        op,
        Gather::Transposed,
        &conv_transpose2d_geometry(s),
        (x, None),
        w,
        b,
        act,
        (y, Epilogue::Store),
    )
}

/// [`Device::conv_transpose2d_backward_input`](crate::device::Device::conv_transpose2d_backward_input).
pub(crate) fn conv_transpose2d_backward_input<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &ConvTranspose2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    dx: &mut E::Buf,
) -> Result<()> {
    let op = "conv_transpose2d_backward_input";
    backward_input(dev, op, s, w, dy, (dx, Epilogue::Store))
}

/// [`Device::conv_transpose2d_backward_input_act`](crate::device::Device::conv_transpose2d_backward_input_act):
/// the implicit GEMM applies act'(y) as it finishes dx, or `act_backward` follows.
pub(crate) fn conv_transpose2d_backward_input_act<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &ConvTranspose2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    (act, y): (Act, &E::Buf),
    dx: &mut E::Buf,
) -> Result<()> {
    let op = "conv_transpose2d_backward_input_act";
    check_len(op, "y", dev.exec().len(y), s.x_len())?;
    backward_input(dev, op, s, w, dy, (dx, Epilogue::Mask(act, y)))
}

/// The input gradient as the correlation gather, then `epilogue`.
fn backward_input<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    s: &ConvTranspose2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    (dx, epilogue): (&mut E::Buf, Epilogue<'_, E::Buf>),
) -> Result<()> {
    s.validate()?;
    check_len(op, "w", dev.exec().len(w), s.w_len())?;
    check_len(op, "dy", dev.exec().len(dy), s.y_len())?;
    check_len(op, "dx", dev.exec().len(dx), s.x_len())?;
    let g = swapped(conv_transpose2d_geometry(s));
    gather(
        dev,
        op,
        Gather::Correlation,
        &g,
        (dy, None),
        w,
        None,
        Act::Identity,
        (dx, epilogue),
    )
}

/// [`Device::conv_transpose2d_backward_weight`](crate::device::Device::conv_transpose2d_backward_weight).
pub(crate) fn conv_transpose2d_backward_weight<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &ConvTranspose2dShape,
    x: &E::Buf,
    dy: &E::Buf,
    dw: &mut E::Buf,
    db: Option<&mut E::Buf>,
) -> Result<()> {
    let op = "conv_transpose2d_backward_weight";
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.x_len())?;
    check_len(op, "dy", dev.exec().len(dy), s.y_len())?;
    check_len(op, "dw", dev.exec().len(dw), s.w_len())?;
    if let Some(db) = &db {
        check_len(op, "db", dev.exec().len(db), s.c_out)?;
    }
    let (h_out, w_out) = (s.h_out(), s.w_out());
    weight_grad(
        dev,
        op,
        (s.n, s.c_in, s.h, s.w),
        (s.c_out, h_out, w_out),
        s.k,
        s.stride,
        s.pad,
        x,
        (dy, None),
        dw,
        None,
    )?;
    match db {
        Some(db) => channel_sum(dev, op, (s.n, s.c_out, h_out * w_out), dy, db),
        None => Ok(()),
    }
}
