//! The U-Net generator's body (spec § Generator `unet`): C_in bands in, the residual r
//! (C_out bands) out, at the same W×W resolution; the consistent head then makes G(x).
//!
//! ```text
//! block(z; a → b) = ReLU(conv3×3(ReLU(conv3×3(z; a→b)); b→b))      pad 1, bias
//! e_0 = block(x; C_in → w_0)
//! e_l = block(maxpool2×2(e_{l−1}); w_{l−1} → w_l)              l = 1 .. L−1
//! d_{L−1} = e_{L−1}
//! for l = L−2 down to 0:
//!     up_l = conv_transpose(d_{l+1}; w_{l+1} → w_l, 2×2, stride 2)
//!     d_l  = block(concat(up_l, e_l); 2·w_l → w_l)             up_l's channels first
//! r = conv1×1(d_0; w_0 → C_out)                                 weight and bias start at 0
//! ```
//!
//! Level l works at side W/2^l. Activations kept for the backward pass: each block's
//! middle activation and output, the pooled inputs and the up-sampled maps. A decoder's
//! first convolution reads up_l and e_l as they are (`Device::conv2d_forward_cat` and its
//! gradients: the GPU kernels read two inputs and write the input gradient's two halves),
//! with a buffer of the concatenation's size for the cases that concatenate first (see
//! `Device::conv2d_forward_cat`). The backward pass runs the decoder from the
//! top (l = 0) down, which leaves in ∂e_l the skip connection's share, then the encoder
//! from the bottom up, which adds each level's share through the max pooling. Every buffer
//! is allocated in `UnetBody::new`; an inference body (`training` false) has no gradient
//! buffers.

use super::config::ModelConfig;
use super::error::ModelResult;
use super::init::Init;
use super::param::{pair_mut, ParamSpec};
use crate::device::Device;
use crate::ops::{Act, ConcatShape, Conv2dShape, ConvTranspose2dShape, Pool2dShape, Unpool};

/// Tensors per encoder or decoder block: conv1 weight and bias, conv2 weight and bias.
const PER_BLOCK: usize = 4;

/// Where each level's tensors are in [`param_specs`] order (each weight followed by its
/// bias).
struct Idx {
    levels: usize,
}

impl Idx {
    /// conv1 of encoder block l (conv2 is 2 further on).
    fn enc(&self, l: usize) -> usize {
        PER_BLOCK * l
    }
    /// The transposed convolution up_l.
    fn up(&self, l: usize) -> usize {
        PER_BLOCK * self.levels + 2 * l
    }
    /// conv1 of decoder block l.
    fn dec(&self, l: usize) -> usize {
        PER_BLOCK * self.levels + 2 * (self.levels - 1) + PER_BLOCK * l
    }
    /// The 1×1 output convolution.
    fn out(&self) -> usize {
        self.dec(self.levels - 1)
    }
}

/// The U-Net's parameter tensors in checkpoint order (the reference module's
/// `state_dict`: `g.enc`, `g.up`, `g.dec`, `g.out`), with names, shapes and inits.
pub fn param_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    let w = &cfg.unet_widths;
    let levels = w.len();
    let mut v = Vec::new();
    let block = |v: &mut Vec<ParamSpec>, p: String, c_in: usize, c_out: usize| {
        for (conv, fan_c) in [("conv1", c_in), ("conv2", c_out)] {
            let init = Init::torch_default(fan_c * 9);
            v.push(ParamSpec::weight(
                format!("{p}.{conv}.weight"),
                vec![c_out, fan_c, 3, 3],
                init,
            ));
            v.push(ParamSpec::bias(
                format!("{p}.{conv}.bias"),
                vec![c_out],
                init,
            ));
        }
    };
    for l in 0..levels {
        let c_in = if l == 0 { cfg.in_bands } else { w[l - 1] };
        block(&mut v, format!("g.enc.{l}"), c_in, w[l]);
    }
    for l in 0..levels - 1 {
        // ConvTranspose2d weight [w_{l+1}, w_l, 2, 2]: torch's fan_in is dim 1 · k · k.
        let init = Init::torch_default(w[l] * 4);
        v.push(ParamSpec::weight(
            format!("g.up.{l}.weight"),
            vec![w[l + 1], w[l], 2, 2],
            init,
        ));
        v.push(ParamSpec::bias(format!("g.up.{l}.bias"), vec![w[l]], init));
    }
    for (l, &width) in w.iter().enumerate().take(levels - 1) {
        block(&mut v, format!("g.dec.{l}"), 2 * width, width);
    }
    // The residual starts at zero: a new model is the projected linear baseline.
    v.push(ParamSpec::weight(
        "g.out.weight".into(),
        vec![cfg.out_bands, w[0], 1, 1],
        Init::Const(0.0),
    ));
    v.push(ParamSpec::bias(
        "g.out.bias".into(),
        vec![cfg.out_bands],
        Init::Const(0.0),
    ));
    v
}

/// The op shapes of encoder level l (side W/2^l) for one batch size.
#[derive(Clone, Copy, Debug)]
struct EncShapes {
    /// The pooling that makes this level's input from e_{l−1} (l ≥ 1).
    pool: Option<Pool2dShape>,
    conv1: Conv2dShape,
    conv2: Conv2dShape,
}

/// The op shapes of decoder level l (l < L − 1).
#[derive(Clone, Copy, Debug)]
struct DecShapes {
    /// The up-sampling of level l + 1's output, the concatenation with e_l, the block.
    up: ConvTranspose2dShape,
    cat: ConcatShape,
    conv1: Conv2dShape,
    conv2: Conv2dShape,
}

/// The shapes of the whole body.
#[derive(Clone, Debug)]
struct Shapes {
    enc: Vec<EncShapes>,
    dec: Vec<DecShapes>,
    out: Conv2dShape,
}

impl Shapes {
    fn new(cfg: &ModelConfig, n: usize) -> Self {
        let w = &cfg.unet_widths;
        let conv3 = |side: usize, c_in: usize, c_out: usize| Conv2dShape {
            n,
            c_in,
            h: side,
            w: side,
            c_out,
            k: 3,
            stride: 1,
            pad: 1,
        };
        let side = |l: usize| cfg.window >> l;
        let enc = (0..w.len())
            .map(|l| EncShapes {
                pool: (l > 0).then(|| Pool2dShape {
                    n,
                    c: w[l - 1],
                    h: side(l - 1),
                    w: side(l - 1),
                }),
                conv1: conv3(side(l), if l == 0 { cfg.in_bands } else { w[l - 1] }, w[l]),
                conv2: conv3(side(l), w[l], w[l]),
            })
            .collect();
        let dec = (0..w.len() - 1)
            .map(|l| DecShapes {
                up: ConvTranspose2dShape {
                    n,
                    c_in: w[l + 1],
                    h: side(l + 1),
                    w: side(l + 1),
                    c_out: w[l],
                    k: 2,
                    stride: 2,
                    pad: 0,
                    out_pad: 0,
                },
                cat: ConcatShape {
                    n,
                    c_a: w[l],
                    c_b: w[l],
                    plane: side(l) * side(l),
                },
                conv1: conv3(side(l), 2 * w[l], w[l]),
                conv2: conv3(side(l), w[l], w[l]),
            })
            .collect();
        let out = Conv2dShape {
            n,
            c_in: w[0],
            h: cfg.window,
            w: cfg.window,
            c_out: cfg.out_bands,
            k: 1,
            stride: 1,
            pad: 0,
        };
        Shapes { enc, dec, out }
    }
}

/// The activations of encoder level l: the pooled input (l ≥ 1), the block's middle
/// activation, its output e_l.
struct EncBufs<B> {
    p: Option<B>,
    mid: B,
    e: B,
}

/// The activations of decoder level l: up_l, scratch of concat(up_l, e_l)'s size (written
/// only by devices that concatenate before the convolution), the block's middle activation,
/// its output d_l.
struct DecBufs<B> {
    up: B,
    cat: B,
    mid: B,
    d: B,
}

/// The gradients of encoder level l (training only): ∂e_l (the skip's share, then the
/// pooling's added), scratch of the middle activation's size, and for l ≥ 1 ∂(pooled
/// input).
struct EncGrads<B> {
    de: B,
    dmid: B,
    dp: Option<B>,
}

/// The gradients of decoder level l (training only): ∂d_l, scratch of the middle
/// activation's size, scratch of ∂concat's size (as `DecBufs::cat`), ∂up_l.
struct DecGrads<B> {
    dd: B,
    dmid: B,
    dcat: B,
    dup: B,
}

/// The U-Net body for a fixed batch size: activations, and with `training` their gradients.
pub(crate) struct UnetBody<D: Device> {
    shapes: Shapes,
    idx: Idx,
    enc: Vec<EncBufs<D::Buf>>,
    dec: Vec<DecBufs<D::Buf>>,
    /// Gradients: empty for an inference body.
    enc_grads: Vec<EncGrads<D::Buf>>,
    dec_grads: Vec<DecGrads<D::Buf>>,
    /// The residual r and, training, its gradient.
    r: D::Buf,
    dr: Option<D::Buf>,
}

/// Elements of the buffers of an inference body ([`UnetBody::new`] without `training`) for
/// batches of `n` windows.
pub(crate) fn inference_floats(cfg: &ModelConfig, n: usize) -> usize {
    let shapes = Shapes::new(cfg, n);
    let enc: usize = shapes
        .enc
        .iter()
        .map(|s| s.pool.map_or(0, |p| p.y_len()) + 2 * s.conv1.y_len())
        .sum();
    let dec: usize = shapes
        .dec
        .iter()
        .map(|s| 3 * s.conv2.y_len() + s.cat.y_len())
        .sum();
    enc + dec + shapes.out.y_len()
}

impl<D: Device> UnetBody<D> {
    /// Allocates the body of `cfg` (a validated `unet` config) for batches of `n` windows.
    pub(crate) fn new(dev: &D, cfg: &ModelConfig, n: usize, training: bool) -> ModelResult<Self> {
        let shapes = Shapes::new(cfg, n);
        let zeros = |len: usize| dev.alloc_zeros(len);
        let mut enc = Vec::with_capacity(shapes.enc.len());
        let mut enc_grads = Vec::new();
        for s in &shapes.enc {
            let (side_len, pool_y) = (s.conv1.y_len(), s.pool.map(|p| p.y_len()));
            enc.push(EncBufs {
                p: pool_y.map(zeros).transpose()?,
                mid: zeros(side_len)?,
                e: zeros(side_len)?,
            });
            if training {
                enc_grads.push(EncGrads {
                    de: zeros(side_len)?,
                    dmid: zeros(side_len)?,
                    dp: pool_y.map(zeros).transpose()?,
                });
            }
        }
        let mut dec = Vec::with_capacity(shapes.dec.len());
        let mut dec_grads = Vec::new();
        for s in &shapes.dec {
            let (side_len, cat_len) = (s.conv2.y_len(), s.cat.y_len());
            dec.push(DecBufs {
                up: zeros(side_len)?,
                cat: zeros(cat_len)?,
                mid: zeros(side_len)?,
                d: zeros(side_len)?,
            });
            if training {
                dec_grads.push(DecGrads {
                    dd: zeros(side_len)?,
                    dmid: zeros(side_len)?,
                    dcat: zeros(cat_len)?,
                    dup: zeros(side_len)?,
                });
            }
        }
        let r_len = shapes.out.y_len();
        Ok(UnetBody {
            idx: Idx {
                levels: shapes.enc.len(),
            },
            r: zeros(r_len)?,
            dr: if training { Some(zeros(r_len)?) } else { None },
            shapes,
            enc,
            dec,
            enc_grads,
            dec_grads,
        })
    }

    /// The residual r of the last [`forward`](Self::forward).
    pub(crate) fn residual(&self) -> &D::Buf {
        &self.r
    }

    /// The buffer of ∂r, which the caller fills before [`backward`](Self::backward).
    pub(crate) fn residual_grad(&mut self) -> &mut D::Buf {
        self.dr.as_mut().expect("a training body has ∂r")
    }

    /// The output of level l: d_l, or e_l at the bottom (d_{L−1} = e_{L−1}).
    fn level_output(&self, l: usize) -> &D::Buf {
        match self.dec.get(l) {
            Some(d) => &d.d,
            None => &self.enc[l].e,
        }
    }

    /// Computes r for a batch `x`, keeping the activations.
    pub(crate) fn forward(&mut self, dev: &D, vals: &[D::Buf], x: &D::Buf) -> ModelResult<()> {
        let conv = |s: &Conv2dShape, x: &D::Buf, i: usize, y: &mut D::Buf| {
            dev.conv2d_forward(s, x, &vals[i], Some(&vals[i + 1]), Act::Relu, y)
        };
        // Each level's output e_l and, where a level follows, its pooled copy (that level's
        // input) in one call.
        for (l, s) in self.shapes.enc.iter().enumerate() {
            let (here, above) = self.enc.split_at_mut(l + 1);
            let b = &mut here[l];
            let i = self.idx.enc(l);
            conv(&s.conv1, b.p.as_ref().unwrap_or(x), i, &mut b.mid)?;
            match above.first_mut().and_then(|a| a.p.as_mut()) {
                Some(p) => {
                    let (w, bias) = (&vals[i + 2], Some(&vals[i + 3]));
                    dev.conv2d_forward_pooled(&s.conv2, &b.mid, w, bias, Act::Relu, &mut b.e, p)?
                }
                None => conv(&s.conv2, &b.mid, i + 2, &mut b.e)?,
            }
        }
        for l in (0..self.dec.len()).rev() {
            let s = self.shapes.dec[l];
            let (here, above) = self.dec.split_at_mut(l + 1);
            let b = &mut here[l];
            let src = match above.first() {
                Some(a) => &a.d,
                None => &self.enc[l + 1].e,
            };
            let iu = self.idx.up(l);
            let (w, bias) = (&vals[iu], Some(&vals[iu + 1]));
            dev.conv_transpose2d_forward(&s.up, src, w, bias, Act::Identity, &mut b.up)?;
            let i = self.idx.dec(l);
            let (w, bias) = (&vals[i], Some(&vals[i + 1]));
            let up_e = (&b.up, &self.enc[l].e);
            let (mid, cat) = (&mut b.mid, &mut b.cat);
            dev.conv2d_forward_cat(&s.conv1, &s.cat, up_e, w, bias, Act::Relu, mid, cat)?;
            conv(&s.conv2, &b.mid, i + 2, &mut b.d)?;
        }
        let io = self.idx.out();
        let top = match self.dec.first() {
            Some(d) => &d.d,
            None => &self.enc[0].e,
        };
        let (w, bias) = (&vals[io], Some(&vals[io + 1]));
        dev.conv2d_forward(&self.shapes.out, top, w, bias, Act::Identity, &mut self.r)?;
        Ok(())
    }

    /// Back-propagates ∂r (filled through [`residual_grad`](Self::residual_grad)) of the
    /// last [`forward`](Self::forward) on the same `x`, overwriting every gradient in
    /// `grads`.
    pub(crate) fn backward(
        &mut self,
        dev: &D,
        vals: &[D::Buf],
        grads: &mut [D::Buf],
        x: &D::Buf,
    ) -> ModelResult<()> {
        let dr = self.dr.as_ref().expect("a training body has ∂r");
        // r = conv1×1(d_0): ∂d_0 (∂e_0 when there is no decoder).
        let io = self.idx.out();
        let (dw, db) = pair_mut(grads, io);
        dev.conv2d_backward_weight(&self.shapes.out, self.level_output(0), dr, dw, Some(db))?;
        let d_top = match self.dec_grads.first_mut() {
            Some(g) => &mut g.dd,
            None => &mut self.enc_grads[0].de,
        };
        // Through d_0's ReLU (e_0's without a decoder): every block gets ∂ of its output
        // already through its ReLU.
        let top_out = match self.dec.first() {
            Some(d) => &d.d,
            None => &self.enc[0].e,
        };
        let top = (Act::Relu, top_out);
        dev.conv2d_backward_input_act(&self.shapes.out, &vals[io], dr, top, d_top)?;
        // Decoder, top level first: the block, its input's gradient in two parts, ∂up_l and
        // the skip's share of ∂e_l, then up_l back to ∂d_{l+1} (∂e_{L−1} at the bottom).
        for l in 0..self.dec.len() {
            let s = self.shapes.dec[l];
            let (dhere, dabove) = self.dec.split_at_mut(l + 1);
            let b = &mut dhere[l];
            let (here, above) = self.dec_grads.split_at_mut(l + 1);
            let g = &mut here[l];
            let i = self.idx.dec(l);
            let [dw1, db1, dw2, db2] = grads_at(grads, i);
            conv2_backward(
                dev,
                &s.conv2,
                &b.mid,
                &vals[i + 2],
                [dw2, db2],
                (&g.dd, &mut g.dmid),
            )?;
            let up_e = (&b.up, &self.enc[l].e);
            let (dmid, cat) = (&g.dmid, &mut b.cat);
            dev.conv2d_backward_weight_cat(&s.conv1, &s.cat, up_e, dmid, dw1, Some(db1), cat)?;
            let dup_de = (&mut g.dup, &mut self.enc_grads[l].de);
            dev.conv2d_backward_input_cat(&s.conv1, &s.cat, &vals[i], dmid, dup_de, &mut g.dcat)?;
            let iu = self.idx.up(l);
            let src = match dabove.first() {
                Some(a) => &a.d,
                None => &self.enc[l + 1].e,
            };
            let (dw, db) = pair_mut(grads, iu);
            dev.conv_transpose2d_backward_weight(&s.up, src, &g.dup, dw, Some(db))?;
            let d_next = match above.first_mut() {
                Some(a) => &mut a.dd,
                None => &mut self.enc_grads[l + 1].de,
            };
            // Through src's ReLU (d_{l+1}, or e_{L−1}: its only consumer is this up-sampling).
            let mask = (Act::Relu, src);
            dev.conv_transpose2d_backward_input_act(&s.up, &vals[iu], &g.dup, mask, d_next)?;
        }
        // Encoder, bottom level first: the block, then its input's gradient back through
        // the pooling, added to ∂e_{l−1} and through e_{l−1}'s ReLU in the same pass (the
        // bottom level's ∂e came through its ReLU from the up-sampling's input gradient).
        let levels = self.enc.len();
        for l in (0..levels).rev() {
            let s = self.shapes.enc[l];
            let (below, here) = self.enc.split_at(l);
            let b = &here[0];
            let (gbelow, ghere) = self.enc_grads.split_at_mut(l);
            let g = &mut ghere[0];
            let i = self.idx.enc(l);
            let [dw1, db1, dw2, db2] = grads_at(grads, i);
            conv2_backward(
                dev,
                &s.conv2,
                &b.mid,
                &vals[i + 2],
                [dw2, db2],
                (&g.de, &mut g.dmid),
            )?;
            let z = b.p.as_ref().unwrap_or(x);
            dev.conv2d_backward_weight(&s.conv1, z, &g.dmid, dw1, Some(db1))?;
            if let (Some(pool), Some(dp)) = (s.pool, g.dp.as_mut()) {
                let unpool = Unpool {
                    shape: &pool,
                    x: &below[l - 1].e,
                    act: Act::Relu,
                    add: true,
                };
                let de = &mut gbelow[l - 1].de;
                dev.conv2d_backward_input_unpool(&s.conv1, &vals[i], &g.dmid, unpool, dp, de)?;
            }
        }
        Ok(())
    }
}

/// The four gradients of a block whose conv1 weight is tensor `i`: conv1's weight and
/// bias, conv2's weight and bias.
fn grads_at<B>(grads: &mut [B], i: usize) -> [&mut B; 4] {
    let [a, b, c, d] = &mut grads[i..i + 4] else {
        unreachable!("four tensors per block")
    };
    [a, b, c, d]
}

/// The backward pass of a block's second convolution, `out = ReLU(conv2(mid))` with
/// `mid = ReLU(conv1(z))`: from ∂out already through the output's ReLU (`dout`) conv2's
/// weight and bias gradients, and into `dmid` ∂mid through mid's ReLU, from which the
/// caller takes conv1's gradients (of one input, or of the decoder's two).
fn conv2_backward<D: Device>(
    dev: &D,
    s2: &Conv2dShape,
    mid: &D::Buf,
    w2: &D::Buf,
    [dw2, db2]: [&mut D::Buf; 2],
    (dout, dmid): (&D::Buf, &mut D::Buf),
) -> crate::Result<()> {
    dev.conv2d_backward_weight(s2, mid, dout, dw2, Some(db2))?;
    dev.conv2d_backward_input_act(s2, w2, dout, (Act::Relu, mid), dmid)
}
