//! The write-up's generator body (spec § Generator G): C_in bands in, C_out bands out at the
//! same W×W resolution.
//!
//! ```text
//! h0 = lift(x)                                  1×1 conv with bias, no activation
//! h-1 = h0
//! for i = 1..L:
//!     u_i = σ(θ_i)·h_{i-1} + (1 − σ(θ_i))·h_{i-2}
//!     a_i = ReLU(conv1(u_i))                    C_out → F, k×k, stride 1
//!     b_i = ReLU(conv2(a_i))                    F → F, k×k, stride s
//!     h_i = ReLU(deconv(b_i))                   F → C_out, k×k, stride s, output_padding s−1
//! ```
//!
//! h_L is G(x) under the raw head. Under the consistent head it is the residual r: the last
//! transposed convolution has no ReLU and starts at zero (see [`super::head`]).
//!
//! Activations kept for the backward pass: every h_i (skips and ReLU masks), u_i (conv1's
//! weight gradient), a_i and b_i (conv2's and deconv's weight gradients and ReLU masks).
//! Gradient buffers: one per h_i, plus one of each inner size reused by every layer.
//! Since h_{-1} = h_0, h_0 receives three gradient contributions (both branches of layer
//! 1's skip and the second branch of layer 2's); they are accumulated.

use super::config::{Head, ModelConfig};
use super::error::ModelResult;
use super::init::Init;
use super::param::{pair_mut, ParamSpec};
use crate::device::Device;
use crate::ops::{Act, Conv2dShape, ConvTranspose2dShape};

/// Index of `g.lift.weight` (its bias follows).
const LIFT: usize = 0;
/// Tensors per outer layer: θ, conv1 weight and bias, conv2 weight and bias, deconv
/// weight and bias.
const PER_LAYER: usize = 7;

/// Indices of outer layer `i`'s tensors (each weight is followed by its bias).
struct LayerIdx {
    theta: usize,
    conv1: usize,
    conv2: usize,
    deconv: usize,
}

fn layer_idx(i: usize) -> LayerIdx {
    let base = 2 + PER_LAYER * i;
    LayerIdx {
        theta: base,
        conv1: base + 1,
        conv2: base + 3,
        deconv: base + 5,
    }
}

/// The write-up's G's parameter tensors in checkpoint order, with names, shapes and inits.
pub fn param_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    let (c_in, c_out, f, k) = (cfg.in_bands, cfg.out_bands, cfg.filters, cfg.kernel);
    let mut v = vec![
        ParamSpec::weight(
            "g.lift.weight".into(),
            vec![c_out, c_in, 1, 1],
            Init::Const((1.0 / c_in as f64) as f32),
        ),
        ParamSpec::bias("g.lift.bias".into(), vec![c_out], Init::Const(0.0)),
    ];
    for i in 0..cfg.outer_layers {
        let p = format!("g.outer.{i}");
        let conv1 = Init::torch_default(c_out * k * k);
        let conv2 = Init::torch_default(f * k * k);
        // ConvTranspose2d weight [F, C_out, k, k]: torch's fan_in is dim 1 · k · k.
        let deconv = if cfg.head == Head::Consistent && i + 1 == cfg.outer_layers {
            // The residual starts at zero: a new model is the projected linear baseline.
            Init::Const(0.0)
        } else {
            Init::torch_default(c_out * k * k)
        };
        v.extend([
            ParamSpec::bias(format!("{p}.theta"), vec![1], Init::Const(0.0)),
            ParamSpec::weight(format!("{p}.conv1.weight"), vec![f, c_out, k, k], conv1),
            ParamSpec::bias(format!("{p}.conv1.bias"), vec![f], conv1),
            ParamSpec::weight(format!("{p}.conv2.weight"), vec![f, f, k, k], conv2),
            ParamSpec::bias(format!("{p}.conv2.bias"), vec![f], conv2),
            ParamSpec::weight(format!("{p}.deconv.weight"), vec![f, c_out, k, k], deconv),
            ParamSpec::bias(format!("{p}.deconv.bias"), vec![c_out], deconv),
        ]);
    }
    v
}

/// The index of the last outer layer's transposed-convolution bias (the raw head starts
/// it at the training means of the output bands).
pub(crate) fn last_deconv_bias(cfg: &ModelConfig) -> usize {
    layer_idx(cfg.outer_layers - 1).deconv + 1
}

/// The activation of outer layer `i`'s transposed convolution: ReLU, except for the last
/// layer under the consistent head, whose output is a signed residual.
pub(crate) fn deconv_act(cfg: &ModelConfig, i: usize) -> Act {
    if cfg.head == Head::Consistent && i + 1 == cfg.outer_layers {
        Act::Identity
    } else {
        Act::Relu
    }
}

/// The op shapes of the write-up's G for one batch size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shapes {
    lift: Conv2dShape,
    conv1: Conv2dShape,
    conv2: Conv2dShape,
    deconv: ConvTranspose2dShape,
}

impl Shapes {
    /// The shapes of G under `cfg` for batches of `n` windows.
    pub(crate) fn new(cfg: &ModelConfig, n: usize) -> Self {
        let (w, k, pad, s) = (cfg.window, cfg.kernel, cfg.pad(), cfg.stride);
        let conv = |c_in, c_out, k, stride, pad| Conv2dShape {
            n,
            c_in,
            h: w,
            w,
            c_out,
            k,
            stride,
            pad,
        };
        Shapes {
            lift: conv(cfg.in_bands, cfg.out_bands, 1, 1, 0),
            conv1: conv(cfg.out_bands, cfg.filters, k, 1, pad),
            conv2: conv(cfg.filters, cfg.filters, k, s, pad),
            deconv: ConvTranspose2dShape {
                n,
                c_in: cfg.filters,
                h: cfg.inner_side(),
                w: cfg.inner_side(),
                c_out: cfg.out_bands,
                k,
                stride: s,
                pad,
                out_pad: s - 1,
            },
        }
    }

    /// Elements of each h_i and u_i (the output's size).
    pub(crate) fn h_len(&self) -> usize {
        self.lift.y_len()
    }

    /// Elements of each a_i.
    pub(crate) fn a_len(&self) -> usize {
        self.conv1.y_len()
    }

    /// Elements of each b_i.
    pub(crate) fn b_len(&self) -> usize {
        self.conv2.y_len()
    }
}

/// The write-up's body for a fixed batch size: every activation and gradient buffer its
/// forward and backward passes use (allocated once, in [`OuterBody::new`]).
pub(crate) struct OuterBody<D: Device> {
    cfg: ModelConfig,
    shapes: Shapes,
    /// h_0 … h_L.
    h: Vec<D::Buf>,
    /// u_1 … u_L.
    u: Vec<D::Buf>,
    /// a_1 … a_L.
    a: Vec<D::Buf>,
    /// b_1 … b_L.
    b: Vec<D::Buf>,
    /// ∂L/∂h_0 … ∂L/∂h_L (the last one is filled by the caller before `backward`).
    dh: Vec<D::Buf>,
    /// Scratch gradients of u, a, b (reused by every layer) and of the skip's two inputs.
    du: D::Buf,
    da: D::Buf,
    db: D::Buf,
    skip_a: D::Buf,
    skip_b: D::Buf,
}

impl<D: Device> OuterBody<D> {
    /// Allocates the body of `cfg` for batches of `n` windows.
    pub(crate) fn new(dev: &D, cfg: &ModelConfig, n: usize) -> ModelResult<Self> {
        let shapes = Shapes::new(cfg, n);
        let l = cfg.outer_layers;
        let bufs = |count: usize, len: usize| -> crate::Result<Vec<D::Buf>> {
            (0..count).map(|_| dev.alloc_zeros(len)).collect()
        };
        let h_len = shapes.h_len();
        Ok(OuterBody {
            cfg: cfg.clone(),
            h: bufs(l + 1, h_len)?,
            u: bufs(l, h_len)?,
            a: bufs(l, shapes.a_len())?,
            b: bufs(l, shapes.b_len())?,
            dh: bufs(l + 1, h_len)?,
            du: dev.alloc_zeros(h_len)?,
            da: dev.alloc_zeros(shapes.a_len())?,
            db: dev.alloc_zeros(shapes.b_len())?,
            skip_a: dev.alloc_zeros(h_len)?,
            skip_b: dev.alloc_zeros(h_len)?,
            shapes,
        })
    }

    /// h_L of the last [`forward`](Self::forward).
    pub(crate) fn residual(&self) -> &D::Buf {
        &self.h[self.cfg.outer_layers]
    }

    /// The buffer of ∂h_L, which the caller fills before [`backward`](Self::backward).
    pub(crate) fn residual_grad(&mut self) -> &mut D::Buf {
        &mut self.dh[self.cfg.outer_layers]
    }

    /// h_L and the buffer of ∂h_L together.
    pub(crate) fn residual_and_grad(&mut self) -> (&D::Buf, &mut D::Buf) {
        let l = self.cfg.outer_layers;
        (&self.h[l], &mut self.dh[l])
    }

    /// Computes h_L for a batch `x`, keeping the activations.
    pub(crate) fn forward(&mut self, dev: &D, vals: &[D::Buf], x: &D::Buf) -> ModelResult<()> {
        let s = &self.shapes;
        lift_forward(dev, s, vals, x, &mut self.h[0])?;
        for i in 0..self.cfg.outer_layers {
            // Layer i+1 of the spec: skip from h_i and h_{i-1} (h_{-1} = h_0).
            let (done, next) = self.h.split_at_mut(i + 1);
            let layer = OuterBufs {
                u: &mut self.u[i],
                a: &mut self.a[i],
                b: &mut self.b[i],
                h: &mut next[0],
            };
            let act = deconv_act(&self.cfg, i);
            outer_forward(
                dev,
                s,
                vals,
                i,
                act,
                &done[i],
                &done[i.saturating_sub(1)],
                layer,
            )?;
        }
        Ok(())
    }

    /// Back-propagates ∂h_L (filled through [`residual_grad`](Self::residual_grad), and
    /// consumed) of the last [`forward`](Self::forward) on the same `x`, overwriting every
    /// gradient in `grads`.
    pub(crate) fn backward(
        &mut self,
        dev: &D,
        vals: &[D::Buf],
        grads: &mut [D::Buf],
        x: &D::Buf,
    ) -> ModelResult<()> {
        let s = self.shapes;
        let l = self.cfg.outer_layers;
        // Which dh_j have not received a contribution yet; the first one is moved in
        // (buffer swap) rather than added to a zeroed buffer.
        let mut fresh = vec![true; l + 1];
        fresh[l] = false;
        for i in (0..l).rev() {
            let p = layer_idx(i);
            // h_{i+1} = act(deconv(b)).
            match deconv_act(&self.cfg, i) {
                Act::Identity => {}
                act => dev.act_backward(act, &self.h[i + 1], &mut self.dh[i + 1])?,
            }
            let (dw, dbias) = pair_mut(grads, p.deconv);
            dev.conv_transpose2d_backward_weight(
                &s.deconv,
                &self.b[i],
                &self.dh[i + 1],
                dw,
                Some(dbias),
            )?;
            dev.conv_transpose2d_backward_input(
                &s.deconv,
                &vals[p.deconv],
                &self.dh[i + 1],
                &mut self.db,
            )?;
            // b = ReLU(conv2(a)).
            dev.act_backward(Act::Relu, &self.b[i], &mut self.db)?;
            let (dw, dbias) = pair_mut(grads, p.conv2);
            dev.conv2d_backward_weight(&s.conv2, &self.a[i], &self.db, dw, Some(dbias))?;
            dev.conv2d_backward_input(&s.conv2, &vals[p.conv2], &self.db, &mut self.da)?;
            // a = ReLU(conv1(u)).
            dev.act_backward(Act::Relu, &self.a[i], &mut self.da)?;
            let (dw, dbias) = pair_mut(grads, p.conv1);
            dev.conv2d_backward_weight(&s.conv1, &self.u[i], &self.da, dw, Some(dbias))?;
            dev.conv2d_backward_input(&s.conv1, &vals[p.conv1], &self.da, &mut self.du)?;
            // u = σ(θ)·h_i + (1 − σ(θ))·h_{i-1}.
            let prev2 = i.saturating_sub(1);
            dev.convex_skip_backward(
                &vals[p.theta],
                &self.h[i],
                &self.h[prev2],
                &self.du,
                &mut self.skip_a,
                &mut self.skip_b,
                &mut grads[p.theta],
            )?;
            accumulate(dev, &mut self.dh, &mut fresh, i, &mut self.skip_a)?;
            accumulate(dev, &mut self.dh, &mut fresh, prev2, &mut self.skip_b)?;
        }
        // h_0 = lift(x), no activation.
        let (dw, dbias) = pair_mut(grads, LIFT);
        dev.conv2d_backward_weight(&s.lift, x, &self.dh[0], dw, Some(dbias))?;
        Ok(())
    }
}

/// Adds the gradient contribution `src` to `dh[j]`; the first contribution is swapped in
/// instead (so `src` is left holding junk either way).
fn accumulate<D: Device>(
    dev: &D,
    dh: &mut [D::Buf],
    fresh: &mut [bool],
    j: usize,
    src: &mut D::Buf,
) -> crate::Result<()> {
    if fresh[j] {
        std::mem::swap(&mut dh[j], src);
        fresh[j] = false;
        Ok(())
    } else {
        dev.add_assign(&mut dh[j], src)
    }
}

/// `h_0 = lift(x)`: the 1×1 convolution with bias, no activation.
pub(crate) fn lift_forward<D: Device>(
    dev: &D,
    s: &Shapes,
    vals: &[D::Buf],
    x: &D::Buf,
    h0: &mut D::Buf,
) -> ModelResult<()> {
    let (w, b) = (&vals[LIFT], &vals[LIFT + 1]);
    dev.conv2d_forward(&s.lift, x, w, Some(b), Act::Identity, h0)?;
    Ok(())
}

/// Where outer layer `i`'s forward pass writes: its skip mix `u`, inner activations `a`
/// and `b`, and its output `h`.
pub(crate) struct OuterBufs<'a, B> {
    pub(crate) u: &'a mut B,
    pub(crate) a: &'a mut B,
    pub(crate) b: &'a mut B,
    pub(crate) h: &'a mut B,
}

/// Outer layer `i` (0-based; layer i+1 of the spec) from `h_prev` = h_i and
/// `h_prev2` = h_{i−1}; `act` is its transposed convolution's activation
/// ([`deconv_act`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn outer_forward<D: Device>(
    dev: &D,
    s: &Shapes,
    vals: &[D::Buf],
    i: usize,
    act: Act,
    h_prev: &D::Buf,
    h_prev2: &D::Buf,
    out: OuterBufs<'_, D::Buf>,
) -> ModelResult<()> {
    let p = layer_idx(i);
    dev.convex_skip_forward(&vals[p.theta], h_prev, h_prev2, out.u)?;
    let bias = |j: usize| Some(&vals[j + 1]);
    dev.conv2d_forward(
        &s.conv1,
        out.u,
        &vals[p.conv1],
        bias(p.conv1),
        Act::Relu,
        out.a,
    )?;
    dev.conv2d_forward(
        &s.conv2,
        out.a,
        &vals[p.conv2],
        bias(p.conv2),
        Act::Relu,
        out.b,
    )?;
    dev.conv_transpose2d_forward(
        &s.deconv,
        out.b,
        &vals[p.deconv],
        bias(p.deconv),
        act,
        out.h,
    )?;
    Ok(())
}
