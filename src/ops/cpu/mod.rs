//! CPU implementations of the ops, on f32 slices: multi-threaded with rayon, convolutions
//! through im2col/col2im and the `gemm` crate. Every function checks its buffer lengths
//! against the shape (an [`Error::Shape`](crate::Error::Shape), never a panic) and has the
//! contract of the [`Device`](crate::device::Device) method of the same name.
//!
//! Results do not depend on the number of threads: every reduction (bias gradients, loss
//! sums, `dθ`, weight gradients summed over the batch) adds in a fixed order.

pub mod activation;
pub mod concat;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod convex_skip;
pub mod linear;
pub mod loss;
pub mod max_pool2d;
pub mod optim;
pub mod reduce;

mod im2col;
mod matmul;
mod scratch;

pub use activation::act_backward;
pub use concat::{concat_channels, split_channels};
pub use conv2d::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward};
pub use conv_transpose2d::{
    conv_transpose2d_backward_input, conv_transpose2d_backward_weight, conv_transpose2d_forward,
};
pub use convex_skip::{convex_skip_backward, convex_skip_forward};
pub use linear::{linear_backward, linear_forward};
pub use loss::{bce_with_logits, l2_penalty, mse};
pub use max_pool2d::{max_pool2d_backward, max_pool2d_forward};
pub use optim::{adam_step, sgd_step};
pub use reduce::{add_assign, scale, sum, sum_squares};

/// Elements per task of the elementwise ops and per partial sum of the reductions: fixed,
/// so that sums are added in the same order whatever the number of threads.
pub(crate) const CHUNK: usize = 1 << 14;
