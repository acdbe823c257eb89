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
use crate::device::gpu::{Arg, GpuDevice, KernelExec, LaunchConfig, Variants};
use crate::kernels::{
    consts, Kernel, CONV2D_FORWARD_V2, CONV2D_WEIGHT_GRAD, CONV_TRANSPOSE2D_FORWARD,
};
use crate::ops::reduce::gpu::channel_sum;
use crate::ops::{check_len, shape_err, Act, Conv2dShape};
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
            Gather::Transposed => &CONV_TRANSPOSE2D_FORWARD,
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

/// Launches a tiled gather kernel: grid (tiles, ⌈c_out/cob⌉, n), block tile×tile, dynamic
/// shared memory for the input patch and cob·k² weights (tile and cob of the kernel,
/// [`Gather::tile`] and [`Gather::cob`]; 16 and 8 today).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather<E: KernelExec>(
    dev: &GpuDevice<E>,
    op: &'static str,
    kind: Gather,
    g: &Geometry,
    x: &E::Buf,
    w: &E::Buf,
    bias: Option<&E::Buf>,
    act: Act,
    y: &mut E::Buf,
) -> Result<()> {
    let (tile, cob) = (kind.tile(), kind.cob());
    let kernel = kind.kernel(dev.variants());
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
    )
}

/// Launches `conv2d_weight_grad`: dw `[c_o, c_i, k, k]` from g `[n, c_o, gh, gw]` and
/// x `[n, c_i, xh, xw]`: one block of `SC_CONV_TILE²` (256) threads per (o, i) pair,
/// dynamic shared memory for a `SC_CONV_TILE²` tile of g, the x patch it touches and the
/// per-group partial sums.
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
    x: &E::Buf,
    dw: &mut E::Buf,
) -> Result<()> {
    let (n, c_o, gh, gw) = g_geom;
    let (c_i, xh, xw) = x_geom;
    to_i32(op, n * c_o * gh * gw)?;
    to_i32(op, n * c_i * xh * xw)?;
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
    dev.exec().launch(
        &CONV2D_WEIGHT_GRAD,
        cfg,
        &mut [
            Arg::In("g", g),
            Arg::In("x", x),
            Arg::Out("dw", dw),
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
        ],
    )
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
        Gather::Correlation,
        &conv2d_geometry(s),
        x,
        w,
        b,
        act,
        y,
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
    let op = "conv2d_backward_input";
    s.validate()?;
    check_len(op, "w", dev.exec().len(w), s.w_len())?;
    check_len(op, "dy", dev.exec().len(dy), s.y_len())?;
    check_len(op, "dx", dev.exec().len(dx), s.x_len())?;
    let g = swapped(conv2d_geometry(s));
    gather(
        dev,
        op,
        Gather::Transposed,
        &g,
        dy,
        w,
        None,
        Act::Identity,
        dx,
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
    )?;
    match db {
        Some(db) => channel_sum(dev, op, (s.n, s.c_out, h_out * w_out), dy, db),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::device::gpu::{GpuDevice, LaunchConfig};
    use crate::kernels::consts;
    use crate::ops::{Act, Conv2dShape, ConvTranspose2dShape};
    use crate::perf::record::{Dry, Recording};

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

    /// The tile and output-channel block of each gather kernel are the ones its .cu file
    /// defines (kernels::consts, checked against the sources in kernels.rs), and
    /// conv2d_weight_grad runs SC_CONV_TILE² threads.
    #[test]
    fn conv_launches_use_the_kernels_tiles() {
        let dev = GpuDevice::new(Recording::new(Dry));
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
        let (x, w, b, mut y) = (s.x_len(), s.w_len(), s.c_out, s.y_len());
        super::conv2d_forward(&dev, &s, &x, &w, Some(&b), Act::Relu, &mut y).unwrap();
        let (name, cfg) = launches(&dev)[0];
        assert_eq!(name, "conv2d_forward");
        assert_eq!(cfg.block, (tile as u32, tile as u32, 1));
        let tiles = 40usize.div_ceil(tile) * 37usize.div_ceil(tile);
        assert_eq!(cfg.grid, (tiles as u32, 20usize.div_ceil(cob) as u32, 2));
        let side = tile - 1 + 3;
        assert_eq!(cfg.shared_bytes as usize, 4 * (side * side + cob * 9));

        let mut dx = s.x_len();
        super::conv2d_backward_input(&dev, &s, &w, &y, &mut dx).unwrap();
        let (name, cfg) = launches(&dev)[0];
        assert_eq!(name, "conv_transpose2d_forward");
        assert_eq!(cfg.block, (ct_tile as u32, ct_tile as u32, 1));
        assert_eq!(cfg.grid.1 as usize, 3usize.div_ceil(ct_cob));

        let (mut dw, mut db) = (s.w_len(), s.c_out);
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
        let (x, w, mut y) = (t.x_len(), t.w_len(), t.y_len());
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
}
