//! activation: the backward of the activations fused into the convolutions,
//! `dy ← dy · act'(y)` from the activation's output (see [`Act`](crate::ops::Act)).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::ActBackward;
