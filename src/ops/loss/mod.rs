//! loss: BCE with logits, squared error and the L2 weight penalty; each *adds* its value to
//! a one-element loss buffer and writes (the penalty: adds) its gradient.

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{BceWithLogits, L2Penalty, Mse};

/// `first`, the number of logits of BCE's first target, is at most the `n` logits.
pub(crate) fn check_first(op: &'static str, first: usize, n: usize) -> crate::Result<()> {
    if first > n {
        return Err(crate::ops::shape_err(
            op,
            format!("{first} logits of the first target, only {n} logits"),
        ));
    }
    Ok(())
}
