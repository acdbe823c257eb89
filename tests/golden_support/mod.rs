//! Compares a [`Device`] against the PyTorch golden files in tests/golden/ (written by
//! scripts/make_goldens.py; CI never needs torch).
//!
//! Each file holds the cases of one op: tensors named `<case>.<role>` in float64 and a
//! `cases` JSON list in its metadata with every case's shape and hyperparameters. Inputs
//! are float32 values stored exactly in float64; outputs are torch's float64 results for
//! those inputs. A device passes when, for every output of every case, the max-norm
//! relative error `max|d − g| / max|g|` is at most [`TOLERANCE`].
//!
//! Use from any test file: `mod golden_support;` then
//! `golden_support::assert_golden(&device, "conv2d")` or `assert_all_goldens(&device)`.

// Shared by several test crates, each of which uses only part of it.
#![allow(dead_code)]

use safetensors::{Dtype, SafeTensors};
use satcolor::device::Device;
use satcolor::ops::{
    Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape,
    SgdParams,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

/// Largest max-norm relative error accepted for f32 results.
pub const TOLERANCE: f64 = 1e-5;

/// The ops that have a golden file `tests/golden/<op>.safetensors`.
pub const OPS: &[&str] = &[
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "concat_channels",
    "activation",
    "convex_skip",
    "linear",
    "bce_with_logits",
    "mse",
    "l2_penalty",
    "sgd",
    "adam",
];

/// The directory of the golden files.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// One golden file, decoded.
pub struct Golden {
    /// The op (file stem).
    pub op: String,
    /// The whole `__metadata__` map (`torch_version`, `seed`, `dtype`, `cases`, `op`).
    pub meta: HashMap<String, String>,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One case of a golden file.
pub struct Case {
    /// The case's name (the prefix of its tensor names).
    pub name: String,
    /// Shape and hyperparameters, as written by the script.
    pub params: Value,
    tensors: HashMap<String, Vec<f64>>,
}

impl Case {
    /// A tensor's values as stored (float64).
    pub fn f64(&self, role: &str) -> &[f64] {
        self.tensors
            .get(role)
            .unwrap_or_else(|| panic!("golden case {} has no tensor '{role}'", self.name))
    }
    fn has(&self, role: &str) -> bool {
        self.tensors.contains_key(role)
    }
    /// A tensor as the f32 values a device receives (exact: they were drawn in f32).
    fn f32(&self, role: &str) -> Vec<f32> {
        self.f64(role).iter().map(|&v| v as f32).collect()
    }
    fn usize(&self, key: &str) -> usize {
        self.params[key]
            .as_u64()
            .unwrap_or_else(|| panic!("golden case {}: no integer '{key}'", self.name))
            as usize
    }
    fn float(&self, key: &str) -> f32 {
        self.params[key]
            .as_f64()
            .unwrap_or_else(|| panic!("golden case {}: no number '{key}'", self.name))
            as f32
    }
    fn act(&self) -> Act {
        let a = &self.params["act"];
        match a["kind"].as_str() {
            Some("identity") => Act::Identity,
            Some("relu") => Act::Relu,
            Some("leaky_relu") => Act::LeakyRelu(a["slope"].as_f64().unwrap() as f32),
            other => panic!("golden case {}: unknown activation {other:?}", self.name),
        }
    }
}

/// Reads `tests/golden/<op>.safetensors`.
pub fn load(op: &str) -> Golden {
    let path = golden_dir().join(format!("{op}.safetensors"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) =
        SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let meta = header.metadata().clone().unwrap_or_default();
    let st =
        SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let list: Vec<Value> = serde_json::from_str(meta.get("cases").map_or("[]", String::as_str))
        .unwrap_or_else(|e| panic!("{}: bad `cases` metadata: {e}", path.display()));
    let mut cases: Vec<Case> = list
        .into_iter()
        .map(|params| Case {
            name: params["name"]
                .as_str()
                .expect("case without a name")
                .to_string(),
            params,
            tensors: HashMap::new(),
        })
        .collect();
    for (full, view) in st.tensors() {
        let (case, role) = full.rsplit_once('.').expect("tensor name is <case>.<role>");
        assert_eq!(
            view.dtype(),
            Dtype::F64,
            "{}: {full} is not float64",
            path.display()
        );
        let data = view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let c = cases
            .iter_mut()
            .find(|c| c.name == case)
            .unwrap_or_else(|| panic!("{}: tensor {full} of an unlisted case", path.display()));
        c.tensors.insert(role.to_string(), data);
    }
    Golden {
        op: op.to_string(),
        meta,
        cases,
    }
}

/// One compared output.
#[derive(Debug)]
pub struct Check {
    /// The case's name.
    pub case: String,
    /// The output compared (`y`, `dx`, `p2`, ...).
    pub output: String,
    /// `max|d − g| / max|g|`; infinite if the device produced a non-finite value or the
    /// wrong number of elements.
    pub max_rel_err: f64,
}

/// The max-norm relative error of `got` against `want`.
pub fn max_rel_err(got: &[f32], want: &[f64]) -> f64 {
    if got.len() != want.len() || got.iter().any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&d, &g)| m.max((d as f64 - g).abs()));
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// Runs one op's cases on a device, recording every output's error.
struct Runner<'a, D: Device> {
    dev: &'a D,
    checks: Vec<Check>,
}

impl<D: Device> Runner<'_, D> {
    fn up(&self, data: &[f32]) -> D::Buf {
        self.dev.upload(data).expect("upload")
    }
    /// A buffer of NaN: an op that reads its output before writing it shows up.
    fn junk(&self, len: usize) -> D::Buf {
        self.up(&vec![f32::NAN; len])
    }
    fn check(&mut self, case: &Case, output: &str, buf: &D::Buf) {
        let got = self.dev.download(buf).expect("download");
        self.checks.push(Check {
            case: case.name.clone(),
            output: output.to_string(),
            max_rel_err: max_rel_err(&got, case.f64(output)),
        });
    }

    fn conv2d(&mut self, c: &Case) {
        let s = Conv2dShape {
            n: c.usize("n"),
            c_in: c.usize("c_in"),
            h: c.usize("h"),
            w: c.usize("w"),
            c_out: c.usize("c_out"),
            k: c.usize("k"),
            stride: c.usize("stride"),
            pad: c.usize("pad"),
        };
        let d = self.dev;
        let (x, w) = (self.up(&c.f32("x")), self.up(&c.f32("w")));
        let b = c.has("b").then(|| self.up(&c.f32("b")));
        let mut y = self.junk(s.y_len());
        d.conv2d_forward(&s, &x, &w, b.as_ref(), c.act(), &mut y)
            .expect("conv2d_forward");
        self.check(c, "y", &y);
        // Backward ops take the pre-activation gradient: apply the activation's backward
        // to torch's upstream gradient first (with torch's y, rounded to f32).
        let mut dz = self.up(&c.f32("dy"));
        d.act_backward(c.act(), &self.up(&c.f32("y")), &mut dz)
            .expect("act_backward");
        let mut dx = self.junk(s.x_len());
        d.conv2d_backward_input(&s, &w, &dz, &mut dx)
            .expect("conv2d_backward_input");
        self.check(c, "dx", &dx);
        let mut dw = self.junk(s.w_len());
        let mut db = b.as_ref().map(|_| self.junk(s.c_out));
        d.conv2d_backward_weight(&s, &x, &dz, &mut dw, db.as_mut())
            .expect("conv2d_backward_weight");
        self.check(c, "dw", &dw);
        if let Some(db) = &db {
            self.check(c, "db", db);
        }
    }

    fn conv_transpose2d(&mut self, c: &Case) {
        let s = ConvTranspose2dShape {
            n: c.usize("n"),
            c_in: c.usize("c_in"),
            h: c.usize("h"),
            w: c.usize("w"),
            c_out: c.usize("c_out"),
            k: c.usize("k"),
            stride: c.usize("stride"),
            pad: c.usize("pad"),
            out_pad: c.usize("out_pad"),
        };
        let d = self.dev;
        let (x, w) = (self.up(&c.f32("x")), self.up(&c.f32("w")));
        let b = c.has("b").then(|| self.up(&c.f32("b")));
        let mut y = self.junk(s.y_len());
        d.conv_transpose2d_forward(&s, &x, &w, b.as_ref(), c.act(), &mut y)
            .expect("conv_transpose2d_forward");
        self.check(c, "y", &y);
        let mut dz = self.up(&c.f32("dy"));
        d.act_backward(c.act(), &self.up(&c.f32("y")), &mut dz)
            .expect("act_backward");
        let mut dx = self.junk(s.x_len());
        d.conv_transpose2d_backward_input(&s, &w, &dz, &mut dx)
            .expect("conv_transpose2d_backward_input");
        self.check(c, "dx", &dx);
        let mut dw = self.junk(s.w_len());
        let mut db = b.as_ref().map(|_| self.junk(s.c_out));
        d.conv_transpose2d_backward_weight(&s, &x, &dz, &mut dw, db.as_mut())
            .expect("conv_transpose2d_backward_weight");
        self.check(c, "dw", &dw);
        if let Some(db) = &db {
            self.check(c, "db", db);
        }
    }

    fn max_pool2d(&mut self, c: &Case) {
        let s = Pool2dShape {
            n: c.usize("n"),
            c: c.usize("c"),
            h: c.usize("h"),
            w: c.usize("w"),
        };
        let x = self.up(&c.f32("x"));
        let mut y = self.junk(s.y_len());
        self.dev
            .max_pool2d_forward(&s, &x, &mut y)
            .expect("max_pool2d_forward");
        self.check(c, "y", &y);
        let mut dx = self.junk(s.x_len());
        self.dev
            .max_pool2d_backward(&s, &x, &self.up(&c.f32("dy")), Act::Identity, &mut dx)
            .expect("max_pool2d_backward");
        self.check(c, "dx", &dx);
    }

    fn concat_channels(&mut self, c: &Case) {
        let s = ConcatShape {
            n: c.usize("n"),
            c_a: c.usize("c_a"),
            c_b: c.usize("c_b"),
            plane: c.usize("h") * c.usize("w"),
        };
        let mut y = self.junk(s.y_len());
        self.dev
            .concat_channels(&s, &self.up(&c.f32("a")), &self.up(&c.f32("b")), &mut y)
            .expect("concat_channels");
        self.check(c, "y", &y);
        let (mut da, mut db) = (self.junk(s.a_len()), self.junk(s.b_len()));
        self.dev
            .split_channels(&s, &self.up(&c.f32("dy")), &mut da, &mut db)
            .expect("split_channels");
        self.check(c, "da", &da);
        self.check(c, "db", &db);
    }

    fn activation(&mut self, c: &Case) {
        let mut dz = self.up(&c.f32("dy"));
        self.dev
            .act_backward(c.act(), &self.up(&c.f32("y")), &mut dz)
            .expect("act_backward");
        self.check(c, "dz", &dz);
    }

    fn convex_skip(&mut self, c: &Case) {
        let d = self.dev;
        let (theta, a, b) = (
            self.up(&c.f32("theta")),
            self.up(&c.f32("a")),
            self.up(&c.f32("b")),
        );
        let len = c.f64("a").len();
        let mut u = self.junk(len);
        d.convex_skip_forward(&theta, &a, &b, &mut u)
            .expect("convex_skip_forward");
        self.check(c, "u", &u);
        let (mut da, mut db, mut dtheta) = (self.junk(len), self.junk(len), self.junk(1));
        d.convex_skip_backward(
            &theta,
            &a,
            &b,
            &self.up(&c.f32("du")),
            &mut da,
            &mut db,
            &mut dtheta,
        )
        .expect("convex_skip_backward");
        self.check(c, "da", &da);
        self.check(c, "db", &db);
        self.check(c, "dtheta", &dtheta);
    }

    fn linear(&mut self, c: &Case) {
        let s = LinearShape {
            n: c.usize("n"),
            k: c.usize("k"),
            m: c.usize("m"),
        };
        let d = self.dev;
        let (x, w, b) = (
            self.up(&c.f32("x")),
            self.up(&c.f32("w")),
            self.up(&c.f32("b")),
        );
        let mut y = self.junk(s.n * s.m);
        d.linear_forward(&s, &x, &w, &b, &mut y)
            .expect("linear_forward");
        self.check(c, "y", &y);
        let (mut dx, mut dw, mut db) = (self.junk(s.n * s.k), self.junk(s.m * s.k), self.junk(s.m));
        d.linear_backward(
            &s,
            &x,
            &w,
            &self.up(&c.f32("dy")),
            Some(&mut dx),
            &mut dw,
            &mut db,
        )
        .expect("linear_backward");
        self.check(c, "dx", &dx);
        self.check(c, "dw", &dw);
        self.check(c, "db", &db);
    }

    fn bce_with_logits(&mut self, c: &Case) {
        let z = self.up(&c.f32("z"));
        let mut loss = self.up(&c.f32("loss_in"));
        let mut dz = self.junk(c.f64("z").len());
        self.dev
            .bce_with_logits(
                &z,
                c.float("target"),
                c.f64("z").len(),
                c.float("scale"),
                &mut loss,
                &mut dz,
            )
            .expect("bce_with_logits");
        self.check(c, "loss", &loss);
        self.check(c, "dz", &dz);
    }

    fn mse(&mut self, c: &Case) {
        let (a, b) = (self.up(&c.f32("a")), self.up(&c.f32("b")));
        let mut loss = self.up(&c.f32("loss_in"));
        let mut da = self.junk(c.f64("a").len());
        self.dev
            .mse(&a, &b, c.float("scale"), &mut loss, &mut da)
            .expect("mse");
        self.check(c, "loss", &loss);
        self.check(c, "da", &da);
    }

    fn l2_penalty(&mut self, c: &Case) {
        let w = self.up(&c.f32("w"));
        let mut loss = self.up(&c.f32("loss_in"));
        let mut dw = self.up(&c.f32("dw_in"));
        self.dev
            .l2_penalty(&w, c.float("scale"), &mut loss, &mut dw)
            .expect("l2_penalty");
        self.check(c, "loss", &loss);
        self.check(c, "dw", &dw);
    }

    fn sgd(&mut self, c: &Case) {
        let hp = SgdParams {
            lr: c.float("lr"),
            momentum: c.float("momentum"),
            weight_decay: c.float("weight_decay"),
        };
        let mut p = self.up(&c.f32("p0"));
        let mut mom = self
            .dev
            .alloc_zeros(c.f64("p0").len())
            .expect("alloc_zeros");
        for t in 1..=c.usize("steps") {
            let g = self.up(&c.f32(&format!("g{t}")));
            self.dev
                .sgd_step(&hp, &mut p, &g, &mut mom)
                .expect("sgd_step");
            self.check(c, &format!("p{t}"), &p);
            self.check(c, &format!("mom{t}"), &mom);
        }
    }

    fn adam(&mut self, c: &Case) {
        let hp = AdamParams {
            lr: c.float("lr"),
            beta1: c.float("beta1"),
            beta2: c.float("beta2"),
            eps: c.float("eps"),
            weight_decay: c.float("weight_decay"),
        };
        let len = c.f64("p0").len();
        let mut p = self.up(&c.f32("p0"));
        let mut m = self.dev.alloc_zeros(len).expect("alloc_zeros");
        let mut v = self.dev.alloc_zeros(len).expect("alloc_zeros");
        for t in 1..=c.usize("steps") {
            let g = self.up(&c.f32(&format!("g{t}")));
            let bias = self.up(&hp.step_scalars(t as u64).expect("t ≥ 1"));
            self.dev
                .adam_step(&hp, &bias, &mut p, &g, &mut m, &mut v)
                .expect("adam_step");
            self.check(c, &format!("p{t}"), &p);
            self.check(c, &format!("m{t}"), &m);
            self.check(c, &format!("v{t}"), &v);
        }
    }
}

/// Runs every case of `op`'s golden file on `dev` and returns the error of every output.
pub fn run_golden<D: Device>(dev: &D, op: &str) -> Vec<Check> {
    let golden = load(op);
    let mut r = Runner {
        dev,
        checks: Vec::new(),
    };
    for case in &golden.cases {
        match golden.op.as_str() {
            "conv2d" => r.conv2d(case),
            "conv_transpose2d" => r.conv_transpose2d(case),
            "max_pool2d" => r.max_pool2d(case),
            "concat_channels" => r.concat_channels(case),
            "activation" => r.activation(case),
            "convex_skip" => r.convex_skip(case),
            "linear" => r.linear(case),
            "bce_with_logits" => r.bce_with_logits(case),
            "mse" => r.mse(case),
            "l2_penalty" => r.l2_penalty(case),
            "sgd" => r.sgd(case),
            "adam" => r.adam(case),
            other => panic!("no runner for golden op '{other}'"),
        }
    }
    r.checks
}

/// Runs `op`'s golden cases on `dev`, prints a table (case, output, max relative error) and
/// panics if any output is off by more than [`TOLERANCE`] (for the convolutions of a device
/// computing them in TF32, the tolerance of its precision: `satcolor::selftest::tolerance`).
pub fn assert_golden<D: Device>(dev: &D, op: &str) {
    let checks = run_golden(dev, op);
    assert!(!checks.is_empty(), "golden file of {op} has no cases");
    let tol = satcolor::selftest::tolerance(op, dev.precision()).max(TOLERANCE);
    let passes = |c: &Check| c.max_rel_err <= tol;
    let width = checks.iter().map(|c| c.case.len()).max().unwrap_or(0);
    println!(
        "golden {op} on {} ({} convolutions):",
        dev.name(),
        dev.precision()
    );
    for c in &checks {
        let verdict = if passes(c) { "ok" } else { "FAIL" };
        println!(
            "  {:width$}  {:7}  {:9.2e}  {verdict}",
            c.case, c.output, c.max_rel_err
        );
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !passes(c))
        .map(|c| format!("{}.{} ({:.2e})", c.case, c.output, c.max_rel_err))
        .collect();
    assert!(
        failed.is_empty(),
        "{op} on {}: max relative error above {tol:e} in {}",
        dev.name(),
        failed.join(", ")
    );
}

/// [`assert_golden`] for every op of [`OPS`].
pub fn assert_all_goldens<D: Device>(dev: &D) {
    for op in OPS {
        assert_golden(dev, op);
    }
}
