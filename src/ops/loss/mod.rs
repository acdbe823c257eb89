//! loss: BCE with logits, squared error and the L2 weight penalty; each *adds* its value to
//! a one-element loss buffer and writes (the penalty: adds) its gradient.

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{BceWithLogits, L2Penalty, Mse};
