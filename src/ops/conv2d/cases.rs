//! The parity cases of the conv2d family (see [`crate::ops::registry`]): seeded random
//! inputs at awkward sizes and at the shapes the model presets use, run on a device and on
//! the f64 reference.

use super::reference;
use super::Conv2dShape;
use crate::device::precision::Half;
use crate::device::Device;
use crate::ops::registry::{no_part, BenchRun, Op, OpBench, OpCase, ALL, FORWARD};
use crate::ops::Act;
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
