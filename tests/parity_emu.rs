//! The CUDA kernels (kernels/*.cu) run on the CPU by the emulator through the very launch
//! code that drives a GPU (`GpuDevice<EmuExec>`): parity with the f64 reference over the
//! full selftest suite in three thread/block orders, bit-identical results across those
//! orders (a missing barrier or an order-dependent reduction shows up as a difference),
//! kernels with more taps than threads, errors instead of bad launches, and no allocation
//! in steady state. (tests/golden.rs runs the PyTorch goldens on the emulator.)
#![cfg(feature = "emu")]

use satcolor::device::emu::{EmuExec, EmuOptions, Order};
use satcolor::device::gpu::{variants, GpuDevice, Variants};
use satcolor::device::precision::Precision;
use satcolor::device::Device;
use satcolor::ops::{
    Act, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape, Unpool,
};
use satcolor::selftest::{self, CaseRun, Suite};
use satcolor::Error;
use std::time::Instant;

/// The emulated device with the given thread and block orders.
fn emu(thread_order: Order, block_order: Order) -> GpuDevice<EmuExec> {
    let exec = EmuExec::new(EmuOptions {
        thread_order,
        block_order,
        ..EmuOptions::default()
    })
    .expect("emulator opens");
    GpuDevice::new(exec)
}

/// Runs the full suite, prints its table and timing, and fails on any failing check.
fn full_suite_passes(dev: &GpuDevice<EmuExec>) -> Vec<CaseRun> {
    let t = Instant::now();
    let runs = selftest::run_suite(dev, Suite::Full);
    let results = selftest::results(&runs);
    println!("{} — full suite in {:.2?}", dev.name(), t.elapsed());
    println!("{}", selftest::format_table(&results));
    let failed: Vec<_> = results.iter().filter(|r| !r.pass).collect();
    assert!(
        failed.is_empty(),
        "{}: failing checks: {failed:#?}",
        dev.name()
    );
    runs
}

/// Asserts that two runs of the suite produced the same bits in every output.
fn assert_same_bits(a: &[CaseRun], b: &[CaseRun], what: &str) {
    assert_eq!(a.len(), b.len());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (ra, rb) in a.iter().zip(b) {
        assert_eq!(ra.outputs.len(), rb.outputs.len());
        for (oa, ob) in ra.outputs.iter().zip(&rb.outputs) {
            assert!(
                bits(&oa.device) == bits(&ob.device),
                "{} {} output {}: {what} differ",
                ra.op,
                ra.shape,
                oa.name
            );
        }
    }
}

/// Under AddressSanitizer (scripts/emu-asan.sh) these tests check memory accesses, which do
/// not depend on the order of threads and blocks or on the bits compared: they run each
/// kernel once, and the bit-identity comparisons are left to the plain run.
const UNDER_ASAN: bool = cfg!(feature = "emu-asan");

#[test]
fn emu_matches_the_reference_bit_identically_in_three_orders() {
    let shuffled = full_suite_passes(&emu(Order::Shuffle(0x5a7c), Order::Shuffle(0xb10c)));
    if UNDER_ASAN {
        return;
    }
    let forward = full_suite_passes(&emu(Order::Forward, Order::Forward));
    let reverse = full_suite_passes(&emu(Order::Reverse, Order::Reverse));
    assert_same_bits(&forward, &reverse, "forward and reverse orders");
    assert_same_bits(&forward, &shuffled, "forward and shuffled orders");
}

/// Every variant of the slot named `slot` passes the slot's cases in a shuffled order, and
/// those that sum in v1's order give v1's bits (v1 run in forward order).
fn slot_variants_match_the_reference_and_v1(slot: &str) {
    let slot = variants::SLOTS
        .iter()
        .find(|s| s.name == slot)
        .expect("a slot of that name");
    let cases = selftest::slot_cases(slot);
    assert!(cases.len() >= 10, "{}: {} cases", slot.name, cases.len());
    let run = |variant: &str, order: Order| -> Vec<CaseRun> {
        let exec = EmuExec::new(EmuOptions {
            thread_order: order,
            block_order: order,
            ..EmuOptions::default()
        })
        .unwrap();
        let chosen = Variants::chosen().with(slot.name, variant).unwrap();
        assert_eq!(chosen.kernel(slot.name).name, {
            let (_, k) = slot.variants.iter().find(|(v, _)| *v == variant).unwrap();
            k.name
        });
        let dev = GpuDevice::with_variants(exec, chosen);
        cases.iter().map(|c| selftest::run_case(&dev, c)).collect()
    };
    let v1 = (!UNDER_ASAN).then(|| run("v1", Order::Forward));
    let chosen = Variants::chosen();
    for (variant, kernel) in slot.variants {
        // Under ASan the chosen variant's accesses were checked by the full suite.
        if UNDER_ASAN && chosen.kernel(slot.name).name == kernel.name {
            continue;
        }
        let runs = run(variant, Order::Shuffle(0x7a2));
        let failed: Vec<_> = selftest::results(&runs)
            .into_iter()
            .filter(|r| !r.pass)
            .collect();
        assert!(failed.is_empty(), "{} {variant}: {failed:#?}", slot.name);
        if let Some(v1) = v1.as_ref().filter(|_| slot.v1_bits.contains(variant)) {
            assert_same_bits(v1, &runs, &format!("{} v1 and {variant}", slot.name));
        }
    }
}

#[test]
fn conv2d_forward_variants() {
    slot_variants_match_the_reference_and_v1("conv2d_forward");
}

#[test]
fn conv_transpose2d_forward_variants() {
    slot_variants_match_the_reference_and_v1("conv_transpose2d_forward");
}

#[test]
fn conv2d_weight_grad_variants() {
    slot_variants_match_the_reference_and_v1("conv2d_weight_grad");
}

/// Every slot has a test above.
#[test]
fn the_variant_tests_cover_every_slot() {
    let covered = [
        "conv2d_forward",
        "conv_transpose2d_forward",
        "conv2d_weight_grad",
    ];
    let slots: Vec<_> = variants::SLOTS.iter().map(|s| s.name).collect();
    assert_eq!(slots, covered);
}

/// The worst max-norm relative error over the outputs of `runs`, after asserting that each
/// passes its precision's tolerance.
fn worst_passing(runs: &[CaseRun], what: &str) -> f64 {
    let results = selftest::results(runs);
    let failed: Vec<_> = results.iter().filter(|r| !r.pass).collect();
    assert!(failed.is_empty(), "{what}: {failed:#?}");
    results.iter().fold(0.0, |m, r| m.max(r.max_rel_err))
}

#[test]
fn tensor_core_precisions_match_the_reference_within_their_mantissas_tolerance() {
    // The cases of the ops that run the implicit GEMMs (both convolutions, every output).
    let cases: Vec<_> = variants::SLOTS
        .iter()
        .flat_map(selftest::slot_cases)
        .filter(|c| c.op == "conv2d" || c.op == "conv_transpose2d")
        .fold(Vec::new(), |mut v: Vec<selftest::Case>, c| {
            if !v.iter().any(|u| u.op == c.op && u.shape == c.shape) {
                v.push(c);
            }
            v
        });
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let run = |p: Precision, order: Order| -> Vec<CaseRun> {
        let dev = emu(order, order).with_precision(p);
        cases.iter().map(|c| selftest::run_case(&dev, c)).collect()
    };
    // (FP32 runs these cases in the full suite.)
    let tf32_runs = run(Precision::Tf32, Order::Forward);
    let tf32 = worst_passing(&tf32_runs, "tf32");
    // TF32 rounding shows (so the tensor-core path ran) and stays within 8u.
    assert!(
        tf32 > 1e-5 && tf32 <= Precision::Tf32.tolerance(),
        "tf32 {tf32:e}"
    );
    if EmuExec::asan() {
        // The AddressSanitizer job (scripts/emu-asan.sh) is about out-of-bounds accesses:
        // 3xTF32 and another order make the same accesses, at 3 and 1 times the cost of
        // the emulated mma under ASan; the normal build checks them.
        println!("worst max-norm relative error: tf32 {tf32:.2e} (3xtf32 and the order check: normal build)");
        return;
    }
    let x3 = worst_passing(&run(Precision::Tf32x3, Order::Shuffle(0x3f)), "3xtf32");
    println!("worst max-norm relative error: tf32 {tf32:.2e}, 3xtf32 {x3:.2e}");
    // 3xTF32 is back at FP32's accuracy.
    assert!(
        x3 <= selftest::TOLERANCE && x3 < tf32 / 30.0,
        "3xtf32 {x3:e}"
    );
    // The order of threads and blocks does not change a bit.
    assert_same_bits(
        &tf32_runs,
        &run(Precision::Tf32, Order::Shuffle(0x91)),
        "tf32 orders",
    );
}

#[test]
fn sixteen_bit_storage_runs_the_forward_ops_within_one_rounding() {
    // Every case of the ops G's forward pass uses, with inputs rounded to bf16 or fp16
    // (exact on the device) against the f64 reference on the same values: one rounding of
    // the output (u = 2^-8, 2^-11) plus FP32 accumulation.
    let mut worst = Vec::new();
    // Under AddressSanitizer (scripts/emu-asan.sh) bf16 alone: fp16 runs the same kernels
    // with the same accesses, only another `fmt`.
    let precisions: &[Precision] = if EmuExec::asan() {
        &[Precision::Bf16]
    } else {
        &[Precision::Bf16, Precision::Fp16]
    };
    for &p in precisions {
        let order = if p == Precision::Bf16 {
            Order::Forward
        } else {
            Order::Shuffle(0x16)
        };
        let dev = emu(order, order).with_precision(p);
        let runs = selftest::run_suite(&dev, Suite::Full);
        let w = worst_passing(&runs, p.name());
        let ops: Vec<&str> = runs.iter().map(|r| r.op).collect();
        for op in [
            "conv2d",
            "conv_transpose2d",
            "max_pool2d",
            "concat_channels",
            "convex_skip",
            "add_assign",
        ] {
            assert!(ops.contains(&op), "{p}: no case of {op}");
        }
        // The training ops do not run, and say so.
        let skipped = selftest::skipped_ops(&selftest::cases(Suite::Full), &runs);
        assert!(skipped.contains(&"adam_step") && skipped.contains(&"act_backward"));
        // Rounding to 16 bits shows (the 16-bit kernels ran), within one unit roundoff.
        let u = p.storage().unwrap().unit_roundoff();
        assert!(w > u / 8.0 && w <= p.tolerance(), "{p}: {w:e}");
        worst.push(w);
        // A training op is a clear error, not a wrong result.
        let x = dev.upload(&[1.0, 2.0]).unwrap();
        let mut y = dev.upload(&[0.0, 0.0]).unwrap();
        let e = dev
            .act_backward(Act::Relu, &x, &mut y)
            .unwrap_err()
            .to_string();
        assert!(e.contains("act_backward") && e.contains(p.name()), "{e}");
        // Values round-trip through the storage as the format rounds them.
        let v = [0.1f32, -3.7, 1e-3, 65504.0];
        let back = dev.download(&dev.upload(&v).unwrap()).unwrap();
        let f = p.storage().unwrap();
        assert_eq!(back, v.map(|x| f.round(x)));
    }
    // fp16 keeps 3 more bits than bf16.
    if let [bf16, fp16] = worst[..] {
        assert!(fp16 < bf16 / 4.0, "{worst:?}");
    }
}

#[test]
fn emu_rejects_bad_shapes_with_errors() {
    let dev = emu(Order::Forward, Order::Forward);
    let buf = |n: usize| dev.alloc_zeros(n).unwrap();
    let s = Conv2dShape {
        n: 2,
        c_in: 3,
        h: 5,
        w: 6,
        c_out: 4,
        k: 3,
        stride: 2,
        pad: 1,
    };
    let e = dev.conv2d_forward(
        &s,
        &buf(s.x_len()),
        &buf(s.w_len()),
        None,
        Act::Relu,
        &mut buf(s.y_len() + 1),
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    // The two-ops-in-one methods check their second output (or input) before launching:
    // a pooled map or an activation of the wrong length is a shape error and y is not
    // written.
    let (x, w) = (buf(s.x_len()), buf(s.w_len()));
    let mut y = dev.upload(&vec![7.0; s.y_len()]).unwrap();
    let e = dev.conv2d_forward_pooled(&s, &x, &w, None, Act::Relu, &mut y, &mut buf(1));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    assert!(dev.download(&y).unwrap().iter().all(|&v| v == 7.0));
    let mut dx = dev.upload(&vec![7.0; s.x_len()]).unwrap();
    let mask = (Act::Relu, &buf(s.x_len() - 1));
    let e = dev.conv2d_backward_input_act(&s, &w, &buf(s.y_len()), mask, &mut dx);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let t = ConvTranspose2dShape {
        n: 2,
        c_in: 3,
        h: 5,
        w: 6,
        c_out: 4,
        k: 2,
        stride: 2,
        pad: 0,
        out_pad: 0,
    };
    let (tw, tdy) = (buf(t.w_len()), buf(t.y_len()));
    let e = dev.conv_transpose2d_backward_input_act(&t, &tw, &tdy, mask, &mut dx);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    assert!(dev.download(&dx).unwrap().iter().all(|&v| v == 7.0));
    // An input gradient on through a pooling checks that the pooled map is the
    // convolution's input and the lengths of the pooling's input and of ∂x, before
    // launching: dp and ∂x are not written.
    let u = Conv2dShape { stride: 1, ..s };
    let pool = |h: usize, w: usize| Pool2dShape { n: 2, c: 3, h, w };
    let (fits, wrong) = (pool(11, 12), pool(12, 14));
    let (uw, udy) = (buf(u.w_len()), buf(u.y_len()));
    for (shape, x_len, dx_len) in [
        (wrong, wrong.x_len(), wrong.x_len()),
        (fits, fits.x_len() - 1, fits.x_len()),
        (fits, fits.x_len(), fits.x_len() + 1),
    ] {
        let x = buf(x_len);
        let unpool = Unpool {
            shape: &shape,
            x: &x,
            act: Act::Relu,
            add: true,
        };
        let mut dp = dev.upload(&vec![7.0; u.x_len()]).unwrap();
        let mut px = dev.upload(&vec![7.0; dx_len]).unwrap();
        let e = dev.conv2d_backward_input_unpool(&u, &uw, &udy, unpool, &mut dp, &mut px);
        assert!(matches!(e, Err(Error::Shape { .. })), "{shape:?}: {e:?}");
        assert!(dev.download(&dp).unwrap().iter().all(|&v| v == 7.0));
        assert!(dev.download(&px).unwrap().iter().all(|&v| v == 7.0));
    }
    // A convolution of two inputs checks that their shape is its input's (channels, batch,
    // plane) and the lengths of the parts and the scratch, before launching.
    let u = Conv2dShape {
        c_in: 8,
        stride: 1,
        ..s
    };
    let cat = |c_a: usize, c_b: usize, n: usize| ConcatShape {
        n,
        c_a,
        c_b,
        plane: u.h * u.w,
    };
    let (uw, half) = (buf(u.w_len()), u.x_len() / 2);
    let mut uy = dev.upload(&vec![7.0; u.y_len()]).unwrap();
    for (c, a_len, scratch_len) in [
        (cat(4, 3, 2), half, u.x_len()),     // 7 channels for 8
        (cat(4, 4, 1), half, u.x_len()),     // batch 1 for 2
        (cat(4, 4, 2), half + 1, u.x_len()), // a's length
        (cat(4, 4, 2), half, u.x_len() - 1), // the scratch's length
    ] {
        let (a, b) = (buf(a_len), buf(half));
        let e = dev.conv2d_forward_cat(
            &u,
            &c,
            (&a, &b),
            &uw,
            None,
            Act::Relu,
            &mut uy,
            &mut buf(scratch_len),
        );
        assert!(matches!(e, Err(Error::Shape { .. })), "{c:?}: {e:?}");
        let e = dev.conv2d_backward_weight_cat(
            &u,
            &c,
            (&a, &b),
            &buf(u.y_len()),
            &mut buf(u.w_len()),
            None,
            &mut buf(scratch_len),
        );
        assert!(matches!(e, Err(Error::Shape { .. })), "{c:?}: {e:?}");
    }
    assert!(dev.download(&uy).unwrap().iter().all(|&v| v == 7.0));
    // v1's gather stages the input patch and weights of a tile: a 41×41 kernel does not
    // fit 48 KiB of shared memory, and its batch is grid.z (at most 65535). The implicit
    // GEMM (the default) keeps only 16 bytes per tap and folds the batch into its rows:
    // it runs both, and refuses a 64×64 kernel (65 536 bytes of taps).
    let v1 = GpuDevice::with_variants(
        EmuExec::new(EmuOptions::default()).unwrap(),
        Variants::chosen().with("conv2d_forward", "v1").unwrap(),
    );
    let huge_k = Conv2dShape {
        h: 70,
        w: 70,
        k: 41,
        pad: 0,
        ..s
    };
    let wide = Conv2dShape {
        n: 70_000,
        c_in: 1,
        h: 1,
        w: 1,
        c_out: 1,
        k: 1,
        stride: 1,
        pad: 0,
    };
    let too_huge = Conv2dShape { k: 64, ..huge_k };
    for (shape, v1_fails, v3_fails) in [
        (huge_k, true, false),
        (wide, true, false),
        (too_huge, true, true),
    ] {
        for (d, fails) in [(&v1, v1_fails), (&dev, v3_fails)] {
            let e = d.conv2d_forward(
                &shape,
                &d.alloc_zeros(shape.x_len()).unwrap(),
                &d.alloc_zeros(shape.w_len()).unwrap(),
                None,
                Act::Identity,
                &mut d.alloc_zeros(shape.y_len()).unwrap(),
            );
            if fails {
                assert!(matches!(e, Err(Error::Shape { .. })), "{shape:?}: {e:?}");
            } else {
                assert!(e.is_ok(), "{shape:?}: {e:?}");
            }
        }
    }
    let t = ConvTranspose2dShape {
        n: 1,
        c_in: 2,
        h: 3,
        w: 3,
        c_out: 1,
        k: 3,
        stride: 2,
        pad: 1,
        out_pad: 1,
    };
    let e = dev.conv_transpose2d_backward_weight(
        &t,
        &buf(t.x_len()),
        &buf(t.y_len()),
        &mut buf(t.w_len()),
        Some(&mut buf(2)),
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let p = Pool2dShape {
        n: 1,
        c: 2,
        h: 5,
        w: 5,
    };
    let e = dev.max_pool2d_forward(&p, &buf(p.x_len()), &mut buf(p.x_len()));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let l = LinearShape { n: 2, k: 5, m: 1 };
    let e = dev.linear_forward(&l, &buf(10), &buf(5), &buf(2), &mut buf(2));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let e = dev.bce_with_logits(&buf(4), 1.0, 4, 1.0, &mut buf(2), &mut buf(4));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    // More logits of the first target than logits.
    let e = dev.bce_with_logits(&buf(4), 1.0, 5, 1.0, &mut buf(1), &mut buf(4));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let e = dev.convex_skip_forward(&buf(2), &buf(4), &buf(4), &mut buf(4));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
}

#[test]
fn emu_ops_do_not_allocate_in_steady_state() {
    let dev = emu(Order::Forward, Order::Forward);
    let x = dev.upload(&[0.5, -1.0, 2.0, 3.0, -0.25]).unwrap();
    let mut loss = dev.alloc_zeros(1).unwrap();
    let mut dz = dev.alloc_zeros(5).unwrap();
    let mut total = dev.alloc_zeros(1).unwrap();
    // A weight gradient split over K (1 output tile, K = 2·30·30 positions).
    let s = Conv2dShape {
        n: 2,
        c_in: 3,
        h: 30,
        w: 30,
        c_out: 5,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let (xc, dy) = (
        dev.alloc_zeros(s.x_len()).unwrap(),
        dev.alloc_zeros(s.y_len()).unwrap(),
    );
    let mut dw = dev.alloc_zeros(s.w_len()).unwrap();
    // The first reduction allocates the partial-sums scratch buffer, the first split
    // weight gradient its partial products; later ones reuse them.
    dev.sum(&x, &mut total).unwrap();
    dev.conv2d_backward_weight(&s, &xc, &dy, &mut dw, None)
        .unwrap();
    let before = dev.alloc_count();
    for _ in 0..3 {
        dev.bce_with_logits(&x, 1.0, 3, 0.5, &mut loss, &mut dz)
            .unwrap();
        dev.sum(&x, &mut total).unwrap();
        dev.conv2d_backward_weight(&s, &xc, &dy, &mut dw, None)
            .unwrap();
    }
    assert_eq!(
        dev.alloc_count(),
        before,
        "ops allocated buffers in steady state"
    );
    assert_eq!(dev.download(&total).unwrap(), vec![4.25]);
}

/// Seeded uniform values in [-1, 1), exactly representable in f32.
fn random(len: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Max-norm relative error of a device result against the f64 reference.
fn err(dev: &GpuDevice<EmuExec>, got: &<GpuDevice<EmuExec> as Device>::Buf, want: &[f64]) -> f64 {
    selftest::max_rel_err(&dev.download(got).unwrap(), want)
}

/// 17×17 kernels have 289 taps: more than one block of 256 threads owns, so the weight
/// gradient kernel takes two tap chunks (a path the selftest's k ≤ 9 shapes never reach).
#[test]
fn emu_handles_kernels_with_more_taps_than_threads() {
    use satcolor::ops::{conv2d, conv_transpose2d};
    let dev = emu(Order::Reverse, Order::Shuffle(7));
    let f64s = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    let s = Conv2dShape {
        n: 2,
        c_in: 2,
        h: 19,
        w: 21,
        c_out: 3,
        k: 17,
        stride: 1,
        pad: 8,
    };
    let (x, w, dy) = (
        random(s.x_len(), 1),
        random(s.w_len(), 2),
        random(s.y_len(), 3),
    );
    let (xb, wb, dyb) = (
        dev.upload(&x).unwrap(),
        dev.upload(&w).unwrap(),
        dev.upload(&dy).unwrap(),
    );
    let mut dx = dev.alloc_zeros(s.x_len()).unwrap();
    let mut dw = dev.alloc_zeros(s.w_len()).unwrap();
    dev.conv2d_backward_input(&s, &wb, &dyb, &mut dx).unwrap();
    dev.conv2d_backward_weight(&s, &xb, &dyb, &mut dw, None)
        .unwrap();
    let want_dx = conv2d::reference::conv2d_backward_input(&s, &f64s(&w), &f64s(&dy)).unwrap();
    let (want_dw, _) =
        conv2d::reference::conv2d_backward_weight(&s, &f64s(&x), &f64s(&dy)).unwrap();
    assert!(err(&dev, &dx, &want_dx) <= selftest::TOLERANCE);
    assert!(err(&dev, &dw, &want_dw) <= selftest::TOLERANCE);

    let t = ConvTranspose2dShape {
        n: 1,
        c_in: 3,
        h: 6,
        w: 5,
        c_out: 2,
        k: 17,
        stride: 2,
        pad: 8,
        out_pad: 1,
    };
    let (x, dy) = (random(t.x_len(), 4), random(t.y_len(), 5));
    let (xb, dyb) = (dev.upload(&x).unwrap(), dev.upload(&dy).unwrap());
    let mut dw = dev.alloc_zeros(t.w_len()).unwrap();
    dev.conv_transpose2d_backward_weight(&t, &xb, &dyb, &mut dw, None)
        .unwrap();
    let (want_dw, _) =
        conv_transpose2d::reference::conv_transpose2d_backward_weight(&t, &f64s(&x), &f64s(&dy))
            .unwrap();
    assert!(err(&dev, &dw, &want_dw) <= selftest::TOLERANCE);
}

/// The patch-staged convolutions add a split K of 2 to 4 splits inside the kernel (the
/// last block of each output tile, counted by tickets): results within TF32's tolerance
/// of the f64 reference, the same bits in every thread/block order and on a second launch
/// (the counters are back at 0, or the second launch would leave y unwritten), with y
/// filled with NaN before each launch; 9 splits still go through `sum_slices`. Awkward
/// sizes: partial tiles, a partial chunk of input channels, a partial channel tile, rows
/// of whole quads and not.
#[test]
fn patch_convolutions_fold_few_splits_in_the_kernel_in_every_order() {
    let f64s = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    let conv = |n, c_in, c_out, h, w| Conv2dShape {
        n,
        c_in,
        h,
        w,
        c_out,
        k: 3,
        stride: 1,
        pad: 1,
    };
    // Splits of the forward pass: 8 blocks (rows of whole quads: the fold's 128-bit loads)
    // or 12 blocks (rows of 19 and 17: its 32-bit loads) and 5 chunks of 8 channels: 2; two
    // blocks and 8 chunks: 4; one block and 17 chunks: 6, added by sum_slices.
    // (The launch plans: src/ops/conv2d/gpu.rs, `few_patch_splits_fold_in_the_kernel`.)
    for s in [
        conv(2, 40, 30, 20, 20),
        conv(3, 37, 24, 20, 19),
        conv(1, 64, 20, 16, 17),
        conv(1, 136, 40, 16, 16),
    ] {
        let (x, w, b) = (
            random(s.x_len(), 11),
            random(s.w_len(), 12),
            random(s.c_out, 13),
        );
        let want = conv2d_reference(&s, &f64s(&x), &f64s(&w), &f64s(&b));
        let mut bits: Option<Vec<u32>> = None;
        let orders = [
            (Order::Forward, Order::Forward),
            (Order::Reverse, Order::Reverse),
            (Order::Shuffle(0x2b), Order::Shuffle(0x5d)),
        ];
        // Under ASan, the accesses of one launch in one order.
        let (orders, launches) = if UNDER_ASAN {
            (&orders[..1], 1)
        } else {
            (&orders[..], 2)
        };
        for &(t, o) in orders {
            let dev = emu(t, o).with_precision(Precision::Tf32);
            let (xb, wb, bb) = (
                dev.upload(&x).unwrap(),
                dev.upload(&w).unwrap(),
                dev.upload(&b).unwrap(),
            );
            let mut y = dev.alloc_zeros(s.y_len()).unwrap();
            for launch in 0..launches {
                dev.write(&mut y, &vec![f32::NAN; s.y_len()]).unwrap();
                dev.conv2d_forward(&s, &xb, &wb, Some(&bb), Act::Relu, &mut y)
                    .unwrap();
                let e = err(&dev, &y, &want);
                assert!(
                    e <= Precision::Tf32.tolerance(),
                    "{s:?} launch {launch}: {e:e}"
                );
                let got: Vec<u32> = dev
                    .download(&y)
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                match &bits {
                    Some(first) => assert!(*first == got, "{s:?} {t:?}/{o:?} launch {launch}"),
                    None => bits = Some(got),
                }
            }
        }
    }
}

/// The f64 reference of conv2d with bias and ReLU.
fn conv2d_reference(s: &Conv2dShape, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    satcolor::ops::conv2d::reference::conv2d_forward(s, x, w, Some(b), Act::Relu).unwrap()
}

/// A host copy of the wrong length is the same shape error on every device (op `write`),
/// and leaves the buffer as it was.
#[test]
fn a_write_of_the_wrong_length_is_a_shape_error_everywhere() {
    fn check<D: Device>(dev: &D) {
        let mut buf = dev.upload(&[1.0, 2.0, 3.0]).unwrap();
        for host in [&[9.0f32; 2][..], &[9.0; 4][..]] {
            match dev.write(&mut buf, host) {
                Err(Error::Shape { op: "write", .. }) => {}
                other => panic!("{}: write of {} into 3: {other:?}", dev.name(), host.len()),
            }
        }
        assert_eq!(
            dev.download(&buf).unwrap(),
            [1.0, 2.0, 3.0],
            "{}",
            dev.name()
        );
    }
    check(&satcolor::device::cpu::CpuDevice::new());
    check(&emu(Order::Forward, Order::Forward));
    check(&emu(Order::Forward, Order::Forward).with_precision(Precision::Bf16));
}

/// Pooling and linear shapes whose lengths overflow are shape errors on every device and
/// in the reference (`validate`), never a wrapped length; empty ones are no-ops.
#[test]
fn pooling_and_linear_shapes_validate_everywhere() {
    use satcolor::ops::{linear::reference as lin_ref, max_pool2d::reference as pool_ref};
    let huge = Pool2dShape {
        n: usize::MAX / 2,
        c: 3,
        h: 2,
        w: 2,
    };
    let wide = LinearShape {
        n: 2,
        k: usize::MAX / 2 + 1,
        m: 1,
    };
    assert!(matches!(huge.validate(), Err(Error::Shape { .. })));
    assert!(matches!(wide.validate(), Err(Error::Shape { .. })));
    let empty = Pool2dShape {
        n: 0,
        c: 3,
        h: 4,
        w: 4,
    };
    empty.validate().unwrap();
    LinearShape { n: 0, k: 3, m: 2 }.validate().unwrap();
    assert!(matches!(
        pool_ref::max_pool2d_forward(&huge, &[]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        lin_ref::linear_forward(&wide, &[], &[], &[0.0]),
        Err(Error::Shape { .. })
    ));
    fn check<D: Device>(dev: &D, huge: &Pool2dShape, wide: &LinearShape) {
        let (a, mut b) = (dev.upload(&[1.0; 12]).unwrap(), dev.alloc_zeros(3).unwrap());
        let r = dev.max_pool2d_forward(huge, &a, &mut b);
        assert!(
            matches!(r, Err(Error::Shape { .. })),
            "{}: {r:?}",
            dev.name()
        );
        let (w, bias) = (dev.upload(&[1.0; 4]).unwrap(), dev.upload(&[0.0]).unwrap());
        let r = dev.linear_forward(wide, &a, &w, &bias, &mut b);
        assert!(
            matches!(r, Err(Error::Shape { .. })),
            "{}: {r:?}",
            dev.name()
        );
    }
    check(&satcolor::device::cpu::CpuDevice::new(), &huge, &wide);
    check(&emu(Order::Forward, Order::Forward), &huge, &wide);
}
