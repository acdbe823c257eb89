//! Launch code of conv2d (kernels/conv2d.cu), and the tiled gather and weight-gradient
//! launches that conv_transpose2d (its [`gpu`](crate::ops::conv_transpose2d) module) shares.
//! Four kernels cover the six convolution ops:
//!
//! - `conv2d_forward` (a correlation gather): conv2d forward, and conv_transpose2d's
//!   input gradient (a convolution of dy with the `[c_in, c_out, k, k]` weight);
//! - `conv_transpose2d_forward` (a transposed gather): conv_transpose2d forward, and
//!   conv2d's input gradient (the transposed convolution of dy with the
//!   `[c_out, c_in, k, k]` weight, whose output is the convolution's input size);
//! - `conv2d_weight_grad`: both weight gradients (for the transposed convolution its
//!   input plays the role of dy and its dy the role of the input);
//! - `channel_sum` (kernels/reduce.cu, [`crate::ops::reduce`]): both bias gradients.

use crate::device::gpu::launch::{grid_yz, to_i32};
use crate::device::gpu::{Arg, GpuDevice, KernelExec, LaunchConfig, Variants, GROUP_ALIGN};
use crate::device::precision::Precision;
use crate::kernels::{
    consts, Kernel, CONV2D_FORWARD_V2, CONV2D_WEIGHT_GRAD, CONV_IGEMM_128X64,
    CONV_IGEMM_128X64_3XTF32, CONV_IGEMM_128X64_H16, CONV_IGEMM_128X64_TF32, CONV_IGEMM_256X16,
    CONV_IGEMM_256X16_3XTF32, CONV_IGEMM_256X16_H16, CONV_IGEMM_256X16_TF32, CONV_IGEMM_256X32,
    CONV_IGEMM_256X32_3XTF32, CONV_IGEMM_256X32_H16, CONV_IGEMM_256X32_TF32, CONV_IGEMM_256X4,
    CONV_IGEMM_256X4_H16, CONV_PATCH_3X16_3XTF32, CONV_PATCH_3X16_H16, CONV_PATCH_3X16_TF32,
    CONV_PATCH_3X32_3XTF32, CONV_PATCH_3X32_H16, CONV_PATCH_3X32_TF32, CONV_PATCH_3X64_3XTF32,
    CONV_PATCH_3X64_H16, CONV_PATCH_3X64_TF32, CONV_PATCH_9X32_3XTF32, CONV_PATCH_9X32_H16,
    CONV_PATCH_9X32_TF32, CONV_PATCH_9X8_3XTF32, CONV_PATCH_9X8_H16, CONV_PATCH_9X8_TF32,
    CONV_WGRAD_IGEMM_128X128_TF32, CONV_WGRAD_IGEMM_32X128, CONV_WGRAD_IGEMM_32X128_3XTF32,
    CONV_WGRAD_IGEMM_32X128_TF32, CONV_WGRAD_IGEMM_32X64_3XTF32, CONV_WGRAD_IGEMM_32X64_TF32,
    CONV_WGRAD_IGEMM_64X128, CONV_WGRAD_IGEMM_64X64, CONV_WGRAD_IGEMM_64X64_3XTF32,
    CONV_WGRAD_IGEMM_64X64_TF32, CONV_WGRAD_PATCH_9_3XTF32, CONV_WGRAD_PATCH_9_TF32,
};
use crate::ops::activation::gpu::act_backward;
use crate::ops::concat::gpu::{concat_channels, split_channels};
use crate::ops::max_pool2d::gpu::{
    max_pool2d_backward, max_pool2d_backward_slices, max_pool2d_forward,
};
use crate::ops::reduce::gpu::{
    channel_sum, sum_slices, sum_slices_h16, sum_slices_masked, sum_slices_pair, sum_slices_pool,
    two_stage_group,
};
use crate::ops::{check_len, shape_err, Act, ConcatShape, Conv2dShape, Pool2dShape, Unpool};
use crate::Result;

/// Output tile side of `conv2d_forward` and `conv2d_weight_grad` (kernels/conv2d.cu).
pub(crate) const CONV_TILE: usize = consts::SC_CONV_TILE as usize;

/// Output channels per thread of `conv2d_forward`.
pub(crate) const CONV_COB: usize = consts::SC_CONV_COB as usize;

/// Output tile side of `conv_transpose2d_forward` (kernels/conv_transpose2d.cu).
pub(crate) const CT_TILE: usize = consts::SC_CT_TILE as usize;

/// Output channels per thread of `conv_transpose2d_forward`.
pub(crate) const CT_COB: usize = consts::SC_CT_COB as usize;

// The kernels' blocks are TILE × TILE threads (conv2d_weight_grad's CONV_TILE² in one
// row): positive sides, at most CUDA's 1024 threads per block.
const _: () = assert!(
    consts::SC_CONV_TILE > 0
        && consts::SC_CT_TILE > 0
        && consts::SC_CONV_COB > 0
        && consts::SC_CT_COB > 0
        && CONV_TILE * CONV_TILE <= 1024
        && CT_TILE * CT_TILE <= 1024
);

/// Shared memory a block may use without the opt-in attribute.
pub(crate) const MAX_SHARED_BYTES: usize = 48 * 1024;

/// Which gather kernel a launch uses; it fixes the side of the staged input patch.
#[derive(Clone, Copy)]
pub(crate) enum Gather {
    /// `conv2d_forward`: output pixel (oy, ox) reads input rows oy·stride − pad + kh.
    Correlation,
    /// `conv_transpose2d_forward`: output pixel oy reads input rows (oy + pad − kh) / stride.
    Transposed,
}

impl Gather {
    /// The kernel this gather launches with the device's `variants`.
    pub(crate) fn kernel(self, variants: &Variants) -> &'static Kernel {
        match self {
            Gather::Correlation => variants.kernel("conv2d_forward"),
            Gather::Transposed => variants.kernel("conv_transpose2d_forward"),
        }
    }
    /// Side of the kernel's square output tile, and of its block in threads.
    pub(crate) fn tile(self) -> usize {
        match self {
            Gather::Correlation => CONV_TILE,
            Gather::Transposed => CT_TILE,
        }
    }
    /// Output channels each thread of the kernel computes.
    pub(crate) fn cob(self) -> usize {
        match self {
            Gather::Correlation => CONV_COB,
            Gather::Transposed => CT_COB,
        }
    }
    /// Floats of shared memory the staged patch of `kernel` takes: `side` rows of its
    /// row pitch (kernels/conv2d.cu's `sc_conv_pitch` for `conv2d_forward_v2`, else `side`).
    pub(crate) fn patch_floats(kernel: &Kernel, side: usize, stride: usize) -> usize {
        let pitch = if std::ptr::eq(kernel, &CONV2D_FORWARD_V2) && stride == 1 {
            let banks = consts::SC_SHARED_BANKS as usize;
            side + (banks + banks / 2 - side % banks) % banks
        } else {
            side
        };
        pitch * side
    }
    /// Side of the input patch one output tile reads (as the kernel computes it).
    pub(crate) fn in_side(self, k: usize, stride: usize) -> usize {
        let tile = self.tile();
        match self {
            Gather::Correlation => (tile - 1) * stride + k,
            Gather::Transposed => (tile + k - 2) / stride + 2,
        }
    }
}

/// Geometry of one gather launch: input `[n, c_in, h, w]`, output `[n, c_out, h_out, w_out]`.
pub(crate) struct Geometry {
    pub(crate) n: usize,
    pub(crate) c_in: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) c_out: usize,
    pub(crate) k: usize,
    pub(crate) stride: usize,
    pub(crate) pad: usize,
    pub(crate) h_out: usize,
    pub(crate) w_out: usize,
}

/// Whether a gather of `kind` runs the v2 kernels (implicit GEMM, patch-staged): the
/// variant chosen, or 16-bit storage, which has no other instances.
fn implicit_gemm<E: KernelExec>(dev: &GpuDevice<E>, kind: Gather) -> bool {
    std::ptr::eq(kind.kernel(dev.variants()), &CONV_IGEMM_128X64) || dev.storage().is_some()
}

/// What a convolution launch reads: `x`, or with `Some(x2)` the channel concatenation
/// `[x; x2]` of two inputs of half the channels each (the U-Net decoder's up-sampled map
/// and skip), which only the v2 kernels read ([`reads_halves`], [`wgrad_reads_halves`]).
pub(crate) type Input<'a, B> = (&'a B, Option<&'a B>);

/// The refusal of a launch asked for two inputs or outputs its kernel cannot take (the
/// callers check [`reads_halves`], [`writes_halves`] and [`wgrad_reads_halves`] first).
fn no_halves(op: &'static str) -> crate::Error {
    shape_err(
        op,
        "this kernel reads and writes one buffer per tensor".into(),
    )
}

/// Whether a gather of `kind` with geometry `g` can read its input as two halves
/// ([`Input`]): the implicit GEMM, and the patch-staged kernels where a half is a whole
/// number of their chunks of 8 channels (the U-Net's 16 to 64).
pub(crate) fn reads_halves<E: KernelExec>(dev: &GpuDevice<E>, kind: Gather, g: &Geometry) -> bool {
    implicit_gemm(dev, kind)
        && (patch_kernel(g, dev.precision(), 0).is_none() || (g.c_in / 2) % PATCH_CK == 0)
}

/// Whether a gather of `kind` with geometry `g` can write its output as two halves
/// ([`Epilogue::Halves`]): the patch-staged kernels where they finish y themselves (K whole
/// or folded) and a half is a whole number of their channel tiles. (The implicit GEMM
/// writes one output: a choice of output in its epilogue doubled its code.)
pub(crate) fn writes_halves<E: KernelExec>(dev: &GpuDevice<E>, kind: Gather, g: &Geometry) -> bool {
    if !implicit_gemm(dev, kind) || g.c_out % 2 != 0 {
        return false;
    }
    let half = g.c_out / 2;
    match patch_kernel(g, dev.precision(), half) {
        Some((_, bn)) => half % bn == 0 && patch_plan(g, bn).1 <= FOLD_MAX_SPLITS,
        None => false,
    }
}

/// Launches a tiled gather kernel: grid (tiles, ⌈c_out/cob⌉, n), block tile×tile, dynamic
/// shared memory for the input patch and cob·k² weights (tile and cob of the kernel,
/// [`Gather::tile`] and [`Gather::cob`]; 16 and 8 today), then the `epilogue` apart; or,
/// with the v2 kernels, the implicit GEMM or patch-staged kernel, which may do the
/// epilogue itself.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    kind: Gather,
    g: &Geometry,
    x: Input<'_, E::Buf>,
    w: &E::Buf,
    bias: Option<&E::Buf>,
    act: Act,
    (y, epilogue): (&mut E::Buf, Epilogue<'_, E::Buf>),
) -> Result<()> {
    if implicit_gemm(dev, kind) {
        return igemm(dev, op, kind, g, x, w, bias, act, (y, epilogue));
    }
    let x = match (x, &epilogue) {
        (
            (x, None),
            Epilogue::Store | Epilogue::Pool(..) | Epilogue::Mask(..) | Epilogue::Unpool(..),
        ) => x,
        _ => return Err(no_halves(op)),
    };
    let kernel = kind.kernel(dev.variants());
    let (tile, cob) = (kind.tile(), kind.cob());
    let side = kind.in_side(g.k, g.stride);
    let shared = 4 * (Gather::patch_floats(kernel, side, g.stride) + cob * g.k * g.k);
    if shared > MAX_SHARED_BYTES {
        return Err(shape_err(
            op,
            format!("kernel {}×{} with stride {} needs {shared} bytes of shared memory (max {MAX_SHARED_BYTES})", g.k, g.k, g.stride),
        ));
    }
    let tiles = g.h_out.div_ceil(tile) * g.w_out.div_ceil(tile);
    let cfg = LaunchConfig {
        grid: (
            u32::try_from(tiles).map_err(|_| shape_err(op, format!("{tiles} tiles")))?,
            grid_yz(op, "output channel groups", g.c_out.div_ceil(cob))?,
            grid_yz(op, "batch", g.n)?,
        ),
        block: (tile as u32, tile as u32, 1),
        shared_bytes: shared as u32,
    };
    // Element counts must fit an int too: the kernels index planes with int.
    to_i32(op, g.n * g.c_in * g.h * g.w)?;
    to_i32(op, g.n * g.c_out * g.h_out * g.w_out)?;
    let (act_kind, slope) = act.code();
    dev.exec().launch(
        kernel,
        cfg,
        &mut [
            Arg::In("x", x),
            Arg::In("w", w),
            Arg::In("bias", bias.unwrap_or(w)),
            Arg::Out("y", y),
            Arg::I32("c_in", to_i32(op, g.c_in)?),
            Arg::I32("h", to_i32(op, g.h)?),
            Arg::I32("wd", to_i32(op, g.w)?),
            Arg::I32("c_out", to_i32(op, g.c_out)?),
            Arg::I32("k", to_i32(op, g.k)?),
            Arg::I32("stride", to_i32(op, g.stride)?),
            Arg::I32("pad", to_i32(op, g.pad)?),
            Arg::I32("h_out", to_i32(op, g.h_out)?),
            Arg::I32("w_out", to_i32(op, g.w_out)?),
            Arg::I32("has_bias", i32::from(bias.is_some())),
            Arg::I32("act", act_kind),
            Arg::F32("slope", slope),
        ],
    )?;
    epilogue.apart(dev, y)
}

/// Depth of one implicit-GEMM step (K) and threads of a block (kernels/igemm.cuh).
const IG_BK: usize = consts::SC_IG_BK as usize;
const IG_THREADS: usize = consts::SC_IG_THREADS as usize;
const _: () = assert!(IG_THREADS == 256 && IG_BK == 8 && consts::SC_IG_TN == 4);

/// An instance of an implicit-GEMM kernel template: its kernel, block tile (rows,
/// columns) and precision.
struct Instance {
    kernel: &'static Kernel,
    tile: (usize, usize),
    precision: Precision,
}

impl Instance {
    /// The convolution instance in `precision` whose column tile wastes least on `c_out`
    /// channels. At most 4 channels take the FP32 256×4 tile in every precision (a
    /// tensor-core tile is 8 channels wide). The 16-bit storages take the TF32 tiles' `_h16`
    /// instances (the 256×4 tile's FMAs are exact on 16-bit values too).
    fn conv(c_out: usize, precision: Precision) -> Instance {
        use Precision::{Bf16, Fp16, Fp32, Tf32, Tf32x3};
        let (kernel, tile) = match (c_out, precision) {
            (0..=4, Bf16 | Fp16) => (&CONV_IGEMM_256X4_H16, (256, 4)),
            (5..=16, Bf16 | Fp16) => (&CONV_IGEMM_256X16_H16, (256, 16)),
            (17..=32, Bf16 | Fp16) => (&CONV_IGEMM_256X32_H16, (256, 32)),
            (_, Bf16 | Fp16) => (&CONV_IGEMM_128X64_H16, (128, 64)),
            (0..=4, _) => (&CONV_IGEMM_256X4, (256, 4)),
            (5..=16, Fp32) => (&CONV_IGEMM_256X16, (256, 16)),
            (5..=16, Tf32) => (&CONV_IGEMM_256X16_TF32, (256, 16)),
            (5..=16, Tf32x3) => (&CONV_IGEMM_256X16_3XTF32, (256, 16)),
            (17..=32, Fp32) => (&CONV_IGEMM_256X32, (256, 32)),
            (17..=32, Tf32) => (&CONV_IGEMM_256X32_TF32, (256, 32)),
            (17..=32, Tf32x3) => (&CONV_IGEMM_256X32_3XTF32, (256, 32)),
            (_, Fp32) => (&CONV_IGEMM_128X64, (128, 64)),
            (_, Tf32) => (&CONV_IGEMM_128X64_TF32, (128, 64)),
            (_, Tf32x3) => (&CONV_IGEMM_128X64_3XTF32, (128, 64)),
        };
        let precision = if c_out <= 4 { Fp32 } else { precision.math() };
        Instance {
            kernel,
            tile,
            precision,
        }
    }
    /// The weight-gradient instance in `precision` whose row tile wastes least on `c_o`
    /// rows, for `cols` = c_i·k² columns.
    /// At most 32 rows on tensor cores take a 64-column tile for at most 64 columns (the
    /// 1-channel lifts' 9, D's first layer's 36: most of a 128-wide tile's gather and mma
    /// work would be padding), else 128: with more columns the narrow tile's per-step
    /// overhead outweighs its padding, and in FP32 its 2×4 micro-tiles cost more than
    /// 128's 4×4 (predicted).
    /// More than 64 rows take a tile of twice the work per staged value and per fragment
    /// load, at 2 blocks per SM instead of 4: in FP32 the 64×128 tile of 8×4 micro-tiles
    /// (half the shared traffic per FMA of 4×4), in TF32 128×128 (32×64 per warp).
    fn wgrad(c_o: usize, cols: usize, precision: Precision) -> Instance {
        use Precision::{Fp32, Tf32, Tf32x3};
        let precision = precision.math();
        let narrow = c_o <= 32 && cols <= 64 && precision != Fp32;
        let (kernel, tile) = match (c_o, precision) {
            (0..=32, Tf32) if narrow => (&CONV_WGRAD_IGEMM_32X64_TF32, (32, 64)),
            (0..=32, Tf32x3) if narrow => (&CONV_WGRAD_IGEMM_32X64_3XTF32, (32, 64)),
            (0..=32, Fp32) => (&CONV_WGRAD_IGEMM_32X128, (32, 128)),
            (0..=32, Tf32) => (&CONV_WGRAD_IGEMM_32X128_TF32, (32, 128)),
            (0..=32, Tf32x3) => (&CONV_WGRAD_IGEMM_32X128_3XTF32, (32, 128)),
            (33..=64, Fp32) => (&CONV_WGRAD_IGEMM_64X64, (64, 64)),
            (33..=64, Tf32) => (&CONV_WGRAD_IGEMM_64X64_TF32, (64, 64)),
            (_, Fp32) => (&CONV_WGRAD_IGEMM_64X128, (64, 128)),
            (_, Tf32) => (&CONV_WGRAD_IGEMM_128X128_TF32, (128, 128)),
            (_, Tf32x3) => (&CONV_WGRAD_IGEMM_64X64_3XTF32, (64, 64)),
            (_, _) => unreachable!("precision.math() is FP32, TF32 or 3xTF32"),
        };
        Instance {
            kernel,
            tile,
            precision,
        }
    }
    /// Static shared memory of a block: two buffers of each operand's
    /// `IG_BK × (tile + pad)` floats (kernels/igemm.cuh's `sc_ig_pad`).
    fn static_shared(&self) -> usize {
        let pad = if self.precision.tensor_cores() {
            consts::SC_IG_MMA_PAD
        } else {
            consts::SC_IG_PAD
        } as usize;
        2 * 4 * IG_BK * (self.tile.0 + pad + self.tile.1 + pad)
    }
}

/// Launches the implicit-GEMM convolution for a gather: the instance for `c_out`
/// channels, grid (row tiles of the largest parity class, channel tiles, classes ×
/// splits of K), [`IG_THREADS`] threads, dynamic shared memory for the tap table (an int4
/// per tap of a class). With K split, the kernel writes raw partial outputs into a
/// scratch and `sum_slices` adds them and applies bias and activation.
#[allow(clippy::too_many_arguments)]
fn igemm<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    kind: Gather,
    g: &Geometry,
    x: Input<'_, E::Buf>,
    w: &E::Buf,
    bias: Option<&E::Buf>,
    act: Act,
    (y, epilogue): (&mut E::Buf, Epilogue<'_, E::Buf>),
) -> Result<()> {
    let transposed = matches!(kind, Gather::Transposed);
    let out_half = match epilogue {
        Epilogue::Halves(_) => g.c_out / 2,
        _ => 0,
    };
    if let Some((kernel, bn)) = patch_kernel(g, dev.precision(), out_half) {
        return patch(
            dev,
            op,
            (kernel, bn),
            transposed,
            g,
            x,
            w,
            bias,
            act,
            (y, epilogue),
        );
    }
    if out_half != 0 {
        return Err(no_halves(op));
    }
    let (inst, plan) = conv_instance(g, dev.precision(), transposed);
    let IgemmPlan {
        step,
        taps_1d,
        rows,
        tiles,
        splits,
        chunk,
    } = plan;
    // One int4 (dy, dx, dy·wd + dx, weight offset) per tap.
    let shared = 16 * (taps_1d * taps_1d).max(1);
    let max_dynamic = MAX_SHARED_BYTES - inst.static_shared();
    if shared > max_dynamic {
        return Err(shape_err(
            op,
            format!("kernel {}×{} needs {shared} bytes of shared memory for its taps (max {max_dynamic})", g.k, g.k),
        ));
    }
    let y_len = g.n * g.c_out * g.h_out * g.w_out;
    to_i32(op, g.n * g.c_in * g.h * g.w)?;
    to_i32(op, y_len)?;
    to_i32(op, g.c_in * g.c_out * g.k * g.k)?;
    to_i32(op, splits * y_len)?;
    let (act_kind, slope) = act.code();
    let launch = |out: SplitOut<'_, E::Buf>| {
        let cfg = LaunchConfig {
            grid: (
                u32::try_from(tiles.0)
                    .map_err(|_| shape_err(op, format!("{rows} output pixels")))?,
                grid_yz(op, "output channel tiles", tiles.1)?,
                grid_yz(op, "parity classes × K splits", step * step * splits)?,
            ),
            block: (IG_THREADS as u32, 1, 1),
            shared_bytes: shared as u32,
        };
        let finish = out.finish;
        let ints = [
            Arg::I32("n", to_i32(op, g.n)?),
            Arg::I32("c_in", to_i32(op, g.c_in)?),
            Arg::I32("h", to_i32(op, g.h)?),
            Arg::I32("wd", to_i32(op, g.w)?),
            Arg::I32("c_out", to_i32(op, g.c_out)?),
            Arg::I32("k", to_i32(op, g.k)?),
            Arg::I32("stride", to_i32(op, g.stride)?),
            Arg::I32("pad", to_i32(op, g.pad)?),
            Arg::I32("h_out", to_i32(op, g.h_out)?),
            Arg::I32("w_out", to_i32(op, g.w_out)?),
            Arg::I32("transposed", i32::from(transposed)),
            Arg::I32("k_chunk", to_i32(op, chunk)?),
            Arg::I32("has_bias", i32::from(bias.is_some() && finish)),
            Arg::I32("act", if finish { act_kind } else { 0 }),
            Arg::I32("mask_act", out.mask_act.0),
            Arg::I32("cat_in", halves(x.1.is_some(), g.c_in)),
            Arg::F32(
                "slope",
                if out.mask_act.0 != 0 {
                    out.mask_act.1
                } else {
                    slope
                },
            ),
        ];
        out.launch(dev, inst.kernel, cfg, x, w, bias, ints)
    };
    let layout = (g.h_out * g.w_out, g.c_out);
    split_launch(
        dev,
        op,
        splits,
        layout,
        (bias, w),
        act,
        y,
        None,
        (epilogue, step == 1),
        launch,
    )
}

/// How [`igemm`] launches a gather: the parity step (the transposed convolution's stride,
/// else one) and taps per side of class (0, 0), which has the most rows and taps; its rows
/// (pixels); the grid's row and channel tiles; K split into `splits` chunks of `chunk`.
struct IgemmPlan {
    step: usize,
    taps_1d: usize,
    rows: usize,
    tiles: (usize, usize),
    splits: usize,
    chunk: usize,
}

/// The implicit-GEMM instance of a gather in `precision` and its plan: [`Instance::conv`]'s,
/// except that on tensor cores 17 to 32 output channels take the 128×64 tile where the
/// 256×32 tiles would leave most SMs without a block (the U-Net's 2×2 stride-2 up-sampling
/// and its input gradient: 64 blocks of 8 K-steps, latency-bound; 128 blocks with half of
/// each tile's columns idle: predicted 0.860 → 0.853 ms per `unet` iteration in TF32).
fn conv_instance(g: &Geometry, precision: Precision, transposed: bool) -> (Instance, IgemmPlan) {
    let inst = Instance::conv(g.c_out, precision);
    let plan = igemm_plan(g, &inst, transposed);
    let blocks = plan.tiles.0 * plan.tiles.1 * plan.step * plan.step * plan.splits;
    if inst.tile == (256, 32) && inst.precision.tensor_cores() && blocks < SPLIT_K_BLOCKS_CONV / 2 {
        let wide = Instance::conv(64, precision);
        let plan = igemm_plan(g, &wide, transposed);
        return (wide, plan);
    }
    (inst, plan)
}

/// The launch plan of the implicit GEMM `inst` for a gather (see [`IgemmPlan`]).
fn igemm_plan(g: &Geometry, inst: &Instance, transposed: bool) -> IgemmPlan {
    let (step, taps_1d) = if transposed {
        (g.stride, g.k.div_ceil(g.stride))
    } else {
        (1, g.k)
    };
    let rows = g.n * g.h_out.div_ceil(step) * g.w_out.div_ceil(step);
    let depth = g.c_in * taps_1d * taps_1d;
    let tiles = (
        rows.div_ceil(inst.tile.0).max(1),
        g.c_out.div_ceil(inst.tile.1),
    );
    let aim = (SPLIT_K_BLOCKS_CONV, SPLIT_K_MIN_STEPS_CONV);
    let (splits, chunk) = split_k(aim, tiles.0 * tiles.1 * step * step, depth);
    IgemmPlan {
        step,
        taps_1d,
        rows,
        tiles,
        splits,
        chunk,
    }
}

/// The `cat_in` / `cat_out` argument of a convolution kernel: half of `channels` when that
/// side is split in two ([`Input`], [`Epilogue::Halves`]), else 0.
fn halves(split: bool, channels: usize) -> i32 {
    if split {
        (channels / 2) as i32
    } else {
        0
    }
}

/// Output tile side and input channels per staged chunk of the patch-staged convolutions.
const PATCH_TILE: usize = consts::SC_PATCH_TILE as usize;
const PATCH_CK: usize = consts::SC_PATCH_CK as usize;

/// The patch-staged tensor-core kernel (kernels/conv2d.cu, `conv_patch_body`) for a gather
/// and its channel tile, if one fits it: tensor-core precision, stride 1, and either a 9×9
/// kernel with at most 32 output channels (G's layers of the `seed` preset; 8-channel
/// tiles for at most 8) or a 3×3 kernel with more than 8 output channels on maps of at
/// least one 16×16 tile, in tiles of 16, 32 or 64 channels (D's first convolutions, the
/// U-Net's: predicted 1.56 → 1.42 ms per `unet` iteration in TF32 with the 16- and
/// 32-channel tiles, whose implicit GEMM gathered every (pixel, tap) pair). A 3×3 kernel
/// takes the narrowest tile that holds its channels, halved while the tiles leave most SMs
/// with one block ([`few_tiles`]; 64 → 32: 1.11 → 1.06 ms; down to 16: 0.98 → 0.94 ms,
/// twice the warps per SM where a block each had hidden no latency).
///
/// An output written in two halves of `out_half` channels each (0: whole) takes 3×3 tiles no
/// wider than the largest of 16, 32, 64 dividing it, so that a tile lies in one half.
fn patch_kernel(
    g: &Geometry,
    precision: Precision,
    out_half: usize,
) -> Option<(&'static Kernel, usize)> {
    if precision == Precision::Fp32 || g.stride != 1 {
        return None;
    }
    // The instance of each precision: TF32, 3xTF32, 16-bit storage.
    let pick = |[tf32, x3, h16]: [&'static Kernel; 3]| match precision {
        Precision::Tf32x3 => x3,
        Precision::Bf16 | Precision::Fp16 => h16,
        _ => tf32,
    };
    match g.k {
        9 if g.c_out <= 8 => Some((
            pick([
                &CONV_PATCH_9X8_TF32,
                &CONV_PATCH_9X8_3XTF32,
                &CONV_PATCH_9X8_H16,
            ]),
            8,
        )),
        9 if g.c_out <= 32 => Some((
            pick([
                &CONV_PATCH_9X32_TF32,
                &CONV_PATCH_9X32_3XTF32,
                &CONV_PATCH_9X32_H16,
            ]),
            32,
        )),
        3 if g.h_out < PATCH_TILE || g.w_out < PATCH_TILE || g.c_out <= 8 => None,
        3 => {
            let mut bn = if g.c_out <= 16 {
                16
            } else if g.c_out <= 32 {
                32
            } else {
                64
            };
            while bn > 16 && (few_tiles(g, bn) || out_half % bn != 0) {
                bn /= 2;
            }
            let kernels = match bn {
                16 => [
                    &CONV_PATCH_3X16_TF32,
                    &CONV_PATCH_3X16_3XTF32,
                    &CONV_PATCH_3X16_H16,
                ],
                32 => [
                    &CONV_PATCH_3X32_TF32,
                    &CONV_PATCH_3X32_3XTF32,
                    &CONV_PATCH_3X32_H16,
                ],
                _ => [
                    &CONV_PATCH_3X64_TF32,
                    &CONV_PATCH_3X64_3XTF32,
                    &CONV_PATCH_3X64_H16,
                ],
            };
            Some((pick(kernels), bn))
        }
        _ => None,
    }
}

/// Whether a 3×3 convolution's tiles of `bn` channels, split as far as the kernel adds the
/// splits itself ([`FOLD_MAX_SPLITS`]), would give fewer than [`SPLIT_K_BLOCKS_CONV`]
/// blocks (most SMs one block or none): then half as wide tiles give twice the blocks.
fn few_tiles(g: &Geometry, bn: usize) -> bool {
    let tiles = g.h_out.div_ceil(PATCH_TILE) * g.w_out.div_ceil(PATCH_TILE);
    let splits = FOLD_MAX_SPLITS.min(g.c_in.div_ceil(PATCH_CK) / PATCH_SPLIT_MIN_UNITS);
    tiles * g.c_out.div_ceil(bn) * g.n * splits.max(1) < SPLIT_K_BLOCKS_CONV
}

/// Fewest units of K (chunks of 8 input channels, or (image, tile) pairs) per split of a
/// patch-staged launch.
const PATCH_SPLIT_MIN_UNITS: usize = 2;

/// The split of K = `units` units (a convolution's chunks of input channels, a weight
/// gradient's (image, tile) pairs) of a patch-staged launch of `blocks` blocks per split,
/// aiming at [`SPLIT_K_BLOCKS_CONV`] blocks, by the shape alone: (splits, units per split);
/// every split is non-empty.
pub(crate) fn patch_split(blocks: usize, units: usize) -> (usize, usize) {
    let want = SPLIT_K_BLOCKS_CONV.div_ceil(blocks.max(1));
    let splits = want.min(units / PATCH_SPLIT_MIN_UNITS).max(1);
    let per = units.div_ceil(splits).max(1);
    (units.div_ceil(per).max(1), per)
}

/// The plan of a patch-staged launch with channel tiles of `bn`: its output tiles per image
/// and channel tile, and K split into (splits, chunks of 8 input channels per split) by
/// [`patch_split`].
fn patch_plan(g: &Geometry, bn: usize) -> (usize, usize, usize) {
    let tiles = g.h_out.div_ceil(PATCH_TILE) * g.w_out.div_ceil(PATCH_TILE);
    let (splits, per_split) = patch_split(
        tiles * g.c_out.div_ceil(bn) * g.n,
        g.c_in.div_ceil(PATCH_CK),
    );
    (tiles, splits, per_split)
}

/// Launches a patch-staged convolution: grid (16×16 output tiles, channel tiles of `bn`,
/// images × splits of K), [`IG_THREADS`] threads, static shared memory only. K (chunks of 8
/// input channels) is split by the shape alone where the tiles would leave the GPU idle
/// ([`patch_split`]), finished in the kernel for at most [`FOLD_MAX_SPLITS`] splits, else by
/// `sum_slices` as the implicit GEMM's splits. A stride-1 transposed convolution runs as the
/// correlation with flipped weights and padding k − 1 − pad.
#[allow(clippy::too_many_arguments)]
fn patch<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    (kernel, bn): (&'static Kernel, usize),
    transposed: bool,
    g: &Geometry,
    x: Input<'_, E::Buf>,
    w: &E::Buf,
    bias: Option<&E::Buf>,
    act: Act,
    (y, epilogue): (&mut E::Buf, Epilogue<'_, E::Buf>),
) -> Result<()> {
    let pad = if transposed {
        g.k as i64 - 1 - g.pad as i64
    } else {
        g.pad as i64
    };
    // A chunk of 8 input channels, and a tile of bn output channels, in one half.
    let out_halves = matches!(epilogue, Epilogue::Halves(_));
    if (x.1.is_some() && (g.c_in / 2) % PATCH_CK != 0) || (out_halves && (g.c_out / 2) % bn != 0) {
        return Err(no_halves(op));
    }
    let (tiles, splits, per_split) = patch_plan(g, bn);
    let y_len = g.n * g.c_out * g.h_out * g.w_out;
    to_i32(op, g.n * g.c_in * g.h * g.w)?;
    to_i32(op, y_len)?;
    to_i32(op, g.c_in * g.c_out * g.k * g.k)?;
    to_i32(op, splits * y_len)?;
    let (act_kind, slope) = act.code();
    let launch = |out: SplitOut<'_, E::Buf>| {
        let cfg = LaunchConfig {
            grid: (
                u32::try_from(tiles).map_err(|_| shape_err(op, format!("{tiles} output tiles")))?,
                grid_yz(op, "output channel tiles", g.c_out.div_ceil(bn))?,
                grid_yz(op, "batch × K splits", g.n * splits)?,
            ),
            block: (IG_THREADS as u32, 1, 1),
            shared_bytes: 0,
        };
        let finish = out.finish;
        let ints = [
            Arg::I32("n", to_i32(op, g.n)?),
            Arg::I32("c_in", to_i32(op, g.c_in)?),
            Arg::I32("h", to_i32(op, g.h)?),
            Arg::I32("wd", to_i32(op, g.w)?),
            Arg::I32("c_out", to_i32(op, g.c_out)?),
            Arg::I32("k", to_i32(op, g.k)?),
            Arg::I32("pad", pad as i32),
            Arg::I32("h_out", to_i32(op, g.h_out)?),
            Arg::I32("w_out", to_i32(op, g.w_out)?),
            Arg::I32("transposed", i32::from(transposed)),
            Arg::I32("k_chunk", to_i32(op, per_split)?),
            Arg::I32("fold", i32::from(out.fold)),
            Arg::I32("pool", i32::from(out.pool)),
            Arg::I32("has_bias", i32::from(bias.is_some() && finish)),
            Arg::I32("act", if finish { act_kind } else { 0 }),
            Arg::I32("mask_act", out.mask_act.0),
            Arg::I32("cat_in", halves(x.1.is_some(), g.c_in)),
            Arg::I32("cat_out", halves(out.y2.is_some(), g.c_out)),
            Arg::F32(
                "slope",
                if out.mask_act.0 != 0 {
                    out.mask_act.1
                } else {
                    slope
                },
            ),
        ];
        out.launch(dev, kernel, cfg, x, w, bias, ints)
    };
    split_launch(
        dev,
        op,
        splits,
        (g.h_out * g.w_out, g.c_out),
        (bias, w),
        act,
        y,
        Some(tiles * g.c_out.div_ceil(bn) * g.n),
        (epilogue, true),
        launch,
    )
}

/// Where a convolution launch whose K may be split writes: `y` and, for the 16-bit
/// instances and the patch-staged ones, the FP32 scratch `parts` of the split partial sums
/// (a 1-element stand-in when K is whole); for the patch-staged ones also the fold's
/// counters `tickets` (a 1-element stand-in without a fold) and the pooled copy of y
/// `pooled` (a 1-element stand-in unless `pool`); `mask`, the activation output whose
/// derivative (`mask_act`, an [`Act`] code (0: none) and slope) the kernel multiplies y by
/// (w stands in without); `y2`, where y holds the output's first half of the channels
/// ([`Epilogue::Halves`]), the second half (a 1-element stand-in without); `finish` when
/// the launch finishes y itself (K whole, or split and folded: bias and activation in the
/// epilogue), `fold` when it adds its splits in the kernel, `pool` when it also writes y's
/// 2×2 max pooling.
struct SplitOut<'a, B> {
    y: &'a mut B,
    y2: Option<&'a mut B>,
    parts: Option<&'a mut B>,
    tickets: Option<&'a mut B>,
    pooled: Option<&'a mut B>,
    mask: Option<&'a B>,
    mask_act: (i32, f32),
    finish: bool,
    fold: bool,
    pool: bool,
}

/// What a convolution does with y after finishing it, where asked: the kernel does it in
/// its epilogue when it finishes y itself (the patch-staged kernels; the implicit GEMM a
/// mask, with one parity class), else launches of their own follow
/// ([`Epilogue::apart`]).
pub(crate) enum Epilogue<'a, B> {
    /// Nothing more.
    Store,
    /// Also `p = maxpool2×2(y)` of y's shape (`max_pool2d_forward`'s bits).
    Pool(&'a Pool2dShape, &'a mut B),
    /// `y ← y · act'(mask)` (`act_backward`'s bits): an input gradient through the
    /// activation whose output `mask` is.
    Mask(Act, &'a B),
    /// y is the gradient of a pooled map, and this buffer receives it on through the
    /// pooling (`max_pool2d_backward`'s bits): an input gradient whose convolution reads
    /// a pooled map.
    Unpool(Unpool<'a, B>, &'a mut B),
    /// y holds the first half of the output's channels and this buffer the second (the
    /// input gradient of a convolution of two inputs, [`Input`]): only where the kernel
    /// finishes y itself ([`writes_halves`]).
    Halves(&'a mut B),
}

impl<B> Epilogue<'_, B> {
    /// Runs it after the convolution wrote `y`, as launches of their own.
    fn apart<E: KernelExec<Buf = B>>(self, dev: &GpuDevice<E>, y: &mut B) -> Result<()> {
        match self {
            Epilogue::Store => Ok(()),
            Epilogue::Pool(s, p) => max_pool2d_forward(dev, s, y, p),
            Epilogue::Mask(act, mask) => act_backward(dev, act, mask, y),
            Epilogue::Unpool(u, dx) => max_pool2d_backward(dev, u.shape, u.x, y, u.act, u.add, dx),
            Epilogue::Halves(_) => Err(no_halves("a convolution")),
        }
    }
}

impl<'a, B> SplitOut<'a, B> {
    /// Launches a convolution instance with the arguments x, x2 (x stands in for a single
    /// input), w, bias, mask, y (then parts, tickets, and pooled and y2 where given: the
    /// patch-staged kernels; a stand-in for a whole output), then `ints` (n … slope), then
    /// (the 16-bit instances) the storage's format.
    #[allow(clippy::too_many_arguments)]
    fn launch<'b, E: KernelExec<Buf = B>>(
        self,
        dev: &GpuDevice<E>,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        (x, x2): Input<'b, B>,
        w: &'b B,
        bias: Option<&'b B>,
        ints: impl IntoIterator<Item = Arg<'b, B>>,
    ) -> Result<()>
    where
        'a: 'b,
    {
        let patch = self.pooled.is_some();
        let run = |y2: Option<&mut B>| {
            let mut args = vec![
                Arg::In("x", x),
                Arg::In("x2", x2.unwrap_or(x)),
                Arg::In("w", w),
                Arg::In("bias", bias.unwrap_or(w)),
                Arg::In("mask", self.mask.unwrap_or(w)),
                Arg::Out("y", self.y),
            ];
            if let Some(parts) = self.parts {
                args.push(Arg::Out("parts", parts));
            }
            if let Some(tickets) = self.tickets {
                args.push(Arg::Out("tickets", tickets));
            }
            if let Some(pooled) = self.pooled {
                args.push(Arg::Out("pooled", pooled));
            }
            if let Some(y2) = y2 {
                args.push(Arg::Out("y2", y2));
            }
            // (Pushed one by one: each coerces to the shorter lifetime of y2.)
            for a in ints {
                args.push(a);
            }
            if let Some(f) = dev.storage() {
                args.push(Arg::I32("fmt", f.code()));
            }
            dev.exec().launch(kernel, cfg, &mut args)
        };
        match self.y2 {
            Some(y2) => run(Some(y2)),
            None if patch => dev.with_stand_in(1, |b| run(Some(b))),
            None => run(None),
        }
    }
}

/// Most splits of K a patch-staged convolution adds inside the kernel (the last block of
/// each output tile reads the others' partial sums, a serial tail that grows with the
/// splits); with more, `sum_slices` adds them in a launch of its own.
const FOLD_MAX_SPLITS: usize = 4;

/// Runs a launch whose K may be split: with one split, `launch` writes the result into
/// `out`; with more, it writes the `splits` partial results into a scratch of `splits`
/// outputs and `sum_slices` adds them in order into `out`, with `bias` and `act` over its
/// NCHW `layout` (plane, channels). With 16-bit storage the kernel gets both (the
/// partial sums stay FP32; a 1-element scratch stands in when K is whole), and `stand_in`
/// (a buffer of `out`'s element type, not read) takes the place of a missing bias.
///
/// `fold`: the kernel takes the scratch, counters and a pooled output whatever the storage
/// (the patch-staged convolutions), `Some(tiles)` its output tiles (one counter each); with
/// at most [`FOLD_MAX_SPLITS`] splits it adds them itself, with no `sum_slices`.
/// `epilogue`: where the kernel finishes y itself, a pooling is the kernel's when it folds
/// (the patch-staged ones), a mask when `masks` (the kernel can); else it runs apart after.
#[allow(clippy::too_many_arguments)]
fn split_launch<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    splits: usize,
    layout: (usize, usize),
    (bias, stand_in): (Option<&E::Buf>, &E::Buf),
    act: Act,
    out: &mut E::Buf,
    fold: Option<usize>,
    (epilogue, masks): (Epilogue<'_, E::Buf>, bool),
    launch: impl Fn(SplitOut<'_, E::Buf>) -> Result<()>,
) -> Result<()> {
    // An output in two halves: the kernel writes both, with the partial sums of a split K in
    // the whole output's layout.
    let (mut epilogue, mut y2) = match epilogue {
        Epilogue::Halves(second) => (Epilogue::Store, Some(second)),
        e => (e, None),
    };
    let len = dev.exec().len(out) + y2.as_ref().map_or(0, |b| dev.exec().len(b));
    let folds = fold.is_some() && splits > 1 && splits <= FOLD_MAX_SPLITS;
    let finish = splits == 1 || folds;
    // Where sum_slices finishes the split K (FP32) it also pools or applies a mask (of an
    // input gradient: no activation of its own).
    let in_sum = !finish
        && dev.storage().is_none()
        && match epilogue {
            Epilogue::Pool(..) => true,
            Epilogue::Mask(..) => act == Act::Identity,
            // (Not after a two-stage sum.)
            Epilogue::Unpool(..) => two_stage_group(splits, len).is_none(),
            _ => false,
        };
    let finish_apart =
        |parts: &E::Buf, out: &mut E::Buf, epilogue: &mut Epilogue<'_, E::Buf>| match (
            dev.storage(),
            epilogue,
        ) {
            (Some(_), _) => {
                sum_slices_h16(dev, op, parts, splits, layout, bias, stand_in, act, out)
            }
            (None, Epilogue::Pool(s, p)) if in_sum => {
                sum_slices_pool(dev, op, parts, splits, s, bias, act, (out, p))
            }
            (None, Epilogue::Mask(a, m)) if in_sum => {
                sum_slices_masked(dev, op, parts, splits, (*a, m), out)
            }
            (None, Epilogue::Unpool(u, dx)) if in_sum => {
                max_pool2d_backward_slices(dev, u.shape, u.x, (parts, splits), u.act, u.add, dx)
            }
            (None, _) => sum_slices(dev, op, parts, splits, layout, bias, act, out),
        };
    if y2.is_some() && !finish {
        return Err(no_halves(op));
    }
    // Whether the kernel does the epilogue itself, and its mask.
    let in_kernel = finish
        && match epilogue {
            Epilogue::Store => false,
            Epilogue::Pool(..) => fold.is_some(),
            Epilogue::Mask(..) => masks,
            Epilogue::Unpool(..) => false,
            Epilogue::Halves(_) => true,
        };
    let (mask, mask_act) = match epilogue {
        Epilogue::Mask(a, m) if in_kernel => (Some(m), a.code()),
        _ => (None, (0, 0.0)),
    };
    if fold.is_some() || dev.storage().is_some() {
        let parts_len = if splits == 1 { 1 } else { splits * len };
        dev.with_split_scratch(parts_len, |parts| {
            match fold {
                Some(tiles) => dev.with_tickets(if folds { tiles } else { 1 }, |tickets| {
                    let mut run = |p: &mut E::Buf, pool: bool| {
                        launch(SplitOut {
                            y: out,
                            y2: y2.take(),
                            parts: Some(parts),
                            tickets: Some(tickets),
                            pooled: Some(p),
                            mask,
                            mask_act,
                            finish,
                            fold: folds,
                            pool,
                        })
                    };
                    match &mut epilogue {
                        Epilogue::Pool(_, p) if in_kernel => run(p, true),
                        _ => dev.with_stand_in(0, |p| run(p, false)),
                    }
                })?,
                None => launch(SplitOut {
                    y: out,
                    y2: y2.take(),
                    parts: Some(parts),
                    tickets: None,
                    pooled: None,
                    mask,
                    mask_act,
                    finish,
                    fold: false,
                    pool: false,
                })?,
            }
            if finish {
                return Ok(());
            }
            finish_apart(parts, out, &mut epilogue)
        })?;
    } else if splits == 1 {
        launch(SplitOut {
            y: out,
            y2,
            parts: None,
            tickets: None,
            pooled: None,
            mask,
            mask_act,
            finish: true,
            fold: false,
            pool: false,
        })?;
    } else {
        dev.with_split_scratch(splits * len, |parts| {
            launch(SplitOut {
                y: parts,
                y2: None,
                parts: None,
                tickets: None,
                pooled: None,
                mask: None,
                mask_act: (0, 0.0),
                finish: false,
                fold: false,
                pool: false,
            })?;
            finish_apart(parts, out, &mut epilogue)
        })?;
    }
    if in_kernel || in_sum {
        return Ok(());
    }
    epilogue.apart(dev, out)
}

/// Blocks a split-K launch aims for: a convolution about two per SM of the largest GPUs
/// (its splits cost a finishing pass over the whole output), a weight gradient about four
/// (one wave of its 4-blocks-per-SM kernels; its output is small). The split count
/// depends on the shape only, so results are the same on every GPU.
const SPLIT_K_BLOCKS_CONV: usize = 256;
const SPLIT_K_BLOCKS_WGRAD: usize = 512;
/// Fewest K steps of [`IG_BK`] per split: a convolution 8 (the U-Net's and D's 3×3 layers of
/// 32–64 input channels then reach two blocks per SM: predicted 2.26 → 2.05 ms per `unet`
/// iteration in FP32; 4 gains nothing more), a weight gradient 16.
const SPLIT_K_MIN_STEPS_CONV: usize = 8;
const SPLIT_K_MIN_STEPS_WGRAD: usize = 16;

/// The split of K = `depth` for `tiles` output tiles aiming at `blocks` blocks, with at
/// least `min_steps` steps per split: (splits, K per split, a multiple of [`IG_BK`]); every
/// split is non-empty.
pub(crate) fn split_k(
    (blocks, min_steps): (usize, usize),
    tiles: usize,
    depth: usize,
) -> (usize, usize) {
    let steps = depth.div_ceil(IG_BK).max(1);
    let want = blocks.div_ceil(tiles.max(1));
    let splits = want.min(steps / min_steps).max(1);
    let chunk = steps.div_ceil(splits) * IG_BK;
    (depth.div_ceil(chunk).max(1), chunk)
}

/// Launches the chosen weight-gradient kernel (see [`weight_grad_v1`]) for
/// dw `[c_o, c_i, k, k]` from g `[n, c_o, gh, gw]` and x `[n, c_i, xh, xw]`, and with `db`
/// the sums of g per channel `[c_o]` (a conv2d's bias gradient, g being its output
/// gradient): the patch-staged kernel where one fits ([`wgrad_patch_kernel`]), else the
/// implicit GEMM. Both split K by the shape alone and finish with `sum_slices`. The implicit
/// GEMM sums `db` in the same pass (its splits' partial sums finished with dw's by one
/// `sum_slices_pair`); after the others `channel_sum` does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_grad<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    g_geom: (usize, usize, usize, usize),
    x_geom: (usize, usize, usize),
    k: usize,
    stride: usize,
    pad: usize,
    g: &E::Buf,
    x: Input<'_, E::Buf>,
    dw: &mut E::Buf,
    db: Option<&mut E::Buf>,
) -> Result<()> {
    let v2 = wgrad_v2(dev);
    // Every kernel indexes g and x with 32-bit offsets.
    let ((n, c_o, gh, gw), (c_i, xh, xw)) = (g_geom, x_geom);
    to_i32(op, n * c_o * gh * gw)?;
    to_i32(op, n * c_i * xh * xw)?;
    let geom = (g_geom, x_geom, (k, stride, pad));
    match (v2, wgrad_patch_kernel(k, stride, dev.precision()), x) {
        (true, None, x) => return weight_grad_igemm(dev, op, geom, g, x, dw, db),
        (_, _, (_, Some(_))) => return Err(no_halves(op)),
        (false, _, (x, None)) => weight_grad_v1(dev, op, geom, g, x, dw)?,
        (true, Some(kernel), (x, None)) => weight_grad_patch(dev, op, kernel, geom, g, x, dw)?,
    }
    match db {
        Some(db) => channel_sum(dev, op, (n, c_o, gh * gw), g, db),
        None => Ok(()),
    }
}

/// Whether the weight gradients run the v2 kernels (implicit GEMM, patch-staged).
fn wgrad_v2<E: KernelExec>(dev: &GpuDevice<E>) -> bool {
    std::ptr::eq(
        dev.variants().kernel("conv2d_weight_grad"),
        &CONV_WGRAD_IGEMM_64X64,
    )
}

/// Whether the weight gradient of a `k`×`k` convolution of `stride` can read x as two
/// halves ([`Input`]): the implicit GEMM.
pub(crate) fn wgrad_reads_halves<E: KernelExec>(
    dev: &GpuDevice<E>,
    k: usize,
    stride: usize,
) -> bool {
    wgrad_v2(dev) && wgrad_patch_kernel(k, stride, dev.precision()).is_none()
}

/// The dimensions of a weight gradient: g's `(n, c_o, gh, gw)`, x's `(c_i, xh, xw)` and
/// `(k, stride, pad)`.
type WgradGeom = (
    (usize, usize, usize, usize),
    (usize, usize, usize),
    (usize, usize, usize),
);

/// The implicit-GEMM weight gradient (see [`weight_grad`]), with `db` summed in the pass.
fn weight_grad_igemm<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    geom: WgradGeom,
    g: &E::Buf,
    (x, x2): Input<'_, E::Buf>,
    dw: &mut E::Buf,
    db: Option<&mut E::Buf>,
) -> Result<()> {
    let ((_, c_o, _, _), (c_i, _, _), (k, _, _)) = geom;
    let inst = Instance::wgrad(c_o, c_i * k * k, dev.precision());
    let plan = WgradPlan::igemm(inst, geom.0, c_i, k);
    let len = c_o * c_i * k * k;
    to_i32(op, plan.splits * (len + c_o))?;
    let has_db = db.is_some();
    // dw (or a split's partial dw) into `out`, the per-channel sums into `sums` (written
    // only with has_db).
    let launch = |out: &mut E::Buf, sums: &mut E::Buf| {
        let mut args = plan.args(op, (g, x, out), geom)?;
        // x2 after x (x stands in for one input).
        args.insert(2, Arg::In("x2", x2.unwrap_or(x)));
        args.push(Arg::Out("db", sums));
        args.push(Arg::I32("has_db", i32::from(has_db)));
        args.push(Arg::I32("cat_in", halves(x2.is_some(), c_i)));
        dev.exec().launch(plan.kernel, plan.config(op)?, &mut args)
    };
    if plan.splits == 1 {
        return match db {
            Some(db) => launch(dw, db),
            // Not written: any buffer stands in.
            None => dev.with_split_scratch(1, |unused| launch(dw, unused)),
        };
    }
    if plan.splits * (len + c_o) <= DEFER_MAX_FLOATS && dev.deferring()? {
        // Queued: the partial sums in scratches of their own, added at the end of the
        // pass in the order sum_slices_pair or sum_slices would add them.
        let (splits, b_len) = (plan.splits, if has_db { c_o } else { 0 });
        let group = two_stage_group(splits, len + b_len).unwrap_or(1);
        let alias = |b: &E::Buf| dev.exec().view(b, 0, dev.exec().len(b));
        return match db {
            Some(db) => dev.defer_split_sums(vec![alias(dw)?, alias(db)?], (splits, group), |p| {
                let (p_w, p_b) = p.split_at_mut(1);
                launch(&mut p_w[0], &mut p_b[0])
            }),
            None => dev.with_split_scratch(1, |unused| {
                dev.defer_split_sums(vec![alias(dw)?], (splits, group), |p| {
                    launch(&mut p[0], unused)
                })
            }),
        };
    }
    let at = (plan.splits * len).next_multiple_of(GROUP_ALIGN);
    dev.with_split_scratch(at + plan.splits * c_o, |scratch| {
        let mut parts = dev.exec().view(scratch, 0, plan.splits * len)?;
        let mut parts_b = dev.exec().view(scratch, at, plan.splits * c_o)?;
        launch(&mut parts, &mut parts_b)?;
        match db {
            Some(db) => sum_slices_pair(dev, op, (&parts, dw), (&parts_b, db), plan.splits),
            None => sum_slices(
                dev,
                op,
                &parts,
                plan.splits,
                (1, 1),
                None,
                Act::Identity,
                dw,
            ),
        }
    })
}

/// Most partial-sum floats of a weight gradient whose split-K sum is queued while the
/// device defers them ([`GpuDevice::defer_split_sums`]): each queued sum keeps a scratch
/// of its own until the end of the pass, and a larger sum's own launch is no longer
/// launch-bound (D's deep layers of the `seed` preset would hold hundreds of MB).
const DEFER_MAX_FLOATS: usize = 1 << 22;

/// The patch-staged weight gradient `kernel` (see [`weight_grad`]), its splits finished by
/// `sum_slices`.
fn weight_grad_patch<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    kernel: &'static Kernel,
    geom: WgradGeom,
    g: &E::Buf,
    x: &E::Buf,
    dw: &mut E::Buf,
) -> Result<()> {
    let ((_, c_o, _, _), (c_i, _, _), (k, _, _)) = geom;
    let plan = WgradPlan::patch(kernel, geom.0, c_i, k);
    to_i32(op, plan.splits * c_o * c_i * k * k)?;
    // Without bias or activation, partial and final results are written alike.
    let launch = |out: SplitOut<'_, E::Buf>| {
        let mut args = plan.args(op, (g, x, out.y), geom)?;
        dev.exec().launch(plan.kernel, plan.config(op)?, &mut args)
    };
    split_launch(
        dev,
        op,
        plan.splits,
        (1, 1),
        (None, g),
        Act::Identity,
        dw,
        None,
        (Epilogue::Store, false),
        launch,
    )
}

/// How a weight-gradient kernel is launched: its grid's x and y, threads per block, and K
/// split into `splits` chunks of `chunk` (positions for the implicit GEMM, (image, tile)
/// pairs for the patch-staged kernel).
struct WgradPlan {
    kernel: &'static Kernel,
    grid: (usize, usize),
    threads: u32,
    splits: usize,
    chunk: usize,
}

impl WgradPlan {
    /// The launch configuration: grid (x, y, splits), `threads` threads, no dynamic shared
    /// memory.
    fn config(&self, op: &'static str) -> Result<LaunchConfig> {
        Ok(LaunchConfig {
            grid: (
                to_i32(op, self.grid.0)? as u32,
                grid_yz(op, "weight gradient tiles", self.grid.1)?,
                grid_yz(op, "K splits", self.splits)?,
            ),
            block: (self.threads, 1, 1),
            shared_bytes: 0,
        })
    }

    /// The arguments both weight-gradient kernels take: g, x, the output and the geometry.
    fn args<'b, B>(
        &self,
        op: &'static str,
        (g, x, out): (&'b B, &'b B, &'b mut B),
        geom: WgradGeom,
    ) -> Result<Vec<Arg<'b, B>>> {
        let mut args = wgrad_args(op, (g, x, ("out", out)), geom)?;
        args.push(Arg::I32("k_chunk", to_i32(op, self.chunk)?));
        Ok(args)
    }

    /// The implicit GEMM `inst`: grid (row tiles, column tiles), K = n·gh·gw split by
    /// [`split_k`] toward one wave.
    fn igemm(
        inst: Instance,
        (n, c_o, gh, gw): (usize, usize, usize, usize),
        c_i: usize,
        k: usize,
    ) -> Self {
        let grid = (
            c_o.div_ceil(inst.tile.0),
            (c_i * k * k).div_ceil(inst.tile.1),
        );
        // The 64×128 and 128×128 tiles run 2 blocks per SM, the others 4: one wave of either.
        let target = if inst.tile.0 * inst.tile.1 > 64 * 64 {
            SPLIT_K_BLOCKS_WGRAD / 2
        } else {
            SPLIT_K_BLOCKS_WGRAD
        };
        let aim = (target, SPLIT_K_MIN_STEPS_WGRAD);
        let (splits, chunk) = split_k(aim, grid.0 * grid.1, n * gh * gw);
        WgradPlan {
            kernel: inst.kernel,
            grid,
            threads: IG_THREADS as u32,
            splits,
            chunk,
        }
    }

    /// The patch-staged `kernel`: grid (tiles of [`WPATCH_BM`] output channels, chunks of
    /// 8 input channels), 32·k threads (a warp per kernel row), the (image, tile) pairs split
    /// by [`patch_split`].
    fn patch(
        kernel: &'static Kernel,
        (n, c_o, gh, gw): (usize, usize, usize, usize),
        c_i: usize,
        k: usize,
    ) -> Self {
        let pairs = n * gh.div_ceil(WPATCH_TILE.0) * gw.div_ceil(WPATCH_TILE.1);
        let grid = (c_o.div_ceil(WPATCH_BM), c_i.div_ceil(PATCH_CK));
        let (splits, chunk) = patch_split(grid.0 * grid.1, pairs);
        WgradPlan {
            kernel,
            grid,
            threads: 32 * k as u32,
            splits,
            chunk,
        }
    }
}

/// Gradient positions of a tile (rows, columns) and output channels of a block of the
/// patch-staged weight gradient (kernels/conv2d.cu, `conv_wgrad_patch_body`).
const WPATCH_TILE: (usize, usize) = (consts::SC_WPATCH_TH as usize, consts::SC_WPATCH_TW as usize);
const WPATCH_BM: usize = consts::SC_WPATCH_BM as usize;

/// The patch-staged tensor-core weight gradient for a layer, if one fits it: tensor-core
/// precision, stride 1 and a 9×9 kernel (G's layers of the `seed` preset).
fn wgrad_patch_kernel(k: usize, stride: usize, precision: Precision) -> Option<&'static Kernel> {
    match (k, stride, precision.math()) {
        (9, 1, Precision::Tf32) => Some(&CONV_WGRAD_PATCH_9_TF32),
        (9, 1, Precision::Tf32x3) => Some(&CONV_WGRAD_PATCH_9_3XTF32),
        _ => None,
    }
}

/// Launches `conv2d_weight_grad` (v1): dw `[c_o, c_i, k, k]` from g `[n, c_o, gh, gw]` and
/// x `[n, c_i, xh, xw]`: one block of `SC_CONV_TILE²` (256) threads per (o, i) pair,
/// dynamic shared memory for a `SC_CONV_TILE²` tile of g, the x patch it touches and the
/// per-group partial sums.
fn weight_grad_v1<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    geom: WgradGeom,
    g: &E::Buf,
    x: &E::Buf,
    dw: &mut E::Buf,
) -> Result<()> {
    let ((_, c_o, _, _), (c_i, _, _), (k, stride, _)) = geom;
    to_i32(op, c_o * c_i * k * k)?;
    let threads = CONV_TILE * CONV_TILE;
    let side = (CONV_TILE - 1) * stride + k;
    let shared = 4 * (2 * threads + side * side);
    if shared > MAX_SHARED_BYTES {
        return Err(shape_err(
            op,
            format!("kernel {k}×{k} with stride {stride} needs {shared} bytes of shared memory (max {MAX_SHARED_BYTES})"),
        ));
    }
    let cfg = LaunchConfig {
        grid: (to_i32(op, c_i)? as u32, grid_yz(op, "weight rows", c_o)?, 1),
        block: (threads as u32, 1, 1),
        shared_bytes: shared as u32,
    };
    let mut args = wgrad_args(op, (g, x, ("dw", dw)), geom)?;
    dev.exec().launch(&CONV2D_WEIGHT_GRAD, cfg, &mut args)
}

/// The arguments every weight-gradient kernel starts with: g, x, the output (passed as
/// parameter `out_name`) and the geometry.
fn wgrad_args<'b, B>(
    op: &'static str,
    (g, x, (out_name, out)): (&'b B, &'b B, (&'static str, &'b mut B)),
    ((n, c_o, gh, gw), (c_i, xh, xw), (k, stride, pad)): WgradGeom,
) -> Result<Vec<Arg<'b, B>>> {
    Ok(vec![
        Arg::In("g", g),
        Arg::In("x", x),
        Arg::Out(out_name, out),
        Arg::I32("n", to_i32(op, n)?),
        Arg::I32("c_o", to_i32(op, c_o)?),
        Arg::I32("gh", to_i32(op, gh)?),
        Arg::I32("gw", to_i32(op, gw)?),
        Arg::I32("c_i", to_i32(op, c_i)?),
        Arg::I32("xh", to_i32(op, xh)?),
        Arg::I32("xw", to_i32(op, xw)?),
        Arg::I32("k", to_i32(op, k)?),
        Arg::I32("stride", to_i32(op, stride)?),
        Arg::I32("pad", to_i32(op, pad)?),
    ])
}

/// Geometry of a conv2d as the correlation gather sees it.
fn conv2d_geometry(s: &Conv2dShape) -> Geometry {
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

/// The same geometry with input and output exchanged (the backward-input gathers).
pub(crate) fn swapped(g: Geometry) -> Geometry {
    Geometry {
        n: g.n,
        c_in: g.c_out,
        h: g.h_out,
        w: g.w_out,
        c_out: g.c_in,
        k: g.k,
        stride: g.stride,
        pad: g.pad,
        h_out: g.h,
        w_out: g.w,
    }
}

/// [`Device::conv2d_forward`](crate::device::Device::conv2d_forward).
pub(crate) fn conv2d_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    x: &E::Buf,
    w: &E::Buf,
    b: Option<&E::Buf>,
    act: Act,
    y: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_forward";
    check_forward(dev, op, s, x, w, b, y)?;
    gather(
        dev,
        op,
        Gather::Correlation,
        &conv2d_geometry(s),
        (x, None),
        w,
        b,
        act,
        (y, Epilogue::Store),
    )
}

/// Checks a forward convolution's shape and buffer lengths.
fn check_forward<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    s: &Conv2dShape,
    x: &E::Buf,
    w: &E::Buf,
    b: Option<&E::Buf>,
    y: &E::Buf,
) -> Result<()> {
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.x_len())?;
    check_params(dev, op, s, w, b, y)
}

/// Checks the lengths of a forward convolution's weight, bias and output.
fn check_params<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    s: &Conv2dShape,
    w: &E::Buf,
    b: Option<&E::Buf>,
    y: &E::Buf,
) -> Result<()> {
    check_len(op, "w", dev.exec().len(w), s.w_len())?;
    if let Some(b) = b {
        check_len(op, "b", dev.exec().len(b), s.c_out)?;
    }
    check_len(op, "y", dev.exec().len(y), s.y_len())
}

/// Checks a convolution of the concatenation of two inputs (or the split of its input
/// gradient) with [`Conv2dShape::check_cat`]. Returns whether the kernels can take the
/// parts as they are: equal halves.
fn check_cat<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    (s, cat): (&Conv2dShape, &ConcatShape),
    (a, b): (&E::Buf, &E::Buf),
    scratch: &E::Buf,
) -> Result<bool> {
    let lens = (
        dev.exec().len(a),
        dev.exec().len(b),
        dev.exec().len(scratch),
    );
    s.check_cat(op, cat, lens)?;
    Ok(cat.c_a == cat.c_b)
}

/// [`Device::conv2d_forward_cat`](crate::device::Device::conv2d_forward_cat): the v2
/// kernels read the two halves; otherwise `concat_channels` into the scratch and the
/// convolution.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_forward_cat<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    cat: &ConcatShape,
    (a, b): (&E::Buf, &E::Buf),
    w: &E::Buf,
    bias: Option<&E::Buf>,
    act: Act,
    y: &mut E::Buf,
    scratch: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_forward_cat";
    let halves = check_cat(dev, op, (s, cat), (a, b), scratch)?;
    let g = conv2d_geometry(s);
    if !(halves && reads_halves(dev, Gather::Correlation, &g)) {
        concat_channels(dev, cat, a, b, scratch)?;
        return conv2d_forward(dev, s, scratch, w, bias, act, y);
    }
    check_params(dev, op, s, w, bias, y)?;
    gather(
        dev,
        op,
        Gather::Correlation,
        &g,
        (a, Some(b)),
        w,
        bias,
        act,
        (y, Epilogue::Store),
    )
}

/// [`Device::conv2d_backward_input_cat`](crate::device::Device::conv2d_backward_input_cat):
/// the v2 kernels write the two halves where they finish dx themselves; otherwise dx into
/// the scratch, then `split_channels`.
pub(crate) fn conv2d_backward_input_cat<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    cat: &ConcatShape,
    w: &E::Buf,
    dy: &E::Buf,
    (da, db): (&mut E::Buf, &mut E::Buf),
    scratch: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_backward_input_cat";
    let halves = check_cat(dev, op, (s, cat), (da, db), scratch)?;
    let g = swapped(conv2d_geometry(s));
    if !(halves && writes_halves(dev, Gather::Transposed, &g)) {
        conv2d_backward_input(dev, s, w, dy, scratch)?;
        return split_channels(dev, cat, scratch, da, db);
    }
    backward_input(dev, op, s, w, dy, (da, Epilogue::Halves(db)))
}

/// [`Device::conv2d_backward_weight_cat`](crate::device::Device::conv2d_backward_weight_cat):
/// the implicit-GEMM weight gradient reads the two halves; otherwise `concat_channels` into
/// the scratch and the weight gradient.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_backward_weight_cat<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    cat: &ConcatShape,
    (a, b): (&E::Buf, &E::Buf),
    dy: &E::Buf,
    dw: &mut E::Buf,
    db: Option<&mut E::Buf>,
    scratch: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_backward_weight_cat";
    let halves = check_cat(dev, op, (s, cat), (a, b), scratch)?;
    if !(halves && wgrad_reads_halves(dev, s.k, s.stride)) {
        concat_channels(dev, cat, a, b, scratch)?;
        return conv2d_backward_weight(dev, s, scratch, dy, dw, db);
    }
    backward_weight(dev, op, s, (a, Some(b)), dy, dw, db)
}

/// [`Device::conv2d_forward_pooled`](crate::device::Device::conv2d_forward_pooled): the
/// patch-staged kernel pools in its epilogue where it finishes y itself; otherwise the
/// convolution, then `max_pool2d_forward`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_forward_pooled<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    x: &E::Buf,
    w: &E::Buf,
    b: Option<&E::Buf>,
    act: Act,
    y: &mut E::Buf,
    p: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_forward_pooled";
    check_forward(dev, op, s, x, w, b, y)?;
    let pool = s.pooled();
    check_len(op, "p", dev.exec().len(p), pool.y_len())?;
    let g = conv2d_geometry(s);
    let epilogue = Epilogue::Pool(&pool, p);
    gather(
        dev,
        op,
        Gather::Correlation,
        &g,
        (x, None),
        w,
        b,
        act,
        (y, epilogue),
    )
}

/// [`Device::conv2d_backward_input`](crate::device::Device::conv2d_backward_input).
pub(crate) fn conv2d_backward_input<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    dx: &mut E::Buf,
) -> Result<()> {
    backward_input(
        dev,
        "conv2d_backward_input",
        s,
        w,
        dy,
        (dx, Epilogue::Store),
    )
}

/// [`Device::conv2d_backward_input_act`](crate::device::Device::conv2d_backward_input_act):
/// the kernel applies act'(y) where it finishes dx itself (the patch-staged kernels, the
/// implicit GEMM), else `act_backward` after.
pub(crate) fn conv2d_backward_input_act<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    (act, y): (Act, &E::Buf),
    dx: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_backward_input_act";
    check_len(op, "y", dev.exec().len(y), s.x_len())?;
    backward_input(dev, op, s, w, dy, (dx, Epilogue::Mask(act, y)))
}

/// [`Device::conv2d_backward_input_unpool`](crate::device::Device::conv2d_backward_input_unpool):
/// a split K's partial sums go through the pooling in one `max_pool2d_backward` pass (dp
/// left as it was); else dp is written and the pooling's backward runs after.
pub(crate) fn conv2d_backward_input_unpool<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    unpool: Unpool<'_, E::Buf>,
    dp: &mut E::Buf,
    dx: &mut E::Buf,
) -> Result<()> {
    let op = "conv2d_backward_input_unpool";
    let pool = unpool.shape;
    check_len(op, "x", dev.exec().len(unpool.x), pool.x_len())?;
    check_len(op, "dx", dev.exec().len(dx), pool.x_len())?;
    if pool.y_len() != s.x_len() {
        return Err(shape_err(
            op,
            format!(
                "a pooled map of {} values feeds a convolution of input {}",
                pool.y_len(),
                s.x_len()
            ),
        ));
    }
    backward_input(dev, op, s, w, dy, (dp, Epilogue::Unpool(unpool, dx)))
}

/// conv2d's input gradient as the transposed gather, then `epilogue` (with
/// [`Epilogue::Halves`], dx in two parts).
fn backward_input<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    s: &Conv2dShape,
    w: &E::Buf,
    dy: &E::Buf,
    (dx, epilogue): (&mut E::Buf, Epilogue<'_, E::Buf>),
) -> Result<()> {
    s.validate()?;
    check_len(op, "w", dev.exec().len(w), s.w_len())?;
    check_len(op, "dy", dev.exec().len(dy), s.y_len())?;
    // dx, or its two parts.
    let second = match &epilogue {
        Epilogue::Halves(b) => dev.exec().len(b),
        _ => 0,
    };
    check_len(op, "dx", dev.exec().len(dx) + second, s.x_len())?;
    let g = swapped(conv2d_geometry(s));
    gather(
        dev,
        op,
        Gather::Transposed,
        &g,
        (dy, None),
        w,
        None,
        Act::Identity,
        (dx, epilogue),
    )
}

/// [`Device::conv2d_backward_weight`](crate::device::Device::conv2d_backward_weight).
pub(crate) fn conv2d_backward_weight<E: KernelExec>(
    dev: &GpuDevice<E>,
    s: &Conv2dShape,
    x: &E::Buf,
    dy: &E::Buf,
    dw: &mut E::Buf,
    db: Option<&mut E::Buf>,
) -> Result<()> {
    let op = "conv2d_backward_weight";
    s.validate()?;
    check_len(op, "x", dev.exec().len(x), s.x_len())?;
    backward_weight(dev, op, s, (x, None), dy, dw, db)
}

/// conv2d's weight gradient from an input x (checked by the caller) and dy.
fn backward_weight<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    s: &Conv2dShape,
    x: Input<'_, E::Buf>,
    dy: &E::Buf,
    dw: &mut E::Buf,
    db: Option<&mut E::Buf>,
) -> Result<()> {
    check_len(op, "dy", dev.exec().len(dy), s.y_len())?;
    check_len(op, "dw", dev.exec().len(dw), s.w_len())?;
    if let Some(db) = &db {
        check_len(op, "db", dev.exec().len(db), s.c_out)?;
    }
    let (h_out, w_out) = (s.h_out(), s.w_out());
    weight_grad(
        dev,
        op,
        (s.n, s.c_out, h_out, w_out),
        (s.c_in, s.h, s.w),
        s.k,
        s.stride,
        s.pad,
        dy,
        x,
        dw,
        db,
    )
}

#[cfg(test)]
mod tests {
    use crate::device::gpu::variants::SLOTS;
    use crate::device::gpu::{ArgValue, GpuDevice, LaunchConfig, Variants};
    use crate::kernels::consts;
    use crate::ops::{Act, Conv2dShape, ConvTranspose2dShape};
    use crate::perf::record::{Dry, Recording};

    /// `len` values uniform in [−1, 1) from `seed`.
    #[cfg(feature = "emu")]
    fn random(len: usize, seed: u64) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// Runs nothing: buffers are their lengths, and every launch is checked against the
    /// kernel's signature and recorded.
    type Recorder = Recording<Dry>;

    fn launches(dev: &GpuDevice<Recorder>) -> Vec<(&'static str, LaunchConfig)> {
        dev.exec()
            .take()
            .into_iter()
            .map(|l| (l.kernel, l.cfg))
            .collect()
    }

    /// A device that runs every slot's v1 kernel.
    fn v1_device() -> GpuDevice<Recorder> {
        let mut v = Variants::chosen();
        for slot in SLOTS {
            v = v.with(slot.name, "v1").unwrap();
        }
        GpuDevice::with_variants(Recording::new(Dry), v)
    }

    /// The tile and output-channel block of each v1 gather kernel are the ones its .cu
    /// file defines (kernels::consts, checked against the sources in kernels.rs), and
    /// conv2d_weight_grad runs SC_CONV_TILE² threads.
    #[test]
    fn conv_launches_use_the_kernels_tiles() {
        let dev = v1_device();
        let (tile, cob) = (consts::SC_CONV_TILE as usize, consts::SC_CONV_COB as usize);
        let (ct_tile, ct_cob) = (consts::SC_CT_TILE as usize, consts::SC_CT_COB as usize);
        let s = Conv2dShape {
            n: 2,
            c_in: 3,
            h: 40,
            w: 37,
            c_out: 20,
            k: 3,
            stride: 1,
            pad: 1,
        };
        let (x, w, b, mut y) = (
            Dry::buf(s.x_len()),
            Dry::buf(s.w_len()),
            Dry::buf(s.c_out),
            Dry::buf(s.y_len()),
        );
        super::conv2d_forward(&dev, &s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
        let (name, cfg) = launches(&dev)[0];
        assert_eq!(name, "conv2d_forward");
        assert_eq!(cfg.block, (tile as u32, tile as u32, 1));
        let tiles = 40usize.div_ceil(tile) * 37usize.div_ceil(tile);
        assert_eq!(cfg.grid, (tiles as u32, 20usize.div_ceil(cob) as u32, 2));
        let side = tile - 1 + 3;
        assert_eq!(cfg.shared_bytes as usize, 4 * (side * side + cob * 9));

        let mut dx = Dry::buf(s.x_len());
        super::conv2d_backward_input(&dev, &s, &w, &y, &mut dx).unwrap();
        let (name, cfg) = launches(&dev)[0];
        assert_eq!(name, "conv_transpose2d_forward");
        assert_eq!(cfg.block, (ct_tile as u32, ct_tile as u32, 1));
        assert_eq!(cfg.grid.1 as usize, 3usize.div_ceil(ct_cob));

        let (mut dw, mut db) = (Dry::buf(s.w_len()), Dry::buf(s.c_out));
        super::conv2d_backward_weight(&dev, &s, &x, &y, &mut dw, Some(&mut db)).unwrap();
        let l = launches(&dev);
        assert_eq!(l[0].0, "conv2d_weight_grad");
        assert_eq!(l[0].1.block, ((tile * tile) as u32, 1, 1));
        assert_eq!(l[1].0, "channel_sum");

        let t = ConvTranspose2dShape {
            n: 1,
            c_in: 4,
            h: 9,
            w: 9,
            c_out: 11,
            k: 4,
            stride: 2,
            pad: 1,
            out_pad: 0,
        };
        let (x, w, mut y) = (
            Dry::buf(t.x_len()),
            Dry::buf(t.w_len()),
            Dry::buf(t.y_len()),
        );
        crate::ops::conv_transpose2d::gpu::conv_transpose2d_forward(
            &dev,
            &t,
            &x,
            &w,
            None,
            Act::Identity,
            &mut y,
        )
        .unwrap();
        let (name, cfg) = launches(&dev)[0];
        assert_eq!(name, "conv_transpose2d_forward");
        assert_eq!(cfg.block, (ct_tile as u32, ct_tile as u32, 1));
        let (h_out, w_out) = (t.h_out(), t.w_out());
        let tiles = h_out.div_ceil(ct_tile) * w_out.div_ceil(ct_tile);
        assert_eq!(cfg.grid, (tiles as u32, 11usize.div_ceil(ct_cob) as u32, 1));
        let side = (ct_tile + 4 - 2) / 2 + 2;
        assert_eq!(cfg.shared_bytes as usize, 4 * (side * side + ct_cob * 16));
    }

    /// The implicit GEMM (the default): the tile instance follows the output channels,
    /// the batch is folded into the rows, a transposed convolution of stride s has s²
    /// parity classes in grid.z, and K is split (then `sum_slices` finishes) only where
    /// the tiles alone would leave the GPU idle, by the shape alone.
    #[test]
    fn implicit_gemm_launches_pick_their_tile_classes_and_splits() {
        let dev = GpuDevice::new(Recording::new(Dry));
        let conv = |n, c_in, c_out, hw, k| Conv2dShape {
            n,
            c_in,
            h: hw,
            w: hw,
            c_out,
            k,
            stride: 1,
            pad: (k - 1) / 2,
        };
        // G's conv2 at batch 16: 65 536 pixels, 32 channels, K = 2592: 256 row tiles of
        // 256, no split.
        let s = conv(16, 32, 32, 64, 9);
        let (x, w, b, mut y) = (
            Dry::buf(s.x_len()),
            Dry::buf(s.w_len()),
            Dry::buf(s.c_out),
            Dry::buf(s.y_len()),
        );
        super::conv2d_forward(&dev, &s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
        let l = launches(&dev);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, "conv_igemm_256x32");
        assert_eq!(l[0].1.grid, (256, 1, 1));
        assert_eq!(l[0].1.block, (256, 1, 1));
        assert_eq!(l[0].1.shared_bytes as usize, 16 * 81);
        // D's last conv at batch 16: 256 pixels × 1024 channels = 32 tiles of 128 × 64,
        // K = 4608 = 576 steps: 8 splits of 72 steps, then sum_slices.
        let s = conv(16, 512, 1024, 4, 3);
        let (x, w, b, mut y) = (
            Dry::buf(s.x_len()),
            Dry::buf(s.w_len()),
            Dry::buf(s.c_out),
            Dry::buf(s.y_len()),
        );
        super::conv2d_forward(&dev, &s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
        let l = launches(&dev);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].0, "conv_igemm_128x64");
        assert_eq!(l[0].1.grid, (2, 16, 8));
        assert_eq!(l[1].0, "sum_slices");
        assert_eq!(super::split_k((256, 8), 32, 4608), (8, 576));
        // The U-Net's 32 → 32 at 16×16, batch 16: 16 tiles of 256 × 32 and K = 288 (36
        // steps): 4 splits of 9 steps (2 at the weight gradients' 16 steps), so that the
        // 64 blocks become 256.
        assert_eq!(super::split_k((256, 8), 16, 288), (4, 72));
        assert_eq!(super::split_k((256, 16), 16, 288), (2, 144));
        // A stride-2 transposed convolution with 3 outputs: the 256 × 4 tile, 4 classes.
        let t = ConvTranspose2dShape {
            n: 2,
            c_in: 8,
            h: 9,
            w: 9,
            c_out: 3,
            k: 5,
            stride: 2,
            pad: 2,
            out_pad: 1,
        };
        let (x, w, mut y) = (
            Dry::buf(t.x_len()),
            Dry::buf(t.w_len()),
            Dry::buf(t.y_len()),
        );
        crate::ops::conv_transpose2d::gpu::conv_transpose2d_forward(
            &dev,
            &t,
            &x,
            &w,
            None,
            Act::Identity,
            &mut y,
        )
        .unwrap();
        let l = launches(&dev);
        assert_eq!(l[0].0, "conv_igemm_256x4");
        // Output 18 × 18: class (0, 0) has 9 × 9 pixels per image, 162 rows: 1 tile.
        assert_eq!(l[0].1.grid, (1, 1, 4));
        // Taps of class (0, 0): ⌈5/2⌉² = 9, an int4 each.
        assert_eq!(l[0].1.shared_bytes, 16 * 9);
        // Weight gradients: 32 rows take the 32 × 128 tile; K = 16·64·64 splits 25 ways
        // over 21 column tiles (G's conv2: 2592 columns; ⌈512 / 21⌉ = 25).
        let s = conv(16, 32, 32, 64, 9);
        let (x, dy, mut dw) = (
            Dry::buf(s.x_len()),
            Dry::buf(s.y_len()),
            Dry::buf(s.w_len()),
        );
        super::conv2d_backward_weight(&dev, &s, &x, &dy, &mut dw, None).unwrap();
        let l = launches(&dev);
        assert_eq!(l[0].0, "conv_wgrad_igemm_32x128");
        assert_eq!(l[0].1.grid, (1, 21, 25));
        assert_eq!(l[1].0, "sum_slices");
        assert_eq!(super::split_k((512, 16), 21, 16 * 64 * 64).0, 25);
        // The U-Net's lift 1 → 16 (9 columns) takes a 64-column tile in TF32 (K split
        // toward 512 blocks: 512 ways), 128 in FP32; its 16 → 16 (144 columns) and 32 → 16
        // (288) layers keep 128 (2 and 3 tiles: 256 and 171 ways).
        let tf32 = GpuDevice::new(Recording::new(Dry))
            .with_precision(crate::device::precision::Precision::Tf32);
        for (dev, c_in, name, grid) in [
            (&tf32, 16, "conv_wgrad_igemm_32x128_tf32", (1, 2, 256)),
            (&tf32, 32, "conv_wgrad_igemm_32x128_tf32", (1, 3, 171)),
            (&tf32, 1, "conv_wgrad_igemm_32x64_tf32", (1, 1, 512)),
            (&dev, 1, "conv_wgrad_igemm_32x128", (1, 1, 512)),
        ] {
            let s = conv(16, c_in, 16, 64, 3);
            let (x, dy, mut dw) = (
                Dry::buf(s.x_len()),
                Dry::buf(s.y_len()),
                Dry::buf(s.w_len()),
            );
            super::conv2d_backward_weight(dev, &s, &x, &dy, &mut dw, None).unwrap();
            let l = launches(dev);
            assert_eq!((l[0].0, l[0].1.grid), (name, grid), "c_in {c_in}");
        }
        // D's second conv (64 → 128 at 32×32): 128 rows take the 64×128 tile of 8×4
        // (2 row tiles × 5 column tiles), K = 16·32·32 split toward 256 blocks: 26 ways.
        let s = conv(16, 64, 128, 32, 3);
        let (x, dy, mut dw) = (
            Dry::buf(s.x_len()),
            Dry::buf(s.y_len()),
            Dry::buf(s.w_len()),
        );
        super::conv2d_backward_weight(&dev, &s, &x, &dy, &mut dw, None).unwrap();
        let l = launches(&dev);
        assert_eq!(l[0].0, "conv_wgrad_igemm_64x128");
        assert_eq!(l[0].1.grid, (2, 5, 26));
        assert_eq!(super::split_k((256, 16), 10, 16 * 32 * 32).0, 26);
        // In TF32 the 128×128 tile: 1 × 5 tiles, K split 52 ways toward 256 blocks; 64 rows
        // keep 64×64.
        let tf32 = GpuDevice::new(Recording::new(Dry))
            .with_precision(crate::device::precision::Precision::Tf32);
        super::conv2d_backward_weight(&tf32, &s, &x, &dy, &mut dw, None).unwrap();
        let l = launches(&tf32);
        assert_eq!(l[0].0, "conv_wgrad_igemm_128x128_tf32");
        assert_eq!(l[0].1.grid, (1, 5, 52));
        let s = conv(16, 3, 64, 64, 3);
        let (x, dy, mut dw) = (
            Dry::buf(s.x_len()),
            Dry::buf(s.y_len()),
            Dry::buf(s.w_len()),
        );
        super::conv2d_backward_weight(&tf32, &s, &x, &dy, &mut dw, None).unwrap();
        assert_eq!(launches(&tf32)[0].0, "conv_wgrad_igemm_64x64_tf32");
    }

    /// The implicit-GEMM weight gradient sums the bias gradient in its own pass: with K
    /// split, one `sum_slices_pair` finishes both; with K whole, its one launch writes both.
    /// The patch-staged 9×9 weight gradient, v1 and conv_transpose2d keep `channel_sum`.
    #[test]
    fn bias_gradients_come_out_of_the_implicit_gemm_weight_gradient() {
        let dev = GpuDevice::new(Recording::new(Dry));
        let names = |dev: &GpuDevice<Recorder>| -> Vec<&'static str> {
            launches(dev).into_iter().map(|l| l.0).collect()
        };
        let conv = |n, c_in, c_out, hw, k: usize| Conv2dShape {
            n,
            c_in,
            h: hw,
            w: hw,
            c_out,
            k,
            stride: 1,
            pad: k / 2,
        };
        let wgrad = |dev: &GpuDevice<Recorder>, s: &Conv2dShape| {
            let (x, dy) = (Dry::buf(s.x_len()), Dry::buf(s.y_len()));
            let (mut dw, mut db) = (Dry::buf(s.w_len()), Dry::buf(s.c_out));
            super::conv2d_backward_weight(dev, s, &x, &dy, &mut dw, Some(&mut db)).unwrap();
        };
        // D's second conv at batch 16: K split 26 ways, the pair sum adds 26 slices of
        // 64·128·9 weights and 128 biases.
        let s = conv(16, 64, 128, 32, 3);
        wgrad(&dev, &s);
        let l = dev.exec().take();
        assert_eq!(
            l.iter().map(|l| l.kernel).collect::<Vec<_>>(),
            ["conv_wgrad_igemm_64x128", "sum_slices_pair"]
        );
        let int = |i: usize, name: &str| match l[i].args.iter().find(|(n, _)| *n == name) {
            Some((_, ArgValue::I32(v))) => *v,
            _ => panic!("{name}: no int argument"),
        };
        assert_eq!(int(0, "has_db"), 1);
        assert_eq!(
            (int(1, "slices"), int(1, "len"), int(1, "len_b")),
            (26, 64 * 128 * 9, 128)
        );
        // One image of 4×4: K = 16 positions, one split; the kernel writes dw and db.
        let s = conv(1, 8, 8, 4, 3);
        wgrad(&dev, &s);
        assert_eq!(names(&dev), ["conv_wgrad_igemm_32x128"]);
        // 9×9 in TF32: the patch-staged kernel, then channel_sum (and its chunks' sum).
        let tf32 = GpuDevice::new(Recording::new(Dry))
            .with_precision(crate::device::precision::Precision::Tf32);
        wgrad(&tf32, &conv(16, 32, 32, 64, 9));
        let l = names(&tf32);
        assert_eq!(l[0], "conv_wgrad_patch_9_tf32");
        assert!(l.contains(&"channel_sum"));
        // v1 keeps channel_sum.
        let v1 = v1_device();
        wgrad(&v1, &s);
        assert_eq!(names(&v1), ["conv2d_weight_grad", "channel_sum"]);
    }

    /// With tensor-core precision, stride-1 9×9 convolutions of at most 32 output channels
    /// take the patch-staged kernel (16×16 tiles; a transposed one with padding k − 1 − pad),
    /// everything else the implicit GEMM's TF32 instance, and at most 4 channels elsewhere
    /// the FP32 256×4 tile.
    #[test]
    fn tensor_core_precisions_pick_the_patch_kernel_or_an_implicit_gemm() {
        use crate::device::precision::Precision;
        let conv = |c_in, c_out, hw, k, stride| Conv2dShape {
            n: 3,
            c_in,
            h: hw,
            w: hw,
            c_out,
            k,
            stride,
            pad: (k - 1) / 2,
        };
        let first = |p: Precision, s: &Conv2dShape| {
            let dev = GpuDevice::new(Recording::new(Dry)).with_precision(p);
            let (x, w, b, mut y) = (
                Dry::buf(s.x_len()),
                Dry::buf(s.w_len()),
                Dry::buf(s.c_out),
                Dry::buf(s.y_len()),
            );
            super::conv2d_forward(&dev, s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
            let mut dx = Dry::buf(s.x_len());
            super::conv2d_backward_input(&dev, s, &w, &y, &mut dx).unwrap();
            let l: Vec<_> = dev
                .exec()
                .take()
                .into_iter()
                .filter(|l| l.kernel.starts_with("conv_"))
                .collect();
            let pad = |i: usize| match l[i].args.iter().find(|(n, _)| *n == "pad") {
                Some((_, crate::device::gpu::ArgValue::I32(p))) => *p,
                _ => -99,
            };
            (l[0].kernel, l[0].cfg.grid, l[1].kernel, pad(1))
        };
        // G's 32 → 32 at 40×40: 3×3 tiles of 16, one channel tile, 3 images, K (4 chunks
        // of 8 channels) split in 2 to fill the GPU; its input gradient (32 → 32,
        // transposed) the same kernel with padding 8 − 4.
        let (k0, grid, k1, pad) = first(Precision::Tf32, &conv(32, 32, 40, 9, 1));
        assert_eq!(
            (k0, grid, k1, pad),
            ("conv_patch_9x32_tf32", (9, 1, 6), "conv_patch_9x32_tf32", 4)
        );
        let (k0, _, k1, _) = first(Precision::Tf32x3, &conv(32, 3, 40, 9, 1));
        assert_eq!(
            (k0, k1),
            ("conv_patch_9x8_3xtf32", "conv_patch_9x32_3xtf32")
        );
        // Not 9×9, or stride 2: the implicit GEMM in the same precision.
        let (k0, _, k1, _) = first(Precision::Tf32, &conv(32, 20, 40, 5, 1));
        assert_eq!(
            (k0, k1),
            ("conv_igemm_256x32_tf32", "conv_igemm_256x32_tf32")
        );
        let (k0, _, _, _) = first(Precision::Tf32, &conv(8, 3, 40, 9, 2));
        assert_eq!(k0, "conv_igemm_256x4");
        let (k0, _, _, _) = first(Precision::Fp32, &conv(32, 32, 40, 9, 1));
        assert_eq!(k0, "conv_igemm_256x32");
        // D's 3×3 convolutions on maps of at least 16×16: patch tiles (at 3 images 16
        // channels wide, as wider tiles would leave the GPU idle; its input gradient with
        // padding 3 − 1 − 1), the implicit GEMM below.
        let (k0, grid, k1, pad) = first(Precision::Tf32, &conv(32, 128, 16, 3, 1));
        assert_eq!(
            (k0, grid, k1, pad),
            ("conv_patch_3x16_tf32", (1, 8, 6), "conv_patch_3x16_tf32", 1)
        );
        // The U-Net's 16 → 16 and 16 → 32 at 64×64, 32 images: 16- and 32-channel tiles
        // (512 blocks each) in every tensor-core precision; 8 channels or fewer keep the
        // implicit GEMM.
        let wide = Conv2dShape {
            n: 32,
            ..conv(16, 32, 64, 3, 1)
        };
        let (k0, _, k1, _) = first(Precision::Tf32x3, &wide);
        assert_eq!(k0, "conv_patch_3x32_3xtf32");
        assert_eq!(k1, "conv_patch_3x16_3xtf32");
        let (k0, _, k1, _) = first(Precision::Tf32, &conv(16, 8, 64, 3, 1));
        assert_eq!((k0, k1), ("conv_igemm_256x16_tf32", "conv_patch_3x16_tf32"));
        let (k0, _, k1, _) = first(Precision::Tf32, &conv(128, 256, 8, 3, 1));
        assert_eq!(
            (k0, k1),
            ("conv_igemm_128x64_tf32", "conv_igemm_128x64_tf32")
        );
    }

    /// With 16-bit storage a convolution takes the `_h16` instance of the TF32 kernel it
    /// would run, with the storage's format; its split K sums in FP32 and finishes with
    /// `sum_slices_h16`; every 16-bit buffer moves 2 bytes an element.
    #[test]
    fn sixteen_bit_storage_takes_the_h16_instances() {
        use crate::device::gpu::{ArgValue, Elem};
        use crate::device::precision::Precision;
        use crate::device::Device;
        use crate::perf::record::total_work;
        let h16 = |n: usize| (n, Elem::U16);
        let conv = |c_in, c_out, hw, k, stride| Conv2dShape {
            n: 3,
            c_in,
            h: hw,
            w: hw,
            c_out,
            k,
            stride,
            pad: (k - 1) / 2,
        };
        for (p, fmt) in [
            (Precision::Bf16, consts::SC_FMT_BF16),
            (Precision::Fp16, consts::SC_FMT_FP16),
        ] {
            let dev = GpuDevice::new(Recording::new(Dry)).with_precision(p);
            let run = |s: &Conv2dShape| {
                let (x, w, b, mut y) =
                    (h16(s.x_len()), h16(s.w_len()), h16(s.c_out), h16(s.y_len()));
                super::conv2d_forward(&dev, s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
                dev.exec().take()
            };
            // G's 32 → 32 at 40×40: the patch kernel, K split in 2, added in the kernel and
            // finished in 16 bits.
            let l = run(&conv(32, 32, 40, 9, 1));
            let names: Vec<_> = l.iter().map(|l| l.kernel).collect();
            assert_eq!(names, ["conv_patch_9x32_h16"]);
            assert!(l[0].args.contains(&("fold", ArgValue::I32(1))));
            assert!(l[0].args.contains(&("fmt", ArgValue::I32(fmt))));
            // One 9×9 layer to 3 channels, a 3×3 to 128, a 1×1 to 3, a stride-2 layer.
            for (s, kernel) in [
                (conv(32, 3, 40, 9, 1), "conv_patch_9x8_h16"),
                (conv(64, 128, 8, 3, 1), "conv_igemm_128x64_h16"),
                (conv(4, 3, 20, 1, 1), "conv_igemm_256x4_h16"),
                // 17–32 channels: the 256×32 tile, or 128×64 where its tiles are few.
                (conv(8, 20, 212, 3, 2), "conv_igemm_256x32_h16"),
                (conv(8, 20, 20, 3, 2), "conv_igemm_128x64_h16"),
                (conv(8, 12, 20, 3, 2), "conv_igemm_256x16_h16"),
            ] {
                let l = run(&s);
                assert_eq!(l[0].kernel, kernel);
                if l.len() == 1 && !l[0].args.contains(&("fold", ArgValue::I32(1))) {
                    // Unsplit: x, w, bias and y at 2 bytes, the 1-element FP32 stand-in (and
                    // a patch kernel's 1-element stand-in for the fold's counters).
                    let stand_ins = if kernel.starts_with("conv_patch") {
                        8
                    } else {
                        4
                    };
                    let bytes = 2 * (s.x_len() + s.w_len() + s.c_out + s.y_len()) + stand_ins;
                    assert_eq!(total_work(&l).unwrap().bytes, bytes as f64, "{kernel}");
                }
            }
            // Training ops refuse 16-bit storage by name.
            let s = conv(3, 4, 8, 3, 1);
            let (w, y, mut dx) = (h16(s.w_len()), h16(s.y_len()), h16(s.x_len()));
            let e = dev.conv2d_backward_input(&s, &w, &y, &mut dx).unwrap_err();
            assert!(e.to_string().contains(p.name()), "{e}");
        }
    }

    /// Weight gradients of 9×9 stride-1 layers in a tensor-core precision take the
    /// patch-staged kernel: a warp per kernel row, blocks of 32 output and 8 input channels,
    /// (image, 8×16 tile) pairs split toward 256 blocks; other layers keep the implicit GEMM.
    #[test]
    fn tensor_core_weight_gradients_of_9x9_layers_are_patch_staged() {
        use crate::device::precision::Precision;
        let wgrad = |p: Precision, s: &Conv2dShape| {
            let dev = GpuDevice::new(Recording::new(Dry)).with_precision(p);
            let (x, y, mut w) = (
                Dry::buf(s.x_len()),
                Dry::buf(s.y_len()),
                Dry::buf(s.w_len()),
            );
            super::conv2d_backward_weight(&dev, s, &x, &y, &mut w, None).unwrap();
            let l = dev.exec().take();
            (l[0].kernel, l[0].cfg.grid, l[0].cfg.block, l.len())
        };
        // G's 32 → 32 at batch 16, 64×64: 16 × 8 × 4 = 512 pairs; 4 blocks of channels,
        // so 64 splits of 8 pairs, summed by sum_slices.
        let g = Conv2dShape {
            n: 16,
            c_in: 32,
            h: 64,
            w: 64,
            c_out: 32,
            k: 9,
            stride: 1,
            pad: 4,
        };
        assert_eq!(
            wgrad(Precision::Tf32, &g),
            ("conv_wgrad_patch_9_tf32", (1, 4, 64), (288, 1, 1), 2)
        );
        // 40 outputs from 3 inputs on 10×20 maps, one image: 2 × 2 pairs, 2 blocks of
        // outputs: 2 splits of 2 pairs.
        let small = Conv2dShape {
            n: 1,
            c_in: 3,
            h: 10,
            w: 20,
            c_out: 40,
            ..g
        };
        assert_eq!(
            wgrad(Precision::Tf32x3, &small),
            ("conv_wgrad_patch_9_3xtf32", (2, 1, 2), (288, 1, 1), 2)
        );
        assert_eq!(wgrad(Precision::Fp32, &g).0, "conv_wgrad_igemm_32x128");
        let strided = Conv2dShape { stride: 2, ..g };
        assert_eq!(
            wgrad(Precision::Tf32, &strided).0,
            "conv_wgrad_igemm_32x128_tf32"
        );
    }

    /// A patch-staged convolution adds 2 to [`super::FOLD_MAX_SPLITS`] splits in the kernel
    /// (`fold` = 1, one counter per output tile, bias and activation in its epilogue, no
    /// `sum_slices`); more splits write partial sums that `sum_slices` adds. Wide layers
    /// take 32-channel tiles where 64-channel tiles would leave most SMs idle.
    #[test]
    fn few_patch_splits_fold_in_the_kernel() {
        use crate::device::gpu::Elem;
        use crate::device::precision::Precision;
        let dev = GpuDevice::new(Recording::new(Dry)).with_precision(Precision::Tf32);
        let run = |n, c_in, c_out, transposed: bool| {
            // The U-Net's 16×16 level.
            let s = Conv2dShape {
                n,
                c_in,
                h: 16,
                w: 16,
                c_out,
                k: 3,
                stride: 1,
                pad: 1,
            };
            let (x, w, b) = (Dry::buf(s.x_len()), Dry::buf(s.w_len()), Dry::buf(s.c_out));
            if transposed {
                let (dy, mut dx) = (Dry::buf(s.y_len()), Dry::buf(s.x_len()));
                super::conv2d_backward_input(&dev, &s, &w, &dy, &mut dx).unwrap();
            } else {
                let mut y = Dry::buf(s.y_len());
                super::conv2d_forward(&dev, &s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
            }
            dev.exec().take()
        };
        let arg = |l: &crate::perf::record::Launch, name: &str| {
            l.args.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        let buffer = |len, elem| ArgValue::Buffer {
            len,
            elem,
            written: true,
        };
        // 64 → 128 at batch 16: tiles of 64 channels would make 32 blocks a split and 4
        // splits (8 chunks) 128 blocks; tiles of 32 make 64 blocks a split: 4 splits, 256
        // blocks, folded.
        let l = run(16, 64, 128, false);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].kernel, "conv_patch_3x32_tf32");
        assert_eq!(l[0].cfg.grid, (1, 4, 16 * 4));
        assert_eq!(arg(&l[0], "fold"), Some(ArgValue::I32(1)));
        assert_eq!(arg(&l[0], "has_bias"), Some(ArgValue::I32(1)));
        assert_eq!(arg(&l[0], "act"), Some(ArgValue::I32(consts::SC_ACT_RELU)));
        assert_eq!(arg(&l[0], "tickets"), Some(buffer(64, Elem::I32)));
        assert_eq!(
            arg(&l[0], "parts"),
            Some(buffer(4 * 16 * 128 * 256, Elem::F32))
        );
        // At batch 64 the 64-channel tiles in 4 splits would make 512 blocks: they stay,
        // in the 2 splits that make 256.
        let l = run(64, 64, 128, false);
        assert_eq!(l[0].kernel, "conv_patch_3x64_tf32");
        assert_eq!(l[0].cfg.grid, (1, 2, 64 * 2));
        assert_eq!(arg(&l[0], "tickets"), Some(buffer(128, Elem::I32)));
        // The input gradient at batch 16, 128 → 64: 16-channel tiles, 64 blocks a split,
        // 16 chunks in 4 splits, folded.
        let l = run(16, 64, 128, true);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].kernel, "conv_patch_3x16_tf32");
        assert_eq!(l[0].cfg.grid, (1, 4, 16 * 4));
        assert_eq!(arg(&l[0], "fold"), Some(ArgValue::I32(1)));
        // At batch 4: 16 blocks a split, 8 splits, summed apart.
        let l = run(4, 64, 128, true);
        let names: Vec<_> = l.iter().map(|l| l.kernel).collect();
        assert_eq!(names, ["conv_patch_3x16_tf32", "sum_slices"]);
        assert_eq!(l[0].cfg.grid, (1, 4, 4 * 8));
        assert_eq!(arg(&l[0], "fold"), Some(ArgValue::I32(0)));
        assert_eq!(arg(&l[0], "tickets"), Some(buffer(1, Elem::I32)));
        // 16 → 32: 16 blocks, 2 chunks: K whole, the stand-ins not read.
        let l = run(16, 16, 32, false);
        assert_eq!(l.len(), 1);
        assert_eq!(arg(&l[0], "fold"), Some(ArgValue::I32(0)));
        assert_eq!(arg(&l[0], "parts"), Some(buffer(1, Elem::F32)));
    }

    /// `conv2d_forward_pooled` on tensor cores: the patch-staged kernel pools in its epilogue
    /// when it finishes y (K whole; split in 2 and folded), in one launch; a K summed apart
    /// (the patch kernel's 5 splits, the implicit GEMM's 9 on an 8×9 map) pools in the
    /// sum's pass (`sum_slices_pool`) in FP32 storage and in a launch of its own in 16
    /// bits, as an unsplit implicit GEMM does. Either way y is bit for bit
    /// `conv2d_forward`'s and p `max_pool2d_forward`'s of that y, in TF32, 3xTF32 and bf16
    /// storage, at odd sides (a dropped last row and column) and partial channel tiles.
    #[cfg(feature = "emu")]
    #[test]
    fn pooled_epilogue_equals_the_pooling_launch_bit_for_bit() {
        use crate::device::emu::{EmuExec, EmuOptions};
        use crate::device::precision::Precision;
        use crate::device::Device;
        let shape = |n, c_in, c_out, h, w| Conv2dShape {
            n,
            c_in,
            h,
            w,
            c_out,
            k: 3,
            stride: 1,
            pad: 1,
        };
        // (shape, activation, the launches of the pooled call: in FP32 storage a split K
        // summed apart pools in the same pass, in 16 bits in a launch of its own)
        let summed = |pass: &'static str| -> [&'static [&'static str]; 2] {
            [
                &["conv_", "sum_slices_pool"],
                if pass == "patch" {
                    &[
                        "conv_patch_3x16",
                        "sum_slices_h16",
                        "max_pool2d_forward_h16",
                    ]
                } else {
                    &[
                        "conv_igemm_128x64",
                        "sum_slices_h16",
                        "max_pool2d_forward_h16",
                    ]
                },
            ]
        };
        let cases = [
            (
                shape(2, 3, 16, 33, 35),
                Act::LeakyRelu(0.2),
                [&["conv_patch_3x16"][..]; 2],
            ),
            (
                shape(1, 40, 20, 17, 16),
                Act::Relu,
                [&["conv_patch_3x16"][..]; 2],
            ),
            (shape(1, 80, 16, 16, 17), Act::Relu, summed("patch")),
            // An 8×8 map of 64 channels: the implicit GEMM's K split.
            (shape(3, 64, 72, 8, 9), Act::LeakyRelu(0.2), summed("igemm")),
            (
                shape(3, 8, 12, 8, 9),
                Act::LeakyRelu(0.2),
                [&["conv_igemm_256x16", "max_pool2d_forward"][..]; 2],
            ),
        ];
        for precision in [Precision::Tf32, Precision::Tf32x3, Precision::Bf16] {
            let dev = GpuDevice::new(Recording::new(EmuExec::new(EmuOptions::default()).unwrap()))
                .with_precision(precision);
            for (s, act, by_storage) in cases {
                let launches = by_storage[usize::from(dev.storage().is_some())];
                let pool = s.pooled();
                let (xb, wb, bb) = (
                    dev.upload(&random(s.x_len(), 1)).unwrap(),
                    dev.upload(&random(s.w_len(), 2)).unwrap(),
                    dev.upload(&random(s.c_out, 3)).unwrap(),
                );
                let (mut y, mut p) = (
                    dev.alloc_zeros(s.y_len()).unwrap(),
                    dev.alloc_zeros(pool.y_len()).unwrap(),
                );
                dev.exec().take();
                dev.conv2d_forward_pooled(&s, &xb, &wb, Some(&bb), act, &mut y, &mut p)
                    .unwrap();
                let names: Vec<_> = dev.exec().take().iter().map(|l| l.kernel).collect();
                assert_eq!(
                    names.len(),
                    launches.len(),
                    "{s:?} {precision:?}: {names:?}"
                );
                for (name, want) in names.iter().zip(launches) {
                    assert!(name.starts_with(want), "{s:?} {precision:?}: {names:?}");
                }
                let (mut y2, mut p2) = (
                    dev.alloc_zeros(s.y_len()).unwrap(),
                    dev.alloc_zeros(pool.y_len()).unwrap(),
                );
                dev.conv2d_forward(&s, &xb, &wb, Some(&bb), act, &mut y2)
                    .unwrap();
                dev.max_pool2d_forward(&pool, &y2, &mut p2).unwrap();
                let bits = |b: &_| -> Vec<u32> {
                    dev.download(b)
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect()
                };
                assert_eq!(bits(&y), bits(&y2), "y {s:?} {precision:?}");
                assert_eq!(bits(&p), bits(&p2), "p {s:?} {precision:?}");
                assert!(bits(&p).iter().any(|&b| b != 0), "{s:?}: p all zero");
            }
        }
    }

    /// The input gradients whose split K the finishing pass carries on: through an
    /// activation (`sum_slices` with the mask) and through a pooling
    /// (`max_pool2d_backward` adding the slices, the routed gradient written or added to
    /// ∂x). Bit for bit the separate launches (the input gradient, then `act_backward` or
    /// the pooling's backward), in FP32, TF32 and 3xTF32; the launch lists show the pass
    /// that replaced them, and where a patch-staged kernel finishes the gradient (K whole
    /// or folded) the pooling's pass reads it.
    #[cfg(feature = "emu")]
    #[test]
    fn finishing_passes_equal_the_separate_launches_bit_for_bit() {
        use crate::device::emu::{EmuExec, EmuOptions};
        use crate::device::precision::Precision;
        use crate::device::Device;
        use crate::ops::{Pool2dShape, Unpool};
        let conv = |n, c_in, c_out, h, w| Conv2dShape {
            n,
            c_in,
            h,
            w,
            c_out,
            k: 3,
            stride: 1,
            pad: 1,
        };
        for precision in [Precision::Fp32, Precision::Tf32, Precision::Tf32x3] {
            let dev = GpuDevice::new(Recording::new(EmuExec::new(EmuOptions::default()).unwrap()))
                .with_precision(precision);
            let bits = |b: &_| -> Vec<u32> {
                dev.download(b)
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            let names =
                || -> Vec<&'static str> { dev.exec().take().iter().map(|l| l.kernel).collect() };
            // Through an activation: 64 → 96 channels on 8×7 maps, dx's K in splits.
            let s = conv(3, 64, 96, 8, 7);
            let w = dev.upload(&random(s.w_len(), 1)).unwrap();
            let dy = dev.upload(&random(s.y_len(), 2)).unwrap();
            let mask: Vec<f32> = random(s.x_len(), 3).iter().map(|v| v.max(0.0)).collect();
            let mask = dev.upload(&mask).unwrap();
            let (mut fused, mut apart) = (
                dev.alloc_zeros(s.x_len()).unwrap(),
                dev.alloc_zeros(s.x_len()).unwrap(),
            );
            dev.exec().take();
            dev.conv2d_backward_input_act(&s, &w, &dy, (Act::Relu, &mask), &mut fused)
                .unwrap();
            let l = names();
            assert_eq!(l.len(), 2, "{precision:?}: {l:?}");
            assert!(
                l[0].starts_with("conv_igemm_") && l[1] == "sum_slices",
                "{l:?}"
            );
            dev.conv2d_backward_input(&s, &w, &dy, &mut apart).unwrap();
            dev.act_backward(Act::Relu, &mask, &mut apart).unwrap();
            assert!(bits(&fused) == bits(&apart), "masked {precision:?}");
            // Through a pooling: (convolution, pooled input h × w, add, whether a patch-staged
            // kernel finishes dp: the pooling's pass reads it; else dp is left as it was).
            for (s, (ph, pw), add, patch) in [
                (conv(3, 64, 96, 8, 7), (17, 15), false, false),
                (conv(2, 32, 64, 4, 4), (8, 9), true, false),
                (
                    conv(2, 24, 16, 16, 17),
                    (32, 35),
                    true,
                    precision.tensor_cores(),
                ),
            ] {
                let shape = Pool2dShape {
                    n: s.n,
                    c: s.c_in,
                    h: ph,
                    w: pw,
                };
                let w = dev.upload(&random(s.w_len(), 4)).unwrap();
                let dy = dev.upload(&random(s.y_len(), 5)).unwrap();
                let x = dev.upload(&random(shape.x_len(), 6)).unwrap();
                let dx0 = random(shape.x_len(), 7);
                let act = Act::LeakyRelu(0.2);
                let unpool = Unpool {
                    shape: &shape,
                    x: &x,
                    act,
                    add,
                };
                let (mut dp, mut dx) = (
                    dev.alloc_zeros(s.x_len()).unwrap(),
                    dev.upload(&dx0).unwrap(),
                );
                dev.exec().take();
                dev.conv2d_backward_input_unpool(&s, &w, &dy, unpool, &mut dp, &mut dx)
                    .unwrap();
                let l = names();
                let first = if patch { "conv_patch_" } else { "conv_igemm_" };
                assert_eq!(l.len(), 2, "{s:?} {precision:?}: {l:?}");
                assert!(
                    l[0].starts_with(first) && l[1] == "max_pool2d_backward",
                    "{l:?}"
                );
                let (mut dp2, mut dx2) = (
                    dev.alloc_zeros(s.x_len()).unwrap(),
                    dev.upload(&dx0).unwrap(),
                );
                dev.conv2d_backward_input(&s, &w, &dy, &mut dp2).unwrap();
                if add {
                    dev.max_pool2d_backward_add(&shape, &x, &dp2, act, &mut dx2)
                } else {
                    dev.max_pool2d_backward(&shape, &x, &dp2, act, &mut dx2)
                }
                .unwrap();
                assert!(bits(&dx) == bits(&dx2), "{s:?} {precision:?} add {add}");
                if patch {
                    assert!(bits(&dp) == bits(&dp2), "dp {s:?} {precision:?}");
                } else {
                    assert!(dev.download(&dp).unwrap().iter().all(|&v| v == 0.0));
                }
            }
        }
    }

    /// A convolution of two inputs (the U-Net decoder's concat(up, skip)) and its
    /// gradients give, bit for bit, what the concatenation and the one-input ops give, with
    /// no concat or split launch where the kernels read or write the halves: the
    /// patch-staged kernel (K whole, and dx's K folded), the implicit GEMM (an 8×8 map and
    /// FP32: two inputs read, dx split after), and the fallbacks (dx's K summed apart: split
    /// after; unequal parts: concatenated first), in FP32 and tensor-core precisions.
    #[cfg(feature = "emu")]
    #[test]
    fn halves_equal_the_concatenated_launches_bit_for_bit() {
        use crate::device::emu::{EmuExec, EmuOptions};
        use crate::device::precision::Precision;
        use crate::device::Device;
        use crate::ops::ConcatShape;
        // (n, c_a, c_b, c_out, side, whether the kernel writes dx's halves on tensor cores
        // and in FP32): a decoder's at odd sides; dx's K folded; dx's K in 8 splits; an 8×8
        // map (the implicit GEMM, which reads two inputs but writes one output); unequal
        // parts. FP32 runs the implicit GEMM throughout.
        let cases = [
            (1, 16, 16, 16, 17, true, false),
            (1, 32, 32, 40, 16, true, false),
            (1, 8, 8, 128, 16, false, false),
            (3, 6, 6, 4, 8, false, false),
            (2, 3, 5, 8, 13, false, false),
        ];
        for precision in [Precision::Fp32, Precision::Tf32, Precision::Tf32x3] {
            let dev = GpuDevice::new(Recording::new(EmuExec::new(EmuOptions::default()).unwrap()))
                .with_precision(precision);
            for (n, c_a, c_b, c_out, side, tc_writes, fp32_writes) in cases {
                let s = Conv2dShape {
                    n,
                    c_in: c_a + c_b,
                    h: side,
                    w: side + 1,
                    c_out,
                    k: 3,
                    stride: 1,
                    pad: 1,
                };
                let cat = ConcatShape {
                    n,
                    c_a,
                    c_b,
                    plane: s.h * s.w,
                };
                let up = |len, seed| dev.upload(&random(len, seed)).unwrap();
                let (a, b, w, bias, dy) = (
                    up(cat.a_len(), 1),
                    up(cat.b_len(), 2),
                    up(s.w_len(), 3),
                    up(s.c_out, 4),
                    up(s.y_len(), 5),
                );
                let zeros = |len| dev.alloc_zeros(len).unwrap();
                let (mut scratch, mut y, mut da, mut db) = (
                    zeros(s.x_len()),
                    zeros(s.y_len()),
                    zeros(cat.a_len()),
                    zeros(cat.b_len()),
                );
                let (mut dw, mut dbias) = (zeros(s.w_len()), zeros(s.c_out));
                dev.exec().take();
                let relu = Act::Relu;
                dev.conv2d_forward_cat(
                    &s,
                    &cat,
                    (&a, &b),
                    &w,
                    Some(&bias),
                    relu,
                    &mut y,
                    &mut scratch,
                )
                .unwrap();
                dev.conv2d_backward_input_cat(&s, &cat, &w, &dy, (&mut da, &mut db), &mut scratch)
                    .unwrap();
                dev.conv2d_backward_weight_cat(
                    &s,
                    &cat,
                    (&a, &b),
                    &dy,
                    &mut dw,
                    Some(&mut dbias),
                    &mut scratch,
                )
                .unwrap();
                let names: Vec<_> = dev.exec().take().iter().map(|l| l.kernel).collect();
                let concats = names.iter().filter(|k| **k == "concat_channels").count();
                let splits = names.iter().filter(|k| **k == "split_channels").count();
                // Unequal parts are concatenated for the forward and the weight gradient; dx
                // summed apart is split after.
                let unequal = c_a != c_b;
                let writes = if precision == Precision::Fp32 {
                    fp32_writes
                } else {
                    tc_writes
                };
                assert_eq!(
                    concats,
                    if unequal { 2 } else { 0 },
                    "{s:?} {precision:?}: {names:?}"
                );
                assert_eq!(
                    splits,
                    usize::from(!writes),
                    "{s:?} {precision:?}: {names:?}"
                );
                // The one-input ops on the concatenation.
                let mut x = zeros(s.x_len());
                dev.concat_channels(&cat, &a, &b, &mut x).unwrap();
                let (mut y1, mut dx1) = (zeros(s.y_len()), zeros(s.x_len()));
                let (mut dw1, mut dbias1) = (zeros(s.w_len()), zeros(s.c_out));
                dev.conv2d_forward(&s, &x, &w, Some(&bias), relu, &mut y1)
                    .unwrap();
                dev.conv2d_backward_input(&s, &w, &dy, &mut dx1).unwrap();
                dev.conv2d_backward_weight(&s, &x, &dy, &mut dw1, Some(&mut dbias1))
                    .unwrap();
                let bits = |b: &_| -> Vec<u32> {
                    let v = dev.download(b).unwrap();
                    v.iter().map(|v| v.to_bits()).collect()
                };
                // The first differing element and how many differ.
                let same = |name: &str, got: &[u32], want: &[u32]| {
                    let bad: Vec<_> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
                    assert!(
                        got.len() == want.len() && bad.is_empty(),
                        "{name} {s:?} {precision:?}: {} of {} differ, the first at {:?}",
                        bad.len(),
                        got.len(),
                        bad.first()
                    );
                };
                let (mut da1, mut db1) = (zeros(cat.a_len()), zeros(cat.b_len()));
                dev.split_channels(&cat, &dx1, &mut da1, &mut db1).unwrap();
                same("y", &bits(&y), &bits(&y1));
                same("da", &bits(&da), &bits(&da1));
                same("db", &bits(&db), &bits(&db1));
                same("dw", &bits(&dw), &bits(&dw1));
                same("dbias", &bits(&dbias), &bits(&dbias1));
                assert!(bits(&db).iter().any(|&v| v != 0), "{s:?}: db all zero");
            }
        }
    }

    /// The 64-channel patch tiles, which the launch code takes only for grids of at least
    /// 256 blocks (too large to emulate in a test), run directly at small shapes: two
    /// channel tiles (whole, and the second partial), partial output tiles, K whole and
    /// split in 2 (folded in the kernel), forward and transposed, against the f64 reference
    /// within the precision's tolerance; and with x in two halves, and dx written in two
    /// halves of a tile each, the same bits.
    #[cfg(feature = "emu")]
    #[test]
    fn wide_patch_tiles_match_the_reference() {
        use crate::device::emu::{EmuExec, EmuOptions};
        use crate::device::precision::Precision;
        use crate::device::Device;
        use crate::kernels::{CONV_PATCH_3X64_3XTF32, CONV_PATCH_3X64_TF32};
        use crate::ops::conv2d::reference;
        let f64s = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
        for (precision, kernel) in [
            (Precision::Tf32, &CONV_PATCH_3X64_TF32),
            (Precision::Tf32x3, &CONV_PATCH_3X64_3XTF32),
        ] {
            let dev = GpuDevice::new(EmuExec::new(EmuOptions::default()).unwrap())
                .with_precision(precision);
            // 5 chunks of 8 input channels (2 splits, folded), then 2 (K whole).
            for (c_in, c_out, h, w) in [(37, 128, 17, 16), (16, 65, 16, 18)] {
                let s = Conv2dShape {
                    n: 1,
                    c_in,
                    h,
                    w,
                    c_out,
                    k: 3,
                    stride: 1,
                    pad: 1,
                };
                let (x, wt, b) = (
                    random(s.x_len(), 1),
                    random(s.w_len(), 2),
                    random(s.c_out, 3),
                );
                let (xb, wb, bb) = (
                    dev.upload(&x).unwrap(),
                    dev.upload(&wt).unwrap(),
                    dev.upload(&b).unwrap(),
                );
                let (wx, wwt, wbias) = (f64s(&x), f64s(&wt), f64s(&b));
                let want =
                    reference::conv2d_forward(&s, &wx, &wwt, Some(&wbias), Act::Relu).unwrap();
                let mut y = dev.alloc_zeros(s.y_len()).unwrap();
                let g = super::conv2d_geometry(&s);
                let op = "conv2d_forward";
                super::patch(
                    &dev,
                    op,
                    (kernel, 64),
                    false,
                    &g,
                    (&xb, None),
                    &wb,
                    Some(&bb),
                    Act::Relu,
                    (&mut y, super::Epilogue::Store),
                )
                .unwrap();
                let e = crate::selftest::max_rel_err(&dev.download(&y).unwrap(), &want);
                assert!(e <= precision.tolerance(), "{s:?} {precision:?}: {e:e}");
                // x in two halves (16 = 8 + 8 channels): the same bits.
                let bits = |b: &_| -> Vec<u32> {
                    let v = dev.download(b).unwrap();
                    v.iter().map(|v| v.to_bits()).collect()
                };
                if c_in % 2 == 0 {
                    let half = x.len() / 2;
                    let (xa, xb2) = (
                        dev.upload(&x[..half]).unwrap(),
                        dev.upload(&x[half..]).unwrap(),
                    );
                    let mut y2 = dev.alloc_zeros(s.y_len()).unwrap();
                    let out = (&mut y2, super::Epilogue::Store);
                    let x_halves = (&xa, Some(&xb2));
                    super::patch(
                        &dev,
                        op,
                        (kernel, 64),
                        false,
                        &g,
                        x_halves,
                        &wb,
                        Some(&bb),
                        Act::Relu,
                        out,
                    )
                    .unwrap();
                    assert_eq!(bits(&y2), bits(&y), "{s:?} {precision:?} halves");
                }
                // The input gradient: dy of x's channels' count (c_in here) back to c_out.
                let t = Conv2dShape {
                    c_in: c_out,
                    c_out: c_in,
                    ..s
                };
                let dyv = random(t.y_len(), 4);
                let wt2 = random(t.w_len(), 5);
                let want = reference::conv2d_backward_input(&t, &f64s(&wt2), &f64s(&dyv)).unwrap();
                let (dyb, w2b) = (dev.upload(&dyv).unwrap(), dev.upload(&wt2).unwrap());
                let mut dx = dev.alloc_zeros(t.x_len()).unwrap();
                let g = super::swapped(super::conv2d_geometry(&t));
                let op = "conv2d_backward_input";
                super::patch(
                    &dev,
                    op,
                    (kernel, 64),
                    true,
                    &g,
                    (&dyb, None),
                    &w2b,
                    None,
                    Act::Identity,
                    (&mut dx, super::Epilogue::Store),
                )
                .unwrap();
                let e = crate::selftest::max_rel_err(&dev.download(&dx).unwrap(), &want);
                assert!(e <= precision.tolerance(), "{t:?} dx {precision:?}: {e:e}");
                // dx (c_out channels) in two halves of 64 (a tile each; K in 2 splits,
                // folded): the same bits.
                if c_out == 128 {
                    let half = t.x_len() / 2;
                    let (mut da, mut db) = (
                        dev.alloc_zeros(half).unwrap(),
                        dev.alloc_zeros(half).unwrap(),
                    );
                    let out = (&mut da, super::Epilogue::Halves(&mut db));
                    let dy_one = (&dyb, None);
                    super::patch(
                        &dev,
                        op,
                        (kernel, 64),
                        true,
                        &g,
                        dy_one,
                        &w2b,
                        None,
                        Act::Identity,
                        out,
                    )
                    .unwrap();
                    let whole = bits(&dx);
                    assert_eq!(bits(&da), whole[..half], "{t:?} {precision:?} first half");
                    assert_eq!(bits(&db), whole[half..], "{t:?} {precision:?} second half");
                }
            }
        }
    }

    /// The patch kernels split their chunks of 8 input channels (at least 2 per split) so
    /// that a launch has about 256 blocks, and every split is non-empty.
    #[test]
    fn patch_splits_fill_the_gpu_by_the_shape_alone() {
        use super::patch_split;
        // G's layers at batch 16: 256 blocks already.
        assert_eq!(patch_split(256, 4), (1, 4));
        // D's 16×16 layer, 128 → 256 at batch 16: 64 blocks, 16 chunks: 4 splits of 4.
        assert_eq!(patch_split(64, 16), (4, 4));
        // Its input gradient (256 → 128): 32 blocks, 32 chunks: 8 splits of 4.
        assert_eq!(patch_split(32, 32), (8, 4));
        // One chunk cannot split; 5 chunks at most in 2.
        assert_eq!(patch_split(1, 1), (1, 1));
        assert_eq!(patch_split(3, 5), (2, 3));
        for (blocks, chunks) in [(1, 7), (9, 13), (100, 40), (7, 2)] {
            let (splits, per) = patch_split(blocks, chunks);
            assert!(splits * per >= chunks && (splits - 1) * per < chunks && per >= 1);
        }
    }
}
