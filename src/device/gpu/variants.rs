//! Kernel variants: the one place where the GPU device's choice of kernel is made, for each
//! launch site ("slot") that has more than one kernel doing the same work.
//!
//! Every variant computes the same results, to the parity cases' tolerance and bit for bit
//! where a slot's `v1_bits` says so (each is validated against the parity cases of the ops
//! that use its slot, tests/parity_emu.rs and `cargo bench --bench kernels`); they differ
//! in speed. [`SLOTS`] lists them with the variant the device uses; the
//! environment variable [`ENV`] overrides the choice (`SATCOLOR_KERNELS=conv2d_forward=v2`)
//! wherever a device is opened through [`crate::device::open::run_on`], so that a session
//! on a GPU can time the variants (`cargo bench --bench kernels`) and pick the fastest with
//! one run.

use crate::kernels::{
    Kernel, CONV2D_FORWARD, CONV2D_FORWARD_V2, CONV2D_WEIGHT_GRAD, CONV_IGEMM_128X64,
    CONV_TRANSPOSE2D_FORWARD, CONV_WGRAD_IGEMM_64X64,
};
use crate::{Error, Result};

/// The environment variable that overrides the chosen variants: comma-separated
/// `slot=variant` pairs.
pub const ENV: &str = "SATCOLOR_KERNELS";

/// A launch site with interchangeable kernels.
#[derive(Debug)]
pub struct Slot {
    /// The slot's name (the v1 kernel's name).
    pub name: &'static str,
    /// The harness ops (registry names) whose cases run this slot's kernel.
    pub ops: &'static [&'static str],
    /// The benchmark parts (op, part of [`crate::ops::registry::Op::bench_part`]) that
    /// launch this slot's kernel: what `cargo bench --bench kernels` times per variant.
    pub bench_parts: &'static [(&'static str, &'static str)],
    /// Its variants, `v1` (the first kernel) first. A variant may take other parameters
    /// than v1 (its launch code is its own, in the family's gpu.rs). A variant that is a
    /// family of template instances (the implicit GEMMs: `conv_igemm_*` and
    /// `conv_wgrad_igemm_*`) is named by its widest instance (`conv_igemm_128x64`,
    /// `conv_wgrad_igemm_64x64`); the launch code picks the instance for each shape.
    pub variants: &'static [(&'static str, &'static Kernel)],
    /// The variants that sum in v1's order, so that their results are v1's bit for bit
    /// (tests/parity_emu.rs checks it); the others have their own fixed orders, and only
    /// the tolerance of the parity cases binds them.
    pub v1_bits: &'static [&'static str],
    /// The variant the device uses unless [`ENV`] says otherwise.
    pub chosen: &'static str,
}

/// Every slot with variants.
pub const SLOTS: &[Slot] = &[
    Slot {
        name: "conv2d_forward",
        // conv2d's forward pass (also pooled, and of two inputs), and conv_transpose2d's
        // input gradient (also through an activation).
        ops: &[
            "conv2d",
            "conv_transpose2d",
            "conv2d_pooled",
            "conv_transpose2d_input_act",
            "conv2d_cat",
        ],
        bench_parts: &[
            ("conv2d", "forward"),
            ("conv_transpose2d", "backward_input"),
        ],
        variants: &[
            ("v1", &CONV2D_FORWARD),
            ("v2", &CONV2D_FORWARD_V2),
            ("v3", &CONV_IGEMM_128X64),
        ],
        // v3, the implicit GEMM (src/ops/conv2d/gpu.rs picks its tile), sums in v1's
        // order unless it splits K (D's small maps).
        v1_bits: &["v1", "v2"],
        chosen: "v3",
    },
    Slot {
        name: "conv_transpose2d_forward",
        // conv_transpose2d's forward pass, and conv2d's input gradient (also through an
        // activation or a pooling, and in two parts).
        ops: &[
            "conv2d",
            "conv_transpose2d",
            "conv2d_input_act",
            "conv2d_input_unpool",
            "conv2d_cat",
        ],
        bench_parts: &[
            ("conv_transpose2d", "forward"),
            ("conv2d", "backward_input"),
        ],
        variants: &[
            ("v1", &CONV_TRANSPOSE2D_FORWARD),
            ("v2", &CONV_IGEMM_128X64),
        ],
        v1_bits: &["v1"],
        chosen: "v2",
    },
    Slot {
        name: "conv2d_weight_grad",
        // Both weight gradients (conv2d's also of two inputs).
        ops: &["conv2d", "conv_transpose2d", "conv2d_cat"],
        bench_parts: &[
            ("conv2d", "backward_weight"),
            ("conv_transpose2d", "backward_weight"),
        ],
        variants: &[("v1", &CONV2D_WEIGHT_GRAD), ("v2", &CONV_WGRAD_IGEMM_64X64)],
        v1_bits: &["v1"],
        chosen: "v2",
    },
];

/// The slot whose variant `kernel` is (by kernel name) with v1's parameters, if any: such
/// a variant does its slot's work from the same arguments, so a model of the work names
/// the slot (v1's kernel) rather than each variant. A variant with parameters of its own
/// (the implicit-GEMM kernels) is none, and has a work formula of its own.
pub fn slot_of(kernel: &str) -> Option<&'static Slot> {
    SLOTS.iter().find(|s| {
        s.variants
            .iter()
            .any(|(_, k)| k.name == kernel && k.params == s.variants[0].1.params)
    })
}

/// The variant chosen for every slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variants {
    /// Index into each slot's `variants`, in [`SLOTS`] order.
    choice: Vec<usize>,
}

impl Default for Variants {
    fn default() -> Self {
        Variants::chosen()
    }
}

impl Variants {
    /// The choice of [`SLOTS`], without the environment.
    pub fn chosen() -> Self {
        let choice = SLOTS
            .iter()
            .map(|s| {
                s.variants
                    .iter()
                    .position(|(v, _)| *v == s.chosen)
                    .expect("a slot's chosen variant is one of its variants")
            })
            .collect();
        Variants { choice }
    }

    /// [`Variants::chosen`] with the overrides of [`ENV`], if set.
    pub fn from_env() -> Result<Self> {
        match std::env::var(ENV) {
            Ok(spec) => Variants::chosen().with_spec(&spec),
            Err(std::env::VarError::NotPresent) => Ok(Variants::chosen()),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::Input(format!("{ENV} is not valid UTF-8")))
            }
        }
    }

    /// This choice with the overrides of `spec` (`slot=variant[,slot=variant…]`; blank
    /// means none).
    pub fn with_spec(mut self, spec: &str) -> Result<Self> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (slot, variant) = pair
                .split_once('=')
                .ok_or_else(|| Error::Input(format!("{ENV}: `{pair}` is not slot=variant")))?;
            self = self.with(slot.trim(), variant.trim())?;
        }
        Ok(self)
    }

    /// This choice with `variant` in `slot`.
    pub fn with(mut self, slot: &str, variant: &str) -> Result<Self> {
        let names = || SLOTS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
        let i = SLOTS.iter().position(|s| s.name == slot).ok_or_else(|| {
            Error::Input(format!(
                "{ENV}: no kernel slot `{slot}` (slots: {})",
                names()
            ))
        })?;
        let s = &SLOTS[i];
        self.choice[i] = s
            .variants
            .iter()
            .position(|(v, _)| *v == variant)
            .ok_or_else(|| {
                let vs: Vec<&str> = s.variants.iter().map(|(v, _)| *v).collect();
                Error::Input(format!(
                    "{ENV}: slot `{slot}` has no variant `{variant}` (variants: {})",
                    vs.join(", ")
                ))
            })?;
        Ok(self)
    }

    /// The kernel chosen for `slot` (a name of [`SLOTS`]).
    pub fn kernel(&self, slot: &str) -> &'static Kernel {
        let i = SLOTS
            .iter()
            .position(|s| s.name == slot)
            .unwrap_or_else(|| panic!("no kernel slot {slot}"));
        SLOTS[i].variants[self.choice[i]].1
    }

    /// The variant chosen for `slot`.
    pub fn variant(&self, slot: &str) -> Option<&'static str> {
        let i = SLOTS.iter().position(|s| s.name == slot)?;
        Some(SLOTS[i].variants[self.choice[i]].0)
    }

    /// `slot=variant` for every slot, as [`ENV`] takes it.
    pub fn spec(&self) -> String {
        SLOTS
            .iter()
            .zip(&self.choice)
            .map(|(s, &c)| format!("{}={}", s.name, s.variants[c].0))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KERNELS;
    use crate::ops::registry::{all_benches, OPS};

    #[test]
    fn specs_select_variants_and_bad_ones_are_named() {
        let v = Variants::chosen();
        assert_eq!(v.kernel("conv2d_forward").name, "conv_igemm_128x64");
        assert_eq!(
            v.spec(),
            "conv2d_forward=v3,conv_transpose2d_forward=v2,conv2d_weight_grad=v2"
        );
        let v2 = v.clone().with_spec(" conv2d_forward = v2 ,").unwrap();
        assert_eq!(v2.kernel("conv2d_forward").name, "conv2d_forward_v2");
        assert_eq!(v2.variant("conv2d_forward"), Some("v2"));
        assert_eq!(v2.clone().with_spec("").unwrap(), v2);
        for (spec, says) in [
            ("conv2d=v2", "no kernel slot `conv2d`"),
            (
                "conv2d_forward=v9",
                "no variant `v9` (variants: v1, v2, v3)",
            ),
            ("conv2d_forward", "is not slot=variant"),
        ] {
            let e = v.clone().with_spec(spec).unwrap_err().to_string();
            assert!(e.contains(says) && e.starts_with(ENV), "{spec}: {e}");
        }
    }

    #[test]
    fn every_variant_is_a_kernel_and_only_same_parameter_variants_alias_v1s_work() {
        for s in SLOTS {
            assert_eq!(s.variants[0].0, "v1");
            assert_eq!(s.variants[0].1.name, s.name);
            for (_, k) in s.variants {
                assert!(KERNELS.iter().any(|x| std::ptr::eq(*x, *k)));
                let same = k.params == s.variants[0].1.params;
                assert_eq!(
                    slot_of(k.name).map(|x| x.name),
                    same.then_some(s.name),
                    "{}",
                    k.name
                );
            }
            assert!(s.variants.iter().any(|(v, _)| *v == s.chosen));
            assert!(s.v1_bits.contains(&"v1"));
            for v in s.v1_bits {
                assert!(s.variants.iter().any(|(x, _)| x == v), "{v}");
            }
            assert!(!s.ops.is_empty());
            for op in s.ops {
                assert!(
                    OPS.iter().any(|o| o.name == *op),
                    "{op} is not a registered op"
                );
            }
            for (op, part) in s.bench_parts {
                assert!(s.ops.contains(op), "{op} does not run slot {}", s.name);
                assert!(
                    all_benches()
                        .iter()
                        .any(|b| b.params.op() == *op && b.parts.contains(part)),
                    "{op} has no benchmark part {part}"
                );
            }
        }
    }
}
