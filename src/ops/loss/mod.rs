//! loss: BCE with logits, squared error and the L2 weight penalty; each *adds* its value to
//! a one-element loss buffer and writes (the penalty: adds) its gradient.

pub mod cpu;
pub(crate) mod gpu;
pub mod reference;
