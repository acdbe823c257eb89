//! Pictures for people: [`compose`] turns bands into 8-bit RGB panels and lays two panels out
//! as a split view or side by side (pure, no GDAL); [`splitview`] reads two rasters
//! downsampled through GDAL and writes the `satcolor splitview` PNG (the `geo` feature).

pub mod compose;
#[cfg(feature = "geo")]
pub mod splitview;
