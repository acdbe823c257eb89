//! The emulator's performance counters (`--features emu-counters`, run by
//! scripts/emu-counters.sh) on kernels whose traffic is known by hand
//! (tests/kernels/counters_probe.cu): a unit-stride float load is 4 sectors per request, a
//! stride-32 load 32, a broadcast shared load 1 wavefront, a 2-way bank conflict 2 (also
//! for a `__shared__` static of a function template); and block sampling scales to the
//! same totals.
#![cfg(feature = "emu-counters")]

use satcolor::device::emu::{Counters, EmuExec, EmuOptions};
use satcolor::device::gpu::{Arg, KernelExec, LaunchConfig};
use satcolor::kernels::testing::*;
use satcolor::kernels::Kernel;

/// Threads per block (two warps), and blocks.
const BLOCK: u32 = 64;
const BLOCKS: u32 = 10;
const N: usize = (BLOCK * BLOCKS) as usize;

/// Runs `kernel` on N elements (its input holds 32 N) and returns its counters.
fn count(kernel: &'static Kernel, sample_blocks: u32) -> Counters {
    count_n(kernel, sample_blocks, N)
}

/// Runs `kernel` with `n` as its element count (the grid still covers N threads).
fn count_n(kernel: &'static Kernel, sample_blocks: u32, n: usize) -> Counters {
    let e = EmuExec::new(EmuOptions {
        sample_blocks,
        ..EmuOptions::default()
    })
    .unwrap();
    let x: Vec<f32> = (0..32 * N).map(|i| i as f32).collect();
    let src = e.upload(&x).unwrap();
    let mut dst = e.alloc_zeros(N).unwrap();
    let cfg = LaunchConfig {
        grid: (BLOCKS, 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    };
    e.launch(
        kernel,
        cfg,
        &mut [
            Arg::In("x", &src),
            Arg::Out("y", &mut dst),
            Arg::I32("n", n as i32),
        ],
    )
    .unwrap();
    let mut launches = e.take_counters();
    assert_eq!(launches.len(), 1);
    let l = launches.pop().unwrap();
    assert_eq!((l.kernel, l.cfg), (kernel.name, cfg));
    l.counters
}

/// Warps of the whole grid.
const WARPS: u64 = (N / 32) as u64;

#[test]
fn the_build_counts() {
    assert!(EmuExec::has_counters());
}

#[test]
fn unit_stride_accesses_are_4_sectors_per_request() {
    let c = count(&PROBE_UNIT_STRIDE, 0);
    assert_eq!(
        (c.blocks_run, c.blocks_total),
        (BLOCKS as u64, BLOCKS as u64)
    );
    assert_eq!(
        (c.global_load_requests, c.global_load_sectors),
        (WARPS, 4 * WARPS)
    );
    assert_eq!(
        (c.global_store_requests, c.global_store_sectors),
        (WARPS, 4 * WARPS)
    );
    assert_eq!(c.shared_load_requests + c.shared_store_requests, 0);
    assert_eq!(c.barriers, 0);
    assert_eq!(c.active_lane_ratio(), 1.0);
}

#[test]
fn stride_32_loads_are_32_sectors_per_request() {
    let c = count(&PROBE_STRIDE_32, 0);
    assert_eq!(
        (c.global_load_requests, c.global_load_sectors),
        (WARPS, 32 * WARPS)
    );
    assert_eq!(
        (c.global_store_requests, c.global_store_sectors),
        (WARPS, 4 * WARPS)
    );
}

#[test]
fn a_broadcast_shared_load_is_one_wavefront() {
    let c = count(&PROBE_SHARED_BROADCAST, 0);
    assert_eq!(
        (c.shared_load_requests, c.shared_load_wavefronts),
        (WARPS, WARPS)
    );
    assert_eq!(
        (c.shared_store_requests, c.shared_store_wavefronts),
        (WARPS, WARPS)
    );
    assert_eq!(c.barriers, BLOCKS as u64);
    assert_eq!(
        (c.global_load_requests, c.global_load_sectors),
        (WARPS, 4 * WARPS)
    );
}

#[test]
fn a_two_way_bank_conflict_is_two_wavefronts() {
    let c = count(&PROBE_SHARED_2WAY, 0);
    assert_eq!(
        (c.shared_load_requests, c.shared_load_wavefronts),
        (WARPS, 2 * WARPS)
    );
    // tile[t] and tile[t + 64]: unit stride, one wavefront each.
    assert_eq!(
        (c.shared_store_requests, c.shared_store_wavefronts),
        (2 * WARPS, 2 * WARPS)
    );
}

#[test]
fn shared_statics_of_function_templates_are_counted_too() {
    let plain = count(&PROBE_SHARED_2WAY, 0);
    let template = count(&PROBE_TEMPLATE_SHARED_2WAY, 0);
    assert_eq!(
        (
            template.shared_load_requests,
            template.shared_load_wavefronts
        ),
        (WARPS, 2 * WARPS)
    );
    assert_eq!(template, plain);
}

#[test]
fn sampled_blocks_scale_to_the_grid() {
    let all = count(&PROBE_SHARED_2WAY, 0);
    let some = count(&PROBE_SHARED_2WAY, 3);
    assert_eq!((some.blocks_run, some.blocks_total), (3, BLOCKS as u64));
    assert_eq!(some.shared_load_wavefronts, 3 * 2 * 2);
    assert_eq!(some.scaled(), all);
}

#[test]
fn counts_are_kept_per_instruction_with_its_source_line() {
    let e = EmuExec::new(EmuOptions::default()).unwrap();
    let x: Vec<f32> = (0..N).map(|i| i as f32).collect();
    let src = e.upload(&x).unwrap();
    let mut dst = e.alloc_zeros(N).unwrap();
    let cfg = LaunchConfig {
        grid: (BLOCKS, 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    };
    e.launch(
        &PROBE_SHARED_2WAY,
        cfg,
        &mut [
            Arg::In("x", &src),
            Arg::Out("y", &mut dst),
            Arg::I32("n", N as i32),
        ],
    )
    .unwrap();
    let l = e.take_counters().pop().unwrap();
    // One global load, one global store, two shared stores, one shared load.
    let count = |space, write| {
        l.sites
            .iter()
            .filter(|s| s.space == space && s.write == write)
            .count()
    };
    assert_eq!(
        (count(0, 0), count(0, 1), count(1, 1), count(1, 0)),
        (1, 1, 2, 1)
    );
    let load = l
        .sites
        .iter()
        .find(|s| s.space == 1 && s.write == 0)
        .unwrap();
    assert_eq!((load.requests, load.per_request()), (WARPS, 2.0));
    let line = load
        .source_line()
        .expect("addr2line resolves the instruction");
    assert_eq!(line, "counters_probe.cu:41", "{line}");
    let total: u64 = l.sites.iter().map(|s| s.units).sum();
    let c = l.counters;
    assert_eq!(
        total,
        c.global_load_sectors
            + c.global_store_sectors
            + c.shared_load_wavefronts
            + c.shared_store_wavefronts
    );
}

#[test]
fn threads_without_output_are_counted() {
    let all = count(&PROBE_UNIT_STRIDE, 0);
    assert_eq!((all.threads, all.storing_threads), (N as u64, N as u64));
    // Elements for a third of the threads: the others only compare their index.
    let third = count_n(&PROBE_UNIT_STRIDE, 0, N / 3);
    assert_eq!(
        (third.threads, third.storing_threads),
        (N as u64, (N / 3) as u64)
    );
    assert!((third.storing_ratio() - (N / 3) as f64 / N as f64).abs() < 1e-12);
}

/// The patch load of conv2d_forward (`patch[kh * pitch + kw]`), as `file:line`, found in
/// the kernel source.
fn patch_load_line() -> String {
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/conv2d.cu")).unwrap();
    let n = src
        .lines()
        .position(|l| l.contains("const float v = patch[kh * pitch + kw];"))
        .expect("the patch load is in kernels/conv2d.cu");
    format!("conv2d.cu:{}", n + 1)
}

#[test]
fn conv2d_forward_v2_removes_the_patch_loads_bank_conflict() {
    use satcolor::device::gpu::{GpuDevice, Variants};
    use satcolor::device::Device;
    use satcolor::ops::{Act, Conv2dShape};
    let line = patch_load_line();
    // The seed preset's k = 9 and D's k = 3 at stride 1 (side 24 and 18: a 2-way conflict
    // in v1); at stride 2 both conflict 2-way (a half-warp reads every other bank).
    for (k, stride, v1_wf, v2_wf) in [(9, 1, 2.0, 1.0), (3, 1, 2.0, 1.0), (5, 2, 2.0, 2.0)] {
        let s = Conv2dShape {
            n: 1,
            c_in: 2,
            h: 19,
            w: 21,
            c_out: 3,
            k,
            stride,
            pad: k / 2,
        };
        let per_request = |variant: &str| {
            let exec = EmuExec::new(EmuOptions::default()).unwrap();
            let v = Variants::chosen().with("conv2d_forward", variant).unwrap();
            let dev = GpuDevice::with_variants(exec, v);
            let x = dev.upload(&vec![1.0; s.x_len()]).unwrap();
            let w = dev.upload(&vec![0.5; s.w_len()]).unwrap();
            let mut y = dev.alloc_zeros(s.y_len()).unwrap();
            dev.conv2d_forward(&s, &x, &w, None, Act::Identity, &mut y)
                .unwrap();
            let l = dev.exec().take_counters().pop().unwrap();
            let lines = satcolor::device::emu::source_lines(
                &l.sites.iter().map(|s| s.site).collect::<Vec<_>>(),
            );
            let (requests, units) = l
                .sites
                .iter()
                .zip(&lines)
                .filter(|(s, at)| {
                    s.space == 1 && s.write == 0 && at.as_deref() == Some(line.as_str())
                })
                .fold((0, 0), |(r, u), (s, _)| (r + s.requests, u + s.units));
            assert!(requests > 0, "no shared loads at {line} in {variant}");
            units as f64 / requests as f64
        };
        assert_eq!(per_request("v1"), v1_wf, "v1 k {k} stride {stride}");
        assert_eq!(per_request("v2"), v2_wf, "v2 k {k} stride {stride}");
    }
}
