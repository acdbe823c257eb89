//! The parity harness behind `satcolor selftest` and the parity tests: every op of a
//! [`Device`] at many shapes, compared with the f64 reference of the op's family (`crate::ops::<family>::reference`).
//!
//! For each [`Case`] the harness draws seeded random inputs (the same on every device and
//! every run), runs the op on the device (every output, including every gradient; output
//! buffers that the op overwrites start filled with junk, so that an op that accumulates
//! instead is caught), runs the reference on the same inputs converted to f64, and
//! compares each output with the **max-norm relative error**
//!
//! ```text
//! err = max_i |d_i − r_i| / max(max_i |r_i|, 1e-30)
//! ```
//!
//! (`d` the device's f32 output, `r` the reference's f64 output). An output passes when
//! `err ≤ 1e-5` ([`TOLERANCE`]); a NaN, an infinity or a length mismatch fails.
//!
//! The device's raw outputs are kept in each [`CaseRun`], so that two runs (e.g. the
//! emulator in two thread orders) can be compared bit for bit.

use crate::device::Device;
use crate::ops::{
    Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape,
    SgdParams,
};
use crate::Result;

/// Largest max-norm relative error an output may have and pass.
pub const TOLERANCE: f64 = 1e-5;

/// Which set of cases to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// A moderate set covering every op (what `satcolor selftest` runs).
    Quick,
    /// Every case (what the tests run).
    Full,
}

/// One op at one shape, with the seed of its inputs.
#[derive(Clone, Debug)]
pub struct Case {
    /// The op's name, as in [`Device`].
    pub op: &'static str,
    /// The shape and parameters, for people.
    pub shape: String,
    kind: Kind,
    seed: u64,
    quick: bool,
}

/// What a case runs.
#[derive(Clone, Debug)]
enum Kind {
    Conv2d {
        s: Conv2dShape,
        act: Act,
        bias: bool,
    },
    ConvT {
        s: ConvTranspose2dShape,
        act: Act,
        bias: bool,
    },
    Pool {
        s: Pool2dShape,
        ties: bool,
    },
    Concat {
        s: ConcatShape,
    },
    ActBackward {
        act: Act,
        len: usize,
    },
    ConvexSkip {
        theta: f32,
        len: usize,
    },
    Linear {
        s: LinearShape,
        with_dx: bool,
    },
    Bce {
        len: usize,
        target: f32,
        scale: f32,
    },
    Mse {
        len: usize,
        scale: f32,
    },
    L2 {
        len: usize,
        scale: f32,
    },
    Sum {
        len: usize,
    },
    AddAssign {
        len: usize,
    },
    SumSquares {
        len: usize,
    },
    Scale {
        len: usize,
        factor: f32,
    },
    Sgd {
        hp: SgdParams,
        steps: u64,
        len: usize,
    },
    Adam {
        hp: AdamParams,
        steps: u64,
        len: usize,
    },
}

/// One output of one case: the device's values and the reference's.
#[derive(Clone, Debug)]
pub struct Output {
    /// The output's name (`y`, `dx`, `dw`, `loss`, …).
    pub name: &'static str,
    /// What the device produced.
    pub device: Vec<f32>,
    /// What the f64 reference produced.
    pub reference: Vec<f64>,
}

impl Output {
    /// The max-norm relative error of the device's values (see the module docs).
    pub fn max_rel_err(&self) -> f64 {
        max_rel_err(&self.device, &self.reference)
    }
}

/// The outcome of one case on one device.
#[derive(Clone, Debug)]
pub struct CaseRun {
    /// The op's name.
    pub op: &'static str,
    /// The case's shape string.
    pub shape: String,
    /// Every output, in a fixed order (empty if the device failed).
    pub outputs: Vec<Output>,
    /// The device's error, if an op failed.
    pub error: Option<String>,
}

/// One row of the selftest table.
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The op's name.
    pub op: &'static str,
    /// The case's shape string.
    pub shape: String,
    /// The output's name (`error` when the device failed).
    pub output: &'static str,
    /// Max-norm relative error (infinite when the device failed).
    pub max_rel_err: f64,
    /// Whether `max_rel_err ≤ TOLERANCE`.
    pub pass: bool,
    /// The device's error message, if any.
    pub error: Option<String>,
}

impl CaseRun {
    /// One check per output (or one failing check for a device error).
    pub fn results(&self) -> Vec<CheckResult> {
        if let Some(e) = &self.error {
            return vec![CheckResult {
                op: self.op,
                shape: self.shape.clone(),
                output: "error",
                max_rel_err: f64::INFINITY,
                pass: false,
                error: Some(e.clone()),
            }];
        }
        self.outputs
            .iter()
            .map(|o| {
                let err = o.max_rel_err();
                CheckResult {
                    op: self.op,
                    shape: self.shape.clone(),
                    output: o.name,
                    max_rel_err: err,
                    pass: err <= TOLERANCE,
                    error: None,
                }
            })
            .collect()
    }
}

/// `max_i |d_i − r_i| / max(max_i |r_i|, 1e-30)`; infinite on a length mismatch or a
/// non-finite difference.
pub fn max_rel_err(device: &[f32], reference: &[f64]) -> f64 {
    if device.len() != reference.len() {
        return f64::INFINITY;
    }
    let scale = reference
        .iter()
        .fold(0.0f64, |m, r| m.max(r.abs()))
        .max(1e-30);
    let mut worst = 0.0f64;
    for (&d, &r) in device.iter().zip(reference) {
        let e = (d as f64 - r).abs();
        if !e.is_finite() {
            return f64::INFINITY;
        }
        worst = worst.max(e);
    }
    worst / scale
}

/// Runs every case of `suite` on `dev`; an error fails its case and the rest run on.
pub fn run_suite<D: Device>(dev: &D, suite: Suite) -> Vec<CaseRun> {
    cases(suite).iter().map(|c| run_case(dev, c)).collect()
}

/// Every check of a set of runs, in order.
pub fn results(runs: &[CaseRun]) -> Vec<CheckResult> {
    runs.iter().flat_map(CaseRun::results).collect()
}

/// The table `op | shape | output | max rel err | pass/FAIL`, with a summary line.
pub fn format_table(results: &[CheckResult]) -> String {
    let wop = results.iter().map(|r| r.op.len()).max().unwrap_or(2).max(2);
    let wsh = results
        .iter()
        .map(|r| r.shape.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut t = format!(
        "{:wop$}  {:wsh$}  {:6}  {:>11}  result\n",
        "op", "shape", "output", "max rel err"
    );
    for r in results {
        let verdict = if r.pass { "pass" } else { "FAIL" };
        let pad = wsh - r.shape.chars().count();
        t += &format!(
            "{:wop$}  {}{:pad$}  {:6}  {:>11.3e}  {verdict}",
            r.op, r.shape, "", r.output, r.max_rel_err
        );
        if let Some(e) = &r.error {
            t += &format!(" ({e})");
        }
        t.push('\n');
    }
    let passed = results.iter().filter(|r| r.pass).count();
    t += &format!(
        "{passed} of {} checks passed (max-norm relative error ≤ {TOLERANCE:e})\n",
        results.len()
    );
    t
}

/// The cases of a suite: every op, at awkward sizes (not multiples of any tile, C = 1 and
/// 3, batch 1 and 5) and at the shapes the model spec uses.
pub fn cases(suite: Suite) -> Vec<Case> {
    all_cases()
        .into_iter()
        .filter(|c| suite == Suite::Full || c.quick)
        .collect()
}

/// Runs one case on `dev`; an error (of the device, or of the reference on a shape it
/// rejects) is recorded in the returned run and fails it.
pub fn run_case<D: Device>(dev: &D, case: &Case) -> CaseRun {
    let (outputs, error) = match run_kind(dev, &case.kind, &mut Rng(case.seed)) {
        Ok(o) => (o, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    CaseRun {
        op: case.op,
        shape: case.shape.clone(),
        outputs,
        error,
    }
}

/// A seeded SplitMix64 generator: the same inputs on every machine.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    fn vec(&mut self, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..len).map(|_| self.uniform(lo, hi)).collect()
    }
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// A device output buffer pre-filled with junk (an op that should overwrite it must).
fn junk<D: Device>(dev: &D, rng: &mut Rng, len: usize) -> Result<D::Buf> {
    dev.upload(&rng.vec(len, 5.0, 9.0))
}

fn out(name: &'static str, device: Vec<f32>, reference: Vec<f64>) -> Output {
    Output {
        name,
        device,
        reference,
    }
}

/// Runs a case's ops on the device and the reference.
fn run_kind<D: Device>(dev: &D, kind: &Kind, rng: &mut Rng) -> Result<Vec<Output>> {
    match *kind {
        Kind::Conv2d { s, act, bias } => {
            let (x, w) = (rng.vec(s.x_len(), -1.0, 1.0), rng.vec(s.w_len(), -1.0, 1.0));
            let (b, dy) = (rng.vec(s.c_out, -1.0, 1.0), rng.vec(s.y_len(), -1.0, 1.0));
            let (xd, wd, bd, dyd) = (
                dev.upload(&x)?,
                dev.upload(&w)?,
                dev.upload(&b)?,
                dev.upload(&dy)?,
            );
            let mut y = junk(dev, rng, s.y_len())?;
            dev.conv2d_forward(&s, &xd, &wd, bias.then_some(&bd), act, &mut y)?;
            let mut dx = junk(dev, rng, s.x_len())?;
            dev.conv2d_backward_input(&s, &wd, &dyd, &mut dx)?;
            let (mut dw, mut db) = (junk(dev, rng, s.w_len())?, junk(dev, rng, s.c_out)?);
            dev.conv2d_backward_weight(&s, &xd, &dyd, &mut dw, bias.then_some(&mut db))?;
            let (x64, w64, b64, dy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&dy));
            let ry = crate::ops::conv2d::reference::conv2d_forward(
                &s,
                &x64,
                &w64,
                bias.then_some(&b64[..]),
                act,
            )?;
            let rdx = crate::ops::conv2d::reference::conv2d_backward_input(&s, &w64, &dy64)?;
            let (rdw, rdb) =
                crate::ops::conv2d::reference::conv2d_backward_weight(&s, &x64, &dy64)?;
            let mut o = vec![
                out("y", dev.download(&y)?, ry),
                out("dx", dev.download(&dx)?, rdx),
                out("dw", dev.download(&dw)?, rdw),
            ];
            if bias {
                o.push(out("db", dev.download(&db)?, rdb));
            }
            Ok(o)
        }
        Kind::ConvT { s, act, bias } => {
            let (x, w) = (rng.vec(s.x_len(), -1.0, 1.0), rng.vec(s.w_len(), -1.0, 1.0));
            let (b, dy) = (rng.vec(s.c_out, -1.0, 1.0), rng.vec(s.y_len(), -1.0, 1.0));
            let (xd, wd, bd, dyd) = (
                dev.upload(&x)?,
                dev.upload(&w)?,
                dev.upload(&b)?,
                dev.upload(&dy)?,
            );
            let mut y = junk(dev, rng, s.y_len())?;
            dev.conv_transpose2d_forward(&s, &xd, &wd, bias.then_some(&bd), act, &mut y)?;
            let mut dx = junk(dev, rng, s.x_len())?;
            dev.conv_transpose2d_backward_input(&s, &wd, &dyd, &mut dx)?;
            let (mut dw, mut db) = (junk(dev, rng, s.w_len())?, junk(dev, rng, s.c_out)?);
            dev.conv_transpose2d_backward_weight(&s, &xd, &dyd, &mut dw, bias.then_some(&mut db))?;
            let (x64, w64, b64, dy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&dy));
            let ry = crate::ops::conv_transpose2d::reference::conv_transpose2d_forward(
                &s,
                &x64,
                &w64,
                bias.then_some(&b64[..]),
                act,
            )?;
            let rdx = crate::ops::conv_transpose2d::reference::conv_transpose2d_backward_input(
                &s, &w64, &dy64,
            )?;
            let (rdw, rdb) =
                crate::ops::conv_transpose2d::reference::conv_transpose2d_backward_weight(
                    &s, &x64, &dy64,
                )?;
            let mut o = vec![
                out("y", dev.download(&y)?, ry),
                out("dx", dev.download(&dx)?, rdx),
                out("dw", dev.download(&dw)?, rdw),
            ];
            if bias {
                o.push(out("db", dev.download(&db)?, rdb));
            }
            Ok(o)
        }
        Kind::Pool { s, ties } => {
            let x: Vec<f32> = if ties {
                (0..s.x_len())
                    .map(|_| rng.uniform(0.0, 3.0).floor())
                    .collect()
            } else {
                rng.vec(s.x_len(), -1.0, 1.0)
            };
            let dy = rng.vec(s.y_len(), -1.0, 1.0);
            let (xd, dyd) = (dev.upload(&x)?, dev.upload(&dy)?);
            let mut y = junk(dev, rng, s.y_len())?;
            dev.max_pool2d_forward(&s, &xd, &mut y)?;
            let mut dx = junk(dev, rng, s.x_len())?;
            dev.max_pool2d_backward(&s, &xd, &dyd, &mut dx)?;
            let (x64, dy64) = (f64s(&x), f64s(&dy));
            Ok(vec![
                out(
                    "y",
                    dev.download(&y)?,
                    crate::ops::max_pool2d::reference::max_pool2d_forward(&s, &x64)?,
                ),
                out(
                    "dx",
                    dev.download(&dx)?,
                    crate::ops::max_pool2d::reference::max_pool2d_backward(&s, &x64, &dy64)?,
                ),
            ])
        }
        Kind::Concat { s } => {
            let (a, b) = (rng.vec(s.a_len(), -1.0, 1.0), rng.vec(s.b_len(), -1.0, 1.0));
            let dy = rng.vec(s.y_len(), -1.0, 1.0);
            let (ad, bd, dyd) = (dev.upload(&a)?, dev.upload(&b)?, dev.upload(&dy)?);
            let mut y = junk(dev, rng, s.y_len())?;
            dev.concat_channels(&s, &ad, &bd, &mut y)?;
            let mut da = junk(dev, rng, s.a_len())?;
            let mut db = junk(dev, rng, s.b_len())?;
            dev.split_channels(&s, &dyd, &mut da, &mut db)?;
            let (rda, rdb) = crate::ops::concat::reference::split_channels(&s, &f64s(&dy))?;
            Ok(vec![
                out(
                    "y",
                    dev.download(&y)?,
                    crate::ops::concat::reference::concat_channels(&s, &f64s(&a), &f64s(&b))?,
                ),
                out("da", dev.download(&da)?, rda),
                out("db", dev.download(&db)?, rdb),
            ])
        }
        Kind::ActBackward { act, len } => {
            // y = act(z), with some exact zeros.
            let y: Vec<f32> = (0..len)
                .map(|i| {
                    let z = if i % 11 == 3 {
                        0.0
                    } else {
                        rng.uniform(-1.0, 1.0)
                    };
                    crate::ops::activation::reference::act_forward(act, z as f64) as f32
                })
                .collect();
            let dy = rng.vec(len, -1.0, 1.0);
            let yd = dev.upload(&y)?;
            let mut dyd = dev.upload(&dy)?;
            dev.act_backward(act, &yd, &mut dyd)?;
            let rdy = crate::ops::activation::reference::act_backward(act, &f64s(&y), &f64s(&dy))?;
            Ok(vec![out("dy", dev.download(&dyd)?, rdy)])
        }
        Kind::ConvexSkip { theta, len } => {
            // Inputs biased so that Σ du·(a − b) does not cancel to nothing.
            let (a, b, du) = (
                rng.vec(len, 0.0, 1.0),
                rng.vec(len, -1.0, 0.5),
                rng.vec(len, -0.5, 1.0),
            );
            let (td, ad, bd, dud) = (
                dev.upload(&[theta])?,
                dev.upload(&a)?,
                dev.upload(&b)?,
                dev.upload(&du)?,
            );
            let mut u = junk(dev, rng, len)?;
            dev.convex_skip_forward(&td, &ad, &bd, &mut u)?;
            let (mut da, mut db, mut dt) = (
                junk(dev, rng, len)?,
                junk(dev, rng, len)?,
                junk(dev, rng, 1)?,
            );
            dev.convex_skip_backward(&td, &ad, &bd, &dud, &mut da, &mut db, &mut dt)?;
            let (a64, b64, du64) = (f64s(&a), f64s(&b), f64s(&du));
            let ru =
                crate::ops::convex_skip::reference::convex_skip_forward(theta as f64, &a64, &b64)?;
            let (rda, rdb, rdt) = crate::ops::convex_skip::reference::convex_skip_backward(
                theta as f64,
                &a64,
                &b64,
                &du64,
            )?;
            Ok(vec![
                out("u", dev.download(&u)?, ru),
                out("da", dev.download(&da)?, rda),
                out("db", dev.download(&db)?, rdb),
                out("dtheta", dev.download(&dt)?, vec![rdt]),
            ])
        }
        Kind::Linear { s, with_dx } => {
            let (x, w) = (rng.vec(s.n * s.k, -1.0, 1.0), rng.vec(s.m * s.k, -1.0, 1.0));
            let (b, dy) = (rng.vec(s.m, -1.0, 1.0), rng.vec(s.n * s.m, -1.0, 1.0));
            let (xd, wd, bd, dyd) = (
                dev.upload(&x)?,
                dev.upload(&w)?,
                dev.upload(&b)?,
                dev.upload(&dy)?,
            );
            let mut y = junk(dev, rng, s.n * s.m)?;
            dev.linear_forward(&s, &xd, &wd, &bd, &mut y)?;
            let mut dx = junk(dev, rng, s.n * s.k)?;
            let (mut dw, mut db) = (junk(dev, rng, s.m * s.k)?, junk(dev, rng, s.m)?);
            dev.linear_backward(
                &s,
                &xd,
                &wd,
                &dyd,
                with_dx.then_some(&mut dx),
                &mut dw,
                &mut db,
            )?;
            let (x64, w64, dy64) = (f64s(&x), f64s(&w), f64s(&dy));
            let ry = crate::ops::linear::reference::linear_forward(&s, &x64, &w64, &f64s(&b))?;
            let (rdx, rdw, rdb) =
                crate::ops::linear::reference::linear_backward(&s, &x64, &w64, &dy64)?;
            let mut o = vec![out("y", dev.download(&y)?, ry)];
            if with_dx {
                o.push(out("dx", dev.download(&dx)?, rdx));
            }
            o.push(out("dw", dev.download(&dw)?, rdw));
            o.push(out("db", dev.download(&db)?, rdb));
            Ok(o)
        }
        Kind::Bce { len, target, scale } => {
            // Mostly moderate logits, with some far in both tails (|z| up to 1e4).
            let z: Vec<f32> = (0..len)
                .map(|i| match i % 7 {
                    3 => rng.uniform(5e3, 1e4) * if i % 2 == 0 { 1.0 } else { -1.0 },
                    5 => rng.uniform(-60.0, 60.0),
                    _ => rng.uniform(-6.0, 6.0),
                })
                .collect();
            let loss0 = rng.uniform(0.0, 1.0);
            let zd = dev.upload(&z)?;
            let mut loss = dev.upload(&[loss0])?;
            let mut dz = junk(dev, rng, len)?;
            dev.bce_with_logits(&zd, target, scale, &mut loss, &mut dz)?;
            let (rl, rdz) = crate::ops::loss::reference::bce_with_logits(
                &f64s(&z),
                target as f64,
                scale as f64,
                loss0 as f64,
            );
            Ok(vec![
                out("loss", dev.download(&loss)?, vec![rl]),
                out("dz", dev.download(&dz)?, rdz),
            ])
        }
        Kind::Mse { len, scale } => {
            let (a, b) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
            let loss0 = rng.uniform(0.0, 1.0);
            let (ad, bd) = (dev.upload(&a)?, dev.upload(&b)?);
            let mut loss = dev.upload(&[loss0])?;
            let mut da = junk(dev, rng, len)?;
            dev.mse(&ad, &bd, scale, &mut loss, &mut da)?;
            let (rl, rda) =
                crate::ops::loss::reference::mse(&f64s(&a), &f64s(&b), scale as f64, loss0 as f64)?;
            Ok(vec![
                out("loss", dev.download(&loss)?, vec![rl]),
                out("da", dev.download(&da)?, rda),
            ])
        }
        Kind::L2 { len, scale } => {
            let (w, dw0) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
            let loss0 = rng.uniform(0.0, 1.0);
            let wd = dev.upload(&w)?;
            let mut loss = dev.upload(&[loss0])?;
            let mut dw = dev.upload(&dw0)?;
            dev.l2_penalty(&wd, scale, &mut loss, &mut dw)?;
            let (rl, rdw) = crate::ops::loss::reference::l2_penalty(
                &f64s(&w),
                scale as f64,
                loss0 as f64,
                &f64s(&dw0),
            )?;
            Ok(vec![
                out("loss", dev.download(&loss)?, vec![rl]),
                out("dw", dev.download(&dw)?, rdw),
            ])
        }
        Kind::Sum { len } => {
            let x = rng.vec(len, -0.5, 1.0);
            let xd = dev.upload(&x)?;
            let mut s = junk(dev, rng, 1)?;
            dev.sum(&xd, &mut s)?;
            Ok(vec![out(
                "sum",
                dev.download(&s)?,
                vec![crate::ops::reduce::reference::sum(&f64s(&x))],
            )])
        }
        Kind::AddAssign { len } => {
            let (dst, src) = (rng.vec(len, -1.0, 1.0), rng.vec(len, -1.0, 1.0));
            let mut dd = dev.upload(&dst)?;
            dev.add_assign(&mut dd, &dev.upload(&src)?)?;
            Ok(vec![out(
                "dst",
                dev.download(&dd)?,
                crate::ops::elementwise::reference::add_assign(&f64s(&dst), &f64s(&src))?,
            )])
        }
        Kind::SumSquares { len } => {
            let x = rng.vec(len, -1.0, 1.0);
            let out0 = rng.uniform(0.0, 1.0);
            let xd = dev.upload(&x)?;
            let mut o = dev.upload(&[out0])?;
            dev.sum_squares(&xd, &mut o)?;
            Ok(vec![out(
                "out",
                dev.download(&o)?,
                vec![crate::ops::reduce::reference::sum_squares(
                    &f64s(&x),
                    out0 as f64,
                )],
            )])
        }
        Kind::Scale { len, factor } => {
            let x = rng.vec(len, -1.0, 1.0);
            let mut xd = dev.upload(&x)?;
            dev.scale(&mut xd, factor)?;
            Ok(vec![out(
                "x",
                dev.download(&xd)?,
                crate::ops::elementwise::reference::scale(&f64s(&x), factor as f64),
            )])
        }
        Kind::Sgd { hp, steps, len } => {
            let p0 = rng.vec(len, -1.0, 1.0);
            let (mut p, mut mom) = (dev.upload(&p0)?, dev.alloc_zeros(len)?);
            let (mut rp, mut rmom) = (f64s(&p0), vec![0.0; len]);
            for _ in 0..steps {
                let g = rng.vec(len, -1.0, 1.0);
                dev.sgd_step(&hp, &mut p, &dev.upload(&g)?, &mut mom)?;
                (rp, rmom) = crate::ops::optim::reference::sgd_step(&hp, &rp, &f64s(&g), &rmom)?;
            }
            Ok(vec![
                out("p", dev.download(&p)?, rp),
                out("mom", dev.download(&mom)?, rmom),
            ])
        }
        Kind::Adam { hp, steps, len } => {
            let p0 = rng.vec(len, -1.0, 1.0);
            let (mut p, mut m, mut v) = (
                dev.upload(&p0)?,
                dev.alloc_zeros(len)?,
                dev.alloc_zeros(len)?,
            );
            let (mut rp, mut rm, mut rv) = (f64s(&p0), vec![0.0; len], vec![0.0; len]);
            for t in 1..=steps {
                let g = rng.vec(len, -1.0, 1.0);
                dev.adam_step(&hp, t, &mut p, &dev.upload(&g)?, &mut m, &mut v)?;
                (rp, rm, rv) =
                    crate::ops::optim::reference::adam_step(&hp, t, &rp, &f64s(&g), &rm, &rv)?;
            }
            Ok(vec![
                out("p", dev.download(&p)?, rp),
                out("m", dev.download(&m)?, rm),
                out("v", dev.download(&v)?, rv),
            ])
        }
    }
}

fn act_name(act: Act) -> String {
    match act {
        Act::Identity => "id".into(),
        Act::Relu => "relu".into(),
        Act::LeakyRelu(s) => format!("leaky{s}"),
    }
}

/// Builds the list of every case; `quick` marks the ones `Suite::Quick` keeps.
fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut push = |op: &'static str, shape: String, kind: Kind, quick: bool| {
        let seed = 0x5A7C_0102 + 7919 * v.len() as u64;
        v.push(Case {
            op,
            shape,
            kind,
            seed,
            quick,
        });
    };
    // conv2d: (n, c_in, c_out, h, w, k, stride, pad, act, bias, quick)
    let relu = Act::Relu;
    let leaky = Act::LeakyRelu(0.2);
    let id = Act::Identity;
    #[rustfmt::skip]
    let convs = [
        (5, 1, 3, 13, 17, 1, 1, 0, id, true, true),      // G lift 1×1
        (2, 1, 3, 64, 64, 1, 1, 0, id, true, false),     // lift at the spec's window
        (1, 3, 5, 13, 17, 3, 1, 1, relu, true, true),
        (5, 3, 4, 13, 17, 5, 1, 2, relu, true, true),    // small preset conv1
        (5, 4, 6, 13, 17, 5, 2, 2, relu, true, true),    // small preset conv2 (stride 2)
        (2, 3, 8, 19, 23, 9, 1, 4, relu, true, true),    // seed preset conv1 (k = 9)
        (1, 8, 8, 16, 16, 9, 1, 4, relu, true, false),   // seed preset conv2
        (2, 6, 5, 13, 17, 9, 2, 4, relu, true, false),   // k = 9, stride 2
        (1, 1, 1, 7, 9, 3, 2, 0, id, false, true),       // C = 1, no bias, no padding
        (3, 2, 3, 11, 13, 5, 1, 0, id, true, false),
        (1, 3, 2, 12, 10, 3, 2, 1, leaky, true, false),  // even sizes, stride 2
        (2, 3, 8, 64, 64, 3, 1, 1, leaky, true, true),   // D conv 0 at the spec's window
        (5, 8, 16, 16, 16, 3, 1, 1, leaky, true, false), // a deeper D conv
        (1, 16, 32, 2, 2, 3, 1, 1, leaky, true, false),  // D's last conv: 2×2
        (1, 3, 3, 1, 1, 3, 1, 1, relu, true, false),     // 1×1 image, all padding
    ];
    for (n, c_in, c_out, h, w, k, stride, pad, act, bias, quick) in convs {
        let s = Conv2dShape {
            n,
            c_in,
            h,
            w,
            c_out,
            k,
            stride,
            pad,
        };
        let shape = format!(
            "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} p{pad} {}{}",
            act_name(act),
            if bias { "" } else { " nobias" }
        );
        push("conv2d", shape, Kind::Conv2d { s, act, bias }, quick);
    }
    // conv_transpose2d: (n, c_in, c_out, h, w, k, stride, pad, out_pad, act, bias, quick)
    #[rustfmt::skip]
    let deconvs = [
        (5, 4, 3, 13, 17, 5, 2, 2, 1, relu, true, true),  // small preset deconv
        (2, 8, 3, 16, 16, 9, 1, 4, 0, relu, true, true),  // seed preset deconv
        (2, 6, 3, 8, 11, 9, 2, 4, 1, relu, true, false),  // k = 9, stride 2
        (1, 3, 1, 7, 9, 3, 2, 1, 0, id, false, true),     // C = 1, no bias
        (3, 2, 5, 6, 5, 1, 2, 0, 1, id, true, false),     // k = 1, stride 2
        (2, 5, 3, 32, 32, 5, 2, 2, 1, relu, true, false), // 64×64 output
        (1, 1, 3, 5, 7, 3, 1, 0, 0, leaky, true, false),  // no padding: larger output
        (2, 8, 4, 8, 8, 2, 2, 0, 0, id, true, true),      // U-Net up: 2×2, stride 2
        (3, 5, 3, 7, 5, 2, 2, 0, 0, id, true, false),     // the same at odd sizes
        (1, 16, 8, 32, 32, 2, 2, 0, 0, id, true, false),  // the unet preset's first up
    ];
    for (n, c_in, c_out, h, w, k, stride, pad, out_pad, act, bias, quick) in deconvs {
        let s = ConvTranspose2dShape {
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
        let shape = format!(
            "n{n} c{c_in}→{c_out} {h}×{w} k{k} s{stride} p{pad} op{out_pad} {}{}",
            act_name(act),
            if bias { "" } else { " nobias" }
        );
        push(
            "conv_transpose2d",
            shape,
            Kind::ConvT { s, act, bias },
            quick,
        );
    }
    for (n, c, h, w, ties, quick) in [
        (5, 3, 13, 17, false, true),
        (1, 1, 64, 64, false, false),
        (2, 8, 8, 8, true, true),
        (3, 2, 3, 5, true, false),
        (1, 1, 2, 2, false, false),
    ] {
        let shape = format!("n{n} c{c} {h}×{w}{}", if ties { " ties" } else { "" });
        push(
            "max_pool2d",
            shape,
            Kind::Pool {
                s: Pool2dShape { n, c, h, w },
                ties,
            },
            quick,
        );
    }
    // concat_channels (and split_channels): (n, c_a, c_b, h, w, quick)
    for (n, c_a, c_b, h, w, quick) in [
        (3, 2, 5, 13, 17, true),
        (2, 16, 16, 64, 64, false), // the unet preset's top decoder block
        (1, 1, 1, 1, 1, false),
        (4, 7, 3, 5, 9, true),
    ] {
        let s = ConcatShape {
            n,
            c_a,
            c_b,
            plane: h * w,
        };
        push(
            "concat_channels",
            format!("n{n} c{c_a}+{c_b} {h}×{w}"),
            Kind::Concat { s },
            quick,
        );
    }
    for (act, len, quick) in [
        (relu, 1000, true),
        (leaky, 4099, true),
        (id, 17, false),
        (leaky, 1, false),
    ] {
        push(
            "act_backward",
            format!("{} len {len}", act_name(act)),
            Kind::ActBackward { act, len },
            quick,
        );
    }
    for (theta, len, quick) in [
        (0.0, 3315, true),
        (1.5, 1, false),
        (-3.0, 24576, true),
        (8.0, 1000, false),
    ] {
        push(
            "convex_skip",
            format!("θ={theta} len {len}"),
            Kind::ConvexSkip { theta, len },
            quick,
        );
    }
    for (n, k, m, with_dx, quick) in [
        (1, 13, 3, true, true),
        (5, 37, 1, true, true),
        (16, 4096, 1, true, false), // D's last layer, seed preset
        (2, 64, 7, false, false),
    ] {
        let shape = format!("n{n} k{k} m{m}{}", if with_dx { "" } else { " no dx" });
        push(
            "linear",
            shape,
            Kind::Linear {
                s: LinearShape { n, k, m },
                with_dx,
            },
            quick,
        );
    }
    for (len, target, scale, quick) in [
        (1, 1.0, 1.0, false),
        (16, 0.0, 1.0 / 16.0, true),
        (1001, 1.0, 0.5, true),
        (37, 0.9, 2.0, false),
    ] {
        push(
            "bce_with_logits",
            format!("len {len} t={target} scale {scale}"),
            Kind::Bce { len, target, scale },
            quick,
        );
    }
    for (len, scale, quick) in [
        (1, 1.0, false),
        (3315, 1.0 / 3315.0, true),
        (24576, 100.0, false),
    ] {
        push(
            "mse",
            format!("len {len} scale {scale:e}"),
            Kind::Mse { len, scale },
            quick,
        );
    }
    for (len, scale, quick) in [(1, 1.0, false), (2593, 1e-4, true), (83000, 0.5, false)] {
        push(
            "l2_penalty",
            format!("len {len} scale {scale:e}"),
            Kind::L2 { len, scale },
            quick,
        );
    }
    for (len, quick) in [(1, false), (1000, true), (100_003, true)] {
        push("sum", format!("len {len}"), Kind::Sum { len }, quick);
    }
    for (len, quick) in [(1, false), (4097, true)] {
        push(
            "add_assign",
            format!("len {len}"),
            Kind::AddAssign { len },
            quick,
        );
    }
    for (len, quick) in [(1, false), (2593, true), (100_003, false)] {
        push(
            "sum_squares",
            format!("len {len}"),
            Kind::SumSquares { len },
            quick,
        );
    }
    for (len, factor, quick) in [(1, -2.5, false), (4097, 0.37, true), (70_001, 1e-3, false)] {
        push(
            "scale",
            format!("len {len} factor {factor:e}"),
            Kind::Scale { len, factor },
            quick,
        );
    }
    let sgd = |lr, momentum, weight_decay| SgdParams {
        lr,
        momentum,
        weight_decay,
    };
    for (hp, steps, len, quick) in [
        (sgd(0.05, 0.9, 0.0), 1, 1000, true),
        (sgd(0.05, 0.9, 1e-2), 3, 1001, true),
        (sgd(2e-4, 0.9, 0.0), 3, 1, false),
    ] {
        let shape = format!(
            "lr {:e} μ {} wd {:e} t=1..{steps} len {len}",
            hp.lr, hp.momentum, hp.weight_decay
        );
        push("sgd_step", shape, Kind::Sgd { hp, steps, len }, quick);
    }
    let adam = |lr, weight_decay| AdamParams {
        lr,
        beta1: 0.5,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
    };
    for (hp, steps, len, quick) in [
        (adam(0.05, 0.0), 1, 1000, true),
        (adam(0.05, 1e-2), 3, 1001, true),
        (adam(2e-4, 0.0), 3, 7, false),
    ] {
        let shape = format!(
            "lr {:e} wd {:e} t=1..{steps} len {len}",
            hp.lr, hp.weight_decay
        );
        push("adam_step", shape, Kind::Adam { hp, steps, len }, quick);
    }
    v
}
