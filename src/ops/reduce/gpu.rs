//! Launch code of the deterministic reductions (kernels/reduce.cu): the plain sum and the
//! sum of squares, the per-channel sum of the bias gradients, and the second launch
//! (`reduce_partials`) of every two-launch reduction, which other families' launch code
//! calls through [`GpuDevice::two_pass_reduce`].

use crate::device::gpu::launch::{elementwise, reduce_blocks, reduce_threads, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec, LaunchConfig};
use crate::kernels::{
    CHANNEL_SUM, REDUCE_PARTIALS, SUM_PARTIALS, SUM_SLICES, SUM_SQUARES_PARTIALS,
};
use crate::ops::{check_len, Act};
use crate::Result;

/// [`Device::sum`](crate::device::Device::sum).
pub(crate) fn sum<E: KernelExec>(dev: &GpuDevice<E>, x: &E::Buf, out: &mut E::Buf) -> Result<()> {
    let op = "sum";
    let n = dev.exec().len(x);
    check_len(op, "out", dev.exec().len(out), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, out, false, |partials, cfg| {
        dev.exec().launch(
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
pub(crate) fn sum_squares<E: KernelExec>(
    dev: &GpuDevice<E>,
    x: &E::Buf,
    out: &mut E::Buf,
) -> Result<()> {
    let op = "sum_squares";
    let n = dev.exec().len(x);
    check_len(op, "out", dev.exec().len(out), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, out, true, |partials, cfg| {
        dev.exec().launch(
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

/// Launches `sum_slices`: `out[e] = act(Σ_{z < slices} parts[z·len + e] + bias[(e / plane)
/// mod c])` with the slices in order of z, `len` the length of `out` and `(plane, c)` its
/// NCHW layout (the split-K partial sums of the implicit-GEMM convolutions; the weight
/// gradients pass no bias, the identity and `(1, 1)`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sum_slices<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    (plane, c): (usize, usize),
    bias: Option<&E::Buf>,
    act: Act,
    out: &mut E::Buf,
) -> Result<()> {
    let len = dev.exec().len(out);
    check_len(op, "parts", dev.exec().len(parts), slices * len)?;
    if let Some(b) = bias {
        check_len(op, "bias", dev.exec().len(b), c)?;
    }
    let (act_kind, slope) = act.code();
    dev.exec().launch(
        &SUM_SLICES,
        elementwise(len),
        &mut [
            Arg::In("parts", parts),
            Arg::In("bias", bias.unwrap_or(parts)),
            Arg::Out("out", out),
            Arg::I32("slices", to_i32(op, slices)?),
            Arg::I32("len", to_i32(op, len)?),
            Arg::I32("plane", to_i32(op, plane.max(1))?),
            Arg::I32("c", to_i32(op, c.max(1))?),
            Arg::I32("has_bias", i32::from(bias.is_some())),
            Arg::I32("act", act_kind),
            Arg::F32("slope", slope),
        ],
    )
}

/// Launches `channel_sum`: `out[c] = Σ_{n, plane} g[n, c, plane]`, one block per channel.
pub(crate) fn channel_sum<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    (n, c, plane): (usize, usize, usize),
    g: &E::Buf,
    out: &mut E::Buf,
) -> Result<()> {
    to_i32(op, n * c * plane)?;
    let cfg = LaunchConfig {
        grid: (to_i32(op, c)? as u32, 1, 1),
        block: (reduce_threads(n * plane), 1, 1),
        shared_bytes: 0,
    };
    dev.exec().launch(
        &CHANNEL_SUM,
        cfg,
        &mut [
            Arg::In("g", g),
            Arg::Out("out", out),
            Arg::I32("n", to_i32(op, n)?),
            Arg::I32("c", to_i32(op, c)?),
            Arg::I32("plane", to_i32(op, plane)?),
        ],
    )
}

impl<E: KernelExec> GpuDevice<E> {
    /// A deterministic sum in two launches: `first` writes one partial sum per block of
    /// the [`reduce_blocks`](crate::device::gpu::launch::reduce_blocks) grid over `n` elements into the scratch buffer, then
    /// `reduce_partials` adds them in index order into `out[0]` (adding to its value when
    /// `accumulate`, else overwriting it).
    pub(crate) fn two_pass_reduce(
        &self,
        op: &'static str,
        n: usize,
        out: &mut E::Buf,
        accumulate: bool,
        first: impl FnOnce(&mut E::Buf, LaunchConfig) -> Result<()>,
    ) -> Result<()> {
        to_i32(op, n)?;
        let cfg = reduce_blocks(n);
        let count = cfg.grid.0;
        self.with_scratch(|partials| {
            first(partials, cfg)?;
            let final_cfg = LaunchConfig {
                grid: (1, 1, 1),
                block: (reduce_threads(count as usize), 1, 1),
                shared_bytes: 0,
            };
            self.exec().launch(
                &REDUCE_PARTIALS,
                final_cfg,
                &mut [
                    Arg::In("partials", partials),
                    Arg::Out("out", out),
                    Arg::I32("count", count as i32),
                    Arg::I32("accumulate", i32::from(accumulate)),
                ],
            )
        })
    }
}
