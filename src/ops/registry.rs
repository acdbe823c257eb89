//! The one list of ops: every op the parity harness checks, with the family it belongs to.
//! `satcolor selftest` and the parity tests ([`crate::selftest`]), the spoiled-device test
//! (tests/common/faulty.rs) and the benchmarks (benches/ops.rs) all take their case lists
//! from here.
//!
//! Each entry is a type implementing [`Op`], defined in its family's folder
//! (`src/ops/<family>/cases.rs`): the op's name in the harness, its family (the folder and
//! `kernels/<family>.cu`), the [`Device`] methods it exercises, its parity cases, how one case
//! runs on a device and on the reference, and its benchmarks. Adding an op means one
//! folder, one .cu and one line of `registry!` below; the order of the lines is the order
//! of the cases, and a case's seed follows from its position, so existing lines keep
//! their order.

use super::{
    activation, concat, conv2d, conv_transpose2d, convex_skip, elementwise, linear, loss,
    max_pool2d, optim, reduce,
};
use crate::device::precision::Half;
use crate::device::Device;
use crate::selftest::{Output, Rng};
use crate::Result;
use std::fmt::Debug;

/// One parity case of an op: a label for people, the op's parameters, and whether the
/// quick suite (`satcolor selftest`) runs it.
#[derive(Clone, Debug)]
pub struct OpCase<P> {
    /// The shape and parameters, for people.
    pub shape: String,
    /// What the case runs.
    pub params: P,
    /// Whether [`Suite::Quick`](crate::selftest::Suite::Quick) keeps it.
    pub quick: bool,
}

impl OpCase<usize> {
    /// The cases of an op whose only parameter is a length: `(len, quick)` each, labelled
    /// `len N`.
    pub fn lengths(list: &[(usize, bool)]) -> Vec<OpCase<usize>> {
        list.iter()
            .map(|&(len, quick)| OpCase {
                shape: format!("len {len}"),
                params: len,
                quick,
            })
            .collect()
    }
}

/// One benchmark of an op at a shape the model presets use.
#[derive(Clone, Debug)]
pub struct OpBench<P> {
    /// The criterion group (`seed`, `small`, `disc`, `optim`, `baseline`).
    pub group: &'static str,
    /// The benchmark's name within its group.
    pub name: String,
    /// What it runs.
    pub params: P,
    /// Work per run of each part (multiply-adds for the convolutions, else elements).
    pub work: u64,
    /// The parts to time (e.g. `forward`, `backward_input`), each a name
    /// [`Op::bench_part`] knows.
    pub parts: &'static [&'static str],
}

/// A prepared benchmark part: runs the op once on inputs uploaded beforehand.
pub type BenchRun<'a> = Box<dyn FnMut() -> Result<()> + 'a>;

/// An op of the registry (see the module docs).
pub trait Op {
    /// The op's name in the harness ([`Case::op`](crate::selftest::Case::op)).
    const NAME: &'static str;
    /// The family: the folder `src/ops/<FAMILY>/` and the kernels `kernels/<FAMILY>.cu`.
    const FAMILY: &'static str;
    /// Every [`Device`] method a case of this op calls, with the name of the harness output
    /// that a spoiled result of that method shows up as.
    const METHODS: &'static [(&'static str, &'static str)];
    /// The parameters of one case.
    type Params: Clone + Debug;
    /// The parity cases, in order.
    fn cases() -> Vec<OpCase<Self::Params>>;
    /// Runs one case on `dev` and on the f64 reference, drawing inputs from `rng`; returns
    /// every output, in a fixed order.
    fn run<D: Device>(dev: &D, p: &Self::Params, rng: &mut Rng) -> Result<Vec<Output>>;
    /// Runs one case of the op's forward pass on `dev`, a device of 16-bit storage `f`
    /// (reduced-precision inference), with inputs drawn from `rng` and rounded to `f`,
    /// against the f64 reference on those same values; `None` for an op that does not run
    /// in 16-bit storage (training's), the default.
    fn run_half<D: Device>(
        dev: &D,
        p: &Self::Params,
        rng: &mut Rng,
        f: Half,
    ) -> Option<Result<Vec<Output>>> {
        let _ = (dev, p, rng, f);
        None
    }
    /// The benchmarks (none by default).
    fn benches() -> Vec<OpBench<Self::Params>> {
        Vec::new()
    }
    /// Uploads the inputs of one benchmark part and returns what runs it.
    fn bench_part<'a, D: Device>(
        dev: &'a D,
        p: &Self::Params,
        part: &str,
        rng: &mut Rng,
    ) -> Result<BenchRun<'a>> {
        let _ = (dev, p, rng);
        Err(no_part(Self::NAME, part))
    }
}

/// The parts of a benchmark of an op with a forward, an input and a weight gradient.
pub const ALL: &[&str] = &["forward", "backward_input", "backward_weight"];
/// The forward part only.
pub const FORWARD: &[&str] = &["forward"];
/// The one part of an optimizer benchmark.
pub const STEP: &[&str] = &["step"];

/// The error of a benchmark part an op does not have.
pub(crate) fn no_part(op: &str, part: &str) -> crate::Error {
    crate::Error::Device(format!("{op} has no benchmark part {part}"))
}

/// Generates, from one line per op (`family::Type`), the enum of case parameters, the
/// list of cases and benchmarks, the dispatch of a case to its op, and the op list.
macro_rules! registry {
    ($($fam:ident :: $ty:ident),* $(,)?) => {
        /// The parameters of one case, tagged with its op.
        #[derive(Clone, Debug)]
        pub enum CaseKind {
            $(
                #[doc = concat!("A case of [`", stringify!($fam), "::", stringify!($ty), "`].")]
                $ty(<$fam::$ty as Op>::Params),
            )*
        }

        /// Every registered op: (name, family, Device methods with their outputs).
        pub const OPS: &[OpInfo] = &[$(OpInfo {
            name: <$fam::$ty as Op>::NAME,
            family: <$fam::$ty as Op>::FAMILY,
            methods: <$fam::$ty as Op>::METHODS,
        }),*];

        /// Every case of every op, in registry order: (op, case).
        pub fn all_cases() -> Vec<(&'static str, OpCase<CaseKind>)> {
            let mut v = Vec::new();
            $(
                for c in <$fam::$ty as Op>::cases() {
                    let OpCase { shape, params, quick } = c;
                    v.push((
                        <$fam::$ty as Op>::NAME,
                        OpCase { shape, params: CaseKind::$ty(params), quick },
                    ));
                }
            )*
            v
        }

        /// Every benchmark of every op, in registry order.
        pub fn all_benches() -> Vec<OpBench<CaseKind>> {
            let mut v = Vec::new();
            $(
                for b in <$fam::$ty as Op>::benches() {
                    let OpBench { group, name, params, work, parts } = b;
                    v.push(OpBench { group, name, params: CaseKind::$ty(params), work, parts });
                }
            )*
            v
        }

        impl CaseKind {
            /// The op's name.
            pub fn op(&self) -> &'static str {
                match self {
                    $(CaseKind::$ty(_) => <$fam::$ty as Op>::NAME,)*
                }
            }
            /// Runs the case (see [`Op::run`]).
            pub fn run<D: Device>(&self, dev: &D, rng: &mut Rng) -> Result<Vec<Output>> {
                match self {
                    $(CaseKind::$ty(p) => <$fam::$ty as Op>::run(dev, p, rng),)*
                }
            }
            /// Runs the case's forward pass in 16-bit storage (see [`Op::run_half`]).
            pub fn run_half<D: Device>(
                &self,
                dev: &D,
                rng: &mut Rng,
                f: Half,
            ) -> Option<Result<Vec<Output>>> {
                match self {
                    $(CaseKind::$ty(p) => <$fam::$ty as Op>::run_half(dev, p, rng, f),)*
                }
            }
            /// Prepares one benchmark part (see [`Op::bench_part`]).
            pub fn bench_part<'a, D: Device>(
                &self,
                dev: &'a D,
                part: &str,
                rng: &mut Rng,
            ) -> Result<BenchRun<'a>> {
                match self {
                    $(CaseKind::$ty(p) => <$fam::$ty as Op>::bench_part(dev, p, part, rng),)*
                }
            }
        }
    };
}

/// What the registry records of one op.
#[derive(Clone, Copy, Debug)]
pub struct OpInfo {
    /// The op's name in the harness.
    pub name: &'static str,
    /// Its family (folder and .cu file).
    pub family: &'static str,
    /// The [`Device`] methods its cases call, with the output a spoiled result shows up as.
    pub methods: &'static [(&'static str, &'static str)],
}

registry! {
    conv2d::Conv2d,
    conv_transpose2d::ConvTranspose2d,
    max_pool2d::MaxPool2d,
    concat::Concat,
    activation::ActBackward,
    convex_skip::ConvexSkip,
    linear::Linear,
    loss::BceWithLogits,
    loss::Mse,
    loss::L2Penalty,
    reduce::Sum,
    elementwise::AddAssign,
    elementwise::AddScaled,
    reduce::SumSquares,
    elementwise::Scale,
    optim::SgdStep,
    optim::AdamStep,
    conv2d::Conv2dPooled,
    conv2d::Conv2dInputAct,
    conv2d::Conv2dInputUnpool,
    conv_transpose2d::ConvTranspose2dInputAct,
    conv2d::Conv2dCat,
}

/// Every op family, once each, in registry order.
pub fn families() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for op in OPS {
        if !v.contains(&op.family) {
            v.push(op.family);
        }
    }
    v
}

/// Every (Device method, op, output) of the registry: the methods whose results the
/// harness checks, the op whose cases call each, and the output a spoiled result of it
/// shows up as.
pub fn spoilable() -> Vec<(&'static str, &'static str, &'static str)> {
    OPS.iter()
        .flat_map(|op| op.methods.iter().map(|&(m, out)| (m, op.name, out)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{families, spoilable, OPS};
    use crate::kernels::KERNELS;
    use std::path::Path;

    #[test]
    fn every_kernel_belongs_to_a_registered_family() {
        let fams = families();
        for k in KERNELS {
            assert!(
                fams.contains(&k.module),
                "kernel {} of kernels/{}.cu belongs to no registered family",
                k.name,
                k.module
            );
        }
    }

    #[test]
    fn every_family_has_its_kernels_and_its_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for fam in families() {
            let cu = root.join("kernels").join(format!("{fam}.cu"));
            assert!(cu.is_file(), "family {fam} has no {}", cu.display());
            assert!(
                KERNELS.iter().any(|k| k.module == fam),
                "kernels/{fam}.cu defines no kernel"
            );
            for file in ["mod.rs", "cpu.rs", "gpu.rs", "reference.rs"] {
                let p = root.join("src/ops").join(fam).join(file);
                assert!(p.is_file(), "family {fam} lacks {}", p.display());
            }
        }
        // And no .cu file is left without a family.
        for entry in std::fs::read_dir(root.join("kernels")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "cu") {
                let stem = p.file_stem().unwrap().to_str().unwrap();
                assert!(families().contains(&stem), "{} has no family", p.display());
            }
        }
    }

    /// The op methods of the `Device` trait, read from its source: every method that is
    /// not buffer management, launch graphs, the weight-gradient deferral, the averaging
    /// over data-parallel ranks (tested by tests/mpi_train.rs) or a property of the device.
    fn device_op_methods() -> Vec<String> {
        let src = include_str!("../device/mod.rs");
        let start = src.find("pub trait Device {").expect("trait Device");
        let body = &src[start..];
        let end = body.find("\n}\n").expect("end of trait Device");
        let buffer = [
            "name",
            "precision",
            "alloc_zeros",
            "upload",
            "download",
            "write",
            "len",
            "alloc_count",
            "alloc_group",
            "begin_graph",
            "has_graphs",
            "end_graph",
            "replay",
            "begin_weight_grads",
            "end_weight_grads",
            "connect_ranks",
            "mean_over_ranks",
        ];
        body[..end]
            .lines()
            .filter_map(|l| l.trim().strip_prefix("fn "))
            .map(|l| l.split(['(', '<']).next().unwrap().to_string())
            .filter(|m| !buffer.contains(&m.as_str()))
            .collect()
    }

    #[test]
    fn the_registry_covers_every_op_method_of_device() {
        let methods = device_op_methods();
        assert!(methods.len() >= 24, "{methods:?}");
        let spoil = spoilable();
        for m in &methods {
            assert!(
                spoil.iter().any(|(s, _, _)| s == m),
                "Device::{m} is in no op's METHODS"
            );
        }
        for (s, op, _) in &spoil {
            assert!(
                methods.iter().any(|m| m == s),
                "{op} lists {s}, which is not a Device method"
            );
        }
        let mut names: Vec<_> = OPS.iter().map(|o| o.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), OPS.len(), "two ops share a name");
    }
}
