//! The generator G: C_in → C_out bands at the same W×W resolution. A body makes h — the
//! write-up's outer layers ([`super::outer`]) or the U-Net ([`super::unet`]) — and the
//! output head turns it into G(x) (spec § Output head):
//!
//! ```text
//! G(x) = h                                      head `raw` (the write-up's; outer body only)
//! G(x) = Q·r + K·x + c                          head `consistent`, r = h the signed residual
//! ```
//!
//! With the consistent head (see [`super::head`]) the body's last layer starts at zero, so
//! a new model outputs the linear baseline projected onto the input; the head's tensors are
//! fitted to the training data ([`Generator::set_head`]) and never trained.

use super::config::{GeneratorKind, Head, ModelConfig};
use super::error::{config_err, ModelResult};
use super::head::{HeadAffine, HeadTensors};
use super::outer::{self, OuterBody};
use super::param::{ParamSpec, Params};
use super::unet::{self, UnetBody};
use crate::device::Device;
use crate::ops::{Act, Conv2dShape};

/// The generator's trained parameter tensors in checkpoint order, with names, shapes and
/// inits (the consistent head's fitted tensors are [`super::head::tensor_specs`]).
pub fn param_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    match cfg.generator {
        GeneratorKind::Outer => outer::param_specs(cfg),
        GeneratorKind::Unet => unet::param_specs(cfg),
    }
}

/// The consistent head's two 1×1 convolutions: of the residual (C_out → C_out) and of the
/// input (C_in → C_out), at the window's size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadShapes {
    r: Conv2dShape,
    x: Conv2dShape,
}

impl HeadShapes {
    /// The head's shapes under `cfg` for batches of `n` windows.
    pub(crate) fn new(cfg: &ModelConfig, n: usize) -> Self {
        let conv = |c_in| Conv2dShape {
            n,
            c_in,
            h: cfg.window,
            w: cfg.window,
            c_out: cfg.out_bands,
            k: 1,
            stride: 1,
            pad: 0,
        };
        HeadShapes {
            r: conv(cfg.out_bands),
            x: conv(cfg.in_bands),
        }
    }

    /// Elements of an input batch.
    pub(crate) fn x_len(&self) -> usize {
        self.x.x_len()
    }

    /// Elements of an output batch.
    pub(crate) fn out_len(&self) -> usize {
        self.r.y_len()
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

/// The consistent head: `out = Q·r + K·x + c` (two 1×1 convolutions and a sum; `tmp` is
/// scratch of the output's size).
pub(crate) fn head_forward<D: Device>(
    dev: &D,
    s: &HeadShapes,
    head: &HeadBufs<D::Buf>,
    x: &D::Buf,
    r: &D::Buf,
    out: &mut D::Buf,
    tmp: &mut D::Buf,
) -> ModelResult<()> {
    dev.conv2d_forward(&s.r, r, &head.q, Some(&head.c), Act::Identity, out)?;
    dev.conv2d_forward(&s.x, x, &head.k, None, Act::Identity, tmp)?;
    dev.add_assign(out, tmp)?;
    Ok(())
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

/// The body that makes h (the residual under the consistent head); boxed, as the two
/// differ much in size.
enum Body<D: Device> {
    Outer(Box<OuterBody<D>>),
    Unet(Box<UnetBody<D>>),
}

impl<D: Device> Body<D> {
    fn residual(&self) -> &D::Buf {
        match self {
            Body::Outer(b) => b.residual(),
            Body::Unet(b) => b.residual(),
        }
    }

    fn residual_grad(&mut self) -> &mut D::Buf {
        match self {
            Body::Outer(b) => b.residual_grad(),
            Body::Unet(b) => b.residual_grad(),
        }
    }
}

/// The generator for a fixed batch size, with its parameters and every buffer its
/// forward and backward passes use (allocated once, in [`Generator::new`]).
pub struct Generator<D: Device> {
    cfg: ModelConfig,
    batch: usize,
    head_shapes: HeadShapes,
    /// Parameters (values and gradients), in [`param_specs`] order.
    pub params: Params<D::Buf>,
    /// The consistent head (`None` for the raw head).
    head: Option<ConsistentHead<D>>,
    body: Body<D>,
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
        let params = Params::new(dev, param_specs(cfg), seed, 0)?;
        let head_shapes = HeadShapes::new(cfg, batch);
        let out_len = head_shapes.out_len();
        let head = match cfg.head {
            Head::Raw => None,
            Head::Consistent => {
                let tensors = HeadTensors::unfitted(cfg.in_bands, cfg.out_bands);
                Some(ConsistentHead {
                    bufs: HeadBufs::upload(dev, &tensors.affine())?,
                    tensors,
                    out: dev.alloc_zeros(out_len)?,
                    tmp: dev.alloc_zeros(out_len)?,
                    dout: dev.alloc_zeros(out_len)?,
                })
            }
        };
        let body = match cfg.generator {
            GeneratorKind::Outer => Body::Outer(Box::new(OuterBody::new(dev, cfg, batch)?)),
            GeneratorKind::Unet => Body::Unet(Box::new(UnetBody::new(dev, cfg, batch, true)?)),
        };
        Ok(Generator {
            cfg: cfg.clone(),
            batch,
            head_shapes,
            params,
            head,
            body,
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
        self.head_shapes.x_len()
    }

    /// Elements of an output batch, `n·C_out·W·W`.
    pub fn output_len(&self) -> usize {
        self.head_shapes.out_len()
    }

    /// G(x) of the last [`forward`](Self::forward).
    pub fn output(&self) -> &D::Buf {
        match &self.head {
            Some(h) => &h.out,
            None => self.body.residual(),
        }
    }

    /// The output and the buffer for ∂L/∂G(x), which the caller fills before
    /// [`backward`](Self::backward).
    pub fn output_and_grad(&mut self) -> (&D::Buf, &mut D::Buf) {
        match &mut self.head {
            Some(h) => (&h.out, &mut h.dout),
            // The raw head's output is h_L itself, and its gradient ∂h_L.
            None => match &mut self.body {
                Body::Outer(b) => b.residual_and_grad(),
                Body::Unet(_) => unreachable!("the unet generator has the consistent head"),
            },
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
        let i = outer::last_deconv_bias(&self.cfg);
        dev.write(&mut self.params.values[i], means)?;
        Ok(())
    }

    /// Computes G(x) for a batch `x` of `n·C_in·W·W` elements, keeping the activations.
    pub fn forward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<()> {
        let vals = &self.params.values;
        match &mut self.body {
            Body::Outer(b) => b.forward(dev, vals, x)?,
            Body::Unet(b) => b.forward(dev, vals, x)?,
        }
        if let Some(h) = &mut self.head {
            let r = self.body.residual();
            head_forward(
                dev,
                &self.head_shapes,
                &h.bufs,
                x,
                r,
                &mut h.out,
                &mut h.tmp,
            )?;
        }
        Ok(())
    }

    /// Back-propagates the output gradient (set through
    /// [`output_and_grad`](Self::output_and_grad)) of the last [`forward`](Self::forward) on
    /// the same `x`, overwriting every parameter gradient. The output-gradient buffer is
    /// consumed (left holding junk).
    pub fn backward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<()> {
        if let Some(h) = &self.head {
            // G = Q·r + K·x + c: ∂r = Qᵀ·∂G.
            let dr = self.body.residual_grad();
            dev.conv2d_backward_input(&self.head_shapes.r, &h.bufs.q, &h.dout, dr)?;
        }
        let (vals, grads) = (&self.params.values, &mut self.params.grads);
        match &mut self.body {
            Body::Outer(b) => b.backward(dev, vals, grads, x),
            Body::Unet(b) => b.backward(dev, vals, grads, x),
        }
    }
}
