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
//! `err ≤ 1e-5` ([`TOLERANCE`]), or for the convolutions of a device computing them in
//! TF32 the tolerance derived from TF32's mantissa ([`tolerance`]); a NaN, an infinity or a
//! length mismatch fails.
//!
//! The device's raw outputs are kept in each [`CaseRun`], so that two runs (e.g. the
//! emulator in two thread orders) can be compared bit for bit.

use crate::device::precision::{Half, Precision};
use crate::device::Device;
use crate::ops::registry::{self, CaseKind};
use crate::ops::Act;
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
    kind: CaseKind,
    seed: u64,
    quick: bool,
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
    /// The largest max-norm relative error that passes ([`tolerance`]).
    pub tolerance: f64,
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
    /// Whether `max_rel_err ≤ tolerance`.
    pub pass: bool,
    /// The tolerance it was held to.
    pub tolerance: f64,
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
                tolerance: self.tolerance,
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
                    pass: err <= self.tolerance,
                    tolerance: self.tolerance,
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

/// Runs every case of `suite` on `dev`; an error fails its case and the rest run on. On a
/// device of 16-bit storage, only the ops of inference run (their forward pass,
/// [`crate::ops::registry::Op::run_half`]); [`skipped_ops`] names the others.
pub fn run_suite<D: Device>(dev: &D, suite: Suite) -> Vec<CaseRun> {
    run_cases(dev, &cases(suite))
}

/// Runs `cases` on `dev` (as [`run_suite`]: on a device of 16-bit storage, the cases of ops
/// without a 16-bit forward pass are left out).
pub fn run_cases<D: Device>(dev: &D, cases: &[Case]) -> Vec<CaseRun> {
    cases.iter().filter_map(|c| try_case(dev, c)).collect()
}

/// The ops of `cases` that `runs` (of [`run_cases`] or [`run_suite`]) left out: on a device
/// of 16-bit storage, every op without a 16-bit forward pass (training's); none otherwise.
pub fn skipped_ops(cases: &[Case], runs: &[CaseRun]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for c in cases {
        if !runs.iter().any(|r| r.op == c.op) && !v.contains(&c.op) {
            v.push(c.op);
        }
    }
    v
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
    let loosest = results.iter().fold(TOLERANCE, |m, r| m.max(r.tolerance));
    let bound = if loosest > TOLERANCE && results.iter().all(|r| r.tolerance == loosest) {
        format!("≤ {loosest:.3e}: one rounding to 16 bits")
    } else if loosest > TOLERANCE {
        format!("≤ {TOLERANCE:e}, TF32 convolutions ≤ {loosest:.3e}")
    } else {
        format!("≤ {TOLERANCE:e}")
    };
    t += &format!(
        "{passed} of {} checks passed (max-norm relative error {bound})\n",
        results.len()
    );
    t
}

/// The tolerance of `op`'s outputs on a device whose convolutions compute in `precision`:
/// the precision's ([`Precision::tolerance`]) for the ops that run the implicit-GEMM
/// convolutions (the ops of the kernel slots), [`TOLERANCE`] for every other op.
pub fn tolerance(op: &str, precision: Precision) -> f64 {
    if precision.storage().is_some() {
        return precision.tolerance();
    }
    let conv = crate::device::gpu::variants::SLOTS
        .iter()
        .any(|s| s.ops.contains(&op));
    if conv {
        precision.tolerance()
    } else {
        TOLERANCE
    }
}

/// The cases of a suite: every op, at awkward sizes (not multiples of any tile, C = 1 and
/// 3, batch 1 and 5) and at the shapes the model spec uses.
pub fn cases(suite: Suite) -> Vec<Case> {
    all_cases()
        .into_iter()
        .filter(|c| suite == Suite::Full || c.quick)
        .collect()
}

/// The full suite's cases of the ops that run a kernel slot's kernel: what every variant of
/// the slot must pass ([`crate::device::gpu::variants`]).
pub fn slot_cases(slot: &crate::device::gpu::variants::Slot) -> Vec<Case> {
    cases(Suite::Full)
        .into_iter()
        .filter(|c| slot.ops.contains(&c.op))
        .collect()
}

/// Runs one case on `dev`; an error (of the device, or of the reference on a shape it
/// rejects) is recorded in the returned run and fails it, as does an op that a device of
/// 16-bit storage does not run.
pub fn run_case<D: Device>(dev: &D, case: &Case) -> CaseRun {
    try_case(dev, case).unwrap_or_else(|| CaseRun {
        op: case.op,
        shape: case.shape.clone(),
        outputs: Vec::new(),
        error: Some(format!(
            "{} does not run with --precision {}",
            case.op,
            dev.precision()
        )),
        tolerance: tolerance(case.op, dev.precision()),
    })
}

/// [`run_case`], `None` for an op without a 16-bit pass on a device of 16-bit storage.
fn try_case<D: Device>(dev: &D, case: &Case) -> Option<CaseRun> {
    let rng = &mut Rng(case.seed);
    let result = match dev.precision().storage() {
        None => case.kind.run(dev, rng),
        Some(f) => case.kind.run_half(dev, rng, f)?,
    };
    let (outputs, error) = match result {
        Ok(o) => (o, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Some(CaseRun {
        op: case.op,
        shape: case.shape.clone(),
        outputs,
        error,
        tolerance: tolerance(case.op, dev.precision()),
    })
}

/// A seeded SplitMix64 generator: the same inputs on every machine.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    /// `len` values uniform in `[lo, hi)`.
    pub fn vec(&mut self, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..len).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// The values as f64.
pub(crate) fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// `v` with every value rounded to the 16-bit format `f` (the inputs of a 16-bit case,
/// exact on the device).
pub(crate) fn rounded(v: Vec<f32>, f: Half) -> Vec<f32> {
    v.into_iter().map(|x| f.round(x)).collect()
}

/// A device output buffer pre-filled with junk (an op that should overwrite it must).
pub(crate) fn junk<D: Device>(dev: &D, rng: &mut Rng, len: usize) -> Result<D::Buf> {
    dev.upload(&rng.vec(len, 5.0, 9.0))
}

/// An output of a case.
pub(crate) fn out(name: &'static str, device: Vec<f32>, reference: Vec<f64>) -> Output {
    Output {
        name,
        device,
        reference,
    }
}

/// A short label of an activation for case shapes.
pub(crate) fn act_name(act: Act) -> String {
    match act {
        Act::Identity => "id".into(),
        Act::Relu => "relu".into(),
        Act::LeakyRelu(s) => format!("leaky{s}"),
    }
}

/// Every case of the registry ([`crate::ops::registry`]), in its order; the seed of a case
/// follows from its position.
fn all_cases() -> Vec<Case> {
    registry::all_cases()
        .into_iter()
        .enumerate()
        .map(|(i, (op, c))| Case {
            op,
            shape: c.shape,
            kind: c.params,
            seed: 0x5A7C_0102 + 7919 * i as u64,
            quick: c.quick,
        })
        .collect()
}
