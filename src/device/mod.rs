//! Devices: where tensors live and ops run. The model code is written once against
//! [`Device`]; three executions implement it:
//!
//! - [`cpu::CpuDevice`]: native Rust (rayon threads, im2col + GEMM convolutions);
//! - [`gpu::GpuDevice`] over [`cuda::CudaExec`]: kernels/*.cu on an NVIDIA GPU via cudarc;
//! - [`gpu::GpuDevice`] over [`emu::EmuExec`]: the same kernels/*.cu compiled for the CPU
//!   against emu/, launched by the very same Rust code (grid, block, shared memory and
//!   argument order) as on a GPU.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "emu")]
pub mod emu;
pub mod gpu;
pub mod graph;
#[cfg(feature = "cuda")]
pub mod nccl;
pub mod open;
pub mod precision;

use crate::dist::Collective;
use crate::ops::{
    Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape,
    SgdParams, Unpool,
};
use crate::{Error, Result};
use std::ops::Range;

/// The refusal of a device without launch graphs.
fn no_graphs(device: &str) -> Error {
    Error::Device(format!(
        "{device}: launch graphs need a GPU device (cuda, or emu to check one)"
    ))
}

/// Buffers allocated together by [`Device::alloc_group`].
///
/// On a GPU device the parts lie in one allocation, each starting on a multiple of
/// [`gpu::GROUP_ALIGN`] elements, and `spans[k]` is a buffer over the parts of the k-th
/// requested range, from the start of its first part to the end of its last, padding
/// between them included. The padding starts at zero and stays zero under the ops that
/// run on spans (optimizer steps, clipping, the L2 penalty: each maps a zero parameter
/// with a zero gradient to zero), so a span op computes what the same op on each part
/// would.
pub struct Group<B> {
    /// One buffer per requested length, in order.
    pub parts: Vec<B>,
    /// One buffer per requested range of parts, or `None` where parts are separate.
    pub spans: Option<Vec<B>>,
}

/// A device holding f32 buffers and running every op of the two networks.
///
/// Conventions: NCHW f32 contiguous buffers; backward ops *overwrite* the gradients they
/// produce unless the doc says *adds*; scalar outputs (losses, `dtheta`) are one-element
/// buffers. Ops may run asynchronously; [`Device::download`] waits for them.
pub trait Device {
    /// A buffer of f32 on this device.
    type Buf;
    /// A recorded sequence of launches ([`Device::begin_graph`]).
    type Graph;

    /// A human-readable name, e.g. `cpu (2 threads)` or `cuda:0 (NVIDIA H100)`.
    fn name(&self) -> String;
    /// The arithmetic of its convolutions ([`precision::Precision`]); FP32 unless the
    /// device runs tensor-core kernels.
    fn precision(&self) -> precision::Precision {
        precision::Precision::Fp32
    }
    /// Allocates `len` zeroed elements.
    fn alloc_zeros(&self, len: usize) -> Result<Self::Buf>;
    /// Copies host data into a new buffer.
    fn upload(&self, host: &[f32]) -> Result<Self::Buf>;
    /// Copies a buffer back to the host (waits for pending work).
    fn download(&self, buf: &Self::Buf) -> Result<Vec<f32>>;
    /// Overwrites a buffer with host data of the same length.
    fn write(&self, buf: &mut Self::Buf, host: &[f32]) -> Result<()>;
    /// Number of elements of a buffer.
    fn len(&self, buf: &Self::Buf) -> usize;
    /// Number of buffer allocations made on this device so far (steady-state checks).
    fn alloc_count(&self) -> u64;
    /// Starts recording the launches of the ops that follow as a graph, which
    /// [`Device::replay`] runs again and again with the arguments they were recorded with
    /// (cuda: a CUDA Graph; emu: the same launches, frozen and replayed in order). Until
    /// [`Device::end_graph`] ops are recorded, not run, and host copies and allocations are
    /// errors. The cpu device has no graphs and refuses.
    fn begin_graph(&self) -> Result<()> {
        Err(no_graphs(&self.name()))
    }
    /// Whether it records launch graphs ([`Device::begin_graph`]): the GPU devices.
    fn has_graphs(&self) -> bool {
        false
    }
    /// Ends the recording [`Device::begin_graph`] started and returns its graph.
    fn end_graph(&self) -> Result<Self::Graph> {
        Err(no_graphs(&self.name()))
    }
    /// Runs a recorded graph.
    fn replay(&self, graph: &Self::Graph) -> Result<()> {
        let _ = graph;
        Err(no_graphs(&self.name()))
    }
    /// Starts a backward pass's weight gradients: until [`Device::end_weight_grads`] the
    /// device may leave the last step of `conv2d_backward_weight` and
    /// `conv_transpose2d_backward_weight` (the GPU devices: the sum of a split K) undone
    /// and finish them all together, so their outputs (`dw`, `db`) must not be read or
    /// written before it. The default finishes each at once.
    fn begin_weight_grads(&self) -> Result<()> {
        Ok(())
    }
    /// Finishes the weight gradients [`Device::begin_weight_grads`] left undone.
    fn end_weight_grads(&self) -> Result<()> {
        Ok(())
    }
    /// Prepares [`Device::mean_over_ranks`] to average in device memory (NCCL on cuda) if
    /// every rank's device can, and returns whether it does. A collective call: every rank
    /// of `ranks` makes it, at the same point. The default (devices that cannot) tells the
    /// other ranks so, and every rank then averages through the host.
    fn connect_ranks(&self, ranks: &dyn Collective) -> Result<bool> {
        ranks.any(true)?;
        Ok(false)
    }
    /// Replaces `buf`, on every rank of `ranks`, by its mean over the ranks (a data-parallel
    /// run's gradients; see [`crate::dist`]): in device memory where
    /// [`Device::connect_ranks`] connected the ranks, else through the host (the default).
    fn mean_over_ranks(&self, buf: &mut Self::Buf, ranks: &dyn Collective) -> Result<()> {
        mean_through_host(self, buf, ranks)
    }
    /// Zeroed buffers of `lens` elements for tensors that are updated together (a
    /// network's parameters, their gradients, an optimizer's state), and, where the
    /// device keeps them in one allocation, a buffer spanning each range of `spans`, so
    /// that one launch updates them all (see [`Group`]). The cpu device allocates each
    /// part on its own and has no spans.
    fn alloc_group(&self, lens: &[usize], spans: &[Range<usize>]) -> Result<Group<Self::Buf>> {
        let _ = spans;
        Ok(Group {
            parts: lens
                .iter()
                .map(|&n| self.alloc_zeros(n))
                .collect::<Result<_>>()?,
            spans: None,
        })
    }

    /// `y = act(conv2d(x, w) + b)`.
    fn conv2d_forward(
        &self,
        s: &Conv2dShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
    ) -> Result<()>;
    /// [`conv2d_forward`](Self::conv2d_forward) and `p = maxpool2×2(y)` (as
    /// [`max_pool2d_forward`](Self::max_pool2d_forward) of y's shape): D's convolutions and
    /// the U-Net encoder's block outputs, whose pooled copy feeds the next layer. The GPU
    /// devices pool in the convolution's epilogue where the kernel finishes y itself; the
    /// default runs the two ops.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_forward_pooled(
        &self,
        s: &Conv2dShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
        p: &mut Self::Buf,
    ) -> Result<()> {
        self.conv2d_forward(s, x, w, b, act, y)?;
        self.max_pool2d_forward(&s.pooled(), y, p)
    }
    /// [`conv2d_forward`](Self::conv2d_forward) of the channel concatenation `[a; b]`
    /// (`cat`: a `[n, c_a, h, w]` and b `[n, c_b, h, w]`, `s.c_in = c_a + c_b`), the U-Net
    /// decoder's convolution of its up-sampled map and its skip. The GPU devices read both
    /// inputs in the convolution where the kernel can (equal halves, the implicit-GEMM and
    /// patch-staged kernels), the cpu device wherever its direct tiles run the pass, and
    /// leave `scratch` as it was; otherwise, and by default, `scratch` (`s.x_len()`
    /// elements) receives `[a; b]` first.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_forward_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        (a, b): (&Self::Buf, &Self::Buf),
        w: &Self::Buf,
        bias: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
        scratch: &mut Self::Buf,
    ) -> Result<()> {
        self.concat_channels(cat, a, b, scratch)?;
        self.conv2d_forward(s, scratch, w, bias, act, y)
    }
    /// [`conv2d_backward_input`](Self::conv2d_backward_input) of a convolution of `[a; b]`
    /// (as [`conv2d_forward_cat`](Self::conv2d_forward_cat)), split into `da` and `db`, the
    /// parts of ∂L/∂x that belong to a and b. The GPU devices write both from the kernel
    /// where it finishes dx itself (equal halves, K whole or added in the kernel), the cpu
    /// device from its direct tiles; otherwise, and by default, dx goes to `scratch`
    /// (`s.x_len()`) and is split after.
    fn conv2d_backward_input_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        (da, db): (&mut Self::Buf, &mut Self::Buf),
        scratch: &mut Self::Buf,
    ) -> Result<()> {
        self.conv2d_backward_input(s, w, dy, scratch)?;
        self.split_channels(cat, scratch, da, db)
    }
    /// [`conv2d_backward_weight`](Self::conv2d_backward_weight) of a convolution of `[a; b]`
    /// (as [`conv2d_forward_cat`](Self::conv2d_forward_cat)). The GPU devices' implicit-GEMM
    /// weight gradient (equal halves) and the cpu device's direct tiles read both inputs;
    /// otherwise, and by default, `scratch` (`s.x_len()`) receives `[a; b]` first.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_backward_weight_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        (a, b): (&Self::Buf, &Self::Buf),
        dy: &Self::Buf,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
        scratch: &mut Self::Buf,
    ) -> Result<()> {
        self.concat_channels(cat, a, b, scratch)?;
        self.conv2d_backward_weight(s, scratch, dy, dw, db)
    }
    /// `dx = ∂L/∂x` from `dy = ∂L/∂(conv2d output before activation)`.
    fn conv2d_backward_input(
        &self,
        s: &Conv2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        dx: &mut Self::Buf,
    ) -> Result<()>;
    /// [`conv2d_backward_input`](Self::conv2d_backward_input) through the activation whose
    /// output `y` (x's shape) is: `dx = ∂L/∂x · act'(y)`, the gradient before that
    /// activation (the U-Net's ReLUs). The GPU devices apply act' where the kernel finishes
    /// dx itself, the cpu device as its tiles or GEMM images are stored; the default runs
    /// the input gradient and [`act_backward`](Self::act_backward).
    fn conv2d_backward_input_act(
        &self,
        s: &Conv2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        (act, y): (Act, &Self::Buf),
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.conv2d_backward_input(s, w, dy, dx)?;
        self.act_backward(act, y, dx)
    }
    /// [`conv2d_backward_input`](Self::conv2d_backward_input) of a convolution whose input
    /// is a pooled map `p = maxpool2×2(x)` (D's layers after the first, the U-Net encoder's
    /// below the top), on through the pooling: ∂L/∂p into `dp`, then ∂L/∂x into `dx` as
    /// `unpool` says. The GPU devices route a split K's partial sums through the pooling in
    /// the pass that adds them, leaving `dp` as it was; by default the two ops run.
    fn conv2d_backward_input_unpool(
        &self,
        s: &Conv2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        unpool: Unpool<'_, Self::Buf>,
        dp: &mut Self::Buf,
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.conv2d_backward_input(s, w, dy, dp)?;
        let Unpool { shape, x, act, add } = unpool;
        if add {
            self.max_pool2d_backward_add(shape, x, dp, act, dx)
        } else {
            self.max_pool2d_backward(shape, x, dp, act, dx)
        }
    }
    /// `dw = ∂L/∂w` and, if given, `db = ∂L/∂b` from `dy` (pre-activation gradient).
    fn conv2d_backward_weight(
        &self,
        s: &Conv2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
    ) -> Result<()>;
    /// `y = act(conv_transpose2d(x, w) + b)`, weight in PyTorch's `[c_in, c_out, k, k]`.
    fn conv_transpose2d_forward(
        &self,
        s: &ConvTranspose2dShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
    ) -> Result<()>;
    /// `dx` of a transposed convolution from its pre-activation output gradient `dy`.
    fn conv_transpose2d_backward_input(
        &self,
        s: &ConvTranspose2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        dx: &mut Self::Buf,
    ) -> Result<()>;
    /// [`conv_transpose2d_backward_input`](Self::conv_transpose2d_backward_input) through
    /// the activation whose output `y` (x's shape) is, as
    /// [`conv2d_backward_input_act`](Self::conv2d_backward_input_act).
    fn conv_transpose2d_backward_input_act(
        &self,
        s: &ConvTranspose2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        (act, y): (Act, &Self::Buf),
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.conv_transpose2d_backward_input(s, w, dy, dx)?;
        self.act_backward(act, y, dx)
    }
    /// `dw` (and `db`) of a transposed convolution from `dy`.
    fn conv_transpose2d_backward_weight(
        &self,
        s: &ConvTranspose2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
    ) -> Result<()>;
    /// 2×2 stride-2 max pooling.
    fn max_pool2d_forward(&self, s: &Pool2dShape, x: &Self::Buf, y: &mut Self::Buf) -> Result<()>;
    /// Sends each `dy` to the first maximum (row-major) of its window of `x`, times `act`'s
    /// derivative there, `x` being that activation's output (the pooling's backward fused
    /// with the activation's; [`Act::Identity`] for the pooling's alone); other elements of
    /// `dx` get 0.
    fn max_pool2d_backward(
        &self,
        s: &Pool2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        act: Act,
        dx: &mut Self::Buf,
    ) -> Result<()>;
    /// In place: `dx ← (dx + routed) · act'(x)` on every element, `routed` what
    /// [`max_pool2d_backward`](Self::max_pool2d_backward) sends to each window's first
    /// maximum (before the activation): the pooling's backward added to the gradient other
    /// consumers of `x` left in `dx`, fused with the backward of the activation whose
    /// output `x` is (one pass instead of the pooling's, an `add_assign` and an
    /// `act_backward`, with the same roundings).
    fn max_pool2d_backward_add(
        &self,
        s: &Pool2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        act: Act,
        dx: &mut Self::Buf,
    ) -> Result<()>;
    /// Channel concatenation: `y = [a; b]`, a `[n, c_a, h, w]` and b `[n, c_b, h, w]` into
    /// y `[n, c_a + c_b, h, w]`, a's channels first.
    fn concat_channels(
        &self,
        s: &ConcatShape,
        a: &Self::Buf,
        b: &Self::Buf,
        y: &mut Self::Buf,
    ) -> Result<()>;
    /// The backward of [`concat_channels`](Self::concat_channels): `da` and `db`, the parts
    /// of `dy` that belong to a and b.
    fn split_channels(
        &self,
        s: &ConcatShape,
        dy: &Self::Buf,
        da: &mut Self::Buf,
        db: &mut Self::Buf,
    ) -> Result<()>;
    /// In place: `dy ← dy · act'(y)` where `y` is the activation's output.
    fn act_backward(&self, act: Act, y: &Self::Buf, dy: &mut Self::Buf) -> Result<()>;
    /// Fused convex skip: `u = σ(θ)·a + (1 − σ(θ))·b`, θ a one-element buffer.
    fn convex_skip_forward(
        &self,
        theta: &Self::Buf,
        a: &Self::Buf,
        b: &Self::Buf,
        u: &mut Self::Buf,
    ) -> Result<()>;
    /// Backward of the convex skip in one pass: `da = σ(θ)·du`, `db = (1 − σ(θ))·du`,
    /// `dθ = σ(θ)(1 − σ(θ)) · Σ du·(a − b)` (one element).
    #[allow(clippy::too_many_arguments)]
    fn convex_skip_backward(
        &self,
        theta: &Self::Buf,
        a: &Self::Buf,
        b: &Self::Buf,
        du: &Self::Buf,
        da: &mut Self::Buf,
        db: &mut Self::Buf,
        dtheta: &mut Self::Buf,
    ) -> Result<()>;
    /// `y = x·wᵀ + b` with x `[n, k]`, w `[m, k]`.
    fn linear_forward(
        &self,
        s: &LinearShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: &Self::Buf,
        y: &mut Self::Buf,
    ) -> Result<()>;
    /// `dx` (if given), `dw`, `db` of a linear layer from `dy`.
    #[allow(clippy::too_many_arguments)]
    fn linear_backward(
        &self,
        s: &LinearShape,
        x: &Self::Buf,
        w: &Self::Buf,
        dy: &Self::Buf,
        dx: Option<&mut Self::Buf>,
        dw: &mut Self::Buf,
        db: &mut Self::Buf,
    ) -> Result<()>;
    /// Binary cross-entropy with logits, in softplus form, against the target `t_i =
    /// target` for the first `first` logits and `1 − target` for the rest (the D step's
    /// real and generated windows in one batch; `first = z.len()` for one target): *adds*
    /// `scale · Σ_i [softplus(z_i) − t_i·z_i]` to `loss[0]` and writes
    /// `dz_i = scale · (σ(z_i) − t_i)`. Stable for |z| up to 1e4.
    fn bce_with_logits(
        &self,
        z: &Self::Buf,
        target: f32,
        first: usize,
        scale: f32,
        loss: &mut Self::Buf,
        dz: &mut Self::Buf,
    ) -> Result<()>;
    /// Squared error: *adds* `scale · Σ (a − b)²` to `loss[0]` and writes
    /// `da = 2·scale·(a − b)`.
    fn mse(
        &self,
        a: &Self::Buf,
        b: &Self::Buf,
        scale: f32,
        loss: &mut Self::Buf,
        da: &mut Self::Buf,
    ) -> Result<()>;
    /// L2 penalty: *adds* `scale · Σ w²` to `loss[0]` and *adds* `2·scale·w` to `dw`.
    fn l2_penalty(
        &self,
        w: &Self::Buf,
        scale: f32,
        loss: &mut Self::Buf,
        dw: &mut Self::Buf,
    ) -> Result<()>;
    /// `dst ← dst + src` (gradient accumulation).
    fn add_assign(&self, dst: &mut Self::Buf, src: &Self::Buf) -> Result<()>;
    /// `dst += alpha[0] · src`, the factor a one-element buffer (so that a recorded graph
    /// reads each iteration's value, e.g. λ_G(t)).
    fn add_scaled(&self, dst: &mut Self::Buf, src: &Self::Buf, alpha: &Self::Buf) -> Result<()>;
    /// `out[0] = Σ x` (deterministic order).
    fn sum(&self, x: &Self::Buf, out: &mut Self::Buf) -> Result<()>;
    /// Sum of squares: *adds* `Σ x²` to `out[0]` (deterministic order), so that the
    /// squared norm of several buffers accumulates in one element (gradient clipping).
    fn sum_squares(&self, x: &Self::Buf, out: &mut Self::Buf) -> Result<()>;
    /// In place: `x ← factor · x` (gradient clipping).
    fn scale(&self, x: &mut Self::Buf, factor: f32) -> Result<()>;
    /// One SGD-with-momentum step on `p` with gradient `g` and momentum buffer `mom`.
    fn sgd_step(
        &self,
        hp: &SgdParams,
        p: &mut Self::Buf,
        g: &Self::Buf,
        mom: &mut Self::Buf,
    ) -> Result<()>;
    /// One Adam step on `p` with gradient `g` and moments `m`, `v`; `bias` holds the step's
    /// scalars, [`AdamParams::step_scalars`] of its number t (in device memory, so that a
    /// recorded graph reads each step's).
    fn adam_step(
        &self,
        hp: &AdamParams,
        bias: &Self::Buf,
        p: &mut Self::Buf,
        g: &Self::Buf,
        m: &mut Self::Buf,
        v: &mut Self::Buf,
    ) -> Result<()>;
}

/// Which device a user asked for: `auto`, `cpu`, `emu` or `cuda[:N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The first GPU that works, else the CPU.
    Auto,
    /// The native CPU backend.
    Cpu,
    /// The CUDA emulator (kernels/*.cu executed on the CPU).
    Emu,
    /// GPU number N through CUDA.
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "emu" => Ok(DeviceSpec::Emu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            _ => match t.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceSpec::Cuda(n)),
                _ => Err(Error::UnknownDevice(s.to_string())),
            },
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Auto => write!(f, "auto"),
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Emu => write!(f, "emu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// [`Device::mean_over_ranks`] through the host: the buffer is downloaded, averaged by
/// [`Collective::mean`] and written back.
pub(crate) fn mean_through_host<D: Device + ?Sized>(
    dev: &D,
    buf: &mut D::Buf,
    ranks: &dyn Collective,
) -> Result<()> {
    let mut host = dev.download(buf)?;
    ranks.mean(&mut host)?;
    dev.write(buf, &host)
}
