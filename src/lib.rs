//! satcolor: generative adversarial networks that colorize panchromatic satellite imagery
//! (and synthesize multispectral bands), built on hand-written CUDA kernels.
//!
//! The crate is layered (see docs/architecture.md):
//! - [`ops`]: the shapes and semantics of every op (convolution, transposed convolution,
//!   max pooling, the fused convex skip, losses, optimizers) and their CPU implementations;
//! - [`device`]: the [`device::Device`] trait that the model code is written against, with
//!   three executions: `cpu` (native Rust), `cuda` (kernels/*.cu through cudarc) and `emu`
//!   (the same kernels/*.cu compiled for the CPU against emu/, driven by the same launch code);
//! - [`dist`]: the ranks of a data-parallel training run (MPI, NCCL) and their collectives;
//! - [`kernels`]: the table of kernels that build.rs generated from kernels/*.cu, their
//!   compiled modules and their ptxas resource reports.

#[cfg(feature = "cli")]
pub mod cli;
pub mod console;
pub mod device;
pub mod dist;
pub mod error;
pub mod eval;
#[cfg(feature = "geo")]
pub mod geo;
pub mod infer;
pub mod interrupt;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod ops;
pub mod output;
pub mod perf;
#[cfg(all(feature = "cli", feature = "geo"))]
pub mod quality;
pub mod selftest;
pub mod synth;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
