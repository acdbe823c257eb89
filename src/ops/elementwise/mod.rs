//! elementwise: gradient accumulation (`add_assign`) and scaling (`scale`).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{AddAssign, Scale};
