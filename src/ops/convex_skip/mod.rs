//! convex_skip: the fused convex skip `u = σ(θ)·a + (1 − σ(θ))·b` and its one-pass
//! backward.

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::ConvexSkip;
