//! Raster I/O through GDAL (the `geo` feature): [`Raster`] opens any raster GDAL reads and
//! reads windows of bands, [`write_geotiff`] writes a georeferenced GeoTIFF atomically.
//!
//! This is the simple reader of the training issue: it reads whole windows into memory.
//! Block-wise reading of rasters larger than memory builds on [`Raster::read_window`].

mod raster;
mod write;

pub use raster::{BandInfo, DataType, Raster};
pub use write::{write_geotiff, GeoRef, Sample};

use std::path::{Path, PathBuf};

/// Errors of raster input and output; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// The path does not exist.
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    /// GDAL could not open the file as a raster.
    #[error("{}: not a raster GDAL can read ({reason})", path.display())]
    NotRaster {
        /// The file.
        path: PathBuf,
        /// GDAL's message.
        reason: String,
    },
    /// A raster whose content does not fit the request (band count, type, window, sizes).
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// GDAL failed while reading or writing.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// GDAL's or the OS's message.
        reason: String,
    },
}

impl RasterError {
    /// An [`RasterError::Invalid`] for `path`.
    pub(crate) fn invalid(path: &Path, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An [`RasterError::Io`] for `path`.
    pub(crate) fn io(path: &Path, reason: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// Routes GDAL's own diagnostics away from stderr (once per process): every failure reaches
/// the caller as a [`RasterError`] carrying GDAL's message, so a command prints one line.
pub(crate) fn quiet_gdal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| gdal::config::set_error_handler(|_, _, _| {}));
}
