//! The generator G: C_in → C_out bands at the same W×W resolution (spec § Generator).
//!
//! ```text
//! h0 = lift(x)                                  1×1 conv with bias, no activation
//! h-1 = h0
//! for i = 1..L:
//!     u_i = σ(θ_i)·h_{i-1} + (1 − σ(θ_i))·h_{i-2}
//!     a_i = ReLU(conv1(u_i))                    C_out → F, k×k, stride 1
//!     b_i = ReLU(conv2(a_i))                    F → F, k×k, stride s
//!     h_i = ReLU(deconv(b_i))                   F → C_out, k×k, stride s, output_padding s−1
//! G(x) = h_L                                    head `raw`
//! G(x) = Q·h_L + K·x + c                        head `consistent`: h_L has no ReLU
//! ```
//!
//! With the consistent head (see [`super::head`]) the last transposed convolution starts at
//! zero, so a new model outputs the linear baseline projected onto the input; the head's
//! tensors are fitted to the training data ([`Generator::set_head`]) and never trained.
//!
//! Activations kept for the backward pass: every h_i (skips and ReLU masks), u_i (conv1's
//! weight gradient), a_i and b_i (conv2's and deconv's weight gradients and ReLU masks).
//! Gradient buffers: one per h_i, plus one of each inner size reused by every layer.
//! Since h_{-1} = h_0, h_0 receives three gradient contributions (both branches of layer
//! 1's skip and the second branch of layer 2's); they are accumulated.

use super::config::{Head, ModelConfig};
use super::error::{config_err, ModelResult};
use super::head::{HeadAffine, HeadTensors};
use super::init::Init;
use super::param::{pair_mut, ParamSpec, Params};
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

/// The generator's parameter tensors in checkpoint order, with names, shapes and inits.
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
fn last_deconv_bias(cfg: &ModelConfig) -> usize {
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

/// The op shapes of G for one batch size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shapes {
    lift: Conv2dShape,
    conv1: Conv2dShape,
    conv2: Conv2dShape,
    deconv: ConvTranspose2dShape,
    /// The head's 1×1 convolutions of the residual (C_out → C_out) and of the input.
    head_r: Conv2dShape,
    head_x: Conv2dShape,
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
            head_r: conv(cfg.out_bands, cfg.out_bands, 1, 1, 0),
            head_x: conv(cfg.in_bands, cfg.out_bands, 1, 1, 0),
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

    /// Elements of an input batch `x`.
    pub(crate) fn x_len(&self) -> usize {
        self.lift.x_len()
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

/// The consistent head's affine map `G = Q·r + K·x + c` on a device.
pub(crate) struct HeadBufs<B> {
    q: B,
    k: B,
    c: B,
}

impl<B> HeadBufs<B> {
    /// Uploads Q, K and c.
    pub(crate) fn upload<D: Device<Buf = B>>(dev: &D, aff: &HeadAffine) -> crate::Result<Self> {
        Ok(HeadBufs {
            q: dev.upload(&aff.q)?,
            k: dev.upload(&aff.k)?,
            c: dev.upload(&aff.c)?,
        })
    }

    /// Overwrites Q, K and c.
    fn write<D: Device<Buf = B>>(&mut self, dev: &D, aff: &HeadAffine) -> crate::Result<()> {
        dev.write(&mut self.q, &aff.q)?;
        dev.write(&mut self.k, &aff.k)?;
        dev.write(&mut self.c, &aff.c)
    }
}

/// The consistent head of a training generator: its fitted tensors, their affine map on
/// the device, the output, a scratch buffer and the output's gradient.
struct ConsistentHead<D: Device> {
    tensors: HeadTensors,
    bufs: HeadBufs<D::Buf>,
    out: D::Buf,
    tmp: D::Buf,
    dout: D::Buf,
}

/// The generator for a fixed batch size, with its parameters and every buffer its
/// forward and backward passes use (allocated once, in [`Generator::new`]).
pub struct Generator<D: Device> {
    cfg: ModelConfig,
    batch: usize,
    shapes: Shapes,
    /// Parameters (values and gradients), in [`param_specs`] order.
    pub params: Params<D::Buf>,
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
    /// The consistent head (`None` for the raw head).
    head: Option<ConsistentHead<D>>,
}

impl<D: Device> Generator<D> {
    /// Builds G for batches of `batch` windows, parameters drawn from `seed` (stream 0).
    /// A consistent head starts [unfitted](HeadTensors::unfitted); a training run fits it
    /// with [`set_head`](Self::set_head).
    pub fn new(dev: &D, cfg: &ModelConfig, batch: usize, seed: u64) -> ModelResult<Self> {
        cfg.validate()?;
        if batch == 0 {
            return Err(config_err("batch size must be at least 1"));
        }
        let shapes = Shapes::new(cfg, batch);
        let params = Params::new(dev, param_specs(cfg), seed, 0)?;
        let l = cfg.outer_layers;
        let bufs = |count: usize, len: usize| -> crate::Result<Vec<D::Buf>> {
            (0..count).map(|_| dev.alloc_zeros(len)).collect()
        };
        let h_len = shapes.h_len();
        let head = match cfg.head {
            Head::Raw => None,
            Head::Consistent => {
                let tensors = HeadTensors::unfitted(cfg.in_bands, cfg.out_bands);
                Some(ConsistentHead {
                    bufs: HeadBufs::upload(dev, &tensors.affine())?,
                    tensors,
                    out: dev.alloc_zeros(h_len)?,
                    tmp: dev.alloc_zeros(h_len)?,
                    dout: dev.alloc_zeros(h_len)?,
                })
            }
        };
        Ok(Generator {
            head,
            cfg: cfg.clone(),
            batch,
            shapes,
            params,
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
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The batch size it was built for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Elements of an input batch, `n·C_in·W·W`.
    pub fn input_len(&self) -> usize {
        self.shapes.x_len()
    }

    /// Elements of an output batch, `n·C_out·W·W`.
    pub fn output_len(&self) -> usize {
        self.shapes.h_len()
    }

    /// G(x) of the last [`forward`](Self::forward).
    pub fn output(&self) -> &D::Buf {
        match &self.head {
            Some(h) => &h.out,
            None => &self.h[self.cfg.outer_layers],
        }
    }

    /// The output and the buffer for ∂L/∂G(x), which the caller fills before
    /// [`backward`](Self::backward).
    pub fn output_and_grad(&mut self) -> (&D::Buf, &mut D::Buf) {
        let l = self.cfg.outer_layers;
        match &mut self.head {
            Some(h) => (&h.out, &mut h.dout),
            None => (&self.h[l], &mut self.dh[l]),
        }
    }

    /// Overwrites the parameters and, for the consistent head, the fitted head tensors with
    /// those of `tensors` (a checkpoint's); a missing tensor or a shape that differs is an
    /// error naming it.
    pub fn upload(
        &mut self,
        dev: &D,
        tensors: &std::collections::BTreeMap<String, super::param::HostTensor>,
    ) -> ModelResult<()> {
        self.params.upload(dev, tensors)?;
        if self.cfg.head == Head::Consistent {
            let head = HeadTensors::from_tensors(tensors, &self.cfg)?;
            self.set_head(dev, &head)?;
        }
        Ok(())
    }

    /// The consistent head's tensors (`None` for the raw head).
    pub fn head(&self) -> Option<&HeadTensors> {
        self.head.as_ref().map(|h| &h.tensors)
    }

    /// Installs the consistent head's fitted tensors. Errors for the raw head or tensors
    /// of other band counts.
    pub fn set_head(&mut self, dev: &D, tensors: &HeadTensors) -> ModelResult<()> {
        let cfg = &self.cfg;
        let Some(h) = &mut self.head else {
            return Err(config_err("the raw head has no fitted tensors to set"));
        };
        if (tensors.in_bands, tensors.out_bands) != (cfg.in_bands, cfg.out_bands) {
            return Err(config_err(format!(
                "a head for {} → {} bands does not fit a model of {} → {}",
                tensors.in_bands, tensors.out_bands, cfg.in_bands, cfg.out_bands
            )));
        }
        h.bufs.write(dev, &tensors.affine())?;
        h.tensors = tensors.clone();
        Ok(())
    }

    /// Starts the raw head's last transposed-convolution bias at `means` (the training
    /// means of the output bands, normalized), so that no band starts dead under the final
    /// ReLU. Errors for the consistent head, whose residual starts at zero.
    pub fn set_output_bias(&mut self, dev: &D, means: &[f32]) -> ModelResult<()> {
        if self.cfg.head != Head::Raw {
            return Err(config_err(
                "only the raw head starts its last bias at the band means",
            ));
        }
        if means.len() != self.cfg.out_bands {
            return Err(config_err(format!(
                "{} band means for {} output bands",
                means.len(),
                self.cfg.out_bands
            )));
        }
        let i = last_deconv_bias(&self.cfg);
        dev.write(&mut self.params.values[i], means)?;
        Ok(())
    }

    /// Computes G(x) for a batch `x` of `n·C_in·W·W` elements, keeping the activations.
    pub fn forward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<()> {
        let s = &self.shapes;
        let vals = &self.params.values;
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
        if let Some(h) = &mut self.head {
            let r = &self.h[self.cfg.outer_layers];
            head_forward(dev, s, &h.bufs, x, r, &mut h.out, &mut h.tmp)?;
        }
        Ok(())
    }

    /// Back-propagates the output gradient (set through [`output_and_grad`](Self::output_and_grad)) of the last
    /// [`forward`](Self::forward) on the same `x`, overwriting every parameter gradient.
    /// The output-gradient buffer is consumed (left holding junk).
    pub fn backward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<()> {
        let s = self.shapes;
        let l = self.cfg.outer_layers;
        // Which dh_j have not received a contribution yet; the first one is moved in
        // (buffer swap) rather than added to a zeroed buffer.
        let mut fresh = vec![true; l + 1];
        fresh[l] = false;
        if let Some(h) = &self.head {
            // G = Q·r + K·x + c: ∂r = Qᵀ·∂G.
            dev.conv2d_backward_input(&s.head_r, &h.bufs.q, &h.dout, &mut self.dh[l])?;
        }
        for i in (0..l).rev() {
            let p = layer_idx(i);
            let vals = &self.params.values;
            let grads = &mut self.params.grads;
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
        let (dw, dbias) = pair_mut(&mut self.params.grads, LIFT);
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

/// The consistent head: `out = Q·r + K·x + c` (two 1×1 convolutions and a sum; `tmp` is
/// scratch of the output's size).
pub(crate) fn head_forward<D: Device>(
    dev: &D,
    s: &Shapes,
    head: &HeadBufs<D::Buf>,
    x: &D::Buf,
    r: &D::Buf,
    out: &mut D::Buf,
    tmp: &mut D::Buf,
) -> ModelResult<()> {
    dev.conv2d_forward(&s.head_r, r, &head.q, Some(&head.c), Act::Identity, out)?;
    dev.conv2d_forward(&s.head_x, x, &head.k, None, Act::Identity, tmp)?;
    dev.add_assign(out, tmp)?;
    Ok(())
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
