//! Finite-difference gradient checks of every backward op: on the f64 reference (central
//! differences, tight tolerance) and on the CPU device in f32 (larger steps, loose
//! tolerance). Each check differentiates a random scalar projection `L = Σ r_i·y_i` of an
//! op's outputs (or the loss itself) and compares with the op's backward fed `dy = r`.

#[allow(dead_code)]
mod common;

use common::{central_diff, distinct, dot, f32s, f64s, rel_dist, rng, uniform};
use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::ops::{Act, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape};

/// The f64 references of every op family, under one name.
mod r {
    pub use satcolor::ops::{
        activation::reference::*, conv2d::reference::*, conv_transpose2d::reference::*,
        convex_skip::reference::*, linear::reference::*, loss::reference::*,
        max_pool2d::reference::*,
    };
}

/// Tolerance of the f64 reference checks.
const TOL_F64: f64 = 1e-7;
/// Tolerance of the f32 device checks.
const TOL_F32: f64 = 2e-3;

fn assert_close(what: &str, analytic: &[f64], numeric: &[f64], tol: f64) {
    let d = rel_dist(analytic, numeric);
    assert!(
        d <= tol,
        "{what}: analytic vs finite differences differ by {d:e} (tolerance {tol:e})"
    );
}

/// Uploads f64 data to the device as f32.
fn up(dev: &CpuDevice, v: &[f64]) -> Vec<f32> {
    dev.upload(&f32s(v)).unwrap()
}

fn conv_shapes() -> Vec<Conv2dShape> {
    let c = |n, c_in, c_out, h, w, k, stride, pad| Conv2dShape {
        n,
        c_in,
        h,
        w,
        c_out,
        k,
        stride,
        pad,
    };
    vec![
        c(2, 3, 2, 7, 6, 3, 1, 1),
        c(1, 1, 3, 9, 7, 3, 2, 1),
        c(2, 2, 3, 8, 9, 5, 2, 2),
        c(1, 3, 1, 5, 6, 1, 1, 0),
        c(1, 2, 2, 6, 5, 3, 1, 0),
        c(1, 1, 2, 10, 11, 9, 1, 4),
    ]
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let dev = CpuDevice::new();
    for (i, s) in conv_shapes().into_iter().enumerate() {
        let mut g = rng(100 + i as u64);
        let (x, w, b) = (
            uniform(&mut g, s.x_len(), -1.0, 1.0),
            uniform(&mut g, s.w_len(), -1.0, 1.0),
            uniform(&mut g, s.c_out, -1.0, 1.0),
        );
        let proj = uniform(&mut g, s.y_len(), -1.0, 1.0);
        let loss = |x: &[f64], w: &[f64], b: &[f64]| {
            dot(
                &proj,
                &r::conv2d_forward(&s, x, w, Some(b), Act::Identity).unwrap(),
            )
        };
        // Reference.
        let dx = r::conv2d_backward_input(&s, &w, &proj).unwrap();
        let (dw, db) = r::conv2d_backward_weight(&s, &x, &proj).unwrap();
        assert_close(
            &format!("ref conv2d dx {s:?}"),
            &dx,
            &central_diff(&x, 1e-4, |x| loss(x, &w, &b)),
            TOL_F64,
        );
        assert_close(
            &format!("ref conv2d dw {s:?}"),
            &dw,
            &central_diff(&w, 1e-4, |w| loss(&x, w, &b)),
            TOL_F64,
        );
        assert_close(
            &format!("ref conv2d db {s:?}"),
            &db,
            &central_diff(&b, 1e-4, |b| loss(&x, &w, b)),
            TOL_F64,
        );
        // Device (f32): the op is linear in x, w and b, so a large step is exact up to rounding.
        let (xd, wd, pd) = (up(&dev, &x), up(&dev, &w), up(&dev, &proj));
        let dloss = |x: &[f64], w: &[f64], b: &[f64]| {
            let mut y = dev.alloc_zeros(s.y_len()).unwrap();
            dev.conv2d_forward(
                &s,
                &up(&dev, x),
                &up(&dev, w),
                Some(&up(&dev, b)),
                Act::Identity,
                &mut y,
            )
            .unwrap();
            dot(&proj, &f64s(&y))
        };
        let (mut ddx, mut ddw, mut ddb) = (
            dev.alloc_zeros(s.x_len()).unwrap(),
            dev.alloc_zeros(s.w_len()).unwrap(),
            dev.alloc_zeros(s.c_out).unwrap(),
        );
        dev.conv2d_backward_input(&s, &wd, &pd, &mut ddx).unwrap();
        dev.conv2d_backward_weight(&s, &xd, &pd, &mut ddw, Some(&mut ddb))
            .unwrap();
        assert_close(
            &format!("cpu conv2d dx {s:?}"),
            &f64s(&ddx),
            &central_diff(&x, 0.25, |x| dloss(x, &w, &b)),
            TOL_F32,
        );
        assert_close(
            &format!("cpu conv2d dw {s:?}"),
            &f64s(&ddw),
            &central_diff(&w, 0.25, |w| dloss(&x, w, &b)),
            TOL_F32,
        );
        assert_close(
            &format!("cpu conv2d db {s:?}"),
            &f64s(&ddb),
            &central_diff(&b, 0.25, |b| dloss(&x, &w, b)),
            TOL_F32,
        );
    }
}

#[test]
fn conv_transpose2d_gradients_match_finite_differences() {
    let dev = CpuDevice::new();
    let t = |n, c_in, c_out, h, w, k, stride, pad, out_pad| ConvTranspose2dShape {
        n,
        c_in,
        h,
        w,
        c_out,
        k,
        stride,
        pad,
        out_pad,
    };
    for (i, s) in [
        t(2, 3, 2, 4, 5, 5, 2, 2, 1),
        t(1, 2, 3, 5, 4, 3, 1, 1, 0),
        t(1, 1, 1, 3, 3, 3, 2, 0, 1),
        t(2, 2, 1, 4, 3, 9, 2, 4, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = rng(200 + i as u64);
        let (x, w, b) = (
            uniform(&mut g, s.x_len(), -1.0, 1.0),
            uniform(&mut g, s.w_len(), -1.0, 1.0),
            uniform(&mut g, s.c_out, -1.0, 1.0),
        );
        let proj = uniform(&mut g, s.y_len(), -1.0, 1.0);
        let loss = |x: &[f64], w: &[f64], b: &[f64]| {
            dot(
                &proj,
                &r::conv_transpose2d_forward(&s, x, w, Some(b), Act::Identity).unwrap(),
            )
        };
        let dx = r::conv_transpose2d_backward_input(&s, &w, &proj).unwrap();
        let (dw, db) = r::conv_transpose2d_backward_weight(&s, &x, &proj).unwrap();
        assert_close(
            &format!("ref convT dx {s:?}"),
            &dx,
            &central_diff(&x, 1e-4, |x| loss(x, &w, &b)),
            TOL_F64,
        );
        assert_close(
            &format!("ref convT dw {s:?}"),
            &dw,
            &central_diff(&w, 1e-4, |w| loss(&x, w, &b)),
            TOL_F64,
        );
        assert_close(
            &format!("ref convT db {s:?}"),
            &db,
            &central_diff(&b, 1e-4, |b| loss(&x, &w, b)),
            TOL_F64,
        );
        let (xd, wd, pd) = (up(&dev, &x), up(&dev, &w), up(&dev, &proj));
        let dloss = |x: &[f64], w: &[f64], b: &[f64]| {
            let mut y = dev.alloc_zeros(s.y_len()).unwrap();
            dev.conv_transpose2d_forward(
                &s,
                &up(&dev, x),
                &up(&dev, w),
                Some(&up(&dev, b)),
                Act::Identity,
                &mut y,
            )
            .unwrap();
            dot(&proj, &f64s(&y))
        };
        let (mut ddx, mut ddw, mut ddb) = (
            dev.alloc_zeros(s.x_len()).unwrap(),
            dev.alloc_zeros(s.w_len()).unwrap(),
            dev.alloc_zeros(s.c_out).unwrap(),
        );
        dev.conv_transpose2d_backward_input(&s, &wd, &pd, &mut ddx)
            .unwrap();
        dev.conv_transpose2d_backward_weight(&s, &xd, &pd, &mut ddw, Some(&mut ddb))
            .unwrap();
        assert_close(
            &format!("cpu convT dx {s:?}"),
            &f64s(&ddx),
            &central_diff(&x, 0.25, |x| dloss(x, &w, &b)),
            TOL_F32,
        );
        assert_close(
            &format!("cpu convT dw {s:?}"),
            &f64s(&ddw),
            &central_diff(&w, 0.25, |w| dloss(&x, w, &b)),
            TOL_F32,
        );
        assert_close(
            &format!("cpu convT db {s:?}"),
            &f64s(&ddb),
            &central_diff(&b, 0.25, |b| dloss(&x, &w, b)),
            TOL_F32,
        );
    }
}

#[test]
fn max_pool2d_gradient_matches_finite_differences() {
    let dev = CpuDevice::new();
    for (i, s) in [
        Pool2dShape {
            n: 2,
            c: 3,
            h: 5,
            w: 7,
        },
        Pool2dShape {
            n: 1,
            c: 1,
            h: 6,
            w: 4,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = rng(300 + i as u64);
        // Distinct values 0.01 apart: a step of 1e-3 never changes a window's maximum.
        let x = distinct(&mut g, s.x_len(), 0.01);
        let proj = uniform(&mut g, s.y_len(), -1.0, 1.0);
        let dx = r::max_pool2d_backward(&s, &x, &proj, Act::Identity).unwrap();
        let numeric = central_diff(&x, 1e-3, |x| {
            dot(&proj, &r::max_pool2d_forward(&s, x).unwrap())
        });
        assert_close(&format!("ref pool dx {s:?}"), &dx, &numeric, TOL_F64);
        let mut ddx = dev.alloc_zeros(s.x_len()).unwrap();
        dev.max_pool2d_backward(&s, &up(&dev, &x), &up(&dev, &proj), Act::Identity, &mut ddx)
            .unwrap();
        let numeric = central_diff(&x, 1e-3, |x| {
            let mut y = dev.alloc_zeros(s.y_len()).unwrap();
            dev.max_pool2d_forward(&s, &up(&dev, x), &mut y).unwrap();
            dot(&proj, &f64s(&y))
        });
        assert_close(
            &format!("cpu pool dx {s:?}"),
            &f64s(&ddx),
            &numeric,
            TOL_F32,
        );
    }
}

#[test]
fn activation_gradients_match_finite_differences() {
    let dev = CpuDevice::new();
    for (i, act) in [Act::Relu, Act::LeakyRelu(0.2), Act::Identity]
        .into_iter()
        .enumerate()
    {
        let mut g = rng(400 + i as u64);
        // Keep z away from the kink at 0.
        let z: Vec<f64> = uniform(&mut g, 40, 0.05, 1.0)
            .into_iter()
            .enumerate()
            .map(|(j, v)| if j % 2 == 0 { v } else { -v })
            .collect();
        let proj = uniform(&mut g, z.len(), -1.0, 1.0);
        let f = |z: &[f64]| {
            z.iter()
                .zip(&proj)
                .map(|(&z, p)| p * r::act_forward(act, z))
                .sum::<f64>()
        };
        let y: Vec<f64> = z.iter().map(|&z| r::act_forward(act, z)).collect();
        let analytic = r::act_backward(act, &y, &proj).unwrap();
        assert_close(
            &format!("ref {act:?}"),
            &analytic,
            &central_diff(&z, 1e-3, f),
            TOL_F64,
        );
        let mut dy = up(&dev, &proj);
        dev.act_backward(act, &up(&dev, &y), &mut dy).unwrap();
        assert_close(
            &format!("cpu {act:?}"),
            &f64s(&dy),
            &central_diff(&z, 1e-2, f),
            TOL_F32,
        );
    }
}

#[test]
fn convex_skip_gradients_match_finite_differences() {
    let dev = CpuDevice::new();
    for (i, theta) in [0.0, 1.3, -2.5].into_iter().enumerate() {
        let mut g = rng(500 + i as u64);
        let (a, b, proj) = (
            uniform(&mut g, 37, -1.0, 1.0),
            uniform(&mut g, 37, -1.0, 1.0),
            uniform(&mut g, 37, -1.0, 1.0),
        );
        let loss =
            |t: f64, a: &[f64], b: &[f64]| dot(&proj, &r::convex_skip_forward(t, a, b).unwrap());
        let (da, db, dt) = r::convex_skip_backward(theta, &a, &b, &proj).unwrap();
        assert_close(
            "ref skip da",
            &da,
            &central_diff(&a, 1e-4, |a| loss(theta, a, &b)),
            TOL_F64,
        );
        assert_close(
            "ref skip db",
            &db,
            &central_diff(&b, 1e-4, |b| loss(theta, &a, b)),
            TOL_F64,
        );
        assert_close(
            "ref skip dθ",
            &[dt],
            &central_diff(&[theta], 1e-5, |t| loss(t[0], &a, &b)),
            TOL_F64,
        );
        let (td, ad, bd, pd) = (
            up(&dev, &[theta]),
            up(&dev, &a),
            up(&dev, &b),
            up(&dev, &proj),
        );
        let (mut dda, mut ddb, mut ddt) = (
            dev.alloc_zeros(37).unwrap(),
            dev.alloc_zeros(37).unwrap(),
            dev.alloc_zeros(1).unwrap(),
        );
        dev.convex_skip_backward(&td, &ad, &bd, &pd, &mut dda, &mut ddb, &mut ddt)
            .unwrap();
        let dloss = |t: &[f64], a: &[f64], b: &[f64]| {
            let mut u = dev.alloc_zeros(37).unwrap();
            dev.convex_skip_forward(&up(&dev, t), &up(&dev, a), &up(&dev, b), &mut u)
                .unwrap();
            dot(&proj, &f64s(&u))
        };
        assert_close(
            "cpu skip da",
            &f64s(&dda),
            &central_diff(&a, 0.25, |a| dloss(&[theta], a, &b)),
            TOL_F32,
        );
        assert_close(
            "cpu skip db",
            &f64s(&ddb),
            &central_diff(&b, 0.25, |b| dloss(&[theta], &a, b)),
            TOL_F32,
        );
        assert_close(
            "cpu skip dθ",
            &f64s(&ddt),
            &central_diff(&[theta], 1e-2, |t| dloss(t, &a, &b)),
            TOL_F32,
        );
    }
}

#[test]
fn linear_gradients_match_finite_differences() {
    let dev = CpuDevice::new();
    for (i, s) in [
        LinearShape { n: 3, k: 17, m: 1 },
        LinearShape { n: 1, k: 5, m: 4 },
        LinearShape { n: 5, k: 9, m: 3 },
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = rng(600 + i as u64);
        let (x, w, b) = (
            uniform(&mut g, s.n * s.k, -1.0, 1.0),
            uniform(&mut g, s.m * s.k, -1.0, 1.0),
            uniform(&mut g, s.m, -1.0, 1.0),
        );
        let proj = uniform(&mut g, s.n * s.m, -1.0, 1.0);
        let loss =
            |x: &[f64], w: &[f64], b: &[f64]| dot(&proj, &r::linear_forward(&s, x, w, b).unwrap());
        let (dx, dw, db) = r::linear_backward(&s, &x, &w, &proj).unwrap();
        assert_close(
            "ref linear dx",
            &dx,
            &central_diff(&x, 1e-4, |x| loss(x, &w, &b)),
            TOL_F64,
        );
        assert_close(
            "ref linear dw",
            &dw,
            &central_diff(&w, 1e-4, |w| loss(&x, w, &b)),
            TOL_F64,
        );
        assert_close(
            "ref linear db",
            &db,
            &central_diff(&b, 1e-4, |b| loss(&x, &w, b)),
            TOL_F64,
        );
        let (xd, wd, pd) = (up(&dev, &x), up(&dev, &w), up(&dev, &proj));
        let (mut ddx, mut ddw, mut ddb) = (
            dev.alloc_zeros(s.n * s.k).unwrap(),
            dev.alloc_zeros(s.m * s.k).unwrap(),
            dev.alloc_zeros(s.m).unwrap(),
        );
        dev.linear_backward(&s, &xd, &wd, &pd, Some(&mut ddx), &mut ddw, &mut ddb)
            .unwrap();
        let dloss = |x: &[f64], w: &[f64], b: &[f64]| {
            let mut y = dev.alloc_zeros(s.n * s.m).unwrap();
            dev.linear_forward(&s, &up(&dev, x), &up(&dev, w), &up(&dev, b), &mut y)
                .unwrap();
            dot(&proj, &f64s(&y))
        };
        assert_close(
            "cpu linear dx",
            &f64s(&ddx),
            &central_diff(&x, 0.25, |x| dloss(x, &w, &b)),
            TOL_F32,
        );
        assert_close(
            "cpu linear dw",
            &f64s(&ddw),
            &central_diff(&w, 0.25, |w| dloss(&x, w, &b)),
            TOL_F32,
        );
        assert_close(
            "cpu linear db",
            &f64s(&ddb),
            &central_diff(&b, 0.25, |b| dloss(&x, &w, b)),
            TOL_F32,
        );
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let dev = CpuDevice::new();
    let mut g = rng(700);
    let n = 23;
    // BCE at several targets (the last: the first half against 1, the rest against 0),
    // logits in [−4, 4] (smooth; the tails are covered by parity).
    for (target, first) in [(0.0, n), (1.0, n), (0.9, n), (1.0, n / 2)] {
        let z = uniform(&mut g, n, -4.0, 4.0);
        let scale = 0.7;
        let (_, dz) = r::bce_with_logits(&z, target, first, scale, 0.0).unwrap();
        let numeric = central_diff(&z, 1e-5, |z| {
            r::bce_with_logits(z, target, first, scale, 0.0).unwrap().0
        });
        assert_close("ref bce dz", &dz, &numeric, TOL_F64);
        let dloss = |z: &[f64]| {
            let (mut loss, mut dz) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(n).unwrap());
            dev.bce_with_logits(
                &up(&dev, z),
                target as f32,
                first,
                scale as f32,
                &mut loss,
                &mut dz,
            )
            .unwrap();
            loss[0] as f64
        };
        let (mut loss, mut ddz) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(n).unwrap());
        dev.bce_with_logits(
            &up(&dev, &z),
            target as f32,
            first,
            scale as f32,
            &mut loss,
            &mut ddz,
        )
        .unwrap();
        assert_close(
            "cpu bce dz",
            &f64s(&ddz),
            &central_diff(&z, 1e-2, dloss),
            TOL_F32,
        );
    }
    // MSE and L2 are quadratic: central differences are exact up to rounding.
    let (a, b) = (uniform(&mut g, n, -1.0, 1.0), uniform(&mut g, n, -1.0, 1.0));
    let scale = 1.0 / n as f64;
    let (_, da) = r::mse(&a, &b, scale, 0.0).unwrap();
    assert_close(
        "ref mse da",
        &da,
        &central_diff(&a, 1e-3, |a| r::mse(a, &b, scale, 0.0).unwrap().0),
        TOL_F64,
    );
    let (mut loss, mut dda) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(n).unwrap());
    let bd = up(&dev, &b);
    dev.mse(&up(&dev, &a), &bd, scale as f32, &mut loss, &mut dda)
        .unwrap();
    let dloss = |a: &[f64]| {
        let (mut loss, mut da) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(n).unwrap());
        dev.mse(&up(&dev, a), &bd, scale as f32, &mut loss, &mut da)
            .unwrap();
        loss[0] as f64
    };
    assert_close(
        "cpu mse da",
        &f64s(&dda),
        &central_diff(&a, 0.1, dloss),
        TOL_F32,
    );

    let w = uniform(&mut g, n, -1.0, 1.0);
    let zero = vec![0.0; n];
    let (_, dw) = r::l2_penalty(&w, 0.3, 0.0, &zero).unwrap();
    assert_close(
        "ref l2 dw",
        &dw,
        &central_diff(&w, 1e-3, |w| r::l2_penalty(w, 0.3, 0.0, &zero).unwrap().0),
        TOL_F64,
    );
    let (mut loss, mut ddw) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(n).unwrap());
    dev.l2_penalty(&up(&dev, &w), 0.3, &mut loss, &mut ddw)
        .unwrap();
    let dloss = |w: &[f64]| {
        let (mut loss, mut dw) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(n).unwrap());
        dev.l2_penalty(&up(&dev, w), 0.3, &mut loss, &mut dw)
            .unwrap();
        loss[0] as f64
    };
    assert_close(
        "cpu l2 dw",
        &f64s(&ddw),
        &central_diff(&w, 0.1, dloss),
        TOL_F32,
    );
}

#[test]
fn bce_is_finite_and_exact_in_the_tails() {
    // softplus(z) − t·z for |z| = 1e4: 0 or |z| exactly, gradient 0 or ±scale.
    let (loss, dz) = r::bce_with_logits(&[1e4, -1e4], 1.0, 2, 1.0, 0.0).unwrap();
    assert_eq!(loss, 1e4);
    assert_eq!(dz, vec![0.0, -1.0]);
    let dev = CpuDevice::new();
    let (mut l, mut d) = (dev.alloc_zeros(1).unwrap(), dev.alloc_zeros(2).unwrap());
    dev.bce_with_logits(&vec![1e4, -1e4], 0.0, 2, 0.5, &mut l, &mut d)
        .unwrap();
    assert_eq!(l[0], 5e3);
    assert_eq!(d, vec![0.5, 0.0]);
}
