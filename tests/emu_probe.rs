//! Tests of the CUDA emulator itself (src/device/emu.rs, emu/), with the emulator-only
//! kernels of tests/kernels/emu_probe.cu and tests/kernels/planted_oob.cu: reductions give
//! the reference sums in every thread/block order, a missing barrier shows up as an
//! order-dependent result, barrier misuse and launches a GPU rejects are errors naming the
//! kernel, cp.async copies land only at their wait (and a copy never waited for is an
//! error), atomics count exactly, `__half` rounds like IEEE fp16, and (normal build) a
//! planted off-by-one past the end of a buffer hits a guard page.
#![cfg(feature = "emu")]

use half::f16;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use satcolor::device::emu::{EmuBuf, EmuExec, EmuOptions, Order};
use satcolor::device::gpu::{Arg, KernelExec, LaunchConfig};
use satcolor::kernels::testing::*;
use satcolor::kernels::Kernel;
use satcolor::Result;

/// Thread orders × block orders every order-sensitive test runs in.
const ORDERS: &[(Order, Order)] = &[
    (Order::Forward, Order::Forward),
    (Order::Reverse, Order::Reverse),
    (Order::Shuffle(7), Order::Shuffle(11)),
    (Order::Shuffle(12345), Order::Forward),
];

fn emu(thread_order: Order, block_order: Order) -> EmuExec {
    EmuExec::new(EmuOptions {
        thread_order,
        block_order,
        ..EmuOptions::default()
    })
    .expect("emulator opens")
}

/// A grid or block size.
type Dims = (u32, u32, u32);

fn cfg(grid: Dims, block: Dims, shared_bytes: u32) -> LaunchConfig {
    LaunchConfig {
        grid,
        block,
        shared_bytes,
    }
}

fn launch(
    e: &EmuExec,
    k: &'static Kernel,
    c: LaunchConfig,
    args: &mut [Arg<'_, EmuBuf>],
) -> Result<()> {
    e.launch(k, c, args)
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Max over i of |got − want| / max(scale_i, tiny), with scale_i = Σ|terms| of the sum.
fn assert_close(got: &[f32], want: &[f64], scale: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for i in 0..got.len() {
        let err = (got[i] as f64 - want[i]).abs() / scale[i].max(1e-30);
        assert!(
            err <= 1e-5,
            "{what}[{i}]: got {} want {} (rel err {err:e})",
            got[i],
            want[i]
        );
    }
}

/// Reference block sums: (sum, Σ|x|) of each chunk of `block` elements.
fn chunk_sums(x: &[f32], chunk: usize) -> (Vec<f64>, Vec<f64>) {
    x.chunks(chunk)
        .map(|c| {
            (
                c.iter().map(|&v| v as f64).sum::<f64>(),
                c.iter().map(|&v| (v as f64).abs()).sum::<f64>(),
            )
        })
        .unzip()
}

#[test]
fn tree_sum_matches_reference_and_is_order_independent() {
    for &(n, block) in &[
        (1237usize, 100u32),
        (1, 1),
        (5000, 1024),
        (77, 33),
        (64, 64),
    ] {
        let x = random(n, n as u64);
        let blocks = n.div_ceil(block as usize);
        let (want, scale) = chunk_sums(&x, block as usize);
        let mut first: Option<Vec<f32>> = None;
        for &(t, b) in ORDERS {
            let e = emu(t, b);
            let xb = e.upload(&x).unwrap();
            let mut out = e.alloc_zeros(blocks).unwrap();
            let c = cfg((blocks as u32, 1, 1), (block, 1, 1), 0);
            launch(
                &e,
                &PROBE_TREE_SUM,
                c,
                &mut [
                    Arg::In("x", &xb),
                    Arg::Out("out", &mut out),
                    Arg::I32("n", n as i32),
                ],
            )
            .unwrap();
            let got = e.download(&out).unwrap();
            assert_close(
                &got,
                &want,
                &scale,
                &format!("tree sum n={n} block={block} {t:?}/{b:?}"),
            );
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(f, &got, "tree sum n={n}: {t:?}/{b:?} differs from forward"),
            }
        }
    }
}

#[test]
fn warp_shuffles_match_reference_in_every_order() {
    for &(n, block) in &[(1000usize, 64u32), (33, 32), (250, 96)] {
        let x = random(n, 1000 + n as u64);
        let blocks = n.div_ceil(block as usize) as u32;
        let warps = (blocks * block / 32) as usize;
        let mut padded = x.clone();
        padded.resize(warps * 32, 0.0);
        let (want_sum, scale_sum) = chunk_sums(&padded, 32);
        // Scan, warp total and count of positives, per element.
        let mut want_scan = vec![0.0f64; n];
        let mut scale_scan = vec![0.0f64; n];
        let mut want_pos = vec![0.0f32; n];
        for i in 0..n {
            let w0 = i / 32 * 32;
            want_scan[i] = x[w0..=i].iter().map(|&v| v as f64).sum();
            scale_scan[i] = x[w0..=i].iter().map(|&v| (v as f64).abs()).sum();
            want_pos[i] = x[w0..(w0 + 32).min(n)].iter().filter(|&&v| v > 0.0).count() as f32;
        }
        let want_total: Vec<f64> = (0..n).map(|i| want_sum[i / 32]).collect();
        let scale_total: Vec<f64> = (0..n).map(|i| scale_sum[i / 32]).collect();
        let mut first: Option<Vec<Vec<f32>>> = None;
        for &(t, b) in ORDERS {
            let e = emu(t, b);
            let xb = e.upload(&x).unwrap();
            let c = cfg((blocks, 1, 1), (block, 1, 1), 0);
            let mut sums = e.alloc_zeros(warps).unwrap();
            launch(
                &e,
                &PROBE_WARP_SUM,
                c,
                &mut [
                    Arg::In("x", &xb),
                    Arg::Out("out", &mut sums),
                    Arg::I32("n", n as i32),
                ],
            )
            .unwrap();
            let (mut scan, mut total, mut pos) = (
                e.alloc_zeros(n).unwrap(),
                e.alloc_zeros(n).unwrap(),
                e.alloc_zeros(n).unwrap(),
            );
            let mut args = [
                Arg::In("x", &xb),
                Arg::Out("scan", &mut scan),
                Arg::Out("total", &mut total),
                Arg::Out("positives", &mut pos),
                Arg::I32("n", n as i32),
            ];
            launch(&e, &PROBE_WARP_SCAN, c, &mut args).unwrap();
            let got: Vec<Vec<f32>> = [&sums, &scan, &total, &pos]
                .iter()
                .map(|b| e.download(b).unwrap())
                .collect();
            let tag = format!("n={n} block={block} {t:?}/{b:?}");
            assert_close(&got[0], &want_sum, &scale_sum, &format!("warp sum {tag}"));
            assert_close(
                &got[1],
                &want_scan,
                &scale_scan,
                &format!("warp scan {tag}"),
            );
            assert_close(
                &got[2],
                &want_total,
                &scale_total,
                &format!("warp total {tag}"),
            );
            assert_eq!(got[3], want_pos, "ballot count {tag}");
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(f, &got, "warp ops {tag} differ from forward"),
            }
        }
    }
}

#[test]
fn missing_barrier_gives_order_dependent_results() {
    let (block, blocks) = (64u32, 3u32);
    let n = (block * blocks) as usize;
    let run = |t: Order, seed: u64| {
        let e = emu(t, Order::Forward);
        let x = random(n, seed);
        let xb = e.upload(&x).unwrap();
        let mut out = e.alloc_zeros(n).unwrap();
        let c = cfg((blocks, 1, 1), (block, 1, 1), 0);
        launch(
            &e,
            &PROBE_MISSING_SYNC,
            c,
            &mut [Arg::In("x", &xb), Arg::Out("out", &mut out)],
        )
        .unwrap();
        (x, e.download(&out).unwrap())
    };
    let (x, fwd) = run(Order::Forward, 5);
    let (_, rev) = run(Order::Reverse, 5);
    assert_ne!(
        fwd, rev,
        "forward and reverse order gave the same result despite the race"
    );
    // With a barrier, out[i] would be the block neighbour's input; forward order reads
    // neighbours' slots before they are written.
    let correct: Vec<f32> = (0..n)
        .map(|i| {
            let (b, t) = (i / block as usize, i % block as usize);
            x[b * block as usize + (t + 1) % block as usize]
        })
        .collect();
    assert_ne!(fwd, correct, "forward order hid the missing barrier");
}

fn expect_error(r: Result<()>, kernel: &str, needles: &[&str]) {
    let msg = r.expect_err("launch should fail").to_string();
    assert!(
        msg.contains(kernel),
        "error does not name the kernel {kernel}: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "error lacks '{n}': {msg}");
    }
}

#[test]
fn barrier_misuse_is_an_error_not_a_hang() {
    for &(t, b) in ORDERS {
        let e = emu(t, b);
        let mut out = e.alloc_zeros(64).unwrap();
        let c = cfg((2, 1, 1), (64, 1, 1), 0);
        let r = launch(
            &e,
            &PROBE_EXIT_BEFORE_BARRIER,
            c,
            &mut [Arg::Out("out", &mut out)],
        );
        expect_error(
            r,
            "probe_exit_before_barrier",
            &["divergent barrier", "thread (5,0,0) exited"],
        );
        let r = launch(
            &e,
            &PROBE_SPLIT_BARRIER,
            c,
            &mut [Arg::Out("out", &mut out)],
        );
        expect_error(
            r,
            "probe_split_barrier",
            &["divergent barrier", "emu_probe.cu:"],
        );
        let r = launch(
            &e,
            &PROBE_WARP_VS_BLOCK,
            c,
            &mut [Arg::Out("out", &mut out)],
        );
        expect_error(r, "probe_warp_vs_block", &["__shfl_sync", "__syncthreads"]);
        // The fibers abandoned by those errors are rebuilt: a correct kernel still runs.
        let x = random(64, 3);
        let xb = e.upload(&x).unwrap();
        let mut sum = e.alloc_zeros(1).unwrap();
        let c = cfg((1, 1, 1), (64, 1, 1), 0);
        launch(
            &e,
            &PROBE_TREE_SUM,
            c,
            &mut [
                Arg::In("x", &xb),
                Arg::Out("out", &mut sum),
                Arg::I32("n", 64),
            ],
        )
        .unwrap();
        let (want, scale) = chunk_sums(&x, 64);
        assert_close(
            &e.download(&sum).unwrap(),
            &want,
            &scale,
            "sum after errors",
        );
    }
}

/// Launches probe_atomic_count and returns (int counter, histogram).
fn count(e: &EmuExec, grid: Dims, block: Dims, bins: usize) -> Result<(i32, Vec<f32>)> {
    let mut counter = e.alloc_zeros(1)?;
    let mut hist = e.alloc_zeros(bins)?;
    let c = cfg(grid, block, 0);
    launch(
        e,
        &PROBE_ATOMIC_COUNT,
        c,
        &mut [
            Arg::Out("counter", &mut counter),
            Arg::Out("hist", &mut hist),
            Arg::I32("bins", bins as i32),
        ],
    )?;
    Ok((
        e.download(&counter)?[0].to_bits() as i32,
        e.download(&hist)?,
    ))
}

#[test]
fn atomics_count_exactly() {
    let e = emu(Order::Shuffle(3), Order::Reverse);
    let (grid, block, bins) = ((3, 2, 1), (10u32, 7u32, 3u32), 11usize);
    let (n, hist) = count(&e, grid, block, bins).unwrap();
    assert_eq!(n, 3 * 2 * 10 * 7 * 3);
    let mut want = vec![0.0f32; bins];
    for _ in 0..6 {
        for t in 0..(block.0 * block.1 * block.2) as usize {
            want[t % bins] += 1.0;
        }
    }
    assert_eq!(hist, want);
}

#[test]
fn launches_a_gpu_rejects_are_errors() {
    let e = emu(Order::Forward, Order::Forward);
    let bad: &[(Dims, Dims, &str)] = &[
        ((1, 1, 1), (1025, 1, 1), "at most 1024"),
        ((1, 1, 1), (32, 32, 2), "at most 1024"),
        ((1, 1, 1), (1, 1, 65), "block limits"),
        ((1, 65536, 1), (1, 1, 1), "grid limits"),
        ((1, 1, 65536), (1, 1, 1), "grid limits"),
        ((1 << 31, 1, 1), (1, 1, 1), "grid limits"),
        ((0, 1, 1), (32, 1, 1), "zero dimension"),
        ((1, 1, 1), (32, 0, 1), "zero dimension"),
    ];
    for &(grid, block, needle) in bad {
        expect_error(
            count(&e, grid, block, 1).map(|_| ()),
            "probe_atomic_count",
            &[needle],
        );
    }
    // The largest y grid and the largest block shapes are accepted.
    assert_eq!(count(&e, (1, 65535, 1), (1, 1, 1), 1).unwrap().0, 65535);
    assert_eq!(count(&e, (1, 1, 1), (1024, 1, 1), 1).unwrap().0, 1024);
    assert_eq!(count(&e, (1, 1, 1), (1, 1024, 1), 1).unwrap().0, 1024);
    assert_eq!(count(&e, (1, 1, 1), (16, 1, 64), 1).unwrap().0, 1024);
}

/// Above 48 KiB of dynamic shared memory the launch opts the kernel in (as the CUDA
/// executor does with the function attribute), up to what a block can have.
#[test]
fn dynamic_shared_above_48k_is_opted_in_by_the_launch() {
    let e = emu(Order::Reverse, Order::Forward);
    let bytes = 49 * 1024u32;
    let n = (bytes / 4) as usize;
    let x = random(n, 9);
    let xb = e.upload(&x).unwrap();
    let mut out = e.alloc_zeros(n).unwrap();
    let c = cfg((1, 1, 1), (256, 1, 1), bytes);
    let mut args = [
        Arg::In("x", &xb),
        Arg::Out("out", &mut out),
        Arg::I32("n", n as i32),
    ];
    launch(&e, &PROBE_DYNAMIC_REVERSE, c, &mut args).unwrap();
    let want: Vec<f32> = x.iter().rev().copied().collect();
    assert_eq!(e.download(&out).unwrap(), want);
    // More than a block can have is an error.
    let c = cfg((1, 1, 1), (256, 1, 1), 228 * 1024);
    let mut args = [
        Arg::In("x", &xb),
        Arg::Out("out", &mut out),
        Arg::I32("n", n as i32),
    ];
    expect_error(
        launch(&e, &PROBE_DYNAMIC_REVERSE, c, &mut args),
        "probe_dynamic_reverse",
        &["227 KiB"],
    );
}

/// A random finite half.
fn random_half(rng: &mut StdRng) -> f16 {
    loop {
        let h = f16::from_bits(rng.random::<u16>());
        if h.is_finite() {
            return h;
        }
    }
}

#[test]
fn half_rounds_like_ieee_fp16() {
    let n = 20000;
    let mut rng = StdRng::seed_from_u64(16);
    let a: Vec<f16> = (0..n).map(|_| random_half(&mut rng)).collect();
    let b: Vec<f16> = (0..n).map(|_| random_half(&mut rng)).collect();
    let e = emu(Order::Forward, Order::Forward);
    let af: Vec<f32> = a.iter().map(|h| h.to_f32()).collect();
    let bf: Vec<f32> = b.iter().map(|h| h.to_f32()).collect();
    let (ab, bb) = (e.upload(&af).unwrap(), e.upload(&bf).unwrap());
    let (mut sum, mut prod, mut conv) = (
        e.alloc_zeros(n).unwrap(),
        e.alloc_zeros(n).unwrap(),
        e.alloc_zeros(n).unwrap(),
    );
    let c = cfg(((n as u32).div_ceil(128), 1, 1), (128, 1, 1), 0);
    let mut args = [
        Arg::In("a", &ab),
        Arg::In("b", &bb),
        Arg::Out("sum", &mut sum),
        Arg::Out("prod", &mut prod),
        Arg::Out("conv", &mut conv),
        Arg::I32("n", n as i32),
    ];
    launch(&e, &PROBE_HALF, c, &mut args).unwrap();
    let (sum, prod, conv) = (
        e.download(&sum).unwrap(),
        e.download(&prod).unwrap(),
        e.download(&conv).unwrap(),
    );
    for i in 0..n {
        // The exact sum and product of two halves fit in an f64; round once to fp16.
        let s = f16::from_f64(af[i] as f64 + bf[i] as f64).to_f32();
        let p = f16::from_f64(af[i] as f64 * bf[i] as f64).to_f32();
        let cv = f16::from_f32(af[i] * 1.001f32).to_f32();
        assert_eq!(sum[i].to_bits(), s.to_bits(), "{} + {}", a[i], b[i]);
        assert_eq!(prod[i].to_bits(), p.to_bits(), "{} * {}", a[i], b[i]);
        assert_eq!(
            conv[i].to_bits(),
            cv.to_bits(),
            "fp16({})",
            af[i] * 1.001f32
        );
    }
}

#[test]
fn argument_mismatch_is_an_error() {
    let e = emu(Order::Forward, Order::Forward);
    let xb = e.upload(&[1.0; 4]).unwrap();
    let mut out = e.alloc_zeros(1).unwrap();
    let c = cfg((1, 1, 1), (4, 1, 1), 0);
    // Output and input swapped, then one argument missing.
    let mut swapped = e.alloc_zeros(4).unwrap();
    let r = launch(
        &e,
        &PROBE_TREE_SUM,
        c,
        &mut [
            Arg::Out("out", &mut swapped),
            Arg::In("x", &xb),
            Arg::I32("n", 4),
        ],
    );
    expect_error(r, "probe_tree_sum", &["argument 0"]);
    let r = launch(
        &e,
        &PROBE_TREE_SUM,
        c,
        &mut [Arg::In("x", &xb), Arg::Out("out", &mut out)],
    );
    expect_error(r, "probe_tree_sum", &["2 arguments"]);
    let r = launch(
        &e,
        &PROBE_TREE_SUM,
        c,
        &mut [
            Arg::In("x", &xb),
            Arg::Out("out", &mut out),
            Arg::F32("n", 4.0),
        ],
    );
    expect_error(r, "probe_tree_sum", &["argument 2"]);
    // Right kinds, wrong name: an argument passed as a parameter it is not.
    let r = launch(
        &e,
        &PROBE_TREE_SUM,
        c,
        &mut [Arg::In("x", &xb), Arg::Out("y", &mut out), Arg::I32("n", 4)],
    );
    expect_error(r, "probe_tree_sum", &["argument 1", "'y'", "'out'"]);
}

/// Two `int` arguments of a product kernel in the wrong order have the right kinds, so only
/// the names tell them apart: max_pool2d_forward with `wd` passed before `h` must be
/// refused with an error that names the kernel, the position and both names, and must not
/// touch the output; the same values in the signature's order run.
#[test]
fn swapped_int_arguments_are_an_error() {
    use satcolor::kernels::MAX_POOL2D_FORWARD;
    let e = emu(Order::Forward, Order::Forward);
    let (planes, h, wd) = (1usize, 2usize, 4usize);
    let x: Vec<f32> = (0..planes * h * wd).map(|i| i as f32).collect();
    let xb = e.upload(&x).unwrap();
    let mut y = e.alloc_zeros(planes * (h / 2) * (wd / 2)).unwrap();
    let c = cfg((1, 1, 1), (32, 1, 1), 0);
    let r = launch(
        &e,
        &MAX_POOL2D_FORWARD,
        c,
        &mut [
            Arg::In("x", &xb),
            Arg::Out("y", &mut y),
            Arg::I32("planes", planes as i32),
            Arg::I32("wd", wd as i32),
            Arg::I32("h", h as i32),
        ],
    );
    expect_error(
        r,
        "max_pool2d_forward",
        &["argument 3", "passed as 'wd'", "parameter 3 is 'h'"],
    );
    assert_eq!(e.download(&y).unwrap(), vec![0.0; 2], "refused launch ran");
    launch(
        &e,
        &MAX_POOL2D_FORWARD,
        c,
        &mut [
            Arg::In("x", &xb),
            Arg::Out("y", &mut y),
            Arg::I32("planes", planes as i32),
            Arg::I32("h", h as i32),
            Arg::I32("wd", wd as i32),
        ],
    )
    .unwrap();
    // Input rows [0 1 2 3] and [4 5 6 7]: the 2×2 window maxima are 5 and 7.
    assert_eq!(e.download(&y).unwrap(), vec![5.0, 7.0]);
}

#[test]
fn buffers_count_allocations_and_round_trip() {
    let e = emu(Order::Forward, Order::Forward);
    let before = e.alloc_count();
    let mut b = e.upload(&[1.0, 2.0, 3.0]).unwrap();
    e.write(&mut b, &[4.0, 5.0, 6.0]).unwrap();
    assert_eq!(e.download(&b).unwrap(), vec![4.0, 5.0, 6.0]);
    assert!(e.write(&mut b, &[1.0]).is_err());
    let z = e.alloc_zeros(0).unwrap();
    assert_eq!(e.len(&z), 0);
    assert_eq!(e.download(&z).unwrap(), Vec::<f32>::new());
    assert_eq!(e.alloc_count() - before, 2);
}

/// The normal build ends every buffer (and dynamic shared memory) at a guard page: an
/// off-by-one past the end faults, and the fault becomes an error of the launch. (The
/// AddressSanitizer build reports these through ASan instead: tests/emu_asan.rs.)
#[cfg(not(feature = "emu-asan"))]
#[test]
fn guard_pages_catch_off_by_one_past_the_end() {
    let e = emu(Order::Forward, Order::Forward);
    let n = 4 * 128; // a multiple of 4 floats: the buffer ends exactly at its guard page
    let x = random(n, 21);
    let src = e.upload(&x).unwrap();
    let mut dst = e.alloc_zeros(n).unwrap();
    let grid = ((n as u32).div_ceil(128), 1, 1);
    for k in [&OOB_WRITE_PAST_END, &OOB_READ_PAST_END] {
        let r = launch(
            &e,
            k,
            cfg(grid, (128, 1, 1), 0),
            &mut [
                Arg::In("src", &src),
                Arg::Out("dst", &mut dst),
                Arg::I32("n", n as i32),
            ],
        );
        expect_error(r, k.name, &["invalid memory access"]);
    }
    let r = launch(
        &e,
        &OOB_DYNAMIC_SHARED_PAST_END,
        cfg(grid, (128, 1, 1), 128 * 4),
        &mut [
            Arg::In("src", &src),
            Arg::Out("dst", &mut dst),
            Arg::I32("n", n as i32),
        ],
    );
    expect_error(r, "oob_dynamic_shared_past_end", &["invalid memory access"]);
    // The correct copy runs clean afterwards.
    let mut dst = e.alloc_zeros(n).unwrap();
    launch(
        &e,
        &OOB_COPY,
        cfg(grid, (128, 1, 1), 128 * 4),
        &mut [
            Arg::In("src", &src),
            Arg::Out("dst", &mut dst),
            Arg::I32("n", n as i32),
        ],
    )
    .unwrap();
    assert_eq!(e.download(&dst).unwrap(), x);
}

/// Time of a 1M-thread, barrier-heavy launch: a 1024-thread shared-memory tree sum over
/// 2^20 inputs (11 barriers per block). Run with `-- --ignored --nocapture`.
#[test]
#[ignore = "a timing, not a check: run by hand with --nocapture"]
fn timing_one_million_threads_tree_sum() {
    let n = 1usize << 20;
    let x = random(n, 77);
    let (want, scale) = chunk_sums(&x, 1024);
    for &(t, b) in &ORDERS[..3] {
        let e = emu(t, b);
        let xb = e.upload(&x).unwrap();
        let mut out = e.alloc_zeros(1024).unwrap();
        let start = std::time::Instant::now();
        launch(
            &e,
            &PROBE_TREE_SUM,
            cfg((1024, 1, 1), (1024, 1, 1), 0),
            &mut [
                Arg::In("x", &xb),
                Arg::Out("out", &mut out),
                Arg::I32("n", n as i32),
            ],
        )
        .unwrap();
        println!(
            "1M-thread tree sum, threads {t:?}, blocks {b:?}: {:.3} s",
            start.elapsed().as_secs_f64()
        );
        assert_close(&e.download(&out).unwrap(), &want, &scale, "1M tree sum");
    }
}

/// TF32 rounding (PTX's `cvt.rna.tf32.f32`) computed in f64: the nearest multiple of the
/// TF32 spacing at |x| (10 fraction bits; subnormals on f32's exponent floor), halfway
/// cases away from zero; too large rounds to infinity.
fn tf32_reference(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let ax = f64::from(x.abs());
    let biased = ((x.to_bits() >> 23) & 0xff) as i32;
    let spacing = 2f64.powi(biased.max(1) - 127 - 10);
    let below = (ax / spacing).floor() * spacing;
    let r = if ax - below >= spacing / 2.0 {
        below + spacing
    } else {
        below
    };
    (r as f32).copysign(x)
}

#[test]
fn tf32_rounding_is_to_nearest_with_ties_away_from_zero() {
    let mut x: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.0 + 2f32.powi(-11),                  // a tie: rounds away, up
        -(1.0 + 2f32.powi(-11)),               // the same below zero
        1.0 + 2f32.powi(-11) - 2f32.powi(-23), // just below the tie: down
        1.0 + 3.0 * 2f32.powi(-11),            // a tie between odd and even: away
        f32::MAX,                              // rounds to infinity
        f32::MIN_POSITIVE,
        f32::MIN_POSITIVE * 0.7, // subnormal
        1e-45,
        2.0 - 2f32.powi(-23), // rounds up to 2
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let mut rng = StdRng::seed_from_u64(99);
    x.extend((0..3000).map(|_| f32::from_bits(rng.random::<u32>() & 0xff7f_ffff)));
    x.retain(|v| !v.is_nan());
    let n = x.len();
    let e = emu(Order::Forward, Order::Forward);
    let xb = e.upload(&x).unwrap();
    let mut out = e.alloc_zeros(n).unwrap();
    let c = cfg((n.div_ceil(128) as u32, 1, 1), (128, 1, 1), 0);
    launch(
        &e,
        &PROBE_TF32,
        c,
        &mut [
            Arg::In("x", &xb),
            Arg::Out("out", &mut out),
            Arg::I32("n", n as i32),
        ],
    )
    .unwrap();
    let got = e.download(&out).unwrap();
    for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
        let want = tf32_reference(v);
        assert_eq!(
            g.to_bits(),
            want.to_bits(),
            "x[{i}] = {v:e}: got {g:e}, want {want:e}"
        );
        assert_eq!(g.to_bits() & 0x1fff, 0, "x[{i}]: low 13 bits not zero");
    }
    assert_eq!(got[4], 1.0 + 2f32.powi(-10));
    assert_eq!(got[5], -(1.0 + 2f32.powi(-10)));
    assert_eq!(got[6], 1.0);
    assert_eq!(got[8], f32::INFINITY);
    // NaN stays NaN.
    let nan = e.upload(&[f32::NAN]).unwrap();
    let mut o = e.alloc_zeros(1).unwrap();
    let c1 = cfg((1, 1, 1), (32, 1, 1), 0);
    let mut args = [
        Arg::In("x", &nan),
        Arg::Out("out", &mut o),
        Arg::I32("n", 1),
    ];
    launch(&e, &PROBE_TF32, c1, &mut args).unwrap();
    assert!(e.download(&o).unwrap()[0].is_nan());
}

/// f64 reference of one m16n8k8 product per warp: D = C + A·B with the operands turned
/// into TF32 by `op`; returns (D, |C| + Σ|A·B|).
fn mma_reference(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    warps: usize,
    op: impl Fn(f32) -> f32,
) -> (Vec<f64>, Vec<f64>) {
    let (mut d, mut scale) = (vec![0.0; warps * 128], vec![0.0; warps * 128]);
    for q in 0..warps {
        for r in 0..16 {
            for col in 0..8 {
                let i = q * 128 + r * 8 + col;
                let (mut s, mut abs) = (f64::from(c[i]), f64::from(c[i]).abs());
                for k in 0..8 {
                    let p = f64::from(op(a[q * 128 + r * 8 + k]))
                        * f64::from(op(b[q * 64 + k * 8 + col]));
                    s += p;
                    abs += p.abs();
                }
                d[i] = s;
                scale[i] = abs;
            }
        }
    }
    (d, scale)
}

#[test]
fn mma_tf32_multiplies_the_documented_fragments_in_every_order() {
    // 6 warps in 3 blocks of 64 threads.
    let warps = 6;
    let (a, b, c) = (
        random(warps * 128, 1),
        random(warps * 64, 2),
        random(warps * 128, 3),
    );
    for round in [1, 0] {
        let op = |v: f32| {
            if round == 1 {
                tf32_reference(v)
            } else {
                f32::from_bits(v.to_bits() & 0xffff_e000)
            }
        };
        let (want, scale) = mma_reference(&a, &b, &c, warps, op);
        // The reference with f32 operands instead: TF32 must make a visible difference.
        let (exact, _) = mma_reference(&a, &b, &c, warps, |v| v);
        let mut first: Option<Vec<f32>> = None;
        for &(t, bo) in ORDERS {
            let e = emu(t, bo);
            let (ab, bb, cb) = (
                e.upload(&a).unwrap(),
                e.upload(&b).unwrap(),
                e.upload(&c).unwrap(),
            );
            let mut d = e.alloc_zeros(warps * 128).unwrap();
            let cf = cfg((3, 1, 1), (64, 1, 1), 0);
            launch(
                &e,
                &PROBE_MMA_TF32,
                cf,
                &mut [
                    Arg::In("a", &ab),
                    Arg::In("b", &bb),
                    Arg::In("c", &cb),
                    Arg::Out("d", &mut d),
                    Arg::I32("round_inputs", round),
                ],
            )
            .unwrap();
            let got = e.download(&d).unwrap();
            for i in 0..got.len() {
                let err = (f64::from(got[i]) - want[i]).abs() / scale[i];
                assert!(
                    err <= 1e-7,
                    "round={round} {t:?}/{bo:?} d[{i}]: got {} want {} ({err:e})",
                    got[i],
                    want[i]
                );
            }
            let off = got
                .iter()
                .zip(&exact)
                .filter(|(g, x)| (f64::from(**g) - **x).abs() > 1e-6)
                .count();
            assert!(
                off > got.len() / 2,
                "TF32 rounding left {off} of {} results at f32 accuracy",
                got.len()
            );
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(f, &got, "round={round}: result depends on the order"),
            }
        }
    }
}

#[test]
fn mma_needs_the_whole_warp_at_one_instruction() {
    let e = emu(Order::Forward, Order::Forward);
    for (mode, threads, needles) in [
        (0, 32, &["exited"][..]),
        (1, 32, &["lane 3", "exited"][..]),
        (2, 32, &["whole warp at one instruction"][..]),
        (3, 48, &["warp of 16 threads"][..]),
    ] {
        let mut out = e.alloc_zeros(64).unwrap();
        let r = launch(
            &e,
            &PROBE_MMA_MISUSE,
            cfg((1, 1, 1), (threads, 1, 1), 0),
            &mut [Arg::Out("out", &mut out), Arg::I32("mode", mode)],
        );
        let mut all = vec!["mma.sync.m16n8k8.tf32"];
        all.extend_from_slice(needles);
        expect_error(r, "probe_mma_misuse", &all);
    }
    // Mode 3 in whole warps is fine: C + 0·0.
    let mut out = e.alloc_zeros(64).unwrap();
    launch(
        &e,
        &PROBE_MMA_MISUSE,
        cfg((1, 1, 1), (64, 1, 1), 0),
        &mut [Arg::Out("out", &mut out), Arg::I32("mode", 3)],
    )
    .unwrap();
    assert!(e.download(&out).unwrap().iter().all(|&v| v == 1.0));
}

/// A group ([`satcolor::device::Device::alloc_group`]) on the emulated GPU: its parts start
/// on multiples of `GROUP_ALIGN` in one allocation, a span sees the values of its parts
/// (padding between them zero), an update of the span is an update of the parts, views
/// outside the buffer are refused, and a launch that writes a buffer overlapping another
/// (a span and one of its parts) is refused rather than run against `__restrict__`.
#[test]
fn groups_lay_parts_in_one_allocation_and_spans_see_them() {
    use satcolor::device::gpu::{GpuDevice, GROUP_ALIGN};
    use satcolor::device::Device;
    let dev = GpuDevice::new(emu(Order::Forward, Order::Forward));
    let lens = [3usize, GROUP_ALIGN + 1, 0, 5];
    let mut g = dev.alloc_group(&lens, &[0..4, 1..2, 2..2]).unwrap();
    let mut spans = g.spans.take().expect("a GPU device has spans");
    let start1 = GROUP_ALIGN;
    let start3 = 3 * GROUP_ALIGN; // 1 + GROUP_ALIGN rounds up to 2·GROUP_ALIGN; the empty part adds none.
    assert_eq!(
        spans.iter().map(|b| dev.len(b)).collect::<Vec<_>>(),
        [start3 + 5, GROUP_ALIGN + 1, 0]
    );
    for (i, (part, &n)) in g.parts.iter_mut().zip(&lens).enumerate() {
        assert_eq!(dev.len(part), n);
        dev.write(part, &vec![(i + 1) as f32; n]).unwrap();
    }
    let all = dev.download(&spans[0]).unwrap();
    let mut want = vec![0.0f32; start3 + 5];
    want[..3].fill(1.0);
    want[start1..start1 + GROUP_ALIGN + 1].fill(2.0);
    want[start3..].fill(4.0);
    assert_eq!(all, want);
    // One launch over the span scales every part (and leaves the padding zero).
    dev.scale(&mut spans[0], -2.0).unwrap();
    for (i, (part, &n)) in g.parts.iter().zip(&lens).enumerate() {
        assert_eq!(dev.download(part).unwrap(), vec![-2.0 * (i + 1) as f32; n]);
    }
    assert_eq!(
        dev.download(&spans[0]).unwrap()[3..start1],
        vec![0.0; start1 - 3]
    );

    let e = dev.exec();
    let whole = e.alloc_zeros(3 * GROUP_ALIGN).unwrap();
    for (offset, len) in [
        (1, 2),
        (GROUP_ALIGN, 2 * GROUP_ALIGN + 1),
        (4 * GROUP_ALIGN, 0),
    ] {
        let err = e.view(&whole, offset, len).err().expect("a bad view");
        assert!(err.to_string().contains("view of elements"), "{err}");
    }
    // add_assign(a, b) with a and b overlapping views: refused.
    let mut a = e.view(&whole, 0, GROUP_ALIGN + 9).unwrap();
    let b = e.view(&whole, GROUP_ALIGN, GROUP_ALIGN + 9).unwrap();
    let err = dev.add_assign(&mut a, &b).expect_err("aliasing buffers");
    assert!(err.to_string().contains("overlap"), "{err}");
    // Disjoint views of one allocation are fine.
    let mut a = e.view(&whole, 0, GROUP_ALIGN).unwrap();
    let b = e.view(&whole, GROUP_ALIGN, GROUP_ALIGN).unwrap();
    dev.add_assign(&mut a, &b).unwrap();
}

/// cp.async in the emulator: copies waited for before the barrier give the neighbour's
/// value (x, doubled where the second, zero-filled copy of an odd thread adds 0); a read
/// after the barrier but before the thread's own wait sees stale shared memory in some
/// thread orders (the copies land at the wait); never waiting is a launch error.
#[test]
fn cp_async_copies_land_at_their_wait() {
    let (block, blocks) = (64u32, 2u32);
    let n = (block * blocks) as usize;
    let x = random(n, 9);
    let want: Vec<f32> = (0..n)
        .map(|i| {
            let (b, t) = (i / block as usize, i % block as usize);
            let u = (t + 1) % block as usize;
            let v = x[b * block as usize + u];
            if u % 2 == 0 {
                2.0 * v
            } else {
                v
            }
        })
        .collect();
    let run = |e: &EmuExec, mode: i32| -> Result<Vec<f32>> {
        let xb = e.upload(&x)?;
        let mut out = e.alloc_zeros(n)?;
        let c = cfg((blocks, 1, 1), (block, 1, 1), 0);
        let args = &mut [
            Arg::In("x", &xb),
            Arg::Out("out", &mut out),
            Arg::I32("mode", mode),
        ];
        launch(e, &PROBE_CP_ASYNC, c, args)?;
        e.download(&out)
    };
    let mut early_differs = false;
    for &(t, b) in ORDERS {
        let e = emu(t, b);
        assert_eq!(run(&e, 0).unwrap(), want, "{t:?} {b:?}");
        early_differs |= run(&e, 1).unwrap() != want;
        expect_error(
            run(&e, 2).map(|_| ()),
            "probe_cp_async",
            &["cp.async copies it never waited for"],
        );
    }
    assert!(
        early_differs,
        "reading before the wait gave the right values in every order"
    );
}
