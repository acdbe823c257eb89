//! Launch code of the activation backward (kernels/activation.cu).

use crate::device::gpu::launch::{elementwise, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec};
use crate::kernels::ACT_BACKWARD;
use crate::ops::{check_len, Act};
use crate::Result;

/// [`Device::act_backward`](crate::device::Device::act_backward).
pub(crate) fn act_backward<E: KernelExec>(
    dev: &GpuDevice<E>,
    act: Act,
    y: &E::Buf,
    dy: &mut E::Buf,
) -> Result<()> {
    let op = "act_backward";
    let n = dev.exec().len(y);
    check_len(op, "dy", dev.exec().len(dy), n)?;
    if n == 0 {
        return Ok(());
    }
    let (kind, slope) = act.code();
    dev.exec().launch(
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
