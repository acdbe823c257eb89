//! The useful work of one kernel launch, from its arguments: the floating-point operations
//! the op needs (a multiply-add counts 2) and the bytes it must move at least (every buffer
//! argument once). "Useful" is the op's arithmetic, whatever a kernel executes to get it:
//! the time model compares the two.

use crate::device::gpu::variants::slot_of;
use crate::device::gpu::ArgValue;

/// What one launch must do at least.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Work {
    /// Floating-point operations of the op (a multiply-add is 2).
    pub flops: f64,
    /// Bytes of its buffer arguments, each read or written once.
    pub bytes: f64,
    /// Whether the flops are multiply-adds of a convolution or matrix product, which tensor
    /// cores could run (the TF32 floor counts only these).
    pub matmul: bool,
}

/// Nominal floating-point operations per element of the elementwise, reduction and
/// optimizer kernels (their cost is memory; these only keep the totals honest).
const PER_ELEMENT: &[(&str, &str, f64)] = &[
    ("act_backward", "n", 1.0),
    ("add_assign", "n", 1.0),
    ("add_scaled", "n", 2.0),
    ("scale_in_place", "n", 1.0),
    ("concat_channels", "total", 0.0),
    ("split_channels", "total", 0.0),
    ("convex_skip_forward", "n", 3.0),
    ("convex_skip_backward", "n", 6.0),
    ("bce_with_logits", "n", 8.0),
    ("mse", "n", 3.0),
    ("l2_penalty", "n", 2.0),
    ("sgd_step", "n", 5.0),
    ("adam_step", "n", 13.0),
    ("sum_partials", "n", 1.0),
    ("sum_squares_partials", "n", 2.0),
    ("reduce_partials", "count", 1.0),
];

/// The useful work of a launch of `kernel` with `args` (by parameter name, as the emulator
/// records them); an error names a kernel this table does not know or an argument it lacks.
pub fn useful_work(kernel: &str, args: &[(&'static str, ArgValue)]) -> Result<Work, String> {
    // A kernel variant with v1's parameters does the work of its slot's v1 kernel, and a
    // 16-bit storage instance that of its f32 kernel (its bytes are the buffers' own).
    let kernel = slot_of(kernel).map_or(kernel, |s| s.name);
    let kernel = kernel.strip_suffix("_h16").unwrap_or(kernel);
    let int = |name: &str| -> Result<f64, String> {
        match args.iter().find(|(n, _)| *n == name) {
            Some((_, ArgValue::I32(v))) => Ok(f64::from(*v)),
            _ => Err(format!("{kernel}: no integer argument `{name}`")),
        }
    };
    let len = |name: &str| -> Result<f64, String> {
        match args.iter().find(|(n, _)| *n == name) {
            Some((_, ArgValue::Buffer { len, .. })) => Ok(*len as f64),
            _ => Err(format!("{kernel}: no buffer argument `{name}`")),
        }
    };
    // sum_slices_batch's empty slots (length 0) pass buffers they never touch, and so do
    // the convolutions a mask (mask_act 0), a pooled output (pool 0) or a second input or
    // output half (cat_in, cat_out 0) they do not use, and linear_backward a dx (has_dx 0).
    let stand_in = |name: &str| {
        let slot = name.chars().last().filter(char::is_ascii_digit);
        let unused = |flag: &str| int(flag) == Ok(0.0);
        match name {
            "mask" => unused("mask_act"),
            "pooled" => unused("pool"),
            "x2" => unused("cat_in"),
            "y2" => unused("cat_out"),
            "dx" if kernel == "linear_backward" => unused("has_dx"),
            _ => {
                kernel == "sum_slices_batch"
                    && slot.is_some_and(|d| int(&format!("len{d}")) == Ok(0.0))
            }
        }
    };
    let bytes: f64 = args
        .iter()
        .map(|(name, a)| match a {
            ArgValue::Buffer { .. } if stand_in(name) => 0.0,
            ArgValue::Buffer { len, elem, .. } => (elem.bytes() * *len) as f64,
            _ => 0.0,
        })
        .sum();
    let matmul = |flops: f64| {
        Ok(Work {
            flops,
            bytes,
            matmul: true,
        })
    };
    match kernel {
        // y[n, c_out, h_out, w_out] = Σ over c_in·k·k of x·w.
        "conv2d_forward" => {
            let n = len("x")? / (int("c_in")? * int("h")? * int("wd")?);
            let taps = int("c_in")? * int("k")? * int("k")?;
            matmul(2.0 * n * int("c_out")? * int("h_out")? * int("w_out")? * taps)
        }
        // The implicit GEMM: a correlation as conv2d_forward, a transposed convolution as
        // conv_transpose2d_forward.
        k if k.starts_with("conv_igemm_") => {
            let n = int("n")?;
            let kk = int("k")? * int("k")?;
            if int("transposed")? != 0.0 {
                let inputs = n * int("c_in")? * int("h")? * int("wd")?;
                matmul(2.0 * inputs * int("c_out")? * kk)
            } else {
                let pixels = n * int("h_out")? * int("w_out")?;
                matmul(2.0 * pixels * int("c_out")? * int("c_in")? * kk)
            }
        }
        // The patch-staged convolution: a stride-1 correlation (transposed ones as the
        // correlation with flipped weights).
        k if k.starts_with("conv_patch_") => {
            let n = int("n")?;
            let kk = int("k")? * int("k")?;
            let pixels = n * int("h_out")? * int("w_out")?;
            matmul(2.0 * pixels * int("c_out")? * int("c_in")? * kk)
        }
        // Every input pixel meets every weight of its input channel once.
        "conv_transpose2d_forward" => {
            let pixels = len("x")?;
            matmul(2.0 * pixels * int("c_out")? * int("k")? * int("k")?)
        }
        // dw[c_o, c_i, k, k] = Σ over n·gh·gw of g·x.
        k if k == "conv2d_weight_grad"
            || k.starts_with("conv_wgrad_igemm_")
            || k.starts_with("conv_wgrad_patch_") =>
        {
            let taps = int("c_i")? * int("k")? * int("k")?;
            matmul(2.0 * int("n")? * int("c_o")? * int("gh")? * int("gw")? * taps)
        }
        "linear_forward" => {
            let rows = len("x")? / int("k")?;
            matmul(2.0 * rows * int("k")? * int("m")?)
        }
        // dw (and dx with has_dx) as GEMMs; db's n·m additions are left out.
        "linear_backward" => {
            let gemms = 1.0 + int("has_dx")?;
            matmul(gemms * 2.0 * int("n")? * int("k")? * int("m")?)
        }
        // One comparison per input element.
        "max_pool2d_forward" | "max_pool2d_backward" => Ok(Work {
            flops: int("planes")? * int("h")? * int("wd")?,
            bytes,
            matmul: false,
        }),
        // (slices − 1)·len additions, and a store of each sum.
        "sum_slices" => Ok(Work {
            flops: int("slices")? * int("len")?,
            bytes,
            matmul: false,
        }),
        // sum_slices of planes·h·wd values, then a comparison per value.
        "sum_slices_pool" => Ok(Work {
            flops: (int("slices")? + 1.0) * int("planes")? * int("h")? * int("wd")?,
            bytes,
            matmul: false,
        }),
        "sum_slices_pair" => Ok(Work {
            flops: int("slices")? * (int("len")? + int("len_b")?),
            bytes,
            matmul: false,
        }),
        // Each slot as sum_slices: slices·len.
        "sum_slices_batch" => {
            let mut flops = 0.0;
            for s in 0..8 {
                flops += int(&format!("slices{s}"))? * int(&format!("len{s}"))?;
            }
            Ok(Work {
                flops,
                bytes,
                matmul: false,
            })
        }
        "channel_sum" => Ok(Work {
            flops: len("g")?,
            bytes,
            matmul: false,
        }),
        _ => {
            let &(_, count, per) = PER_ELEMENT
                .iter()
                .find(|(k, _, _)| *k == kernel)
                .ok_or_else(|| format!("{kernel}: the time model knows no work formula"))?;
            Ok(Work {
                flops: per * int(count)?,
                bytes,
                matmul: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::gpu::Elem;
    use crate::kernels::{ParamKind, KERNELS};

    fn args(pairs: &[(&'static str, ArgValue)]) -> Vec<(&'static str, ArgValue)> {
        pairs.to_vec()
    }

    fn buf(len: usize) -> ArgValue {
        ArgValue::Buffer {
            len,
            elem: Elem::F32,
            written: false,
        }
    }

    #[test]
    fn every_kernel_has_a_formula_over_its_own_parameters() {
        for k in KERNELS {
            let a: Vec<(&'static str, ArgValue)> = k
                .params
                .iter()
                .map(|p| {
                    let v = match p.kind {
                        ParamKind::ConstF32Ptr | ParamKind::MutF32Ptr => buf(4096),
                        ParamKind::ConstU16Ptr | ParamKind::MutU16Ptr => ArgValue::Buffer {
                            len: 4096,
                            elem: Elem::U16,
                            written: false,
                        },
                        ParamKind::MutI32Ptr => ArgValue::Buffer {
                            len: 4096,
                            elem: Elem::I32,
                            written: true,
                        },
                        ParamKind::I32 => ArgValue::I32(2),
                        ParamKind::F32 => ArgValue::F32(0.5),
                    };
                    (p.name, v)
                })
                .collect();
            let w = useful_work(k.name, &a).unwrap_or_else(|e| panic!("{e}"));
            let bytes: usize = k
                .params
                .iter()
                .map(|p| match p.kind {
                    ParamKind::ConstF32Ptr | ParamKind::MutF32Ptr => 4096 * 4,
                    ParamKind::ConstU16Ptr | ParamKind::MutU16Ptr => 4096 * 2,
                    ParamKind::MutI32Ptr => 4096 * 4,
                    _ => 0,
                })
                .sum();
            assert_eq!(w.bytes, bytes as f64, "{}", k.name);
        }
        assert!(useful_work("no_such_kernel", &[]).is_err());
    }

    #[test]
    fn convolution_flops_by_hand() {
        // D's last conv of the seed preset at batch 16: 512 → 1024 on 4×4, k 3, pad 1:
        // 16·1024·4·4 outputs × 512·9 taps × 2.
        let fwd = useful_work(
            "conv2d_forward",
            &args(&[
                ("x", buf(16 * 512 * 16)),
                ("w", buf(1024 * 512 * 9)),
                ("bias", buf(1024)),
                ("y", buf(16 * 1024 * 16)),
                ("c_in", ArgValue::I32(512)),
                ("h", ArgValue::I32(4)),
                ("wd", ArgValue::I32(4)),
                ("c_out", ArgValue::I32(1024)),
                ("k", ArgValue::I32(3)),
                ("h_out", ArgValue::I32(4)),
                ("w_out", ArgValue::I32(4)),
            ]),
        )
        .unwrap();
        assert_eq!(fwd.flops, 2.0 * 16.0 * 1024.0 * 16.0 * 512.0 * 9.0);
        assert!(fwd.matmul);
        assert_eq!(
            fwd.bytes,
            4.0 * (16 * 512 * 16 + 1024 * 512 * 9 + 1024 + 16 * 1024 * 16) as f64
        );
        // Its weight gradient has the same multiply-adds.
        let wg = useful_work(
            "conv2d_weight_grad",
            &args(&[
                ("n", ArgValue::I32(16)),
                ("c_o", ArgValue::I32(1024)),
                ("gh", ArgValue::I32(4)),
                ("gw", ArgValue::I32(4)),
                ("c_i", ArgValue::I32(512)),
                ("k", ArgValue::I32(3)),
            ]),
        )
        .unwrap();
        assert_eq!(wg.flops, fwd.flops);
        // A transposed conv 3 → 2 channels, k 5, on a 7×9 input of batch 2.
        let ct = useful_work(
            "conv_transpose2d_forward",
            &args(&[
                ("x", buf(2 * 3 * 7 * 9)),
                ("c_out", ArgValue::I32(2)),
                ("k", ArgValue::I32(5)),
            ]),
        )
        .unwrap();
        assert_eq!(ct.flops, 2.0 * (2 * 3 * 7 * 9) as f64 * 2.0 * 25.0);
        // A missing argument is named.
        let e = useful_work("conv2d_weight_grad", &args(&[("n", ArgValue::I32(1))])).unwrap_err();
        assert!(
            e.starts_with("conv2d_weight_grad: no integer argument `c_"),
            "{e}"
        );
    }
}
