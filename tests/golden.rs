//! Every backend against the PyTorch golden files in tests/golden/ (see
//! tests/golden_support/ for the file format, the mapping onto the `Device` contracts and
//! the error metric): `cpu` always, `emu` with its feature, `cuda` with `--ignored` where a
//! GPU is present (scripts/test.sh does; they fail where none works). Also checks the golden
//! files themselves.

mod golden_support;

use golden_support::{assert_golden, golden_dir, load, max_rel_err, OPS};
use satcolor::device::cpu::CpuDevice;

/// The emulator running kernels/*.cu on the CPU through the shared launch code, in five
/// runs: the default kernel variants with threads and blocks in order, the same with both
/// shuffled, every slot's v1 kernel (still selectable, so still checked), and the
/// convolutions on emulated tensor cores in TF32 (held to TF32's tolerance) and 3xTF32.
#[cfg(feature = "emu")]
fn on_emu(op: &str) {
    use satcolor::device::emu::{EmuExec, EmuOptions, Order};
    use satcolor::device::gpu::{variants::SLOTS, GpuDevice, Variants};
    use satcolor::device::precision::Precision;
    let v1 = SLOTS.iter().fold(Variants::chosen(), |v, s| {
        v.with(s.name, "v1").expect("every slot has v1")
    });
    let shuffled = EmuOptions {
        thread_order: Order::Shuffle(0x601d),
        block_order: Order::Shuffle(0x5eed),
        ..EmuOptions::default()
    };
    for (opts, variants, precision) in [
        (EmuOptions::default(), Variants::chosen(), Precision::Fp32),
        (shuffled, Variants::chosen(), Precision::Fp32),
        (EmuOptions::default(), v1, Precision::Fp32),
        (EmuOptions::default(), Variants::chosen(), Precision::Tf32),
        (shuffled, Variants::chosen(), Precision::Tf32x3),
    ] {
        let exec = EmuExec::new(opts).expect("emu opens");
        assert_golden(
            &GpuDevice::with_variants(exec, variants).with_precision(precision),
            op,
        );
    }
}

/// Runs `op`'s goldens on GPU 0.
#[cfg(feature = "cuda")]
fn on_cuda(op: &str) {
    let exec = satcolor::device::cuda::CudaExec::new(0).expect("a CUDA GPU (run with --ignored)");
    assert_golden(&satcolor::device::gpu::GpuDevice::new(exec), op);
}

macro_rules! golden_tests {
    ($($op:ident,)*) => {
        mod cpu {
            use super::*;
            $(
                #[test]
                fn $op() {
                    assert_golden(&CpuDevice::new(), stringify!($op));
                }
            )*
        }
        #[cfg(feature = "emu")]
        mod emu {
            $(
                #[test]
                fn $op() {
                    super::on_emu(stringify!($op));
                }
            )*
        }
        #[cfg(feature = "cuda")]
        mod cuda {
            $(
                #[test]
                #[ignore = "needs a CUDA GPU: scripts/test.sh runs it where nvidia-smi lists one"]
                fn $op() {
                    super::on_cuda(stringify!($op));
                }
            )*
        }
    };
}

golden_tests! {
    conv2d,
    conv_transpose2d,
    max_pool2d,
    concat_channels,
    activation,
    convex_skip,
    linear,
    bce_with_logits,
    mse,
    l2_penalty,
    sgd,
    adam,
}

#[test]
fn every_golden_file_has_a_runner_and_its_provenance() {
    let mut stems: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "safetensors").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    stems.sort();
    let mut ops: Vec<String> = OPS.iter().map(|s| s.to_string()).collect();
    ops.sort();
    assert_eq!(stems, ops, "golden files and golden runners differ");
    for op in OPS {
        let g = load(op);
        assert_eq!(g.meta.get("op").map(String::as_str), Some(*op));
        assert!(
            g.meta.get("torch_version").is_some_and(|v| !v.is_empty()),
            "{op}: no torch version"
        );
        assert!(
            g.meta.get("seed").is_some_and(|v| v.parse::<u64>().is_ok()),
            "{op}: no seed"
        );
        assert!(!g.cases.is_empty(), "{op}: no cases");
    }
}

#[test]
fn golden_inputs_are_exact_f32_values() {
    // The script draws inputs in f32: widening them back must be lossless, or the backends
    // would be compared on different inputs than torch saw.
    let g = load("conv2d");
    for case in &g.cases {
        for role in ["x", "w", "dy"] {
            let t = case.f64(role);
            assert!(
                t.iter().all(|&v| (v as f32) as f64 == v),
                "{}.{role} is not f32-exact",
                case.name
            );
        }
    }
}

#[test]
fn the_metric_catches_an_error_just_above_tolerance() {
    let want = [4.0, -2.0, 0.5];
    let exact: Vec<f32> = want.iter().map(|&v| v as f32).collect();
    assert_eq!(max_rel_err(&exact, &want), 0.0);
    let mut off = exact.clone();
    off[2] += 4.0 * 2e-5; // 2e-5 of max|g| = 4
    let e = max_rel_err(&off, &want);
    assert!(e > golden_support::TOLERANCE && e < 3e-5, "{e}");
    off[1] = f32::NAN;
    assert_eq!(max_rel_err(&off, &want), f64::INFINITY);
    assert_eq!(max_rel_err(&exact[..2], &want), f64::INFINITY);
}
