//! The time model over traced launches (`satcolor perfmodel`, the emu-counters build with
//! nvcc's figures): useful work against hand counts, totals against the rows and the
//! published peaks, sampled blocks against every block, a training iteration's work
//! linear in the batch, and the command's JSON and errors.
#![cfg(all(feature = "emu-counters", feature = "cuda"))]

use satcolor::device::emu::{EmuExec, EmuOptions, LaunchCounters};
use satcolor::device::gpu::{GpuDevice, Variants};
use satcolor::device::precision::Precision;
use satcolor::device::Device;
use satcolor::model::ModelConfig;
use satcolor::ops::{Act, Conv2dShape};
use satcolor::perf::gpu::{self, GpuSpec};
use satcolor::perf::report::{report, Report};
use satcolor::perf::sass::kernel_code;
use satcolor::perf::trace::{trace, Trace, Workload};

fn sm90() -> Vec<&'static GpuSpec> {
    gpu::for_arch("sm_90")
}

fn model(launches: &[LaunchCounters]) -> Report {
    report(launches, "sm_90", &sm90(), &|k| kernel_code(k, "sm_90")).unwrap()
}

/// An awkward convolution: forward, input gradient and weight gradient (no bias).
const S: Conv2dShape = Conv2dShape {
    n: 2,
    c_in: 3,
    h: 13,
    w: 17,
    c_out: 5,
    k: 5,
    stride: 1,
    pad: 2,
};

/// The three launches of one convolution's passes, every block or `sample` of them.
fn conv_launches(sample: u32) -> Vec<LaunchCounters> {
    let dev = GpuDevice::new(
        EmuExec::new(EmuOptions {
            sample_blocks: sample,
            ..EmuOptions::default()
        })
        .unwrap(),
    );
    let x = dev.upload(&vec![0.25; S.x_len()]).unwrap();
    let w = dev.upload(&vec![0.5; S.w_len()]).unwrap();
    let mut y = dev.alloc_zeros(S.y_len()).unwrap();
    let mut dx = dev.alloc_zeros(S.x_len()).unwrap();
    let mut dw = dev.alloc_zeros(S.w_len()).unwrap();
    dev.exec().take_counters();
    dev.conv2d_forward(&S, &x, &w, None, Act::Identity, &mut y)
        .unwrap();
    dev.conv2d_backward_input(&S, &w, &y, &mut dx).unwrap();
    dev.conv2d_backward_weight(&S, &x, &y, &mut dw, None)
        .unwrap();
    dev.exec().take_counters()
}

#[test]
fn a_convolutions_useful_work_and_totals_by_hand() {
    let launches = conv_launches(0);
    let kernels: Vec<&str> = launches.iter().map(|l| l.kernel).collect();
    // The implicit GEMM's 256 × 16 tile for 5 output channels (K = 3·25, one split), 256 × 4
    // for the input gradient's 3 (K = 5·25 = 125: 16 steps of 8, split in 2 of at least 8,
    // added by sum_slices); the weight gradient (5 rows) in 32 × 128 tiles, K = 2·13·17 =
    // 442 split in 3 (56 steps of 8, at least 16 each), added by sum_slices.
    assert_eq!(
        kernels,
        [
            "conv_igemm_256x16",
            "conv_igemm_256x4",
            "sum_slices",
            "conv_wgrad_igemm_32x128",
            "sum_slices"
        ]
    );
    let r = model(&launches);
    // Each pass: n·c_out·h_out·w_out outputs × c_in·k² taps, 2 flops each; sum_slices
    // one flop per element of each slice: 2 of dx's 2·3·13·17 values, 3 of the 375 weights.
    let pass = 2.0 * (2 * 5 * 13 * 17 * 3 * 25) as f64;
    let slices = (2 * 2 * 3 * 13 * 17 + 3 * 5 * 3 * 25) as f64;
    assert!(
        (r.useful_gflop * 1e9 / (3.0 * pass + slices) - 1.0).abs() < 1e-12,
        "{}",
        r.useful_gflop
    );
    assert_eq!(r.rows.len(), 5);
    for (t, g) in r.totals.iter().zip(sm90()) {
        let sum: f64 = r
            .rows
            .iter()
            .flat_map(|row| row.times.iter().filter(|x| x.gpu == g.name))
            .map(|x| x.micros)
            .sum();
        assert!((t.predicted_ms - sum / 1e3).abs() < 1e-9);
        let fp32 = (3.0 * pass + slices) / (g.fp32_tflops * 1e12) * 1e3;
        assert!((t.fp32_floor_ms - fp32).abs() < 1e-12);
        // The convolutions' flops could run on tensor cores, the sums not.
        let tf32 = (3.0 * pass / (g.tf32_tflops * 1e12) + slices / (g.fp32_tflops * 1e12)) * 1e3;
        assert!((t.tf32_floor_ms - tf32).abs() < 1e-12);
        // Tiny launches: each at least a launch, and far above the floors.
        assert!(t.predicted_ms >= 5.0 * 2.5e-3 && t.over_fp32_floor > 1.0);
    }
    for row in r.rows.iter().filter(|row| row.kernel.contains("igemm")) {
        // 256-row tiles over 442 pixels × 5 or 3 channels: lanes idle, executed ≥ useful.
        assert!(row.executed_per_useful.unwrap() >= 1.0, "{row:?}");
        assert!(row.sectors_per_request.unwrap() >= 1.0);
    }
}

#[test]
fn sampled_blocks_predict_what_every_block_does() {
    let all = model(&conv_launches(0));
    let sampled = model(&conv_launches(2));
    for (a, s) in all.rows.iter().zip(&sampled.rows) {
        let (ta, ts) = (a.times[0].micros, s.times[0].micros);
        assert!((ts / ta - 1.0).abs() < 0.15, "{}: {ts} vs {ta}", a.kernel);
    }
}

#[test]
fn a_training_iterations_work_is_linear_in_the_batch() {
    let cfg = ModelConfig::preset("seed").unwrap();
    let one = trace(&cfg, 1, Workload::Train, 1, Precision::Fp32).unwrap();
    let two = trace(&cfg, 2, Workload::Train, 1, Precision::Fp32).unwrap();
    // Every kernel runs as often at either batch, except the split-K finishing
    // (`sum_slices`, `sum_slices_pair`), whose launches (none, one or two) follow the
    // splits the shape picks.
    let others = |t: &Trace| {
        t.launches
            .iter()
            .filter(|l| !l.kernel.starts_with("sum_slices"))
            .count()
    };
    assert_eq!(others(&one), others(&two));
    let (r1, r2) = (model(&one.launches), model(&two.launches));
    let matmul = |r: &Report| -> f64 {
        r.rows
            .iter()
            .filter(|row| row.executed_per_useful.is_some())
            .map(|row| row.useful_gflop)
            .sum()
    };
    assert!((matmul(&r2) / matmul(&r1) - 2.0).abs() < 1e-9);
    for t in r2.totals.iter() {
        assert!(t.predicted_ms > t.fp32_floor_ms && t.fp32_floor_ms > t.tf32_floor_ms);
        assert!((t.hours_per_run - t.predicted_ms * 200_000.0 / 3.6e6).abs() < 1e-9);
    }
    // An inference batch is G's forward pass alone: fewer launches, less work.
    let inf = model(
        &trace(&cfg, 2, Workload::Infer, 1, Precision::Fp32)
            .unwrap()
            .launches,
    );
    assert!(inf.launches < r2.launches / 4 && inf.useful_gflop < r2.useful_gflop / 2.0);
}

#[cfg(feature = "cli")]
#[test]
fn the_command_prints_json_and_refuses_bad_settings() {
    let exe = env!("CARGO_BIN_EXE_satcolor");
    let out = std::process::Command::new(exe)
        .args([
            "perfmodel",
            "--preset",
            "small",
            "--batch",
            "2",
            "--sample-blocks",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["arch"], "sm_90");
    assert_eq!(v["variants"], Variants::chosen().spec());
    for part in ["train", "infer"] {
        let totals = v[part]["totals"].as_array().unwrap();
        assert_eq!(totals.len(), 2, "h100 and h200");
        assert!(totals[0]["predicted_ms"].as_f64().unwrap() > 0.0);
        assert!(!v[part]["rows"].as_array().unwrap().is_empty());
    }
    for (args, says) in [
        (vec!["perfmodel", "--arch", "sm_75"], "--arch sm_75"),
        (vec!["perfmodel", "--batch", "0"], "at least one window"),
        (vec!["perfmodel", "--preset", "huge"], "huge"),
    ] {
        let out = std::process::Command::new(exe)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    let out = std::process::Command::new(exe)
        .args(["perfmodel", "--sample-blocks", "1"])
        .env("SATCOLOR_KERNELS", "conv2d_forward=v7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no variant `v7`"));
}
