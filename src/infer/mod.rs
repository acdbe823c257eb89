//! Inference: a trained generator applied to images of any size.
//!
//! **The embedding API** (stable; every item has an example): [`Colorizer`] opens a
//! checkpoint (a path or its bytes) on a device named as on the command line ([`Options`]),
//! and colorizes arrays of raw band values ([`Bands`] of a [`Sample`] type in any
//! [`Layout`], with a nodata value or mask: [`Validity`]) into the caller's buffer
//! ([`BandsMut`]), tiled and blended as `satcolor colorize` does; failures are
//! [`InferError`]s. The C ABI (`capi/`) and the Python module (`python/`) wrap it.
//!
//! ```
//! use satcolor::infer::{Bands, Colorizer, Options, Validity};
//!
//! let mut c = Colorizer::open("tests/data/pan-rgb-tiny.safetensors", &Options::new().device("cpu"))?;
//! let pan = vec![1500u16; 64 * 48];
//! let rgb: Vec<u16> = c.colorize_planar(&Bands::planar(&pan, 64, 48, 1)?, Validity::default())?;
//! assert_eq!(rgb.len(), 3 * 64 * 48);
//! # Ok::<(), satcolor::infer::InferError>(())
//! ```
//!
//! **Below it** (the crate's own building blocks, which may change):
//! - [`InferenceGenerator`]: G's forward pass only, with no gradient buffers;
//! - [`tiles`]: overlapping W×W tiles blended with smooth weights, one strip of rows at a
//!   time, so memory stays bounded whatever the image's height;
//! - [`DeviceColorizer`]: a checkpoint's G on a device the caller holds, for tiles and for
//!   whole images in memory ([`ImageData`] of normalized values in and out). None of this
//!   needs GDAL; `satcolor colorize` streams GeoTIFFs through the same
//!   [`tiles::tile_rows`] (`raster`, with the `geo` feature).

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
pub mod archive;
#[cfg(feature = "geo")]
pub mod raster;
