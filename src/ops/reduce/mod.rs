//! reduce: deterministic sums (`sum`, `sum_squares`) and the fixed-order reduction
//! helpers that other families use (loss sums, `dθ`, bias gradients).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{Sum, SumSquares};
