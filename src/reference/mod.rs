//! A plain f64 reference of every op of [`Device`](crate::device::Device): naive nested
//! loops written straight from the definitions, kept readable rather than fast, sharing
//! no code with the CPU backend or the kernels. `satcolor selftest` and the tests compare
//! every device against it (see [`crate::selftest`]).
//!
//! The functions mirror the device's names and shapes but return their outputs instead of
//! writing into buffers; ops that *add* to an existing buffer take it and return the sum.
//! Wrong buffer lengths give an [`Error::Shape`](crate::Error::Shape).

mod concat;
mod conv;
mod elementwise;
mod linear;
mod loss;
mod optim;
mod pool;

pub use concat::{concat_channels, split_channels};
pub use conv::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, conv_transpose2d_backward_input,
    conv_transpose2d_backward_weight, conv_transpose2d_forward,
};
pub use elementwise::{
    act_backward, act_forward, add_assign, convex_skip_backward, convex_skip_forward, scale,
    sigmoid,
};
pub use linear::{linear_backward, linear_forward};
pub use loss::{bce_with_logits, l2_penalty, mse, softplus, sum, sum_squares};
pub use optim::{adam_step, sgd_step};
pub use pool::{max_pool2d_backward, max_pool2d_forward};
