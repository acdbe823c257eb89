//! Parity of the CPU device with the f64 reference over the full selftest suite, and
//! tests that the harness itself can fail.

#[allow(dead_code)]
mod common;

use common::faulty::{Faulty, SPOILABLE};
use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::ops::{
    registry, Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, Pool2dShape,
};
use satcolor::selftest::{self, max_rel_err, Suite, TOLERANCE};
use satcolor::Error;
use std::time::Instant;

/// Every op of the registry, as the harness names them.
fn ops() -> Vec<&'static str> {
    registry::OPS.iter().map(|o| o.name).collect()
}

#[test]
fn cpu_matches_the_reference_on_every_case() {
    let dev = CpuDevice::new();
    let t = Instant::now();
    let runs = selftest::run_suite(&dev, Suite::Full);
    let results = selftest::results(&runs);
    println!("{} — full suite in {:.2?}", dev.name(), t.elapsed());
    println!("{}", selftest::format_table(&results));
    for op in ops() {
        assert!(runs.iter().any(|r| r.op == op), "no case covers {op}");
    }
    let failed: Vec<_> = results.iter().filter(|r| !r.pass).collect();
    assert!(failed.is_empty(), "failing checks: {failed:#?}");
}

#[test]
fn quick_suite_covers_every_op() {
    let quick = selftest::cases(Suite::Quick);
    let full = selftest::cases(Suite::Full);
    assert!(quick.len() < full.len());
    for op in ops() {
        assert!(quick.iter().any(|c| c.op == op), "quick suite misses {op}");
    }
}

#[test]
fn harness_flags_a_spoiled_output_of_every_op() {
    for &(method, op, output) in SPOILABLE.iter() {
        let dev = Faulty {
            inner: CpuDevice::new(),
            op: method,
        };
        let cases: Vec<_> = selftest::cases(Suite::Full)
            .into_iter()
            .filter(|c| c.op == op)
            .collect();
        assert!(!cases.is_empty(), "no case for {op}");
        for case in &cases {
            let run = selftest::run_case(&dev, case);
            for r in run.results() {
                let spoiled = r.output == output;
                assert_eq!(
                    r.pass, !spoiled,
                    "{method} spoiled: {op} {} output {} has error {:e}",
                    r.shape, r.output, r.max_rel_err
                );
            }
        }
    }
}

#[test]
fn metric_is_max_norm_relative_error() {
    let reference = [1.0, -4.0, 2.0, 0.0];
    // Largest |r| is 4: an error of 2e-5 is 5e-6 relative, 8e-5 is 2e-5.
    let close = [1.0 + 2e-5, -4.0, 2.0, 0.0];
    let far = [1.0, -4.0, 2.0, 8e-5];
    assert!((max_rel_err(&close, &reference) - 5e-6).abs() < 1e-7);
    assert!(max_rel_err(&close, &reference) <= TOLERANCE);
    assert!(max_rel_err(&far, &reference) > TOLERANCE);
    assert_eq!(
        max_rel_err(&[f32::NAN, -4.0, 2.0, 0.0], &reference),
        f64::INFINITY
    );
    assert_eq!(max_rel_err(&[1.0, -4.0, 2.0], &reference), f64::INFINITY);
    assert_eq!(max_rel_err(&[0.0], &[0.0]), 0.0);
}

#[test]
fn cpu_rejects_bad_shapes_with_errors() {
    let dev = CpuDevice::new();
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
    let mut y = buf(s.y_len() + 1);
    let e = dev.conv2d_forward(
        &s,
        &buf(s.x_len()),
        &buf(s.w_len()),
        None,
        Act::Identity,
        &mut y,
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let big_k = Conv2dShape { k: 9, pad: 0, ..s };
    let e = dev.conv2d_backward_input(&big_k, &buf(big_k.w_len()), &buf(1), &mut buf(s.x_len()));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let t = ConvTranspose2dShape {
        n: 1,
        c_in: 2,
        h: 0,
        w: 3,
        c_out: 1,
        k: 3,
        stride: 2,
        pad: 1,
        out_pad: 1,
    };
    let e =
        dev.conv_transpose2d_forward(&t, &buf(0), &buf(t.w_len()), None, Act::Relu, &mut buf(1));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let t = ConvTranspose2dShape {
        h: 3,
        out_pad: 2,
        ..t
    };
    let e = dev.conv_transpose2d_backward_input(&t, &buf(t.w_len()), &buf(1), &mut buf(t.x_len()));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let p = Pool2dShape {
        n: 1,
        c: 2,
        h: 5,
        w: 5,
    };
    let e = dev.max_pool2d_backward(
        &p,
        &buf(p.x_len()),
        &buf(p.y_len()),
        Act::Identity,
        &mut buf(p.y_len()),
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    // More logits of BCE's first target than logits: an error, the loss and dz untouched.
    let (mut loss, mut dz) = (vec![0.25f32], vec![7.0f32; 4]);
    let e = dev.bce_with_logits(&buf(4), 1.0, 5, 1.0, &mut loss, &mut dz);
    match e {
        Err(Error::Shape { ref reason, .. }) => assert!(reason.contains("5 logits"), "{reason}"),
        _ => panic!("{e:?}"),
    }
    assert_eq!((loss, dz), (vec![0.25], vec![7.0; 4]));
    let hp = AdamParams {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let (mut p, mut m, mut v) = (buf(3), buf(3), buf(3));
    let e = hp.step_scalars(0);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let bias = hp.step_scalars(1).unwrap().to_vec();
    let e = dev.adam_step(&hp, &bias, &mut p, &buf(4), &mut m, &mut v);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let e = dev.adam_step(&hp, &buf(3), &mut p, &buf(3), &mut m, &mut v);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let e = dev.sum(&buf(3), &mut buf(2));
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let e = dev.write(&mut buf(3), &[1.0; 2]);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    // The fused convolutions the cpu device runs in its tiles: a part, a mask or a
    // concatenation that does not fit is an error, and the outputs stay as they were.
    let s = Conv2dShape {
        n: 2,
        c_in: 5,
        h: 9,
        w: 10,
        c_out: 4,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let cat = ConcatShape {
        n: 2,
        c_a: 2,
        c_b: 3,
        plane: 90,
    };
    let (w, dy) = (buf(s.w_len()), buf(s.y_len()));
    let (a, b) = (buf(cat.a_len()), buf(cat.b_len()));
    let (mut y, mut scratch) = (vec![7.0f32; s.y_len()], vec![7.0f32; s.x_len()]);
    let short = buf(cat.b_len() - 1);
    let e = dev.conv2d_forward_cat(
        &s,
        &cat,
        (&a, &short),
        &w,
        None,
        Act::Relu,
        &mut y,
        &mut scratch,
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let wrong = ConcatShape { c_b: 4, ..cat };
    let e = dev.conv2d_forward_cat(
        &s,
        &wrong,
        (&a, &b),
        &w,
        None,
        Act::Relu,
        &mut y,
        &mut scratch,
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let (mut da, mut db) = (vec![7.0f32; cat.a_len()], vec![7.0f32; cat.b_len() + 1]);
    let e = dev.conv2d_backward_input_cat(&s, &cat, &w, &dy, (&mut da, &mut db), &mut scratch);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let mut dw = vec![7.0f32; s.w_len()];
    let e =
        dev.conv2d_backward_weight_cat(&s, &cat, (&a, &b), &buf(3), &mut dw, None, &mut scratch);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let mut dx = vec![7.0f32; s.x_len()];
    let e = dev.conv2d_backward_input_act(&s, &w, &dy, (Act::Relu, &buf(s.x_len() - 1)), &mut dx);
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    let t = ConvTranspose2dShape {
        n: 2,
        c_in: 4,
        h: 5,
        w: 5,
        c_out: 3,
        k: 2,
        stride: 2,
        pad: 0,
        out_pad: 0,
    };
    let mut tdx = vec![7.0f32; t.x_len()];
    let mask = buf(t.x_len() + 1);
    let e = dev.conv_transpose2d_backward_input_act(
        &t,
        &buf(t.w_len()),
        &buf(t.y_len()),
        (Act::Relu, &mask),
        &mut tdx,
    );
    assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    for untouched in [&y, &scratch, &da, &db, &dw, &dx, &tdx] {
        assert!(untouched.iter().all(|&v| v == 7.0), "an output was written");
    }
}

#[test]
fn cpu_results_do_not_depend_on_the_number_of_threads() {
    let one = CpuDevice::with_threads(1).unwrap();
    let three = CpuDevice::with_threads(3).unwrap();
    assert_eq!(one.name(), "cpu (1 threads)");
    let a = selftest::run_suite(&one, Suite::Full);
    let b = selftest::run_suite(&three, Suite::Full);
    assert_eq!(a.len(), b.len());
    for (ra, rb) in a.iter().zip(&b) {
        assert!(ra.error.is_none() && rb.error.is_none());
        for (oa, ob) in ra.outputs.iter().zip(&rb.outputs) {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(
                bits(&oa.device) == bits(&ob.device),
                "{} {} {}: 1 and 3 threads differ",
                ra.op,
                ra.shape,
                oa.name
            );
        }
    }
}

#[test]
fn alloc_count_counts_buffers() {
    let dev = CpuDevice::new();
    let before = dev.alloc_count();
    let mut a = dev.alloc_zeros(5).unwrap();
    let b = dev.upload(&[1.0; 5]).unwrap();
    assert_eq!(dev.alloc_count(), before + 2);
    dev.add_assign(&mut a, &b).unwrap();
    dev.write(&mut a, &[2.0; 5]).unwrap();
    assert_eq!(dev.download(&a).unwrap(), vec![2.0; 5]);
    assert_eq!(
        dev.alloc_count(),
        before + 2,
        "ops and writes allocate no buffers"
    );
}
