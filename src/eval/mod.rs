//! Evaluation of colorizations: image-quality and color metrics on NCHW batches
//! ([`metrics`]), the gray-replicated baseline every model is compared with
//! ([`baseline`]), scores of whole images with nodata masks ([`compare`]) and, with GDAL,
//! the evaluation of a checkpoint on rasters ([`dataset`], `satcolor eval`).

pub mod baseline;
pub mod compare;
#[cfg(feature = "geo")]
pub mod dataset;
pub mod metrics;

pub use baseline::{gray_replicated, linear};
pub use metrics::{colorfulness, mse, psnr, MetricError, Nchw, Scores};
