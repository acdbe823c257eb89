//! The parity cases of the conv2d family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::Conv2dShape;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{no_part, BenchRun, Op, OpBench, OpCase, ALL, FORWARD};
use crate::ops::{Act, Pool2dShape, Unpool};
use crate::selftest::{act_name, f64s, junk, out, rounded, Output, Rng};
use crate::Result;

/// conv2d forward, input gradient and weight gradient; parameters (shape, activation, bias).
pub struct Conv2d;

impl Op for Conv2d {
    const NAME: &'static str = "conv2d";
    const FAMILY: &'static str = "conv2d";
    const METHODS: &'static [(&'static str, &'static str)] = &[
        ("conv2d_forward", "y"),
        ("conv2d_backward_input", "dx"),
        ("conv2d_backward_weight", "dw"),
    ];
    type Params = (Conv2dShape, Act, bool);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        // conv2d: (n, c_in, c_out, h, w, k, stride, pad, act, bias, quick)
        let relu = Act::Relu;
        let leaky = Act::LeakyRelu(0.2);
        let id = Act::Identity;
        #[rustfmt::skip]
        let convs = [
            (5, 1, 3, 13, 17, 1, 1, 0, id, true, true),      // G lift 1×1
            (2, 1, 3, 64, 64, 1, 1, 0, id, true, false),     // lift at the spec's window
            (1, 3, 5, 13, 17, 3, 1, 1, relu, true, true),
            (5, 3, 4, 13, 17, 5, 1, 2, relu, true, true),    // small preset conv1
            (5, 4, 6, 13, 17, 5, 2, 2, relu, true, true),    // small preset conv2 (stride 2)
            (2, 3, 8, 19, 23, 9, 1, 4, relu, true, true),    // seed preset conv1 (k = 9)
            (1, 8, 8, 16, 16, 9, 1, 4, relu, true, false),   // seed preset conv2
            (2, 6, 5, 13, 17, 9, 2, 4, relu, true, false),   // k = 9, stride 2
            (1, 1, 1, 7, 9, 3, 2, 0, id, false, true),       // C = 1, no bias, no padding
            (3, 2, 3, 11, 13, 5, 1, 0, id, true, false),
            (1, 3, 2, 12, 10, 3, 2, 1, leaky, true, false),  // even sizes, stride 2
            (2, 3, 8, 64, 64, 3, 1, 1, leaky, true, true),   // D conv 0 at the spec's window
            (5, 8, 16, 16, 16, 3, 1, 1, leaky, true, false), // a deeper D conv
            (1, 16, 32, 2, 2, 3, 1, 1, leaky, true, false),  // D's last conv: 2×2
            (1, 3, 3, 1, 1, 3, 1, 1, relu, true, false),     // 1×1 image, all padding
            (65, 3, 70, 4, 4, 3, 1, 1, leaky, true, false),  // batch 65, 4×4 maps, 2 channel tiles
            (2, 70, 66, 5, 3, 3, 2, 1, relu, true, false),   // 70→66 channels, stride 2
            (2, 24, 20, 13, 17, 3, 1, 1, relu, true, false), // 442 pixels × 20 and 24 channels
            (1, 11, 21, 17, 19, 9, 1, 4, relu, true, false), // k = 9: 21 channels, partial 16×16 tiles
            (1, 5, 13, 17, 18, 9, 1, 2, leaky, false, false), // k = 9, pad 2: 13×14 output
            (1, 32, 32, 16, 18, 9, 1, 4, relu, true, false), // the seed preset's 32 → 32
            (2, 13, 40, 18, 21, 3, 1, 1, leaky, true, false), // 3×3 to 40 channels on 18×21 maps
            (2, 9, 36, 10, 19, 9, 1, 3, leaky, false, false), // k = 9 to 36 channels: 2 weight-gradient row blocks
            (2, 12, 24, 18, 20, 3, 1, 1, relu, true, false),  // 3×3 to 24 (tiles of 32) and back to 12 (of 16)
        ];
        for (n, c_in, c_out, h, w, k, stride, pad, act, bias, quick) in convs {
            let s = Conv2dShape {
                n,
                c_in,
                h,
                w,
                c_out,
                k,
                stride,
                pad,
            };
            let shape = format!(
                "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} p{pad} {}{}",
                act_name(act),
                if bias { "" } else { " nobias" }
            );
            v.push(OpCase {
                shape,
                params: (s, act, bias),
                quick,
            });
        }
        v
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (s, act, bias) = *p;
        let (x, w) = (rng.vec(s.x_len(), -1.0, 1.0), rng.vec(s.w_len(), -1.0, 1.0));
        let (b, dy) = (rng.vec(s.c_out, -1.0, 1.0), rng.vec(s.y_len(), -1.0, 1.0));
        let (xd, wd, bd, dyd) = (
            dev.upload(&x)?,
            dev.upload(&w)?,
            dev.upload(&b)?,
            dev.upload(&dy)?,
        );
        let mut y = junk(dev, rng, s.y_len())?;
        dev.conv2d_forward(&s, &xd, &wd, bias.then_some(&bd), act, &mut y)?;
        let mut dx = junk(dev, rng, s.x_len())?;
        dev.conv2d_backward_input(&s, &wd, &dyd, &mut dx)?;
        let (mut dw, mut db) = (junk(dev, rng, s.w_len())?, junk(dev, rng, s.c_out)?);
        dev.conv2d_backward_weight(&s, &xd, &dyd, &mut dw, bias.then_some(&mut db))?;
        let (x64, w64, b64, dy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&dy));
        let ry = reference::conv2d_forward(&s, &x64, &w64, bias.then_some(&b64[..]), act)?;
        let rdx = reference::conv2d_backward_input(&s, &w64, &dy64)?;
        let (rdw, rdb) = reference::conv2d_backward_weight(&s, &x64, &dy64)?;
        let mut o = vec![
            out("y", dev.download(&y)?, ry),
            out("dx", dev.download(&dx)?, rdx),
            out("dw", dev.download(&dw)?, rdw),
        ];
        if bias {
            o.push(out("db", dev.download(&db)?, rdb));
        }
        Ok(o)
    }

    fn run_half<D: Device>(
        dev: &D,
        p: &Self::Params,
        rng: &mut Rng,
        f: Half,
    ) -> Option<Result<Vec<Output>>> {
        let (s, act, bias) = *p;
        let run = |rng: &mut Rng| {
            let x = rounded(rng.vec(s.x_len(), -1.0, 1.0), f);
            let w = rounded(rng.vec(s.w_len(), -1.0, 1.0), f);
            let b = rounded(rng.vec(s.c_out, -1.0, 1.0), f);
            let (xd, wd, bd) = (dev.upload(&x)?, dev.upload(&w)?, dev.upload(&b)?);
            let mut y = junk(dev, rng, s.y_len())?;
            dev.conv2d_forward(&s, &xd, &wd, bias.then_some(&bd), act, &mut y)?;
            let b64 = f64s(&b);
            let ry =
                reference::conv2d_forward(&s, &f64s(&x), &f64s(&w), bias.then_some(&b64[..]), act)?;
            Ok(vec![out("y", dev.download(&y)?, ry)])
        };
        Some(run(rng))
    }

    fn benches() -> Vec<OpBench<Self::Params>> {
        let conv = |n, c_in, c_out, hw, k, stride| Conv2dShape {
            n,
            c_in,
            h: hw,
            w: hw,
            c_out,
            k,
            stride,
            pad: (k - 1) / 2,
        };
        let mut v = Vec::new();
        let mut add = |group, name: String, s: Conv2dShape, act, parts| {
            let work = (s.y_len() * s.c_in * s.k * s.k) as u64;
            v.push(OpBench {
                group,
                name,
                params: (s, act, true),
                work,
                parts,
            });
        };
        let (relu, leaky, id) = (Act::Relu, Act::LeakyRelu(0.2), Act::Identity);
        // The generator's layers in the seed preset (batch 16, 64×64, F = 32, k = 9).
        add(
            "seed",
            "lift 1→3 k1".into(),
            conv(16, 1, 3, 64, 1, 1),
            id,
            FORWARD,
        );
        add(
            "seed",
            "conv1 3→32 k9".into(),
            conv(16, 3, 32, 64, 9, 1),
            relu,
            ALL,
        );
        add(
            "seed",
            "conv2 32→32 k9".into(),
            conv(16, 32, 32, 64, 9, 1),
            relu,
            ALL,
        );
        // The small preset's strided layers (F = 16, k = 5, stride 2).
        add(
            "small",
            "conv1 3→16 k5".into(),
            conv(16, 3, 16, 64, 5, 1),
            relu,
            ALL,
        );
        add(
            "small",
            "conv2 16→16 k5 s2".into(),
            conv(16, 16, 16, 64, 5, 2),
            relu,
            ALL,
        );
        // The discriminator's five 3×3 convolutions (seed widths), batch 16.
        let widths = [3, 64, 128, 256, 512, 1024];
        for j in 0..5 {
            let (c_in, c_out, hw) = (widths[j], widths[j + 1], 64 >> j);
            let parts = if j < 2 { ALL } else { FORWARD };
            let name = format!("conv{j} {c_in}→{c_out} {hw}²");
            add("disc", name, conv(16, c_in, c_out, hw, 3, 1), leaky, parts);
        }
        // The seed preset's conv1 on one image, against the f64 reference (benches/ops.rs).
        add(
            "baseline",
            "conv1 n1".into(),
            conv(1, 3, 32, 64, 9, 1),
            relu,
            FORWARD,
        );
        v
    }

    fn bench_part<'a, D: Device>(
        dev: &'a D,
        p: &Self::Params,
        part: &str,
        rng: &mut Rng,
    ) -> Result<BenchRun<'a>> {
        let (s, act, bias) = *p;
        let mut input = |len| dev.upload(&rng.vec(len, -1.0, 1.0));
        let (x, w, b, dy) = (
            input(s.x_len())?,
            input(s.w_len())?,
            input(s.c_out)?,
            input(s.y_len())?,
        );
        Ok(match part {
            "forward" => {
                let mut y = dev.alloc_zeros(s.y_len())?;
                Box::new(move || dev.conv2d_forward(&s, &x, &w, bias.then_some(&b), act, &mut y))
            }
            "backward_input" => {
                let mut dx = dev.alloc_zeros(s.x_len())?;
                Box::new(move || dev.conv2d_backward_input(&s, &w, &dy, &mut dx))
            }
            "backward_weight" => {
                let (mut dw, mut db) = (dev.alloc_zeros(s.w_len())?, dev.alloc_zeros(s.c_out)?);
                Box::new(move || {
                    dev.conv2d_backward_weight(&s, &x, &dy, &mut dw, bias.then_some(&mut db))
                })
            }
            _ => return Err(no_part(Self::NAME, part)),
        })
    }
}

/// A convolution with padding (k − 1) / 2 (the output keeps the input's size at stride 1).
fn padded(
    n: usize,
    c_in: usize,
    c_out: usize,
    (h, w): (usize, usize),
    k: usize,
    stride: usize,
) -> Conv2dShape {
    Conv2dShape {
        n,
        c_in,
        h,
        w,
        c_out,
        k,
        stride,
        pad: (k - 1) / 2,
    }
}

/// conv2d forward with the 2×2 max pooling of its output in the same call
/// ([`Device::conv2d_forward_pooled`]); parameters (shape, activation, bias). The cases
/// reach every path of the GPU devices in tensor-core precision: the patch-staged kernel
/// pooling with K whole and folded (partial output and channel tiles, odd sides whose last
/// row or column the pooling drops), K summed apart and maps under 16×16 (the pooling
/// launched after), and a strided 5×5 convolution.
pub struct Conv2dPooled;

impl Conv2dPooled {
    /// y and p on `dev` and the f64 reference's, for inputs x, w, b.
    fn outputs<D: Device>(
        dev: &D,
        (s, act, bias): (Conv2dShape, Act, bool),
        (x, w, b): (&[f32], &[f32], &[f32]),
        rng: &mut Rng,
    ) -> Result<Vec<Output>> {
        let (xd, wd, bd) = (dev.upload(x)?, dev.upload(w)?, dev.upload(b)?);
        let pool = s.pooled();
        let mut y = junk(dev, rng, s.y_len())?;
        let mut p = junk(dev, rng, pool.y_len())?;
        dev.conv2d_forward_pooled(&s, &xd, &wd, bias.then_some(&bd), act, &mut y, &mut p)?;
        let b64 = f64s(b);
        let ry = reference::conv2d_forward(&s, &f64s(x), &f64s(w), bias.then_some(&b64[..]), act)?;
        let rp = crate::ops::max_pool2d::reference::max_pool2d_forward(&pool, &ry)?;
        Ok(vec![
            out("y", dev.download(&y)?, ry),
            out("p", dev.download(&p)?, rp),
        ])
    }
}

impl Op for Conv2dPooled {
    const NAME: &'static str = "conv2d_pooled";
    const FAMILY: &'static str = "conv2d";
    const METHODS: &'static [(&'static str, &'static str)] = &[("conv2d_forward_pooled", "p")];
    type Params = (Conv2dShape, Act, bool);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let (relu, leaky) = (Act::Relu, Act::LeakyRelu(0.2));
        // (n, c_in, c_out, h, w, k, stride, act, bias, quick), padding (k − 1) / 2
        #[rustfmt::skip]
        let convs = [
            (2, 3, 16, 64, 64, 3, 1, leaky, true, true),    // D's first layer at the spec's window
            (1, 5, 24, 33, 35, 3, 1, relu, true, true),     // odd sides, 16 + 8 channels
            (3, 16, 40, 18, 21, 3, 1, leaky, false, false), // three channel tiles, no bias
            (1, 40, 20, 17, 16, 3, 1, relu, true, false),   // K in 2 splits, folded
            (1, 80, 16, 16, 16, 3, 1, leaky, true, false),  // K in 5 splits, summed apart
            (5, 8, 16, 8, 8, 3, 1, leaky, true, true),      // an 8×8 map: the implicit GEMM
            (65, 3, 12, 4, 4, 3, 1, relu, true, false),     // batch 65, 4×4 maps
            (1, 1, 9, 3, 5, 3, 1, relu, true, false),       // a 1×2 pooled map
            (2, 4, 10, 13, 17, 5, 2, relu, true, false),    // 5×5, stride 2: 7×9 pooled to 3×4
        ];
        convs
            .into_iter()
            .map(
                |(n, c_in, c_out, h, w, k, stride, act, bias, quick)| OpCase {
                    shape: format!(
                        "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} {} pooled{}",
                        act_name(act),
                        if bias { "" } else { " nobias" }
                    ),
                    params: (padded(n, c_in, c_out, (h, w), k, stride), act, bias),
                    quick,
                },
            )
            .collect()
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let s = p.0;
        let x = rng.vec(s.x_len(), -1.0, 1.0);
        let w = rng.vec(s.w_len(), -1.0, 1.0);
        let b = rng.vec(s.c_out, -1.0, 1.0);
        Self::outputs(dev, *p, (&x, &w, &b), rng)
    }

    fn run_half<D: Device>(
        dev: &D,
        p: &Self::Params,
        rng: &mut Rng,
        f: Half,
    ) -> Option<Result<Vec<Output>>> {
        let s = p.0;
        let x = rounded(rng.vec(s.x_len(), -1.0, 1.0), f);
        let w = rounded(rng.vec(s.w_len(), -1.0, 1.0), f);
        let b = rounded(rng.vec(s.c_out, -1.0, 1.0), f);
        Some(Self::outputs(dev, *p, (&x, &w, &b), rng))
    }
}

/// A y = act(z) for `len` random z (some exact zeros, so ReLU and leaky ReLU outputs have
/// ties at 0): the activation output an input gradient is taken through.
pub(crate) fn activation_output(act: Act, len: usize, rng: &mut Rng) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let z = if i % 7 == 3 {
                0.0
            } else {
                rng.uniform(-1.0, 1.0)
            };
            crate::ops::activation::reference::act_forward(act, z as f64) as f32
        })
        .collect()
}

/// conv2d's input gradient through the activation whose output y is
/// ([`Device::conv2d_backward_input_act`]); parameters (shape, activation). The cases reach
/// every path of the GPU devices: the patch-staged kernel masking with K whole and folded
/// and after a `sum_slices`, the implicit GEMM masking (8×8 maps, k = 1) and a stride-2
/// gradient (parity classes: `act_backward` after).
pub struct Conv2dInputAct;

impl Op for Conv2dInputAct {
    const NAME: &'static str = "conv2d_input_act";
    const FAMILY: &'static str = "conv2d";
    const METHODS: &'static [(&'static str, &'static str)] = &[("conv2d_backward_input_act", "dx")];
    type Params = (Conv2dShape, Act);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let (relu, leaky) = (Act::Relu, Act::LeakyRelu(0.2));
        // (n, c_in, c_out, h, w, k, stride, act, quick), padding (k − 1) / 2; dx has c_in
        // channels.
        #[rustfmt::skip]
        let convs = [
            (2, 16, 32, 33, 35, 3, 1, relu, true),   // the U-Net's middles: odd sides
            (1, 24, 40, 17, 16, 3, 1, leaky, false), // 16 + 8 channels, K (5 chunks) folded
            (1, 16, 80, 16, 16, 3, 1, relu, false),  // K in 5 splits, summed apart
            (5, 64, 16, 8, 8, 3, 1, relu, true),     // 8×8: the implicit GEMM
            (3, 5, 7, 9, 11, 1, 1, leaky, false),    // k = 1
            (2, 6, 4, 13, 17, 5, 2, relu, false),    // stride 2: four parity classes
        ];
        convs
            .into_iter()
            .map(|(n, c_in, c_out, h, w, k, stride, act, quick)| OpCase {
                shape: format!(
                    "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} dx·{}'",
                    act_name(act)
                ),
                params: (padded(n, c_in, c_out, (h, w), k, stride), act),
                quick,
            })
            .collect()
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (s, act) = *p;
        let (w, dy) = (rng.vec(s.w_len(), -1.0, 1.0), rng.vec(s.y_len(), -1.0, 1.0));
        let y = activation_output(act, s.x_len(), rng);
        let (wd, dyd, yd) = (dev.upload(&w)?, dev.upload(&dy)?, dev.upload(&y)?);
        let mut dx = junk(dev, rng, s.x_len())?;
        dev.conv2d_backward_input_act(&s, &wd, &dyd, (act, &yd), &mut dx)?;
        let rdx = reference::conv2d_backward_input(&s, &f64s(&w), &f64s(&dy))?;
        let rdx = crate::ops::activation::reference::act_backward(act, &f64s(&y), &rdx)?;
        Ok(vec![out("dx", dev.download(&dx)?, rdx)])
    }
}

/// conv2d's input gradient on through the 2×2 max pooling whose output the convolution
/// reads and the activation before it ([`Device::conv2d_backward_input_unpool`]);
/// parameters (shape, pooled input's height and width, activation, whether the routed
/// gradient is added). The cases reach every path of the GPU devices: the patch-staged
/// kernel's gradient (16×16 maps and up; the pooling's pass after), the implicit GEMM's K
/// split and its partial sums added by the pooling's pass (8×8 maps, odd pooled inputs
/// whose last row or column the pooling drops, batch 65 on 4×4 maps), a sum in two stages
/// (the pooling's pass after it), k = 1 and 5.
pub struct Conv2dInputUnpool;

impl Op for Conv2dInputUnpool {
    const NAME: &'static str = "conv2d_input_unpool";
    const FAMILY: &'static str = "conv2d";
    const METHODS: &'static [(&'static str, &'static str)] =
        &[("conv2d_backward_input_unpool", "dx")];
    type Params = (Conv2dShape, (usize, usize), Act, bool);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let (relu, leaky) = (Act::Relu, Act::LeakyRelu(0.2));
        // (n, c_in, c_out, pooled input h × w, k, act, add, quick), stride 1, padding
        // (k − 1) / 2; the convolution reads the pooled map of c_in channels.
        #[rustfmt::skip]
        let convs = [
            (2, 16, 32, (64, 64), 3, leaky, false, true),  // D's second layer
            (5, 64, 128, (16, 17), 3, leaky, false, true), // 8×8: K split, added by the pooling
            (3, 32, 64, (17, 16), 3, relu, true, false),   // the U-Net's level 3, added to ∂x
            (1, 24, 16, (34, 33), 3, relu, true, false),   // 17×16 maps: patch-staged
            (65, 3, 8, (8, 8), 3, leaky, false, false),    // batch 65 on 4×4 maps
            (1, 8, 512, (4, 4), 3, relu, true, false),     // 72 splits: a two-stage sum first
            (2, 6, 4, (13, 17), 5, relu, false, false),    // k = 5
            (2, 8, 8, (9, 11), 1, leaky, true, false),     // k = 1
        ];
        convs
            .into_iter()
            .map(|(n, c_in, c_out, (ph, pw), k, act, add, quick)| OpCase {
                shape: format!(
                    "n{n} c{c_in}→{c_out} {ph}×{pw} pooled k{k} dx·{}'{}",
                    act_name(act),
                    if add { " added" } else { "" }
                ),
                params: (
                    padded(n, c_in, c_out, (ph / 2, pw / 2), k, 1),
                    (ph, pw),
                    act,
                    add,
                ),
                quick,
            })
            .collect()
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        use crate::ops::max_pool2d::reference as pool_ref;
        let (s, (ph, pw), act, add) = *p;
        let shape = Pool2dShape {
            n: s.n,
            c: s.c_in,
            h: ph,
            w: pw,
        };
        let (w, dy) = (rng.vec(s.w_len(), -1.0, 1.0), rng.vec(s.y_len(), -1.0, 1.0));
        let x = activation_output(act, shape.x_len(), rng);
        let dx0 = rng.vec(shape.x_len(), -1.0, 1.0);
        let (wd, dyd, xd) = (dev.upload(&w)?, dev.upload(&dy)?, dev.upload(&x)?);
        let mut dx = if add {
            dev.upload(&dx0)?
        } else {
            junk(dev, rng, shape.x_len())?
        };
        let mut dp = junk(dev, rng, s.x_len())?;
        let unpool = Unpool {
            shape: &shape,
            x: &xd,
            act,
            add,
        };
        dev.conv2d_backward_input_unpool(&s, &wd, &dyd, unpool, &mut dp, &mut dx)?;
        let rdp = reference::conv2d_backward_input(&s, &f64s(&w), &f64s(&dy))?;
        let rdx = if add {
            pool_ref::max_pool2d_backward_add(&shape, &f64s(&x), &rdp, act, &f64s(&dx0))?
        } else {
            pool_ref::max_pool2d_backward(&shape, &f64s(&x), &rdp, act)?
        };
        Ok(vec![out("dx", dev.download(&dx)?, rdx)])
    }
}

/// conv2d of the channel concatenation of two inputs ([`Device::conv2d_forward_cat`], its
/// input gradient in two parts and its weight gradient); parameters (shape, channels of the
/// first input, activation, bias). The cases reach every path of the GPU devices: the
/// patch-staged kernel reading two halves and writing the input gradient's two halves with
/// K whole and folded, an input gradient summed apart (split after), the implicit GEMM's
/// (maps under 16×16, k = 1; FP32 everywhere), and unequal parts (concatenated first).
pub struct Conv2dCat;

impl Op for Conv2dCat {
    const NAME: &'static str = "conv2d_cat";
    const FAMILY: &'static str = "conv2d";
    const METHODS: &'static [(&'static str, &'static str)] = &[
        ("conv2d_forward_cat", "y"),
        ("conv2d_backward_input_cat", "dx_a"),
        ("conv2d_backward_weight_cat", "dw"),
    ];
    type Params = (Conv2dShape, usize, Act, bool);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let (relu, leaky) = (Act::Relu, Act::LeakyRelu(0.2));
        // (n, c_a, c_b, c_out, h, w, k, act, bias, quick), stride 1, padding (k − 1) / 2
        #[rustfmt::skip]
        let convs = [
            (1, 16, 16, 16, 33, 35, 3, relu, true, true),   // a U-Net decoder's: odd sides
            (2, 32, 32, 32, 32, 32, 3, relu, true, false),  // the unet preset's level 1
            (1, 32, 32, 40, 17, 16, 3, leaky, true, false), // 64 → 40: dx in 2 splits, folded
            (1, 8, 8, 128, 16, 16, 3, relu, true, false),   // dx's K in 8 splits, summed apart
            (3, 6, 6, 4, 7, 9, 3, relu, true, true),        // 7×9 maps: the implicit GEMM
            (5, 32, 32, 16, 8, 8, 3, relu, false, false),   // the unet preset's level 3
            (2, 4, 4, 6, 9, 11, 1, leaky, true, false),     // k = 1
            (2, 3, 5, 8, 13, 17, 3, relu, true, true),      // unequal parts
        ];
        convs
            .into_iter()
            .map(|(n, c_a, c_b, c_out, h, w, k, act, bias, quick)| OpCase {
                shape: format!(
                    "n{n} c{c_a}+{c_b}→{c_out} {h}×{w} k{k} {}{}",
                    act_name(act),
                    if bias { "" } else { " nobias" }
                ),
                params: (padded(n, c_a + c_b, c_out, (h, w), k, 1), c_a, act, bias),
                quick,
            })
            .collect()
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (s, c_a, act, bias) = *p;
        let cat = cat_shape(&s, c_a);
        let (a, b) = (
            rng.vec(cat.a_len(), -1.0, 1.0),
            rng.vec(cat.b_len(), -1.0, 1.0),
        );
        let (w, bv) = (rng.vec(s.w_len(), -1.0, 1.0), rng.vec(s.c_out, -1.0, 1.0));
        let dy = rng.vec(s.y_len(), -1.0, 1.0);
        let (ad, bd, wd, bvd, dyd) = (
            dev.upload(&a)?,
            dev.upload(&b)?,
            dev.upload(&w)?,
            dev.upload(&bv)?,
            dev.upload(&dy)?,
        );
        let mut scratch = junk(dev, rng, s.x_len())?;
        let mut y = junk(dev, rng, s.y_len())?;
        let bias_d = bias.then_some(&bvd);
        dev.conv2d_forward_cat(&s, &cat, (&ad, &bd), &wd, bias_d, act, &mut y, &mut scratch)?;
        let (mut dxa, mut dxb) = (junk(dev, rng, cat.a_len())?, junk(dev, rng, cat.b_len())?);
        let dab = (&mut dxa, &mut dxb);
        dev.conv2d_backward_input_cat(&s, &cat, &wd, &dyd, dab, &mut scratch)?;
        let (mut dw, mut db) = (junk(dev, rng, s.w_len())?, junk(dev, rng, s.c_out)?);
        let db_d = bias.then_some(&mut db);
        dev.conv2d_backward_weight_cat(&s, &cat, (&ad, &bd), &dyd, &mut dw, db_d, &mut scratch)?;
        // The reference: the concatenation, made here, through the plain convolution.
        let x64 = crate::ops::concat::reference::concat_channels(&cat, &f64s(&a), &f64s(&b))?;
        let (w64, b64, dy64) = (f64s(&w), f64s(&bv), f64s(&dy));
        let ry = reference::conv2d_forward(&s, &x64, &w64, bias.then_some(&b64[..]), act)?;
        let rdx = reference::conv2d_backward_input(&s, &w64, &dy64)?;
        let (rda, rdb) = crate::ops::concat::reference::split_channels(&cat, &rdx)?;
        let (rdw, rdb_bias) = reference::conv2d_backward_weight(&s, &x64, &dy64)?;
        let mut o = vec![
            out("y", dev.download(&y)?, ry),
            out("dx_a", dev.download(&dxa)?, rda),
            out("dx_b", dev.download(&dxb)?, rdb),
            out("dw", dev.download(&dw)?, rdw),
        ];
        if bias {
            o.push(out("db", dev.download(&db)?, rdb_bias));
        }
        Ok(o)
    }

    fn run_half<D: Device>(
        dev: &D,
        p: &Self::Params,
        rng: &mut Rng,
        f: Half,
    ) -> Option<Result<Vec<Output>>> {
        let (s, c_a, act, bias) = *p;
        let cat = cat_shape(&s, c_a);
        let run = |rng: &mut Rng| {
            let a = rounded(rng.vec(cat.a_len(), -1.0, 1.0), f);
            let b = rounded(rng.vec(cat.b_len(), -1.0, 1.0), f);
            let w = rounded(rng.vec(s.w_len(), -1.0, 1.0), f);
            let bv = rounded(rng.vec(s.c_out, -1.0, 1.0), f);
            let (ad, bd, wd, bvd) = (
                dev.upload(&a)?,
                dev.upload(&b)?,
                dev.upload(&w)?,
                dev.upload(&bv)?,
            );
            let mut scratch = junk(dev, rng, s.x_len())?;
            let mut y = junk(dev, rng, s.y_len())?;
            let bias_d = bias.then_some(&bvd);
            dev.conv2d_forward_cat(&s, &cat, (&ad, &bd), &wd, bias_d, act, &mut y, &mut scratch)?;
            let x64 = crate::ops::concat::reference::concat_channels(&cat, &f64s(&a), &f64s(&b))?;
            let b64 = f64s(&bv);
            let ry = reference::conv2d_forward(&s, &x64, &f64s(&w), bias.then_some(&b64[..]), act)?;
            Ok(vec![out("y", dev.download(&y)?, ry)])
        };
        Some(run(rng))
    }
}

/// The concatenation shape of a convolution's input whose first part has `c_a` channels.
fn cat_shape(s: &Conv2dShape, c_a: usize) -> crate::ops::ConcatShape {
    crate::ops::ConcatShape {
        n: s.n,
        c_a,
        c_b: s.c_in - c_a,
        plane: s.h * s.w,
    }
}
