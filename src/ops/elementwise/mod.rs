//! elementwise: gradient accumulation (`add_assign`) and scaling (`scale`).

pub mod cpu;
pub(crate) mod gpu;
pub mod reference;
