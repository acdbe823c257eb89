//! Raster I/O through GDAL (the `geo` feature): [`Raster`] opens any raster GDAL reads and
//! reads windows of bands ([`Raster::read_window`]) with their validity from nodata values,
//! alpha bands, masks and NaN ([`Raster::read_masked`]); [`parse_bands`] and
//! [`Raster::check_bands`] handle band selections such as `--bands 3,2,1`;
//! [`GeoTiffWriter`] streams rows into a tiled, compressed GeoTIFF that appears complete or
//! not at all, and [`write_geotiff`] writes a whole in-memory raster through it. Both read
//! and write window by window, so no whole raster needs to be in memory.
//!
//! The types satcolor trains on and writes, [`SampleType`](crate::model::normalization::SampleType),
//! come from a band's [`DataType`] by `SampleType::try_from`.

mod mosaic;
mod raster;
mod write;

pub use mosaic::build_vrt;
pub use raster::{parse_bands, BandInfo, DataType, Raster, UnsupportedType};
pub use write::{write_geotiff, GeoRef, GeoTiffWriter, Sample, TILE};

use std::path::{Path, PathBuf};

/// Errors of raster input and output; every message names the file, but for
/// [`RasterError::Input`], which concerns no file.
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
    /// A request that does not fit any raster, like a malformed band list.
    #[error("{0}")]
    Input(String),
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
    /// Whether the error is the user's input (a missing or unreadable raster, one that does
    /// not fit the request) rather than a failure to write a good request's output.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Io { .. })
    }

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

thread_local! {
    /// The first failure GDAL reported on this thread since [`take_failure`] last ran.
    static FAILURE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Routes GDAL's own diagnostics away from stderr (once per process): every failure reaches
/// the caller as a [`RasterError`] carrying GDAL's message, so a command prints one line.
/// Failures are also kept per thread for [`take_failure`]: some of GDAL's (a write that
/// found the disk full) are reported only through the handler, not by a return value.
pub(crate) fn quiet_gdal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, _, msg| {
            if matches!(
                class,
                gdal::errors::CplErrType::Failure | gdal::errors::CplErrType::Fatal
            ) {
                FAILURE.with(|f| {
                    f.borrow_mut().get_or_insert_with(|| msg.trim().to_string());
                });
            }
        })
    });
}

/// The first failure GDAL reported on this thread since the last call, if any (see
/// [`quiet_gdal`]); GDAL does its work on the calling thread, so a writer asks after each
/// call.
pub(crate) fn take_failure() -> Option<String> {
    FAILURE.with(|f| f.borrow_mut().take())
}

/// Sets GDAL's block cache to hold at least `bytes` (and at least 128 MiB), unless the user
/// chose a size with the `GDAL_CACHEMAX` environment variable. The cache keeps decoded
/// blocks of the rasters being read and written; a streaming job needs a whole row of
/// tiles of its output in it (else GDAL writes tiles half-filled and reads them back), and
/// the cap keeps its memory from growing with the raster (GDAL's default is 5 % of RAM).
pub fn set_block_cache(bytes: u64) {
    if std::env::var_os("GDAL_CACHEMAX").is_some() {
        return;
    }
    let bytes = bytes.max(128 << 20);
    // SAFETY: a plain setter of a process-wide size; GDAL takes any positive value.
    unsafe { gdal_sys::GDALSetCacheMax64(bytes as i64) };
}
