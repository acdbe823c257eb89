//! elementwise: gradient accumulation (`add_assign`, and `add_scaled` by a factor in device
//! memory) and scaling (`scale`).

mod cases;
pub mod cpu;
pub(crate) mod gpu;
pub mod reference;

pub use cases::{AddAssign, AddScaled, Scale};
