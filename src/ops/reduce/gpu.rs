//! Launch code of the deterministic reductions (kernels/reduce.cu): the plain sum and the
//! sum of squares, the per-channel sum of the bias gradients, and the second launch
//! (`reduce_partials`) of every two-launch reduction, which other families' launch code
//! calls through [`GpuDevice::two_pass_reduce`].

use crate::device::gpu::launch::{elementwise, grid_yz, reduce_blocks, reduce_threads, to_i32};
use crate::device::gpu::{Arg, Elem, GpuDevice, KernelExec, LaunchConfig, GROUP_ALIGN};
use crate::kernels::{
    CHANNEL_SUM, REDUCE_PARTIALS, SUM_PARTIALS, SUM_SLICES, SUM_SLICES_BATCH, SUM_SLICES_H16,
    SUM_SLICES_PAIR, SUM_SLICES_POOL, SUM_SQUARES_PARTIALS,
};
use crate::ops::{check_len, Act, Pool2dShape};
use crate::Result;

/// [`Device::sum`](crate::device::Device::sum).
pub(crate) fn sum<E: KernelExec>(dev: &GpuDevice<E>, x: &E::Buf, out: &mut E::Buf) -> Result<()> {
    let op = "sum";
    let n = dev.exec().len(x);
    check_len(op, "out", dev.exec().len(out), 1)?;
    let n_i32 = to_i32(op, n)?;
    dev.two_pass_reduce(op, n, out, false, |partials, cfg, accumulate| {
        dev.exec().launch(
            &SUM_PARTIALS,
            cfg,
            &mut [
                Arg::In("x", x),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::I32("accumulate", i32::from(accumulate)),
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
    dev.two_pass_reduce(op, n, out, true, |partials, cfg, accumulate| {
        dev.exec().launch(
            &SUM_SQUARES_PARTIALS,
            cfg,
            &mut [
                Arg::In("x", x),
                Arg::Out("partials", partials),
                Arg::I32("n", n_i32),
                Arg::I32("accumulate", i32::from(accumulate)),
            ],
        )
    })
}

/// Launches `sum_slices`: `out[e] = act(Σ_{z < slices} parts[z·len + e] + bias[(e / plane)
/// mod c])`, `len` the length of `out` and `(plane, c)` its NCHW layout (the split-K
/// partial sums of the implicit-GEMM convolutions; the weight gradients pass no bias, the
/// identity and `(1, 1)`). The slices are added in order of z; many slices of a short
/// output (a thread per element would wait on its long serial sum) are added in two
/// stages instead ([`two_stage_group`]). Either way the order depends on the shape alone.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sum_slices<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    layout: (usize, usize),
    bias: Option<&E::Buf>,
    act: Act,
    out: &mut E::Buf,
) -> Result<()> {
    let bias = bias.map_or((parts, false), |b| (b, true));
    sum_slices_as(dev, op, parts, slices, layout, bias, act, out)
}

/// [`sum_slices`] into an output of the device's 16-bit storage (a 16-bit convolution's
/// split K; the partial sums stay FP32): `bias` is 16-bit too, and without one
/// `stand_in`, any 16-bit buffer, takes its place (not read).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sum_slices_h16<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    layout: (usize, usize),
    bias: Option<&E::Buf>,
    stand_in: &E::Buf,
    act: Act,
    out: &mut E::Buf,
) -> Result<()> {
    let bias = bias.map_or((stand_in, false), |b| (b, true));
    sum_slices_as(dev, op, parts, slices, layout, bias, act, out)
}

/// [`sum_slices`] with the bias argument (a buffer and whether it is the bias).
#[allow(clippy::too_many_arguments)]
fn sum_slices_as<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    layout: (usize, usize),
    bias: (&E::Buf, bool),
    act: Act,
    out: &mut E::Buf,
) -> Result<()> {
    let len = dev.exec().len(out);
    if let Some(group) = two_stage_group(slices, len) {
        // Stage 1 sees the slices as `group` slices of rows·len values, so row j of its
        // output adds slices j, j + rows, j + 2·rows, ... in order; stage 2 adds the rows.
        let rows = slices / group;
        return dev.with_split_scratch(rows * len, |partial| {
            let none = (parts, false);
            let plain = (Act::Identity, None);
            sum_slices_once(dev, op, parts, group, (1, 1), none, plain, partial)?;
            sum_slices_once(dev, op, partial, rows, layout, bias, (act, None), out)
        });
    }
    sum_slices_once(dev, op, parts, slices, layout, bias, (act, None), out)
}

/// [`sum_slices`] of an input gradient through an activation, `out[e] = act'(mask[e]) ·
/// Σ_{z < slices} parts[z·len + e]` (FP32; no bias): a convolution's split K finished with
/// [`act_backward`](crate::ops::activation)'s mask in the same pass, with its one rounding.
pub(crate) fn sum_slices_masked<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    (act, mask): (Act, &E::Buf),
    out: &mut E::Buf,
) -> Result<()> {
    check_len(op, "mask", dev.exec().len(mask), dev.exec().len(out))?;
    let masked = (Act::Identity, Some((act, mask)));
    let none = (parts, false);
    let len = dev.exec().len(out);
    if let Some(group) = two_stage_group(slices, len) {
        let rows = slices / group;
        return dev.with_split_scratch(rows * len, |partial| {
            let plain = (Act::Identity, None);
            sum_slices_once(dev, op, parts, group, (1, 1), none, plain, partial)?;
            sum_slices_once(dev, op, partial, rows, (1, 1), none, masked, out)
        });
    }
    sum_slices_once(dev, op, parts, slices, (1, 1), none, masked, out)
}

/// [`sum_slices`] of a pooled convolution's output (FP32): `out = act(Σ_z parts[z] +
/// bias)` of `pool`'s input shape and `pooled` its 2×2 max pooling, in one pass
/// (`sum_slices_pool`) with the bits of `sum_slices` then `max_pool2d_forward`. Many slices
/// of a short output are added in two stages first, as [`sum_slices`] does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sum_slices_pool<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    pool: &Pool2dShape,
    bias: Option<&E::Buf>,
    act: Act,
    (out, pooled): (&mut E::Buf, &mut E::Buf),
) -> Result<()> {
    let len = pool.x_len();
    check_len(op, "out", dev.exec().len(out), len)?;
    check_len(op, "pooled", dev.exec().len(pooled), pool.y_len())?;
    if let Some(b) = bias {
        check_len(op, "bias", dev.exec().len(b), pool.c)?;
    }
    let launch = |parts: &E::Buf, slices: usize, out: &mut E::Buf, pooled: &mut E::Buf| {
        check_len(op, "parts", dev.exec().len(parts), slices * len)?;
        to_i32(op, slices * len)?;
        let (act_kind, slope) = act.code();
        let blocks = pool.n * pool.c * pool.h.div_ceil(2) * pool.w.div_ceil(2);
        dev.exec().launch(
            &SUM_SLICES_POOL,
            elementwise(blocks),
            &mut [
                Arg::In("parts", parts),
                Arg::In("bias", bias.unwrap_or(parts)),
                Arg::Out("out", out),
                Arg::Out("pooled", pooled),
                Arg::I32("slices", to_i32(op, slices)?),
                Arg::I32("planes", to_i32(op, pool.n * pool.c)?),
                Arg::I32("h", to_i32(op, pool.h)?),
                Arg::I32("wd", to_i32(op, pool.w)?),
                Arg::I32("c", to_i32(op, pool.c.max(1))?),
                Arg::I32("has_bias", i32::from(bias.is_some())),
                Arg::I32("act", act_kind),
                Arg::F32("slope", slope),
            ],
        )
    };
    if len == 0 {
        return Ok(());
    }
    if let Some(group) = two_stage_group(slices, len) {
        let rows = slices / group;
        return dev.with_split_scratch(rows * len, |partial| {
            let (none, plain) = ((parts, false), (Act::Identity, None));
            sum_slices_once(dev, op, parts, group, (1, 1), none, plain, partial)?;
            launch(partial, rows, out, pooled)
        });
    }
    launch(parts, slices, out, pooled)
}

/// Launches `sum_slices_pair`: [`sum_slices`] without bias or activation of two outputs
/// in one launch, `out = Σ_z parts[z]` and `out_b = Σ_z parts_b[z]` in order of z (a
/// weight gradient's split-K partial sums and its bias gradient's). Many slices of a short
/// pair are added in two stages, as [`sum_slices`] does.
pub(crate) fn sum_slices_pair<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    (parts, out): (&E::Buf, &mut E::Buf),
    (parts_b, out_b): (&E::Buf, &mut E::Buf),
    slices: usize,
) -> Result<()> {
    let (len, len_b) = (dev.exec().len(out), dev.exec().len(out_b));
    if let Some(group) = two_stage_group(slices, len + len_b) {
        // As in sum_slices_as, for each output: row j of stage 1 adds slices j, j + rows, ...
        let rows = slices / group;
        let at = (rows * len).next_multiple_of(GROUP_ALIGN);
        return dev.with_split_scratch(at + rows * len_b, |partial| {
            let mut row_sums = dev.exec().view(partial, 0, rows * len)?;
            let mut row_sums_b = dev.exec().view(partial, at, rows * len_b)?;
            let stage_1 = (parts, &mut row_sums);
            sum_slices_pair_once(dev, op, stage_1, (parts_b, &mut row_sums_b), group)?;
            sum_slices_pair_once(dev, op, (&row_sums, out), (&row_sums_b, out_b), rows)
        });
    }
    sum_slices_pair_once(dev, op, (parts, out), (parts_b, out_b), slices)
}

/// One `sum_slices_pair` launch (see [`sum_slices_pair`]).
fn sum_slices_pair_once<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    (parts, out): (&E::Buf, &mut E::Buf),
    (parts_b, out_b): (&E::Buf, &mut E::Buf),
    slices: usize,
) -> Result<()> {
    let (len, len_b) = (dev.exec().len(out), dev.exec().len(out_b));
    check_len(op, "parts", dev.exec().len(parts), slices * len)?;
    check_len(op, "parts_b", dev.exec().len(parts_b), slices * len_b)?;
    to_i32(op, slices * (len + len_b))?;
    // As in sum_slices_once: 4 elements of `out` per thread where that leaves enough threads.
    let per = if len % 4 == 0 && len / 4 >= SUM_SLICES_VEC_MIN_THREADS {
        4
    } else {
        1
    };
    dev.exec().launch(
        &SUM_SLICES_PAIR,
        elementwise(len / per + len_b),
        &mut [
            Arg::In("parts", parts),
            Arg::In("parts_b", parts_b),
            Arg::Out("out", out),
            Arg::Out("out_b", out_b),
            Arg::I32("slices", to_i32(op, slices)?),
            Arg::I32("len", to_i32(op, len)?),
            Arg::I32("len_b", to_i32(op, len_b)?),
            Arg::I32("per", per as i32),
        ],
    )
}

/// Fewest slices [`sum_slices`] adds in two stages, and the output length below which it
/// does ([`SUM_SLICES_VEC_MIN_THREADS`]: where one stage keeps the GPU busy anyway).
const SUM_SLICES_TWO_STAGE_MIN: usize = 64;

/// The slices stage 1 of [`sum_slices`] adds per output row for `slices` slices of `len`
/// values, if two stages pay: the largest divisor of `slices` up to its square root (16 of
/// 512), none when that is 1 (a prime count).
pub(crate) fn two_stage_group(slices: usize, len: usize) -> Option<usize> {
    if slices < SUM_SLICES_TWO_STAGE_MIN || len >= SUM_SLICES_VEC_MIN_THREADS {
        return None;
    }
    (2..=slices.isqrt()).rev().find(|g| slices % g == 0)
}

/// One `sum_slices` launch (see [`sum_slices`]), the slices added in order of z, then the
/// activation `act` and, with a mask, the input-gradient mask (FP32 only); into a 16-bit
/// output, `sum_slices_h16`.
#[allow(clippy::too_many_arguments)]
fn sum_slices_once<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    parts: &E::Buf,
    slices: usize,
    (plane, c): (usize, usize),
    (bias, has_bias): (&E::Buf, bool),
    (act, mask): (Act, Option<(Act, &E::Buf)>),
    out: &mut E::Buf,
) -> Result<()> {
    let len = dev.exec().len(out);
    check_len(op, "parts", dev.exec().len(parts), slices * len)?;
    if has_bias {
        check_len(op, "bias", dev.exec().len(bias), c)?;
    }
    let (act_kind, slope) = act.code();
    to_i32(op, slices * len)?;
    // Elements per thread (kernels/reduce.cu): 4, with 128-bit accesses, where that still
    // leaves SUM_SLICES_VEC_MIN_THREADS threads to spread the traffic over the GPU.
    let per = if len % 4 == 0 && len / 4 >= SUM_SLICES_VEC_MIN_THREADS {
        4
    } else {
        1
    };
    let fmt = match (dev.exec().elem(out), dev.storage()) {
        (Elem::U16, Some(f)) => Some(f.code()),
        _ => None,
    };
    let (slices_i, len_i) = (to_i32(op, slices)?, to_i32(op, len)?);
    let (plane_i, c_i) = (to_i32(op, plane.max(1))?, to_i32(op, c.max(1))?);
    let common = |out| {
        [
            Arg::Out("out", out),
            Arg::I32("slices", slices_i),
            Arg::I32("len", len_i),
            Arg::I32("plane", plane_i),
            Arg::I32("c", c_i),
            Arg::I32("has_bias", i32::from(has_bias)),
            Arg::I32("act", act_kind),
            Arg::F32("slope", slope),
        ]
    };
    let cfg = elementwise(len / per);
    match (fmt, mask) {
        (Some(code), None) => {
            let mut args = vec![Arg::In("parts", parts), Arg::In("bias", bias)];
            args.extend(common(out));
            args.extend([Arg::I32("per", per as i32), Arg::I32("fmt", code)]);
            dev.exec().launch(&SUM_SLICES_H16, cfg, &mut args)
        }
        (Some(_), Some(_)) => Err(crate::Error::Device(format!(
            "{op}: a masked split-K sum has no 16-bit kernel"
        ))),
        (None, mask) => {
            let (mask_act, mask_slope) = mask.map_or((0, 0.0), |(a, _)| a.code());
            let mask = mask.map_or(parts, |(_, m)| m);
            let mut args = vec![
                Arg::In("parts", parts),
                Arg::In("bias", bias),
                Arg::In("mask", mask),
            ];
            args.extend(common(out));
            args.extend([
                Arg::I32("mask_act", mask_act),
                Arg::F32("mask_slope", mask_slope),
                Arg::I32("per", per as i32),
            ]);
            dev.exec().launch(&SUM_SLICES, cfg, &mut args)
        }
    }
}

/// Fewest threads of a `sum_slices` launch of 4 elements per thread: 256 blocks.
const SUM_SLICES_VEC_MIN_THREADS: usize = 256 * 256;

/// Blocks `channel_sum` aims for when a channel's values are many: about two per SM of
/// the largest GPUs, so that few channels (G's 32 or 3) still fill the GPU.
const CHANNEL_SUM_BLOCKS: usize = 256;
/// Fewest values a chunk of `channel_sum` sums.
const CHANNEL_SUM_MIN_CHUNK: usize = 2048;

/// The chunks of `channel_sum` for `c` channels of `total` values each, by the shape alone:
/// (chunks, values per chunk).
pub(crate) fn channel_chunks(c: usize, total: usize) -> (usize, usize) {
    let want = CHANNEL_SUM_BLOCKS.div_ceil(c.max(1));
    let chunks = want.min(total / CHANNEL_SUM_MIN_CHUNK).max(1);
    let chunk = total.div_ceil(chunks).max(1);
    (total.div_ceil(chunk).max(1), chunk)
}

/// Launches `channel_sum`: `out[c] = Σ_{n, plane} g[n, c, plane]`, one block per channel
/// and chunk ([`channel_chunks`]); with several chunks the per-chunk sums go to a scratch
/// and `sum_slices` adds them in chunk order, or, while the device defers weight-gradient
/// sums ([`GpuDevice::defer_split_sums`]), `sum_slices_batch` does at the pass's end.
pub(crate) fn channel_sum<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    (n, c, plane): (usize, usize, usize),
    g: &E::Buf,
    out: &mut E::Buf,
) -> Result<()> {
    to_i32(op, n * c * plane)?;
    let total = n * plane;
    let (chunks, chunk) = channel_chunks(c, total);
    let launch = |dst: &mut E::Buf| {
        let cfg = LaunchConfig {
            grid: (
                to_i32(op, c)? as u32,
                grid_yz(op, "channel chunks", chunks)?,
                1,
            ),
            block: (reduce_threads(chunk.min(total)), 1, 1),
            shared_bytes: 0,
        };
        dev.exec().launch(
            &CHANNEL_SUM,
            cfg,
            &mut [
                Arg::In("g", g),
                Arg::Out("out", dst),
                Arg::I32("n", to_i32(op, n)?),
                Arg::I32("c", to_i32(op, c)?),
                Arg::I32("plane", to_i32(op, plane)?),
                Arg::I32("chunk", to_i32(op, chunk)?),
            ],
        )
    };
    if chunks == 1 {
        return launch(out);
    }
    if dev.deferring()? {
        // Queued with the pass's weight gradients (a bias gradient of one): the chunks'
        // sums added at its end in the order sum_slices would add them.
        let group = two_stage_group(chunks, c).unwrap_or(1);
        let alias = dev.exec().view(out, 0, c)?;
        return dev.defer_split_sums(vec![alias], (chunks, group), |p| launch(&mut p[0]));
    }
    dev.with_split_scratch(chunks * c, |parts| {
        launch(parts)?;
        sum_slices(dev, op, parts, chunks, (1, c), None, Act::Identity, out)
    })
}

impl<E: KernelExec> GpuDevice<E> {
    /// A deterministic sum in two launches: `first` writes one partial sum per block of
    /// the [`reduce_blocks`](crate::device::gpu::launch::reduce_blocks) grid over `n` elements into the scratch buffer, then
    /// `reduce_partials` adds them in index order into `out[0]` (adding to its value when
    /// `accumulate`, else overwriting it). `first` gets the partials' buffer, the grid and
    /// the `accumulate` its kernel passes on: with a one-block grid the buffer is `out`
    /// and the kernel finishes the sum itself, with the same bits (one launch).
    pub(crate) fn two_pass_reduce(
        &self,
        op: &'static str,
        n: usize,
        out: &mut E::Buf,
        accumulate: bool,
        first: impl FnOnce(&mut E::Buf, LaunchConfig, bool) -> Result<()>,
    ) -> Result<()> {
        to_i32(op, n)?;
        let cfg = reduce_blocks(n);
        let count = cfg.grid.0;
        if count == 1 {
            // One block: its partial sum is the result (kernels/common.cuh sc_store_partial).
            return first(out, cfg, accumulate);
        }
        self.with_scratch(|partials| {
            first(partials, cfg, false)?;
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

/// A split-K sum queued for [`sum_slices_batch`]: `out` = the sum of the `slices` slices of
/// `parts` (each `len(out)` values), added as [`sum_slices`] would: in two stages of `group`
/// slices per row (see [`two_stage_group`]), or in order with `group` = 1. `slot` is its
/// position in the queue (which its scratch `parts` belongs to).
pub(crate) struct PendingSum<B> {
    /// The partial sums, `slices × len(out)`.
    pub parts: B,
    /// The output (a view of the weight or bias gradient).
    pub out: B,
    /// Number of slices.
    pub slices: usize,
    /// Slices per row of the first stage (1: one stage).
    pub group: usize,
    /// Position in the queue.
    pub slot: usize,
}

/// Slots of one `sum_slices_batch` launch (kernels/reduce.cu).
const BATCH_SLOTS: usize = 8;

/// Finishes every sum of `queue` with `sum_slices_batch`, [`BATCH_SLOTS`] per launch; a
/// launch with fewer gives its empty slots length 0.
pub(crate) fn sum_slices_batch<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    queue: &mut [PendingSum<E::Buf>],
) -> Result<()> {
    const PARTS: [&str; BATCH_SLOTS] = [
        "parts0", "parts1", "parts2", "parts3", "parts4", "parts5", "parts6", "parts7",
    ];
    const OUTS: [&str; BATCH_SLOTS] = [
        "out0", "out1", "out2", "out3", "out4", "out5", "out6", "out7",
    ];
    const LENS: [&str; BATCH_SLOTS] = [
        "len0", "len1", "len2", "len3", "len4", "len5", "len6", "len7",
    ];
    const SLICES: [&str; BATCH_SLOTS] = [
        "slices0", "slices1", "slices2", "slices3", "slices4", "slices5", "slices6", "slices7",
    ];
    const GROUPS: [&str; BATCH_SLOTS] = [
        "group0", "group1", "group2", "group3", "group4", "group5", "group6", "group7",
    ];
    for chunk in queue.chunks_mut(BATCH_SLOTS) {
        // (len, slices, group) of each slot, zeros for the empty ones.
        let mut dims = [(0usize, 0usize, 1usize); BATCH_SLOTS];
        for (d, p) in dims.iter_mut().zip(chunk.iter()) {
            let len = dev.exec().len(&p.out);
            check_len(op, "parts", dev.exec().len(&p.parts), p.slices * len)?;
            if p.group == 0 || p.slices % p.group != 0 {
                return Err(crate::Error::Device(format!(
                    "{op}: {} slices do not make rows of {}",
                    p.slices, p.group
                )));
            }
            to_i32(op, p.slices * len)?;
            *d = (len, p.slices, p.group);
        }
        let total = to_i32(op, dims.iter().map(|d| d.0).sum())?;
        let used = chunk.len();
        let empty = BATCH_SLOTS - used;
        dev.with_split_scratch(empty.max(1) * GROUP_ALIGN, |scratch| {
            // Empty slots read chunk[0]'s partial sums (not at all: length 0) and write
            // disjoint views of the scratch (not at all either).
            let mut stand_ins = (0..empty)
                .map(|i| dev.exec().view(scratch, i * GROUP_ALIGN, 1))
                .collect::<Result<Vec<_>>>()?;
            let (parts, mut outs): (Vec<&E::Buf>, Vec<&mut E::Buf>) =
                chunk.iter_mut().map(|p| (&p.parts, &mut p.out)).unzip();
            let mut args = Vec::with_capacity(5 * BATCH_SLOTS + 1);
            for s in 0..BATCH_SLOTS {
                let buf = if s < used { parts[s] } else { parts[0] };
                args.push(Arg::In(PARTS[s], buf));
            }
            let outs = outs.iter_mut().map(|o| &mut **o);
            let fill = stand_ins.iter_mut();
            for (s, buf) in outs.chain(fill).enumerate() {
                args.push(Arg::Out(OUTS[s], buf));
            }
            for (names, f) in [(LENS, 0), (SLICES, 1), (GROUPS, 2)] {
                for (s, d) in dims.iter().enumerate() {
                    let v = [d.0, d.1, d.2][f];
                    args.push(Arg::I32(names[s], to_i32(op, v)?));
                }
            }
            args.push(Arg::I32("total", total));
            dev.exec()
                .launch(&SUM_SLICES_BATCH, elementwise(total as usize), &mut args)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{channel_chunks, two_stage_group};
    use crate::device::gpu::{ArgValue, GpuDevice};
    use crate::ops::Act;
    use crate::perf::record::{Dry, Recording};

    /// Many slices of a short output are added in two stages: groups of the largest divisor
    /// up to the square root, then the rows; few slices, a long output or a prime count
    /// keep one launch.
    #[test]
    fn many_slices_of_a_short_output_are_added_in_two_stages() {
        assert_eq!(two_stage_group(512, 1728), Some(16));
        assert_eq!(two_stage_group(256, 7776), Some(16));
        assert_eq!(two_stage_group(64, 216), Some(8));
        assert_eq!(two_stage_group(90, 10), Some(9));
        assert_eq!(two_stage_group(63, 10), None);
        assert_eq!(two_stage_group(67, 10), None);
        assert_eq!(two_stage_group(512, 1 << 20), None);

        // D's first weight gradient at batch 16: 512 slices of 64·27 values.
        let dev = GpuDevice::new(Recording::new(Dry));
        let (parts, mut out) = (Dry::buf(512 * 1728), Dry::buf(1728));
        super::sum_slices(
            &dev,
            "test",
            &parts,
            512,
            (1, 1),
            None,
            Act::Identity,
            &mut out,
        )
        .unwrap();
        let l = dev.exec().take();
        let slices: Vec<_> = l
            .iter()
            .map(|l| match l.args.iter().find(|(n, _)| *n == "slices") {
                Some((_, ArgValue::I32(s))) => (l.kernel, *s),
                _ => (l.kernel, -1),
            })
            .collect();
        assert_eq!(slices, [("sum_slices", 16), ("sum_slices", 32)]);
    }

    /// Few channels of many values split into chunks of at least 2048 values (about 256
    /// blocks in all), and every chunk is non-empty; small sums stay one launch.
    #[test]
    fn channel_sums_split_by_the_shape_alone() {
        // G's bias gradient at batch 16: 32 channels of 65 536 values: 8 chunks of 8192.
        assert_eq!(channel_chunks(32, 16 * 64 * 64), (8, 8192));
        // Its 3-band output: 86 chunks wanted, 32 allowed by the 2048 minimum.
        assert_eq!(channel_chunks(3, 16 * 64 * 64), (32, 2048));
        // D's last layer: 1024 channels of 256 values, and the linear layer's one value.
        assert_eq!(channel_chunks(1024, 256), (1, 256));
        assert_eq!(channel_chunks(1, 16), (1, 16));
        assert_eq!(channel_chunks(1, 0), (1, 1));
        for (c, total) in [(1, 5000), (7, 123_457), (2, 4096), (300, 1 << 20)] {
            let (chunks, chunk) = channel_chunks(c, total);
            assert!(chunk >= 2048.min(total) && (chunks - 1) * chunk < total.max(1));
            assert!(chunks * chunk >= total, "{c} {total}");
        }
    }
}
