//! Launch code of the fused convex skip (kernels/convex_skip.cu); its backward ends with
//! the fixed-order sum of [`crate::ops::reduce`].

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::{CONVEX_SKIP_BACKWARD, CONVEX_SKIP_FORWARD, CONVEX_SKIP_FORWARD_H16};
use crate::ops::check_len;
use crate::Result;

/// [`Device::convex_skip_forward`](crate::device::Device::convex_skip_forward).
pub(crate) fn convex_skip_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    theta: &E::Buf,
    a: &E::Buf,
    b: &E::Buf,
    u: &mut E::Buf,
) -> Result<()> {
    let op = "convex_skip_forward";
    let n = dev.exec().len(a);
    check_len(op, "theta", dev.exec().len(theta), 1)?;
    check_len(op, "b", dev.exec().len(b), n)?;
    check_len(op, "u", dev.exec().len(u), n)?;
    if n == 0 {
        return Ok(());
    }
    let (kernel, fmt) = dev.storage_kernel(&CONVEX_SKIP_FORWARD, &CONVEX_SKIP_FORWARD_H16);
    let mut args = vec![
        Arg::In("theta", theta),
        Arg::In("a", a),
        Arg::In("b", b),
        Arg::Out("u", u),
        Arg::I32("n", to_i32(op, n)?),
    ];
    args.extend(fmt.map(|f| Arg::I32("fmt", f)));
    dev.exec().launch(kernel, elementwise(n), &mut args)
}

/// [`Device::convex_skip_backward`](crate::device::Device::convex_skip_backward): da, db
/// and per-block partial sums of dθ in one launch, then the fixed-order final sum.
#[allow(clippy::too_many_arguments)]
pub(crate) fn convex_skip_backward<E: KernelExec>(
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
    let n = dev.exec().len(a);
    check_len(op, "theta", dev.exec().len(theta), 1)?;
    check_len(op, "b", dev.exec().len(b), n)?;
    check_len(op, "du", dev.exec().len(du), n)?;
    check_len(op, "da", dev.exec().len(da), n)?;
    check_len(op, "db", dev.exec().len(db), n)?;
    check_len(op, "dtheta", dev.exec().len(dtheta), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, dtheta, false, |partials, cfg, accumulate| {
        dev.exec().launch(
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
                Arg::I32("accumulate", i32::from(accumulate)),
            ],
        )
    })
}
