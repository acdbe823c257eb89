//! The parity cases of the conv_transpose2d family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::ConvTranspose2dShape;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{no_part, BenchRun, Op, OpBench, OpCase, ALL};
use crate::ops::Act;
use crate::selftest::{act_name, f64s, junk, out, rounded, Output, Rng};
use crate::Result;

/// conv_transpose2d forward, input gradient and weight gradient; parameters (shape, activation, bias).
pub struct ConvTranspose2d;

impl Op for ConvTranspose2d {
    const NAME: &'static str = "conv_transpose2d";
    const FAMILY: &'static str = "conv_transpose2d";
    const METHODS: &'static [(&'static str, &'static str)] = &[
        ("conv_transpose2d_forward", "y"),
        ("conv_transpose2d_backward_input", "dx"),
        ("conv_transpose2d_backward_weight", "dw"),
    ];
    type Params = (ConvTranspose2dShape, Act, bool);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let mut v = Vec::new();
        let (relu, leaky, id) = (Act::Relu, Act::LeakyRelu(0.2), Act::Identity);
        // conv_transpose2d: (n, c_in, c_out, h, w, k, stride, pad, out_pad, act, bias, quick)
        #[rustfmt::skip]
        let deconvs = [
            (5, 4, 3, 13, 17, 5, 2, 2, 1, relu, true, true),  // small preset deconv
            (2, 8, 3, 16, 16, 9, 1, 4, 0, relu, true, true),  // seed preset deconv
            (2, 6, 3, 8, 11, 9, 2, 4, 1, relu, true, false),  // k = 9, stride 2
            (1, 3, 1, 7, 9, 3, 2, 1, 0, id, false, true),     // C = 1, no bias
            (3, 2, 5, 6, 5, 1, 2, 0, 1, id, true, false),     // k = 1, stride 2
            (2, 5, 3, 32, 32, 5, 2, 2, 1, relu, true, false), // 64×64 output
            (1, 1, 3, 5, 7, 3, 1, 0, 0, leaky, true, false),  // no padding: larger output
            (2, 8, 4, 8, 8, 2, 2, 0, 0, id, true, true),      // U-Net up: 2×2, stride 2
            (3, 5, 3, 7, 5, 2, 2, 0, 0, id, true, false),     // the same at odd sizes
            (1, 16, 8, 32, 32, 2, 2, 0, 0, id, true, false),  // the unet preset's first up
            (2, 3, 70, 5, 4, 4, 3, 1, 2, leaky, true, false), // stride 3: 9 parity classes
            (2, 20, 24, 9, 11, 4, 2, 1, 1, relu, true, false), // 20 and 24 channels, stride 2
            (1, 13, 27, 11, 18, 9, 1, 4, 0, leaky, true, false), // k = 9, stride 1: 27 channels
            (1, 9, 5, 7, 20, 9, 1, 6, 0, relu, true, false),   // k = 9, pad 6: a 3×22 output
            (1, 4, 10, 14, 15, 9, 1, 9, 0, id, false, false),  // pad 9 > k − 1: a cropped 4×5
            (2, 6, 70, 17, 16, 3, 1, 1, 0, relu, true, false), // 3×3, stride 1: 70 channels
        ];
        for (n, c_in, c_out, h, w, k, stride, pad, out_pad, act, bias, quick) in deconvs {
            let s = ConvTranspose2dShape {
                n,
                c_in,
                h,
                w,
                c_out,
                k,
                stride,
                pad,
                out_pad,
            };
            let shape = format!(
                "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} p{pad} op{out_pad} {}{}",
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
            dev.conv_transpose2d_forward(&s, &xd, &wd, bias.then_some(&bd), act, &mut y)?;
            let b64 = f64s(&b);
            let ry = reference::conv_transpose2d_forward(
                &s,
                &f64s(&x),
                &f64s(&w),
                bias.then_some(&b64[..]),
                act,
            )?;
            Ok(vec![out("y", dev.download(&y)?, ry)])
        };
        Some(run(rng))
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
        dev.conv_transpose2d_forward(&s, &xd, &wd, bias.then_some(&bd), act, &mut y)?;
        let mut dx = junk(dev, rng, s.x_len())?;
        dev.conv_transpose2d_backward_input(&s, &wd, &dyd, &mut dx)?;
        let (mut dw, mut db) = (junk(dev, rng, s.w_len())?, junk(dev, rng, s.c_out)?);
        dev.conv_transpose2d_backward_weight(&s, &xd, &dyd, &mut dw, bias.then_some(&mut db))?;
        let (x64, w64, b64, dy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&dy));
        let ry =
            reference::conv_transpose2d_forward(&s, &x64, &w64, bias.then_some(&b64[..]), act)?;
        let rdx = reference::conv_transpose2d_backward_input(&s, &w64, &dy64)?;
        let (rdw, rdb) = reference::conv_transpose2d_backward_weight(&s, &x64, &dy64)?;
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

    fn benches() -> Vec<OpBench<Self::Params>> {
        let deconv = |c_in, hw, k, stride, pad, out_pad| ConvTranspose2dShape {
            n: 16,
            c_in,
            h: hw,
            w: hw,
            c_out: 3,
            k,
            stride,
            pad,
            out_pad,
        };
        [
            ("seed", "deconv 32→3 k9", deconv(32, 64, 9, 1, 4, 0)),
            ("small", "deconv 16→3 k5 s2", deconv(16, 32, 5, 2, 2, 1)),
        ]
        .into_iter()
        .map(|(group, name, s)| OpBench {
            group,
            name: name.into(),
            params: (s, Act::Relu, true),
            work: (s.x_len() * s.c_out * s.k * s.k) as u64,
            parts: ALL,
        })
        .collect()
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
                Box::new(move || {
                    dev.conv_transpose2d_forward(&s, &x, &w, bias.then_some(&b), act, &mut y)
                })
            }
            "backward_input" => {
                let mut dx = dev.alloc_zeros(s.x_len())?;
                Box::new(move || dev.conv_transpose2d_backward_input(&s, &w, &dy, &mut dx))
            }
            "backward_weight" => {
                let (mut dw, mut db) = (dev.alloc_zeros(s.w_len())?, dev.alloc_zeros(s.c_out)?);
                Box::new(move || {
                    dev.conv_transpose2d_backward_weight(
                        &s,
                        &x,
                        &dy,
                        &mut dw,
                        bias.then_some(&mut db),
                    )
                })
            }
            _ => return Err(no_part(Self::NAME, part)),
        })
    }
}

/// conv_transpose2d's input gradient through the activation whose output y is
/// ([`Device::conv_transpose2d_backward_input_act`]); parameters (shape, activation): the
/// U-Net's 2×2 stride-2 up-sampling (a stride-2 correlation, one parity class: the implicit
/// GEMM masks), at odd sizes, and a 3×3 stride-1 one (the patch-staged kernel).
pub struct ConvTranspose2dInputAct;

impl Op for ConvTranspose2dInputAct {
    const NAME: &'static str = "conv_transpose2d_input_act";
    const FAMILY: &'static str = "conv_transpose2d";
    const METHODS: &'static [(&'static str, &'static str)] =
        &[("conv_transpose2d_backward_input_act", "dx")];
    type Params = (ConvTranspose2dShape, Act);

    fn cases() -> Vec<OpCase<Self::Params>> {
        let (relu, leaky) = (Act::Relu, Act::LeakyRelu(0.2));
        // (n, c_in, c_out, h, w, k, stride, pad, act, quick); dx has c_in channels.
        #[rustfmt::skip]
        let deconvs = [
            (2, 32, 16, 16, 16, 2, 2, 0, relu, true),   // the unet preset's 32 → 16 up-sampling
            (3, 5, 3, 7, 5, 2, 2, 0, leaky, false),     // odd sizes
            (2, 20, 6, 17, 16, 3, 1, 1, relu, false),   // 3×3, stride 1
        ];
        deconvs
            .into_iter()
            .map(
                |(n, c_in, c_out, h, w, k, stride, pad, act, quick)| OpCase {
                    shape: format!(
                        "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} p{pad} dx·{}'",
                        act_name(act)
                    ),
                    params: (
                        ConvTranspose2dShape {
                            n,
                            c_in,
                            h,
                            w,
                            c_out,
                            k,
                            stride,
                            pad,
                            out_pad: 0,
                        },
                        act,
                    ),
                    quick,
                },
            )
            .collect()
    }

    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>> {
        let (s, act) = *p;
        let (w, dy) = (rng.vec(s.w_len(), -1.0, 1.0), rng.vec(s.y_len(), -1.0, 1.0));
        let y = crate::ops::conv2d::activation_output(act, s.x_len(), rng);
        let (wd, dyd, yd) = (dev.upload(&w)?, dev.upload(&dy)?, dev.upload(&y)?);
        let mut dx = junk(dev, rng, s.x_len())?;
        dev.conv_transpose2d_backward_input_act(&s, &wd, &dyd, (act, &yd), &mut dx)?;
        let rdx = reference::conv_transpose2d_backward_input(&s, &f64s(&w), &f64s(&dy))?;
        let rdx = crate::ops::activation::reference::act_backward(act, &f64s(&y), &rdx)?;
        Ok(vec![out("dx", dev.download(&dx)?, rdx)])
    }
}
