//! Writing georeferenced GeoTIFFs atomically (temporary file, fsync, rename).

use super::raster::gdal_msg;
use super::{quiet_gdal, RasterError};
use gdal::raster::{Buffer, GdalType, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::DriverManager;
use std::path::{Path, PathBuf};

/// Where a raster lies on Earth.
#[derive(Clone, Debug, PartialEq)]
pub struct GeoRef {
    /// GDAL's affine geotransform: x of the top-left corner, pixel width, row rotation, y of
    /// the top-left corner, column rotation, pixel height (negative for north-up).
    pub geo_transform: Option<[f64; 6]>,
    /// The coordinate reference system as WKT; empty when unknown.
    pub crs_wkt: String,
}

impl GeoRef {
    /// A north-up georeference in the CRS of EPSG code `epsg`, with the top-left corner at
    /// (`x0`, `y0`) and square pixels of `pixel` CRS units.
    pub fn north_up(epsg: u32, (x0, y0): (f64, f64), pixel: f64) -> Result<Self, String> {
        quiet_gdal();
        let srs = SpatialRef::from_epsg(epsg).map_err(|e| gdal_msg(&e))?;
        Ok(Self {
            geo_transform: Some([x0, pixel, 0.0, y0, 0.0, -pixel]),
            crs_wkt: srs.to_wkt().map_err(|e| gdal_msg(&e))?,
        })
    }
}

/// Pixel types [`write_geotiff`] writes.
pub trait Sample: GdalType + Copy {}
impl Sample for u8 {}
impl Sample for u16 {}
impl Sample for f32 {}

/// Writes `data` (band-major: `bands` planes of `width`×`height`) as a tiled, deflate-compressed
/// GeoTIFF at `path` with `georef` and, when given, the same `nodata` value on every band.
/// The file appears complete or not at all: it is written to a hidden temporary file beside
/// `path`, synced, then renamed over `path`.
pub fn write_geotiff<T: Sample>(
    path: &Path,
    (width, height): (usize, usize),
    bands: usize,
    data: &[T],
    georef: &GeoRef,
    nodata: Option<f64>,
) -> Result<(), RasterError> {
    if width == 0 || height == 0 || bands == 0 || data.len() != width * height * bands {
        return Err(RasterError::invalid(
            path,
            format!(
                "cannot write {} values as {bands} bands of {width}x{height}",
                data.len()
            ),
        ));
    }
    quiet_gdal();
    let tmp = temporary_path(path)?;
    let written = write_to(&tmp, (width, height), bands, data, georef, nodata)
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| RasterError::io(path, e))
        })
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| RasterError::io(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // Make the rename itself durable; a directory that cannot be synced is not an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// `dir/.name.partial-PID`: hidden, unique per process, never matched as `*.tif`.
fn temporary_path(path: &Path) -> Result<PathBuf, RasterError> {
    let name = path
        .file_name()
        .ok_or_else(|| RasterError::invalid(path, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".partial-{}", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

/// Creates and fills the GeoTIFF at `tmp`; the dataset is closed (flushed) on success.
fn write_to<T: Sample>(
    tmp: &Path,
    (width, height): (usize, usize),
    bands: usize,
    data: &[T],
    georef: &GeoRef,
    nodata: Option<f64>,
) -> Result<(), RasterError> {
    let err = |e: gdal::errors::GdalError| RasterError::io(tmp, gdal_msg(&e));
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(err)?;
    let options = RasterCreationOptions::from_iter([
        "TILED=YES",
        "BLOCKXSIZE=256",
        "BLOCKYSIZE=256",
        "COMPRESS=DEFLATE",
    ]);
    let mut ds = driver
        .create_with_band_type_with_options::<T, _>(tmp, width, height, bands, &options)
        .map_err(err)?;
    if let Some(gt) = georef.geo_transform {
        ds.set_geo_transform(&gt).map_err(err)?;
    }
    if !georef.crs_wkt.is_empty() {
        ds.set_projection(&georef.crs_wkt).map_err(err)?;
    }
    for (b, plane) in data.chunks_exact(width * height).enumerate() {
        let mut band = ds.rasterband(b + 1).map_err(err)?;
        if nodata.is_some() {
            band.set_no_data_value(nodata).map_err(err)?;
        }
        let mut buf = Buffer::new((width, height), plane.to_vec());
        band.write((0, 0), (width, height), &mut buf).map_err(err)?;
    }
    ds.close().map_err(err)
}
