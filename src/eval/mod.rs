//! Evaluation of colorizations: image-quality and color metrics on NCHW batches
//! ([`metrics`]) and the gray-replicated baseline every model is compared with
//! ([`baseline`]).

pub mod baseline;
pub mod metrics;

pub use baseline::gray_replicated;
pub use metrics::{colorfulness, mse, psnr, MetricError, Nchw, Scores};
