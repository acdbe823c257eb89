//! One training iteration of a preset on the emulator with its performance counters
//! (`--features emu-counters`): a row per kernel with its launches, global sectors per
//! request, shared-memory wavefronts per request, barriers and active lanes, each block
//! sample scaled to the whole grid; with the `cuda` feature too (ptxas's figures), the
//! occupancy of its first launch on sm_90; "output" is the share of threads that stored to
//! global memory. Then each convolution launch's share, and for the convolutions their memory
//! instructions with source lines: requests (of the traced blocks) and sectors or
//! wavefronts per request.
//!
//! ```text
//! cargo run --profile perf --no-default-features \
//!     --features emu-counters,cuda --example iteration_counters -- seed 16 4
//! ```
//! (preset, batch, blocks traced per launch; 0 traces every block). The `perf` profile
//! keeps the debug information, so that `addr2line` finds the kernels' source lines.
//! `satcolor perfmodel` turns the same counters into predicted times.

use satcolor::device::emu::{Counters, EmuExec, EmuOptions, SiteCounters};
use satcolor::device::gpu::GpuDevice;
use satcolor::model::{HeadTensors, LossConfig, ModelConfig};
use satcolor::train::optim::OptimizerConfig;
use satcolor::train::step::Trainer;
use std::collections::BTreeMap;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = args.first().map_or("seed", String::as_str);
    let batch: usize = args.get(1).map_or(Ok(16), |b| b.parse())?;
    let sample: u32 = args.get(2).map_or(Ok(4), |s| s.parse())?;
    let dev = GpuDevice::new(EmuExec::new(EmuOptions {
        sample_blocks: sample,
        ..EmuOptions::default()
    })?);
    let cfg = ModelConfig::preset(preset)?;
    let opt = OptimizerConfig::adam(1e-3);
    let mut t = Trainer::new(&dev, &cfg, batch, 1, LossConfig::default(), opt, opt)?;
    let head = HeadTensors {
        sensor_weight: vec![0.299, 0.587, 0.114],
        ..HeadTensors::unfitted(cfg.in_bands, cfg.out_bands)
    };
    t.g.set_head(&dev, &head)?;
    let x = vec![0.5f32; t.g.input_len()];
    let y = vec![0.5f32; t.g.output_len()];
    t.set_batch(&dev, &x, &y)?;
    dev.exec().take_counters();
    let start = std::time::Instant::now();
    t.step(&dev)?;
    let seconds = start.elapsed().as_secs_f64();
    let launches = dev.exec().take_counters();
    let mut by_kernel: BTreeMap<&str, (u64, Counters)> = BTreeMap::new();
    let mut occupancy: BTreeMap<&str, String> = BTreeMap::new();
    let sm90 = satcolor::perf::occupancy::limits("sm_90").expect("sm_90 limits");
    for l in &launches {
        occupancy.entry(l.kernel).or_insert_with(|| {
            let Some(r) = satcolor::kernels::RESOURCES
                .iter()
                .find(|r| r.kernel == l.kernel && r.arch == "sm_90")
            else {
                return "-".into();
            };
            let (bx, by, bz) = l.cfg.block;
            let o = satcolor::perf::occupancy::occupancy(
                sm90,
                bx * by * bz,
                r.registers,
                r.shared_bytes + l.cfg.shared_bytes,
            );
            format!("{:.2} ({:?})", o.fraction, o.limiter)
        });
        let c = l.counters.scaled();
        let e = by_kernel.entry(l.kernel).or_default();
        e.0 += 1;
        let s = &mut e.1;
        s.blocks_total += c.blocks_total;
        s.global_load_requests += c.global_load_requests;
        s.global_load_sectors += c.global_load_sectors;
        s.global_store_requests += c.global_store_requests;
        s.global_store_sectors += c.global_store_sectors;
        s.shared_load_requests += c.shared_load_requests;
        s.shared_load_wavefronts += c.shared_load_wavefronts;
        s.shared_store_requests += c.shared_store_requests;
        s.shared_store_wavefronts += c.shared_store_wavefronts;
        s.request_lanes += c.request_lanes;
        s.barriers += c.barriers;
        s.warp_ops += c.warp_ops;
        s.threads += c.threads;
        s.storing_threads += c.storing_threads;
    }
    println!(
        "{preset} batch {batch}: {} launches traced in {seconds:.1} s ({} blocks per launch)",
        launches.len(),
        if sample == 0 {
            "all".to_string()
        } else {
            sample.to_string()
        }
    );
    println!(
        "{:<28} {:>8} {:>10} {:>13} {:>8} {:>13} {:>8} {:>13} {:>8} {:>10} {:>6}",
        "kernel",
        "launches",
        "blocks",
        "g.ld req",
        "sec/req",
        "g.st req",
        "sec/req",
        "s.ld req",
        "wf/req",
        "barriers",
        "lanes"
    );
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    for (k, (n, c)) in &by_kernel {
        println!(
            "{k:<28} {n:>8} {:>10} {:>13} {:>8.2} {:>13} {:>8.2} {:>13} {:>8.2} {:>10} {:>6.2} {:>7.2}  {}",
            c.blocks_total,
            c.global_load_requests,
            ratio(c.global_load_sectors, c.global_load_requests),
            c.global_store_requests,
            ratio(c.global_store_sectors, c.global_store_requests),
            c.shared_load_requests,
            ratio(c.shared_load_wavefronts, c.shared_load_requests),
            c.barriers,
            c.active_lane_ratio(),
            c.storing_ratio(),
            occupancy[k]
        );
    }
    // Each distinct launch shape of the forward convolutions (in a weight gradient, one
    // thread per block writes the reduced result, so the share says nothing there).
    println!("\nforward convolutions: grid, block, share of threads with an output");
    let mut shown = std::collections::BTreeSet::new();
    for l in launches
        .iter()
        .filter(|l| matches!(l.kernel, "conv2d_forward" | "conv_transpose2d_forward"))
    {
        if shown.insert((l.kernel, l.cfg.grid, l.cfg.block)) {
            println!(
                "  {:<28} grid {:?} block {:?}: {:.2}",
                l.kernel,
                l.cfg.grid,
                l.cfg.block,
                l.counters.storing_ratio()
            );
        }
    }
    // Per instruction, summed over the launches of a kernel (traced blocks only).
    let mut sites: BTreeMap<(&str, u64), SiteCounters> = BTreeMap::new();
    for l in &launches {
        for s in &l.sites {
            let e = sites.entry((l.kernel, s.site)).or_insert(SiteCounters {
                requests: 0,
                units: 0,
                lanes: 0,
                ..*s
            });
            e.requests += s.requests;
            e.units += s.units;
            e.lanes += s.lanes;
        }
    }
    for kernel in [
        "conv2d_forward",
        "conv2d_weight_grad",
        "conv_transpose2d_forward",
    ] {
        println!("\n{kernel}: memory instructions (traced blocks)");
        let mut rows: Vec<&SiteCounters> = sites
            .iter()
            .filter(|((k, _), _)| *k == kernel)
            .map(|(_, s)| s)
            .collect();
        rows.sort_by_key(|s| std::cmp::Reverse(s.units));
        for s in rows {
            let what = match (s.space, s.write) {
                (0, 0) => "global load",
                (0, _) => "global store",
                (_, 0) => "shared load",
                _ => "shared store",
            };
            println!(
                "  {:<28} {what:<13} {:>12} requests {:>6.2} {} per request",
                s.source_line().unwrap_or_else(|| format!("{:#x}", s.site)),
                s.requests,
                s.per_request(),
                if s.space == 0 {
                    "sectors"
                } else {
                    "wavefronts"
                },
            );
        }
    }
    Ok(())
}
