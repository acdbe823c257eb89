//! Opening a raster and reading windows of its bands.

use super::{quiet_gdal, GeoRef, RasterError};
use crate::model::normalization::SampleType;
use gdal::errors::GdalError;
use gdal::raster::GdalDataType;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use std::path::{Path, PathBuf};

/// The pixel type of a band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// Unsigned 8-bit.
    Byte,
    /// Unsigned 16-bit.
    UInt16,
    /// Signed 16-bit.
    Int16,
    /// Unsigned 32-bit.
    UInt32,
    /// Signed 32-bit.
    Int32,
    /// 32-bit float.
    Float32,
    /// 64-bit float.
    Float64,
    /// Any other GDAL type (8/64-bit integers, complex): not readable here.
    Other,
}

impl DataType {
    /// GDAL's name of the type (`Byte`, `UInt16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Byte => "Byte",
            Self::UInt16 => "UInt16",
            Self::Int16 => "Int16",
            Self::UInt32 => "UInt32",
            Self::Int32 => "Int32",
            Self::Float32 => "Float32",
            Self::Float64 => "Float64",
            Self::Other => "other (64-bit integer, 8-bit signed or complex)",
        }
    }

    fn from_gdal(t: GdalDataType) -> Self {
        match t {
            GdalDataType::UInt8 => Self::Byte,
            GdalDataType::UInt16 => Self::UInt16,
            GdalDataType::Int16 => Self::Int16,
            GdalDataType::UInt32 => Self::UInt32,
            GdalDataType::Int32 => Self::Int32,
            GdalDataType::Float32 => Self::Float32,
            GdalDataType::Float64 => Self::Float64,
            _ => Self::Other,
        }
    }
}

/// A pixel type that satcolor reads but does not train on or write (see
/// [`SampleType`]'s `TryFrom<DataType>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pixel type {} is not supported (satcolor takes Byte, UInt16, Int16 and Float32 bands)", .0.name())]
pub struct UnsupportedType(pub DataType);

impl TryFrom<DataType> for SampleType {
    type Error = UnsupportedType;

    /// Byte, UInt16, Int16 and Float32; an error naming any other type.
    fn try_from(t: DataType) -> Result<Self, UnsupportedType> {
        match t {
            DataType::Byte => Ok(SampleType::Byte),
            DataType::UInt16 => Ok(SampleType::UInt16),
            DataType::Int16 => Ok(SampleType::Int16),
            DataType::Float32 => Ok(SampleType::Float32),
            other => Err(UnsupportedType(other)),
        }
    }
}

/// What a band holds.
#[derive(Clone, Debug, PartialEq)]
pub struct BandInfo {
    /// Pixel type.
    pub dtype: DataType,
    /// The nodata value, when the band declares one.
    pub nodata: Option<f64>,
    /// Whether GDAL interprets the band as alpha (a mask, not data).
    pub alpha: bool,
    /// Whether its values are indexes into a color table (a paletted raster).
    pub paletted: bool,
    /// Whether some of its pixels may be invalid through a mask GDAL knows: a nodata value,
    /// an alpha band, or a mask file or internal mask (GDAL's mask flags are not all-valid).
    pub masked: bool,
}

/// An open raster: its size, bands and georeferencing, read lazily window by window.
pub struct Raster {
    path: PathBuf,
    dataset: Dataset,
    width: usize,
    height: usize,
    bands: Vec<BandInfo>,
    georef: GeoRef,
}

impl std::fmt::Debug for Raster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raster")
            .field("path", &self.path)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bands", &self.bands)
            .finish()
    }
}

/// GDAL's own message inside a [`GdalError`], without the crate's wrapping.
pub(crate) fn gdal_msg(e: &GdalError) -> String {
    match e {
        GdalError::CplError { msg, .. } | GdalError::NullPointer { msg, .. } if !msg.is_empty() => {
            msg.trim().to_string()
        }
        other => other.to_string(),
    }
}

/// Opens a raster read-only by its name's bytes, for names that are not UTF-8 (which the
/// `gdal` crate's own open would mangle); GDAL takes any bytes but NUL.
fn open_os_path(path: &Path) -> Result<Dataset, String> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "the name holds a NUL byte".to_string())?;
    gdal::DriverManager::register_all();
    let flags = GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY;
    // SAFETY: a NUL-terminated name and null lists (any driver, no options or sibling
    // files); GDAL returns an owned handle or null.
    let handle = unsafe {
        gdal_sys::GDALOpenEx(
            name.as_ptr(),
            flags.bits(),
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if handle.is_null() {
        // SAFETY: GDAL's last error message of this thread, copied before anything else runs.
        let msg = unsafe { std::ffi::CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) };
        return Err(msg.to_string_lossy().trim().to_string());
    }
    // SAFETY: a dataset handle just opened, owned by the Dataset from here on.
    Ok(unsafe { Dataset::from_c_dataset(handle) })
}

impl Raster {
    /// Opens `path` read-only (any name the OS takes, UTF-8 or not). Errors: a missing file, a file that is not a raster GDAL reads,
    /// a raster with zero bands.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RasterError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(RasterError::Missing(path.to_path_buf()));
        }
        if path.is_dir() {
            return Err(RasterError::NotRaster {
                path: path.to_path_buf(),
                reason: "it is a directory".into(),
            });
        }
        quiet_gdal();
        let options = DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY,
            ..Default::default()
        };
        let opened = match path.to_str() {
            Some(_) => Dataset::open_ex(path, options).map_err(|e| gdal_msg(&e)),
            None => open_os_path(path),
        };
        let dataset = opened.map_err(|reason| RasterError::NotRaster {
            path: path.to_path_buf(),
            reason,
        })?;
        let (width, height) = dataset.raster_size();
        let count = dataset.raster_count();
        if count == 0 || width == 0 || height == 0 {
            return Err(RasterError::invalid(
                path,
                format!("empty raster ({width}x{height} pixels, {count} bands)"),
            ));
        }
        let mut bands = Vec::with_capacity(count);
        for i in 1..=count {
            let band = dataset
                .rasterband(i)
                .map_err(|e| RasterError::invalid(path, gdal_msg(&e)))?;
            bands.push(BandInfo {
                dtype: DataType::from_gdal(band.band_type()),
                nodata: band.no_data_value(),
                alpha: band.color_interpretation() == gdal::raster::ColorInterpretation::AlphaBand,
                paletted: band.color_interpretation()
                    == gdal::raster::ColorInterpretation::PaletteIndex,
                masked: !band
                    .mask_flags()
                    .map_err(|e| RasterError::invalid(path, gdal_msg(&e)))?
                    .is_all_valid(),
            });
        }
        let georef = GeoRef {
            geo_transform: dataset.geo_transform().ok(),
            crs_wkt: dataset.projection(),
        };
        Ok(Self {
            path: path.to_path_buf(),
            dataset,
            width,
            height,
            bands,
            georef,
        })
    }

    /// The file this raster was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The bands, in order (band 1 of GDAL is index 0 here).
    pub fn bands(&self) -> &[BandInfo] {
        &self.bands
    }

    /// Checks that `other` covers the same pixels as this raster: the same size and the same
    /// geotransform (both absent, or equal to a relative 1e-9); the error names both files.
    pub fn check_same_grid(&self, other: &Raster) -> Result<(), RasterError> {
        let same_transform = match (self.georef.geo_transform, other.georef.geo_transform) {
            (Some(x), Some(y)) => x
                .iter()
                .zip(&y)
                .all(|(p, q)| (p - q).abs() <= 1e-9 * p.abs().max(1.0)),
            (None, None) => true,
            _ => false,
        };
        if (self.width, self.height) == (other.width, other.height) && same_transform {
            return Ok(());
        }
        Err(RasterError::Input(format!(
            "{} and {} do not match: sizes {}x{} and {}x{}, or different geotransforms",
            self.path.display(),
            other.path.display(),
            self.width,
            self.height,
            other.width,
            other.height
        )))
    }

    /// Checks that no band of `bands` (0-based) is paletted: its values are color table
    /// indexes, not measurements a model maps.
    pub fn check_not_paletted(&self, bands: &[usize]) -> Result<(), RasterError> {
        match bands.iter().find(|&&b| self.bands[b].paletted) {
            Some(&b) => Err(RasterError::invalid(
                &self.path,
                format!(
                    "band {} is paletted (color table indexes, not values): expand it to \
                     RGB first (gdal_translate -expand rgb)",
                    b + 1
                ),
            )),
            None => Ok(()),
        }
    }

    /// 0-based indices of the bands that hold data: every band but alpha bands.
    pub fn data_bands(&self) -> Vec<usize> {
        (0..self.bands.len())
            .filter(|&k| !self.bands[k].alpha)
            .collect()
    }

    /// Geotransform and CRS (empty WKT when the raster has none).
    pub fn georef(&self) -> &GeoRef {
        &self.georef
    }

    /// Checks that every band of `bands` (0-based) exists. The error names the file and
    /// the band 1-based: `band 4 out of range (the raster has 3 bands)`.
    pub fn check_bands(&self, bands: &[usize]) -> Result<(), RasterError> {
        match bands.iter().find(|&&b| b >= self.bands.len()) {
            Some(&b) => Err(RasterError::invalid(
                &self.path,
                format!(
                    "band {} out of range (the raster has {} band{})",
                    b + 1,
                    self.bands.len(),
                    if self.bands.len() == 1 { "" } else { "s" }
                ),
            )),
            None => Ok(()),
        }
    }

    /// Reads the window of `width`×`height` pixels whose top-left pixel is (`x`, `y`) from each
    /// band of `bands` (0-based indices), converted to f32 without normalization, band-major:
    /// `out[(b·height + row)·width + col]`. Errors for a band out of range, a window outside
    /// the raster or a band type that is not Byte, (U)Int16, (U)Int32 or Float32/64.
    pub fn read_window(
        &self,
        bands: &[usize],
        (x, y): (usize, usize),
        (width, height): (usize, usize),
    ) -> Result<Vec<f32>, RasterError> {
        if x + width > self.width || y + height > self.height || width == 0 || height == 0 {
            return Err(RasterError::invalid(
                &self.path,
                format!(
                    "window {width}x{height} at ({x}, {y}) is not inside the {}x{} raster",
                    self.width, self.height
                ),
            ));
        }
        self.check_bands(bands)?;
        let plane = width * height;
        // The values and, in read_masked, the validity and a band's mask.
        let bytes = (plane as u64).saturating_mul(4 * bands.len() as u64 + 2);
        let what = format!("reading {} band(s) of {width}x{height} pixels", bands.len());
        crate::memory::check(&what, bytes).map_err(|e| {
            RasterError::invalid(
                &self.path,
                format!("{e}; satcolor colorize reads rasters of any size in strips"),
            )
        })?;
        let mut out = vec![0f32; bands.len() * plane];
        for (&b, dst) in bands.iter().zip(out.chunks_exact_mut(plane)) {
            if self.bands[b].dtype == DataType::Other {
                return Err(RasterError::invalid(
                    &self.path,
                    format!("band {} has a pixel type satcolor does not read", b + 1),
                ));
            }
            let band = self
                .dataset
                .rasterband(b + 1)
                .map_err(|e| RasterError::invalid(&self.path, gdal_msg(&e)))?;
            band.read_into_slice::<f32>(
                (x as isize, y as isize),
                (width, height),
                (width, height),
                dst,
                None,
            )
            .map_err(|e| RasterError::invalid(&self.path, gdal_msg(&e)))?;
        }
        Ok(out)
    }

    /// Reads a window as [`Raster::read_window`] does, and whether each of its pixels is valid
    /// (row-major, `width`×`height`): valid when, in every band of `bands`, GDAL's mask band
    /// is non-zero and the value is not NaN. The mask band covers nodata values, alpha bands
    /// and per-dataset masks (`.msk` files or internal masks); it is read only for bands whose
    /// mask flags are not `GMF_ALL_VALID`, and a mask shared by all bands is read once.
    pub fn read_masked(
        &self,
        bands: &[usize],
        pos: (usize, usize),
        size: (usize, usize),
    ) -> Result<(Vec<f32>, Vec<bool>), RasterError> {
        let values = self.read_window(bands, pos, size)?;
        let plane = size.0 * size.1;
        let mut valid = vec![true; plane];
        for band_values in values.chunks_exact(plane) {
            for (ok, v) in valid.iter_mut().zip(band_values) {
                *ok &= !v.is_nan();
            }
        }
        let err = |e: GdalError| RasterError::invalid(&self.path, gdal_msg(&e));
        let mut mask = Vec::new();
        let mut shared_done = false;
        for &b in bands {
            let band = self.dataset.rasterband(b + 1).map_err(err)?;
            let flags = band.mask_flags().map_err(err)?;
            if flags.is_all_valid() || (flags.is_per_dataset() && shared_done) {
                continue;
            }
            shared_done |= flags.is_per_dataset();
            mask.resize(plane, 0u8);
            band.open_mask_band()
                .map_err(err)?
                .read_into_slice::<u8>(
                    (pos.0 as isize, pos.1 as isize),
                    size,
                    size,
                    &mut mask,
                    None,
                )
                .map_err(err)?;
            for (ok, &m) in valid.iter_mut().zip(&mask) {
                *ok &= m != 0;
            }
        }
        Ok((values, valid))
    }

    /// Reads every band of the whole raster (see [`Raster::read_window`]).
    pub fn read_all(&self) -> Result<Vec<f32>, RasterError> {
        let bands: Vec<usize> = (0..self.bands.len()).collect();
        self.read_window(&bands, (0, 0), (self.width, self.height))
    }
}

/// Parses a band list as given on the command line, `--bands 3,2,1`: comma-separated 1-based
/// band numbers (spaces around them allowed, repeats kept) to 0-based indices, `[2, 1, 0]`.
/// Errors ([`RasterError::Input`]) for an empty list, an empty item, a band 0 and anything
/// that is not a number. Whether the bands exist is [`Raster::check_bands`]'s business.
pub fn parse_bands(spec: &str) -> Result<Vec<usize>, RasterError> {
    let bad = |why: String| RasterError::Input(format!("bad band list '{spec}': {why}"));
    if spec.trim().is_empty() {
        return Err(bad("no bands given (expected e.g. 3,2,1)".into()));
    }
    spec.split(',')
        .map(|item| match item.trim() {
            "" => Err(bad("an empty item".into())),
            t => match t.parse::<usize>() {
                Ok(0) => Err(bad("bands are numbered from 1".into())),
                Ok(n) => Ok(n - 1),
                Err(_) => Err(bad(format!("'{t}' is not a band number"))),
            },
        })
        .collect()
}
