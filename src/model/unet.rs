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
//! middle activation and output, the pooled inputs, the up-sampled maps and the
//! concatenations. The backward pass runs the decoder from the top (l = 0) down, which
//! leaves in ∂e_l the skip connection's share, then the encoder from the bottom up, which
//! adds each level's share through the max pooling. Every buffer is allocated in
//! [`UnetBody::new`]; an inference body (`training` false) has no gradient buffers.

use super::config::ModelConfig;
use super::error::ModelResult;
use super::init::Init;
use super::param::{pair_mut, ParamSpec};
use crate::device::Device;
use crate::ops::{Act, ConcatShape, Conv2dShape, ConvTranspose2dShape, Pool2dShape};

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

/// The op shapes of one level l (side W/2^l) for one batch size.
#[derive(Clone, Copy, Debug)]
struct Level {
    enc1: Conv2dShape,
    enc2: Conv2dShape,
    /// The pooling that makes this level's input from level l − 1 (l ≥ 1).
    pool: Option<Pool2dShape>,
    /// Decoder parts (l < L − 1): up-sampling from level l + 1, the concatenation, the
    /// block.
    up: Option<ConvTranspose2dShape>,
    cat: Option<ConcatShape>,
    dec1: Option<Conv2dShape>,
    dec2: Option<Conv2dShape>,
}

/// The shapes of the whole body.
#[derive(Clone, Debug)]
struct Shapes {
    levels: Vec<Level>,
    out: Conv2dShape,
}

impl Shapes {
    fn new(cfg: &ModelConfig, n: usize) -> Self {
        let w = &cfg.unet_widths;
        let last = w.len() - 1;
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
        let levels = (0..w.len())
            .map(|l| {
                let side = cfg.window >> l;
                let c_in = if l == 0 { cfg.in_bands } else { w[l - 1] };
                let dec = l < last;
                Level {
                    enc1: conv3(side, c_in, w[l]),
                    enc2: conv3(side, w[l], w[l]),
                    pool: (l > 0).then(|| Pool2dShape {
                        n,
                        c: w[l - 1],
                        h: side * 2,
                        w: side * 2,
                    }),
                    up: dec.then(|| ConvTranspose2dShape {
                        n,
                        c_in: w[l + 1],
                        h: side / 2,
                        w: side / 2,
                        c_out: w[l],
                        k: 2,
                        stride: 2,
                        pad: 0,
                        out_pad: 0,
                    }),
                    cat: dec.then_some(ConcatShape {
                        n,
                        c_a: w[l],
                        c_b: w[l],
                        plane: side * side,
                    }),
                    dec1: dec.then(|| conv3(side, 2 * w[l], w[l])),
                    dec2: dec.then(|| conv3(side, w[l], w[l])),
                }
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
        Shapes { levels, out }
    }
}

/// The activations of one level (decoder ones empty at the bottom level).
struct LevelBufs<B> {
    /// Encoder block: the middle activation and the output e_l.
    enc_mid: B,
    e: B,
    /// The pooled input (l ≥ 1).
    p: Option<B>,
    /// Decoder (l < L − 1): up_l, concat(up_l, e_l), the middle activation, d_l.
    up: Option<B>,
    cat: Option<B>,
    dec_mid: Option<B>,
    d: Option<B>,
}

/// The gradients of one level's activations (training only).
struct LevelGrads<B> {
    /// ∂e_l (the skip's share, then the pooling's added).
    de: B,
    /// Scratch of a block's middle activation's size.
    mid: B,
    /// ∂(pooled input) and the pooling's contribution to ∂e_{l−1} (l ≥ 1).
    dp: Option<B>,
    pool_dx: Option<B>,
    /// ∂d_l, ∂concat, ∂up_l (l < L − 1).
    dd: Option<B>,
    dcat: Option<B>,
    dup: Option<B>,
}

/// The U-Net body for a fixed batch size: activations, and with `training` their gradients.
pub(crate) struct UnetBody<D: Device> {
    shapes: Shapes,
    idx: Idx,
    bufs: Vec<LevelBufs<D::Buf>>,
    grads: Vec<LevelGrads<D::Buf>>,
    /// The residual r and, training, its gradient.
    r: D::Buf,
    dr: Option<D::Buf>,
}

impl<D: Device> UnetBody<D> {
    /// Allocates the body of `cfg` (a validated `unet` config) for batches of `n` windows.
    pub(crate) fn new(dev: &D, cfg: &ModelConfig, n: usize, training: bool) -> ModelResult<Self> {
        let shapes = Shapes::new(cfg, n);
        let zeros = |len: usize| dev.alloc_zeros(len);
        let opt = |len: Option<usize>| len.map(zeros).transpose();
        let mut bufs = Vec::with_capacity(shapes.levels.len());
        let mut grads = Vec::new();
        for lv in &shapes.levels {
            let mid = lv.enc1.y_len();
            bufs.push(LevelBufs {
                enc_mid: zeros(mid)?,
                e: zeros(mid)?,
                p: opt(lv.pool.map(|p| p.y_len()))?,
                up: opt(lv.up.map(|u| u.y_len()))?,
                cat: opt(lv.cat.map(|c| c.y_len()))?,
                dec_mid: opt(lv.dec1.map(|c| c.y_len()))?,
                d: opt(lv.dec2.map(|c| c.y_len()))?,
            });
            if training {
                grads.push(LevelGrads {
                    de: zeros(mid)?,
                    mid: zeros(mid)?,
                    dp: opt(lv.pool.map(|p| p.y_len()))?,
                    pool_dx: opt(lv.pool.map(|p| p.x_len()))?,
                    dd: opt(lv.dec2.map(|c| c.y_len()))?,
                    dcat: opt(lv.cat.map(|c| c.y_len()))?,
                    dup: opt(lv.up.map(|u| u.y_len()))?,
                });
            }
        }
        let r_len = shapes.out.y_len();
        Ok(UnetBody {
            idx: Idx {
                levels: shapes.levels.len(),
            },
            r: zeros(r_len)?,
            dr: if training { Some(zeros(r_len)?) } else { None },
            shapes,
            bufs,
            grads,
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

    /// Computes r for a batch `x`, keeping the activations.
    pub(crate) fn forward(&mut self, dev: &D, vals: &[D::Buf], x: &D::Buf) -> ModelResult<()> {
        let levels = self.shapes.levels.len();
        let conv = |s: &Conv2dShape, x: &D::Buf, i: usize, y: &mut D::Buf| {
            dev.conv2d_forward(s, x, &vals[i], Some(&vals[i + 1]), Act::Relu, y)
        };
        for l in 0..levels {
            let lv = self.shapes.levels[l];
            let (below, here) = self.bufs.split_at_mut(l);
            let b = &mut here[0];
            let input = match (lv.pool, b.p.as_mut()) {
                (Some(pool), Some(p)) => {
                    dev.max_pool2d_forward(&pool, &below[l - 1].e, p)?;
                    &*p
                }
                _ => x,
            };
            let i = self.idx.enc(l);
            conv(&lv.enc1, input, i, &mut b.enc_mid)?;
            conv(&lv.enc2, &b.enc_mid, i + 2, &mut b.e)?;
        }
        for l in (0..levels - 1).rev() {
            let lv = self.shapes.levels[l];
            let (here, above) = self.bufs.split_at_mut(l + 1);
            let b = &mut here[l];
            let src = output_of(&above[0]);
            let (up_s, cat_s) = (
                lv.up.expect("decoder level"),
                lv.cat.expect("decoder level"),
            );
            let (up, cat) = (b.up.as_mut().expect("up"), b.cat.as_mut().expect("cat"));
            let iu = self.idx.up(l);
            dev.conv_transpose2d_forward(
                &up_s,
                src,
                &vals[iu],
                Some(&vals[iu + 1]),
                Act::Identity,
                up,
            )?;
            dev.concat_channels(&cat_s, up, &b.e, cat)?;
            let i = self.idx.dec(l);
            let (mid, d) = (b.dec_mid.as_mut().expect("mid"), b.d.as_mut().expect("d"));
            conv(&lv.dec1.expect("dec1"), cat, i, mid)?;
            conv(&lv.dec2.expect("dec2"), mid, i + 2, d)?;
        }
        let io = self.idx.out();
        dev.conv2d_forward(
            &self.shapes.out,
            output_of(&self.bufs[0]),
            &vals[io],
            Some(&vals[io + 1]),
            Act::Identity,
            &mut self.r,
        )?;
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
        let levels = self.shapes.levels.len();
        let dr = self.dr.as_ref().expect("a training body has ∂r");
        // r = conv1×1(d_0): ∂d_0 (∂e_0 when there is no decoder).
        let io = self.idx.out();
        let (dw, db) = pair_mut(grads, io);
        dev.conv2d_backward_weight(&self.shapes.out, output_of(&self.bufs[0]), dr, dw, Some(db))?;
        let g0 = &mut self.grads[0];
        let dd0 = g0.dd.as_mut().unwrap_or(&mut g0.de);
        dev.conv2d_backward_input(&self.shapes.out, &vals[io], dr, dd0)?;
        // Decoder, top level first: each block, the split of its input's gradient into
        // ∂up_l and the skip's share of ∂e_l, then up_l back to ∂d_{l+1}.
        for l in 0..levels - 1 {
            let lv = self.shapes.levels[l];
            let b = &self.bufs[l];
            let (here, above) = self.grads.split_at_mut(l + 1);
            let g = &mut here[l];
            let dd = g.dd.as_mut().expect("decoder level");
            let i = self.idx.dec(l);
            block_backward(
                dev,
                (&lv.dec1.expect("dec1"), &lv.dec2.expect("dec2")),
                (
                    b.cat.as_ref().expect("cat"),
                    b.dec_mid.as_ref().expect("mid"),
                    b.d.as_ref().expect("d"),
                ),
                (&vals[i], &vals[i + 2]),
                grads_at(grads, i),
                dd,
                &mut g.mid,
                g.dcat.as_mut(),
            )?;
            let cat_s = lv.cat.expect("decoder level");
            let (dup, de) = (g.dup.as_mut().expect("dup"), &mut g.de);
            dev.split_channels(&cat_s, g.dcat.as_ref().expect("dcat"), dup, de)?;
            let up_s = lv.up.expect("decoder level");
            let iu = self.idx.up(l);
            let src = output_of(&self.bufs[l + 1]);
            let (dw, db) = pair_mut(grads, iu);
            dev.conv_transpose2d_backward_weight(&up_s, src, dup, dw, Some(db))?;
            let next = &mut above[0];
            let dd_next = next.dd.as_mut().unwrap_or(&mut next.de);
            dev.conv_transpose2d_backward_input(&up_s, &vals[iu], dup, dd_next)?;
        }
        // Encoder, bottom level first: each block, then its input's gradient back through
        // the pooling into ∂e_{l−1}.
        for l in (0..levels).rev() {
            let lv = self.shapes.levels[l];
            let (below, here) = self.bufs.split_at(l);
            let b = &here[0];
            let input = b.p.as_ref().unwrap_or(x);
            let (gbelow, ghere) = self.grads.split_at_mut(l);
            let g = &mut ghere[0];
            let i = self.idx.enc(l);
            block_backward(
                dev,
                (&lv.enc1, &lv.enc2),
                (input, &b.enc_mid, &b.e),
                (&vals[i], &vals[i + 2]),
                grads_at(grads, i),
                &mut g.de,
                &mut g.mid,
                g.dp.as_mut(),
            )?;
            if let (Some(pool), Some(dp), Some(pool_dx)) =
                (lv.pool, g.dp.as_ref(), g.pool_dx.as_mut())
            {
                dev.max_pool2d_backward(&pool, &below[l - 1].e, dp, pool_dx)?;
                dev.add_assign(&mut gbelow[l - 1].de, pool_dx)?;
            }
        }
        Ok(())
    }
}

/// The output of a level: d_l, or e_l at the bottom (d_{L−1} = e_{L−1}).
fn output_of<B>(b: &LevelBufs<B>) -> &B {
    b.d.as_ref().unwrap_or(&b.e)
}

/// The four gradients of a block whose conv1 weight is tensor `i`: conv1's weight and
/// bias, conv2's weight and bias.
fn grads_at<B>(grads: &mut [B], i: usize) -> [&mut B; 4] {
    let [a, b, c, d] = &mut grads[i..i + 4] else {
        unreachable!("four tensors per block")
    };
    [a, b, c, d]
}

/// The backward pass of `block(z) = ReLU(conv2(ReLU(conv1(z))))` with activations
/// (z, mid, out): from ∂out (`dout`, consumed) the four parameter gradients and, when
/// asked, ∂z. `dmid` is scratch of mid's size.
#[allow(clippy::too_many_arguments)]
fn block_backward<D: Device>(
    dev: &D,
    (s1, s2): (&Conv2dShape, &Conv2dShape),
    (z, mid, out): (&D::Buf, &D::Buf, &D::Buf),
    (w1, w2): (&D::Buf, &D::Buf),
    [dw1, db1, dw2, db2]: [&mut D::Buf; 4],
    dout: &mut D::Buf,
    dmid: &mut D::Buf,
    dz: Option<&mut D::Buf>,
) -> crate::Result<()> {
    dev.act_backward(Act::Relu, out, dout)?;
    dev.conv2d_backward_weight(s2, mid, dout, dw2, Some(db2))?;
    dev.conv2d_backward_input(s2, w2, dout, dmid)?;
    dev.act_backward(Act::Relu, mid, dmid)?;
    dev.conv2d_backward_weight(s1, z, dmid, dw1, Some(db1))?;
    if let Some(dz) = dz {
        dev.conv2d_backward_input(s1, w1, dmid, dz)?;
    }
    Ok(())
}
