//! The kernel lab, in the spirit of llm.c's dev/cuda: every variant of every kernel slot
//! (`device::gpu::variants::SLOTS`) is
//! 1. validated on the emulator against the parity cases of the ops that run the slot, in
//!    a shuffled thread and block order; a variant that fails is not timed;
//! 2. run at the slot's benchmark parts (the registry's shapes of the model presets) through
//!    a recording executor: on a GPU when `cuda:0` opens, timed (mean of
//!    `SATCOLOR_BENCH_RUNS` runs after 3 warm-up runs, default 20) with the achieved TFLOP/s
//!    and GB/s of the useful work of the recorded launches (`perf::work`); without a GPU,
//!    recorded on an executor that runs nothing, for that useful work only (no time: the
//!    emulator's time says nothing about a GPU's);
//! 3. with the `emu-counters` feature, traced on the counting emulator at the same parts:
//!    sectors and wavefronts per request, and the time model's prediction on an H100 SXM
//!    (`satcolor perfmodel`'s model; a prediction).
//!
//! Run: `cargo bench --bench kernels` (add `--features emu-counters` for the counters).
//! The variant the device uses is chosen in src/device/gpu/variants.rs and overridden by
//! `SATCOLOR_KERNELS=slot=variant`. The implicit-GEMM variants run in every precision
//! (`fp32`, `tf32`, `3xtf32`, and at their forward parts the 16-bit storages `bf16` and
//! `fp16`; `SATCOLOR_PRECISION=tf32,fp32` picks some), each validated against its own
//! tolerance; the v1 kernels in FP32 only.

use satcolor::device::emu::{EmuExec, EmuOptions, Order};
use satcolor::device::gpu::variants::{Slot, SLOTS};
use satcolor::device::gpu::{GpuDevice, KernelExec, Variants};
use satcolor::device::precision::Precision;
use satcolor::device::Device;
use satcolor::kernels::Kernel;
use satcolor::ops::registry::{all_benches, CaseKind, OpBench};
use satcolor::perf::record::{total_work, Dry, Recording};
use satcolor::selftest::{self, Rng};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let runs: u32 = std::env::var("SATCOLOR_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(20);
    let mut failed = 0;
    for slot in SLOTS {
        println!(
            "slot {} (ops {}; the device uses {}, SATCOLOR_KERNELS overrides)",
            slot.name,
            slot.ops.join(", "),
            slot.chosen
        );
        let cases = selftest::slot_cases(slot);
        for (variant, kernel) in slot.variants {
            let variants = Variants::chosen().with(slot.name, variant)?;
            for p in precisions(kernel)? {
                println!("  {variant} ({}), {p}", kernel.name);
                if parts(slot, p).is_empty() {
                    println!("    not run: {p} stores 16-bit activations for inference, which has no part of this slot");
                    continue;
                }
                if !validate(&variants, p, &cases)? {
                    failed += 1;
                    continue;
                }
                measure(slot, &variants, p, runs)?;
                if EmuExec::has_counters() {
                    counters(slot, &variants, p)?;
                }
            }
        }
    }
    if !EmuExec::has_counters() {
        println!(
            "(counters and predicted times: cargo bench --bench kernels --features emu-counters)"
        );
    }
    anyhow::ensure!(failed == 0, "{failed} variant(s) failed their parity cases");
    Ok(())
}

/// The precisions `kernel`'s variant is benchmarked in: those of `SATCOLOR_PRECISION`
/// (comma-separated; every one when unset, the 16-bit storages at the forward parts only)
/// for the implicit GEMMs, FP32 for the others.
fn precisions(kernel: &Kernel) -> anyhow::Result<Vec<Precision>> {
    if !kernel.name.contains("igemm") {
        return Ok(vec![Precision::Fp32]);
    }
    match std::env::var("SATCOLOR_PRECISION") {
        Ok(list) => list
            .split(',')
            .map(|p| p.parse::<Precision>().map_err(anyhow::Error::from))
            .collect(),
        Err(_) => Ok(Precision::ALL.to_vec()),
    }
}

/// Runs the slot's parity cases with `variants` in `precision` on the emulator in a
/// shuffled order and prints the verdict (each output held to its precision's tolerance).
fn validate(
    variants: &Variants,
    precision: Precision,
    cases: &[selftest::Case],
) -> anyhow::Result<bool> {
    let exec = EmuExec::new(EmuOptions {
        thread_order: Order::Shuffle(0x1ab),
        block_order: Order::Shuffle(0x1ac),
        ..EmuOptions::default()
    })?;
    let dev = GpuDevice::with_variants(exec, variants.clone()).with_precision(precision);
    // In 16-bit storage the training-only ops (no 16-bit pass) are left out, and named.
    let runs = selftest::run_cases(&dev, cases);
    let skipped = selftest::skipped_ops(cases, &runs);
    if !skipped.is_empty() {
        println!(
            "    not run in {precision} (training's ops): {}",
            skipped.join(", ")
        );
    }
    let results = selftest::results(&runs);
    let bad: Vec<_> = results.iter().filter(|r| !r.pass).collect();
    let worst = results.iter().map(|r| r.max_rel_err).fold(0.0, f64::max);
    if bad.is_empty() {
        println!(
            "    parity on emu: {} checks of {} cases pass (worst relative error {worst:.1e})",
            results.len(),
            runs.len()
        );
    } else {
        println!(
            "    parity on emu: {} of {} checks FAIL; not timed:",
            bad.len(),
            results.len()
        );
        for r in &bad {
            println!(
                "      {} {} {}: {:.2e}",
                r.op, r.shape, r.output, r.max_rel_err
            );
        }
    }
    Ok(bad.is_empty())
}

/// The registry's benchmarks of the slot's parts that run in `precision` (a 16-bit storage
/// runs forward parts only): (label, benchmark, part).
fn parts(slot: &Slot, precision: Precision) -> Vec<(String, OpBench<CaseKind>, &'static str)> {
    let mut v = Vec::new();
    for &(op, part) in slot.bench_parts {
        if precision.storage().is_some() && part != "forward" {
            continue;
        }
        for b in all_benches() {
            if b.params.op() == op && b.parts.contains(&part) {
                v.push((format!("{}/{} {part}", b.group, b.name), b, part));
            }
        }
    }
    v
}

/// Times every part on a GPU when one opens (tensor-core precisions from compute
/// capability 8.0), else records each once on a dry executor for its useful work.
fn measure(
    slot: &Slot,
    variants: &Variants,
    precision: Precision,
    runs: u32,
) -> anyhow::Result<()> {
    #[cfg(feature = "cuda")]
    match satcolor::device::cuda::CudaExec::new(0) {
        Ok(exec) if precision.tensor_cores() && exec.info().compute_capability.0 < 8 => {
            println!(
                "    not timed: {} has no TF32 tensor cores",
                exec.info().name
            );
            return Ok(());
        }
        Ok(exec) => {
            let dev = GpuDevice::with_variants(Recording::new(exec), variants.clone())
                .with_precision(precision);
            println!("    on {}: mean of {runs} runs", dev.name());
            for (label, b, part) in parts(slot, precision) {
                let (seconds, gflop, gb) = time_part(&dev, &b, part, runs)?;
                println!(
                    "    {label:<36} {:>10.1} µs {:>8.2} TFLOP/s {:>8.1} GB/s",
                    seconds * 1e6,
                    gflop / seconds / 1e3,
                    gb / seconds
                );
            }
            return Ok(());
        }
        Err(e) => println!("    not timed: no GPU ({e})"),
    }
    #[cfg(not(feature = "cuda"))]
    println!("    not timed: built without the cuda feature");
    let dev =
        GpuDevice::with_variants(Recording::new(Dry), variants.clone()).with_precision(precision);
    for (label, b, part) in parts(slot, precision) {
        let (_, gflop, gb) = time_part(&dev, &b, part, 1)?;
        println!(
            "    {label:<36} useful work {gflop:>8.3} GFLOP {:>8.1} MB",
            gb * 1e3
        );
    }
    Ok(())
}

/// Runs one part: once to record its launches (their useful GFLOP and GB), 3 times to warm
/// up, then `runs` times; returns the mean seconds of one run (each timed stretch ends
/// with a download, which waits for the launched work).
fn time_part<E: KernelExec>(
    dev: &GpuDevice<Recording<E>>,
    b: &OpBench<CaseKind>,
    part: &str,
    runs: u32,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut run = b.params.bench_part(dev, part, &mut Rng(1))?;
    let sync = dev.alloc_zeros(1)?;
    dev.download(&sync)?;
    dev.exec().take();
    run()?;
    let work = total_work(&dev.exec().take()).map_err(anyhow::Error::msg)?;
    for _ in 0..3 {
        run()?;
    }
    dev.download(&sync)?;
    let start = Instant::now();
    for _ in 0..runs {
        run()?;
    }
    dev.download(&sync)?;
    let seconds = start.elapsed().as_secs_f64() / f64::from(runs);
    dev.exec().take();
    Ok((seconds, work.flops / 1e9, work.bytes / 1e9))
}

/// Each part once on the counting emulator (2 blocks traced per launch): its launches'
/// counters and the time model's prediction on an H100 SXM.
fn counters(slot: &Slot, variants: &Variants, precision: Precision) -> anyhow::Result<()> {
    use satcolor::perf::{gpu, report::report, sass::kernel_code};
    println!("    counters (emulator) and predicted time on an H100 SXM (a prediction):");
    for (label, b, part) in parts(slot, precision) {
        let exec = EmuExec::new(EmuOptions {
            sample_blocks: 2,
            ..EmuOptions::default()
        })?;
        let dev = GpuDevice::with_variants(exec, variants.clone()).with_precision(precision);
        let mut run = b.params.bench_part(&dev, part, &mut Rng(1))?;
        dev.exec().take_counters();
        run()?;
        let launches = dev.exec().take_counters();
        let h100 = gpu::by_name("h100").into_iter().collect::<Vec<_>>();
        match report(&launches, "sm_90", &h100, &|k| kernel_code(k, "sm_90")) {
            Ok(r) => {
                // The slot's kernel (any instance of an implicit GEMM), not its finishing passes.
                for row in r.rows.iter().filter(|r| r.kernel.starts_with("conv_")) {
                    let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
                    println!(
                        "    {label:<36} {:>9.1} µs {:<7} sectors/req {} wavefronts/req {} executed/useful {}",
                        row.times[0].micros,
                        row.times[0].bound.label(),
                        f(row.sectors_per_request),
                        f(row.wavefronts_per_request),
                        f(row.executed_per_useful)
                    );
                }
            }
            Err(e) => println!("    {label}: no prediction: {e}"),
        }
    }
    Ok(())
}
