//! The ops of the two networks, one folder per op family: `src/ops/<family>/` holds the
//! family's shapes and parameters and contract docs (`mod.rs`), its CPU implementation
//! (`cpu.rs`), its launch code for `kernels/<family>.cu` (`gpu.rs`, over
//! [`GpuDevice`](crate::device::gpu::GpuDevice)), its plain f64 reference (`reference.rs`)
//! and its parity cases (`cases.rs`); [`registry`] lists every op once.
//!
//! Every op has the contract of the [`Device`](crate::device::Device) method of the same
//! name, a `*_forward` and a `*_backward` (gradients for inputs and parameters); the CUDA
//! kernels implement the very same contracts, and the parity harness
//! ([`crate::selftest`]) checks every device against the references.
//!
//! Conventions: tensors are NCHW, f32, contiguous. Backward functions *overwrite* the
//! gradients they produce, except where a doc comment says *adds*. CPU implementations
//! check their buffer lengths against the shape (an [`Error::Shape`], never a panic) and
//! give results that do not depend on the number of threads (every reduction adds in a
//! fixed order). The references are naive nested loops in f64 written straight from the
//! definitions, sharing no code with the CPU backend or the kernels; they return their
//! outputs instead of writing into buffers (ops that *add* to a buffer take it and return
//! the sum).

pub mod activation;
pub mod concat;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod convex_skip;
pub mod elementwise;
pub mod gemm;
pub mod linear;
pub mod loss;
pub mod max_pool2d;
pub mod optim;
pub mod reduce;
pub mod registry;

pub use concat::ConcatShape;
pub use conv2d::Conv2dShape;
pub use conv_transpose2d::ConvTranspose2dShape;
pub use linear::LinearShape;
pub use max_pool2d::{Pool2dShape, Unpool};
pub use optim::{AdamParams, SgdParams};

use crate::kernels::consts;
use crate::{Error, Result};

/// Elements per task of the CPU elementwise ops and per partial sum of the CPU reductions:
/// fixed, so that sums are added in the same order whatever the number of threads.
pub(crate) const CHUNK: usize = 1 << 14;

/// An activation fused into the op that produces a tensor: `y = act(z)`.
///
/// Its backward is computed from the activation's *output* `y` (for these activations
/// `y > 0` exactly when `z > 0`), so pre-activations need not be kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// `y = z`.
    Identity,
    /// `y = max(z, 0)`.
    Relu,
    /// `y = z` for `z > 0`, else `slope·z` (slope > 0).
    LeakyRelu(f32),
}

impl Act {
    /// The encoding the kernels take: (kind, slope) with kind one of the activation codes
    /// of kernels/common.cuh ([`SC_ACT_IDENTITY`](consts::SC_ACT_IDENTITY),
    /// [`SC_ACT_RELU`](consts::SC_ACT_RELU), [`SC_ACT_LEAKY`](consts::SC_ACT_LEAKY)).
    pub fn code(self) -> (i32, f32) {
        match self {
            Act::Identity => (consts::SC_ACT_IDENTITY, 0.0),
            Act::Relu => (consts::SC_ACT_RELU, 0.0),
            Act::LeakyRelu(s) => (consts::SC_ACT_LEAKY, s),
        }
    }
}

/// Builds a shape error for `op`.
pub(crate) fn shape_err(op: &'static str, reason: String) -> Error {
    Error::Shape { op, reason }
}

/// The product of `dims`, or `None` when it overflows: a shape's element count.
pub(crate) fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d))
}

/// Checks that a buffer holds exactly `expected` elements.
pub(crate) fn check_len(op: &'static str, what: &str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(shape_err(
            op,
            format!("{what} has {got} elements, expected {expected}"),
        ));
    }
    Ok(())
}

/// Whether this CPU runs the cpu device's AVX2 code (AVX2 and FMA, detected once by std);
/// without them the portable versions run.
pub(crate) fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
