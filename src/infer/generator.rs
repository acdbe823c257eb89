//! G's forward pass alone, for inference: the parameter values and the activations the
//! forward pass needs, with no gradients.

use crate::device::Device;
use crate::model::checkpoint::Checkpoint;
use crate::model::error::{config_err, ModelResult};
use crate::model::generator::{head_forward, param_specs, HeadBufs, HeadShapes};
use crate::model::head::HeadTensors;
use crate::model::outer::{deconv_act, lift_forward, outer_forward, OuterBufs, Shapes};
use crate::model::param::find_tensor;
use crate::model::unet::UnetBody;
use crate::model::{GeneratorKind, Head, ModelConfig};

/// The activations of one body.
enum Body<D: Device> {
    /// The write-up's G, one outer layer at a time: three rotating h buffers (h_i, h_{i−1}
    /// and the layer's output; the consistent head writes G(x) into the one not holding the
    /// residual, with u as scratch) and one u, a and b buffer reused by every layer.
    Outer {
        shapes: Shapes,
        h: [D::Buf; 3],
        u: D::Buf,
        a: D::Buf,
        b: D::Buf,
    },
    /// The U-Net: every activation of its forward pass (the skips need them until the
    /// decoder), and the head's output and scratch.
    Unet {
        body: UnetBody<D>,
        out: D::Buf,
        tmp: D::Buf,
    },
}

/// The generator of a checkpoint, built for batches of a fixed size, that only runs forward.
///
/// Device memory is allocated in [`InferenceGenerator::from_checkpoint`], none in
/// [`InferenceGenerator::forward`]. The training [`Generator`](crate::model::Generator)
/// keeps every activation's gradient besides; both run the same per-layer code, so their
/// outputs are identical.
pub struct InferenceGenerator<D: Device> {
    cfg: ModelConfig,
    batch: usize,
    head_shapes: HeadShapes,
    /// G's parameter values in checkpoint order.
    params: Vec<D::Buf>,
    /// The consistent head's affine map (`None` for the raw head).
    head: Option<HeadBufs<D::Buf>>,
    body: Body<D>,
}

impl<D: Device> InferenceGenerator<D> {
    /// G of `ckpt` (validated: every tensor present with its shape) for batches of `batch`
    /// windows of the checkpoint's W×W and C_in bands.
    pub fn from_checkpoint(dev: &D, ckpt: &Checkpoint, batch: usize) -> ModelResult<Self> {
        ckpt.validate()?;
        let cfg = &ckpt.config;
        if batch == 0 {
            return Err(config_err("batch size must be at least 1"));
        }
        let params = param_specs(cfg)
            .iter()
            .map(|spec| {
                let t = find_tensor(&ckpt.tensors, &spec.name, &spec.shape)?;
                Ok(dev.upload(&t.data)?)
            })
            .collect::<ModelResult<Vec<_>>>()?;
        let head = match cfg.head {
            Head::Raw => None,
            Head::Consistent => {
                let tensors = HeadTensors::from_tensors(&ckpt.tensors, cfg)?;
                Some(HeadBufs::upload(dev, &tensors.affine())?)
            }
        };
        let head_shapes = HeadShapes::new(cfg, batch);
        let body = match cfg.generator {
            GeneratorKind::Outer => {
                let shapes = Shapes::new(cfg, batch);
                let h_len = shapes.h_len();
                Body::Outer {
                    h: [
                        dev.alloc_zeros(h_len)?,
                        dev.alloc_zeros(h_len)?,
                        dev.alloc_zeros(h_len)?,
                    ],
                    u: dev.alloc_zeros(h_len)?,
                    a: dev.alloc_zeros(shapes.a_len())?,
                    b: dev.alloc_zeros(shapes.b_len())?,
                    shapes,
                }
            }
            GeneratorKind::Unet => Body::Unet {
                body: UnetBody::new(dev, cfg, batch, false)?,
                out: dev.alloc_zeros(head_shapes.out_len())?,
                tmp: dev.alloc_zeros(head_shapes.out_len())?,
            },
        };
        Ok(Self {
            cfg: cfg.clone(),
            batch,
            head_shapes,
            params,
            head,
            body,
        })
    }

    /// The model's hyperparameters.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Windows per batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Elements of an input batch, `batch·C_in·W·W`.
    pub fn input_len(&self) -> usize {
        self.head_shapes.x_len()
    }

    /// Elements of an output batch, `batch·C_out·W·W`.
    pub fn output_len(&self) -> usize {
        self.head_shapes.out_len()
    }

    /// The buffer [`forward`](Self::forward) leaves G(x) in: always the same one, so that
    /// a replayed launch graph of `forward` leaves it there too.
    pub fn output(&self) -> &D::Buf {
        match &self.body {
            Body::Outer { h, .. } => {
                let r = self.cfg.outer_layers % 3;
                match &self.head {
                    None => &h[r],
                    Some(_) => &h[(r + 1) % 3],
                }
            }
            Body::Unet { out, .. } => out,
        }
    }

    /// G(x) for a batch `x` of [`input_len`](Self::input_len) normalized values, in
    /// [`output`](Self::output); the result stays valid until the next call.
    pub fn forward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<&D::Buf> {
        let hs = &self.head_shapes;
        match &mut self.body {
            Body::Outer { shapes, h, u, a, b } => {
                lift_forward(dev, shapes, &self.params, x, &mut h[0])?;
                let layers = self.cfg.outer_layers;
                for i in 0..layers {
                    let prev = i % 3;
                    let prev2 = i.saturating_sub(1) % 3;
                    let (reads, out) = split_rotation(h, [prev, prev2], (i + 1) % 3);
                    let bufs = OuterBufs { u, a, b, h: out };
                    let act = deconv_act(&self.cfg, i);
                    outer_forward(dev, shapes, &self.params, i, act, reads[0], reads[1], bufs)?;
                }
                let r = layers % 3;
                match &self.head {
                    None => Ok(&h[r]),
                    Some(head) => {
                        let out = (r + 1) % 3;
                        let (reads, dst) = split_rotation(h, [r, r], out);
                        head_forward(dev, hs, head, x, reads[0], dst, u)?;
                        Ok(&h[out])
                    }
                }
            }
            Body::Unet { body, out, tmp } => {
                body.forward(dev, &self.params, x)?;
                let head = self
                    .head
                    .as_ref()
                    .expect("the unet generator has the consistent head");
                head_forward(dev, hs, head, x, body.residual(), out, tmp)?;
                Ok(out)
            }
        }
    }
}

/// Shared references to `h[read[0]]` and `h[read[1]]` (which may be the same) and a mutable
/// one to `h[write]`, which must differ from both.
fn split_rotation<B>(h: &mut [B; 3], read: [usize; 2], write: usize) -> ([&B; 2], &mut B) {
    debug_assert!(!read.contains(&write));
    let mut out = None;
    let mut shared: [Option<&B>; 3] = [None; 3];
    for (j, buf) in h.iter_mut().enumerate() {
        if j == write {
            out = Some(buf);
        } else {
            shared[j] = Some(buf);
        }
    }
    let get = |j: usize| shared[j].expect("read index differs from the written one");
    ([get(read[0]), get(read[1])], out.expect("write index < 3"))
}

/// Elements of the buffers [`InferenceGenerator::from_checkpoint`] allocates for each window
/// of a batch (the activations; the parameters are the same for any batch), computed from
/// the config alone, so a job can be sized before anything is allocated.
pub fn floats_per_window(cfg: &ModelConfig) -> usize {
    match cfg.generator {
        GeneratorKind::Outer => {
            let s = Shapes::new(cfg, 1);
            4 * s.h_len() + s.a_len() + s.b_len()
        }
        GeneratorKind::Unet => {
            crate::model::unet::inference_floats(cfg, 1) + 2 * HeadShapes::new(cfg, 1).out_len()
        }
    }
}
