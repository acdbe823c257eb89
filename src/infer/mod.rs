//! Inference: a trained generator applied to images of any size.
//!
//! - [`InferenceGenerator`]: G's forward pass only, with no gradient buffers;
//! - [`tiles`]: overlapping W×W tiles blended with smooth weights, one strip of rows at a
//!   time, so memory stays bounded whatever the image's height;
//! - [`DeviceColorizer`]: a checkpoint's G on a device, for tiles and for whole images in memory
//!   ([`ImageData`] in, [`ImageData`] out). None of this needs GDAL; `satcolor colorize`
//!   streams GeoTIFFs through the same [`tiles::tile_rows`].

pub mod array;
pub mod colorizer;
pub mod engine;
pub mod error;
pub mod generator;
pub mod tiles;

pub use array::{Bands, BandsMut, Layout, Sample};
pub use colorizer::{DeviceColorizer, ImageData, DEFAULT_BATCH};
pub use engine::{Colorizer, Options, Validity};
pub use error::InferError;
pub use generator::InferenceGenerator;
#[cfg(feature = "geo")]
pub mod raster;
