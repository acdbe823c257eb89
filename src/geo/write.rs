//! Writing georeferenced GeoTIFFs: [`GeoTiffWriter`] streams rows into a tiled,
//! deflate-compressed GeoTIFF that appears complete or not at all (temporary file, fsync,
//! rename); [`write_geotiff`] writes a whole in-memory raster through it.

use super::raster::gdal_msg;
use super::{quiet_gdal, take_failure, RasterError};
use crate::model::normalization::SampleType;
use gdal::errors::GdalError;
use gdal::raster::{Buffer, GdalType, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager, Metadata};
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

/// Side of the square tiles of the GeoTIFFs written here.
pub const TILE: usize = 256;

/// A GeoTIFF being written row by row.
///
/// The file is created as a hidden temporary beside the target (see [`crate::output`]) and
/// only [`GeoTiffWriter::finish`] renames it over the target; dropping the writer without
/// finishing (an error, a panic) removes the temporary, so no half-written output is ever
/// left. Memory stays bounded whatever the raster's size: GDAL's block cache is flushed
/// each time a row of tiles has been written completely, so at most about one row of tiles
/// is held (rows written top to bottom compress each tile once; any order is correct).
pub struct GeoTiffWriter {
    path: PathBuf,
    tmp: PathBuf,
    dataset: Option<Dataset>,
    width: usize,
    height: usize,
    bands: usize,
    dtype: SampleType,
    /// What NaN is written as, in the output's type.
    fill: f64,
    /// The nodata value valid values are kept off (see [`GeoTiffWriter::keep_off_nodata`]).
    avoid: Option<f64>,
    /// The declared nodata value.
    nodata: Option<f64>,
    /// Whether a validity mask was added.
    masked: bool,
    /// Whether [`GeoTiffWriter::finish`] converts the file into a Cloud Optimized GeoTIFF.
    cog: bool,
}

impl std::fmt::Debug for GeoTiffWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoTiffWriter")
            .field("path", &self.path)
            .field("size", &(self.width, self.height))
            .field("bands", &self.bands)
            .field("dtype", &self.dtype)
            .finish()
    }
}

impl GeoTiffWriter {
    /// Starts the GeoTIFF `path` of `size` = (width, height) pixels and `bands` bands of type
    /// `dtype`: tiled 256×256, DEFLATE-compressed, with `georef`'s geotransform and CRS,
    /// `nodata` (when given) on every band and `descriptions` as the bands' descriptions
    /// (empty for none, else one per band). Errors, each naming `path`: an empty size, a
    /// nodata value the type cannot hold, a wrong number of descriptions, an output that
    /// cannot be created (missing or read-only directory).
    pub fn create(
        path: &Path,
        (width, height): (usize, usize),
        bands: usize,
        dtype: SampleType,
        georef: &GeoRef,
        nodata: Option<f64>,
        descriptions: &[String],
    ) -> Result<Self, RasterError> {
        if width == 0 || height == 0 || bands == 0 {
            return Err(RasterError::invalid(
                path,
                format!("cannot write an empty raster ({width}x{height} pixels, {bands} bands)"),
            ));
        }
        if let Some(v) = nodata {
            if dtype.quantize(v) != v && !(v.is_nan() && dtype == SampleType::Float32) {
                return Err(RasterError::invalid(
                    path,
                    format!("nodata value {v} does not fit {} bands", dtype.name()),
                ));
            }
        }
        if !descriptions.is_empty() && descriptions.len() != bands {
            return Err(RasterError::invalid(
                path,
                format!(
                    "{} band descriptions given for {bands} bands",
                    descriptions.len()
                ),
            ));
        }
        crate::output::check_output(path, true).map_err(|e| RasterError::Input(e.to_string()))?;
        let tmp = crate::output::temporary_path(path);
        crate::output::remove_stale_temporaries(
            path.parent().unwrap_or(Path::new(".")),
            Some(path),
        );
        // Creating the file first gives the OS's reason (no such directory, permission
        // denied) for an unwritable output, named by the target's path.
        std::fs::File::create(&tmp).map_err(|e| {
            let reason = format!("cannot write the output: {e}");
            if crate::output::is_bad_path(&e) {
                RasterError::invalid(path, reason)
            } else {
                RasterError::io(path, reason)
            }
        })?;
        let mut writer = Self {
            path: path.to_path_buf(),
            tmp,
            dataset: None,
            width,
            height,
            bands,
            dtype,
            fill: dtype.quantize(nodata.unwrap_or(0.0)),
            avoid: None,
            nodata,
            masked: false,
            cog: false,
        };
        // From here on, dropping `writer` on an error removes the temporary.
        take_failure();
        writer.dataset = Some(writer.open(georef, nodata, descriptions)?);
        writer.check_failure()?;
        Ok(writer)
    }

    /// Creates the GDAL dataset at the temporary path.
    fn open(
        &self,
        georef: &GeoRef,
        nodata: Option<f64>,
        descriptions: &[String],
    ) -> Result<Dataset, RasterError> {
        quiet_gdal();
        let err = |e: GdalError| RasterError::io(&self.path, gdal_msg(&e));
        let driver = DriverManager::get_driver_by_name("GTiff").map_err(err)?;
        let tile = TILE.to_string();
        let options = RasterCreationOptions::from_iter([
            "TILED=YES".to_string(),
            format!("BLOCKXSIZE={tile}"),
            format!("BLOCKYSIZE={tile}"),
            "COMPRESS=DEFLATE".to_string(),
            // Horizontal differencing before DEFLATE (integer or floating point): smaller files
            // that every GDAL reads.
            format!(
                "PREDICTOR={}",
                if self.dtype == SampleType::Float32 {
                    3
                } else {
                    2
                }
            ),
            // Files over 4 GiB (huge rasters compress less well than one expects).
            "BIGTIFF=IF_SAFER".to_string(),
        ]);
        let (w, h, n, tmp) = (self.width, self.height, self.bands, &self.tmp);
        let mut ds = match self.dtype {
            SampleType::Byte => {
                driver.create_with_band_type_with_options::<u8, _>(tmp, w, h, n, &options)
            }
            SampleType::UInt16 => {
                driver.create_with_band_type_with_options::<u16, _>(tmp, w, h, n, &options)
            }
            SampleType::Int16 => {
                driver.create_with_band_type_with_options::<i16, _>(tmp, w, h, n, &options)
            }
            SampleType::Float32 => {
                driver.create_with_band_type_with_options::<f32, _>(tmp, w, h, n, &options)
            }
        }
        .map_err(err)?;
        if let Some(gt) = georef.geo_transform {
            ds.set_geo_transform(&gt).map_err(err)?;
        }
        if !georef.crs_wkt.is_empty() {
            ds.set_projection(&georef.crs_wkt).map_err(err)?;
        }
        for b in 0..self.bands {
            let mut band = ds.rasterband(b + 1).map_err(err)?;
            if nodata.is_some() {
                band.set_no_data_value(nodata).map_err(err)?;
            }
            if let Some(d) = descriptions.get(b) {
                band.set_description(d).map_err(err)?;
            }
        }
        Ok(ds)
    }

    /// Keeps valid values off the nodata value: one that would equal it is written one step
    /// away (the next value of the type), so no valid pixel reads as nodata. For data whose
    /// invalid pixels are all NaN (a model's output), not for data that carries the nodata
    /// value itself.
    pub fn keep_off_nodata(&mut self) {
        self.avoid = self.nodata.filter(|v| !v.is_nan());
    }

    /// Makes the output a Cloud Optimized GeoTIFF (GDAL's COG driver): the same tiles and
    /// compression, averaged overviews down to about one tile, and the
    /// layout object stores and web maps read by HTTP range requests. [`GeoTiffWriter::finish`]
    /// converts the streamed file into it, through a second temporary file.
    pub fn cloud_optimized(&mut self) {
        self.cog = true;
    }

    /// An error for a failure GDAL reported only through its error handler (a write that
    /// found the disk full) since the last check.
    fn check_failure(&self) -> Result<(), RasterError> {
        match take_failure() {
            Some(msg) => Err(RasterError::io(
                &self.path,
                format!("writing failed: {msg}"),
            )),
            None => Ok(()),
        }
    }

    /// The target file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the output a validity mask shared by all bands (GDAL's per-dataset mask, kept
    /// inside the GeoTIFF), to be filled with [`GeoTiffWriter::write_mask_rows`]; for outputs
    /// whose invalid pixels have no nodata value to carry them. Call before writing rows.
    pub fn add_mask(&mut self) -> Result<(), RasterError> {
        let err = |e: GdalError| RasterError::io(&self.path, gdal_msg(&e));
        // Inside the file, not a .msk beside it (which the rename would leave behind).
        gdal::config::set_config_option("GDAL_TIFF_INTERNAL_MASK", "YES").map_err(err)?;
        let ds = self.dataset.as_mut().expect("open until finished");
        ds.rasterband(1)
            .map_err(err)?
            .create_mask_band(true)
            .map_err(err)?;
        self.masked = true;
        Ok(())
    }

    /// Writes rows `y0..y0 + rows` of the mask added by [`GeoTiffWriter::add_mask`]: `valid`
    /// is row-major, true for valid pixels.
    pub fn write_mask_rows(
        &mut self,
        y0: usize,
        rows: usize,
        valid: &[bool],
    ) -> Result<(), RasterError> {
        self.write_mask_window((0, y0), (self.width, rows), valid)
    }

    /// Writes the mask of the window of `size` = (columns, rows) at `(x0, y0)`; see
    /// [`GeoTiffWriter::write_mask_rows`]. Write the mask of a window before its values.
    pub fn write_mask_window(
        &mut self,
        (x0, y0): (usize, usize),
        (cols, rows): (usize, usize),
        valid: &[bool],
    ) -> Result<(), RasterError> {
        if !self.masked
            || x0 + cols > self.width
            || y0 + rows > self.height
            || valid.len() != rows * cols
        {
            return Err(RasterError::invalid(
                &self.path,
                format!(
                    "cannot write {} mask values as the {cols}x{rows} window at ({x0}, {y0}) \
                     (mask added: {})",
                    valid.len(),
                    self.masked
                ),
            ));
        }
        let err = |e: GdalError| RasterError::io(&self.path, gdal_msg(&e));
        let ds = self.dataset.as_ref().expect("open until finished");
        let band = ds.rasterband(1).map_err(err)?;
        let mut mask = band.open_mask_band().map_err(err)?;
        let bytes: Vec<u8> = valid.iter().map(|&v| if v { 255 } else { 0 }).collect();
        let mut buffer = Buffer::new((cols, rows), bytes);
        mask.write((x0 as isize, y0 as isize), (cols, rows), &mut buffer)
            .map_err(err)?;
        self.check_failure()
    }

    /// Writes rows `y0..y0 + rows` of every band from `data`, band-major
    /// `[bands][rows][width]`, values in the output's units: each is converted with
    /// [`SampleType::quantize`], NaN is written as the nodata value (0 without one), values
    /// are kept off it after [`GeoTiffWriter::keep_off_nodata`]. Zero rows with empty `data` do nothing. Errors for rows
    /// outside the raster, a `data` of the wrong length, and GDAL failures.
    pub fn write_rows(&mut self, y0: usize, rows: usize, data: &[f32]) -> Result<(), RasterError> {
        self.write_window((0, y0), (self.width, rows), data)
    }

    /// Writes the window of `size` = (columns, rows) at `(x0, y0)` of every band from `data`,
    /// band-major `[bands][rows][columns]`, as [`GeoTiffWriter::write_rows`] does. Any order
    /// is correct; writing each column block top to bottom compresses each tile once (the
    /// block cache is flushed whenever a window reaches the bottom of a row of tiles).
    pub fn write_window(
        &mut self,
        (x0, y0): (usize, usize),
        (cols, rows): (usize, usize),
        data: &[f32],
    ) -> Result<(), RasterError> {
        if rows == 0 && data.is_empty() && y0 <= self.height {
            return Ok(());
        }
        if rows == 0
            || cols == 0
            || x0 + cols > self.width
            || y0 + rows > self.height
            || data.len() != self.bands * rows * cols
        {
            return Err(RasterError::invalid(
                &self.path,
                format!(
                    "cannot write {} values as the {cols}x{rows} window at ({x0}, {y0}) of {} \
                     bands of {}x{}",
                    data.len(),
                    self.bands,
                    self.width,
                    self.height
                ),
            ));
        }
        // Pieces that never straddle a row of tiles, so that a finished row of tiles is
        // flushed before the next one starts.
        let mut y = y0;
        while y < y0 + rows {
            let end = (y0 + rows).min((y / TILE + 1) * TILE);
            let piece = Piece {
                x0,
                cols,
                y0,
                rows,
                range: y..end,
            };
            match self.dtype {
                SampleType::Byte => self.write_piece::<u8>(&piece, data, |v| v as u8),
                SampleType::UInt16 => self.write_piece::<u16>(&piece, data, |v| v as u16),
                SampleType::Int16 => self.write_piece::<i16>(&piece, data, |v| v as i16),
                SampleType::Float32 => self.write_piece::<f32>(&piece, data, |v| v as f32),
            }?;
            if end % TILE == 0 || end == self.height {
                self.dataset
                    .as_mut()
                    .expect("open until finished")
                    .flush_cache()
                    .map_err(|e| RasterError::io(&self.path, gdal_msg(&e)))?;
            }
            self.check_failure()?;
            y = end;
        }
        Ok(())
    }

    /// The value written for `v`: NaN as the fill, others quantized and kept off the
    /// nodata value.
    fn output_value(&self, v: f32) -> f64 {
        if v.is_nan() {
            return self.fill;
        }
        let q = self.dtype.quantize(f64::from(v));
        match self.avoid {
            Some(nd) => self.dtype.keep_off(q, nd),
            None => q,
        }
    }

    /// Writes rows `piece.range` (inside the window) of every band of `data`, converted
    /// by `cast`.
    fn write_piece<T: GdalType + Copy>(
        &self,
        piece: &Piece,
        data: &[f32],
        cast: fn(f64) -> T,
    ) -> Result<(), RasterError> {
        let (w, n) = (piece.cols, piece.range.len());
        let ds = self.dataset.as_ref().expect("open until finished");
        let mut buf = Vec::with_capacity(n * w);
        for (b, plane) in data.chunks_exact(piece.rows * w).enumerate() {
            let src = &plane[(piece.range.start - piece.y0) * w..(piece.range.end - piece.y0) * w];
            buf.clear();
            buf.extend(src.iter().map(|&v| cast(self.output_value(v))));
            let mut band = ds
                .rasterband(b + 1)
                .map_err(|e| RasterError::io(&self.path, gdal_msg(&e)))?;
            let mut buffer = Buffer::new((w, n), std::mem::take(&mut buf));
            band.write(
                (piece.x0 as isize, piece.range.start as isize),
                (w, n),
                &mut buffer,
            )
            .map_err(|e| RasterError::io(&self.path, gdal_msg(&e)))?;
            buf = buffer.into_shape_and_vec().1;
        }
        Ok(())
    }

    /// Closes the dataset (writing what is left), syncs the file, renames it over the
    /// target and syncs the directory. Rows never written read as 0 (or the nodata value's
    /// bytes where GDAL fills them). On an error the temporary is removed.
    pub fn finish(mut self) -> Result<(), RasterError> {
        let ds = self.dataset.take().expect("open until finished");
        ds.close()
            .map_err(|e| RasterError::io(&self.path, gdal_msg(&e)))?;
        self.check_failure()?;
        let done = if self.cog {
            let cog = crate::output::temporary_path_stage(&self.path, "cog");
            let converted = self.convert_to_cog(&cog);
            if converted.is_err() {
                let _ = std::fs::remove_file(&cog);
            }
            converted?;
            // The streamed file is no longer needed; the converted one is renamed below.
            let _ = std::fs::remove_file(&self.tmp);
            self.tmp = cog;
            &self.tmp
        } else {
            &self.tmp
        };
        std::fs::File::open(done)
            .and_then(|f| f.sync_all())
            .map_err(|e| RasterError::io(&self.path, e))?;
        std::fs::rename(done, &self.path).map_err(|e| RasterError::io(&self.path, e))?;
        // The rename itself made durable; a directory that cannot be synced is not an error.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    /// Copies the finished temporary GeoTIFF into a Cloud Optimized GeoTIFF at `cog`.
    fn convert_to_cog(&self, cog: &Path) -> Result<(), RasterError> {
        let err = |e: GdalError| RasterError::io(&self.path, gdal_msg(&e));
        let src = Dataset::open(&self.tmp).map_err(err)?;
        let driver = DriverManager::get_driver_by_name("COG").map_err(err)?;
        let options = RasterCreationOptions::from_iter([
            format!("BLOCKSIZE={TILE}"),
            "COMPRESS=DEFLATE".to_string(),
            "PREDICTOR=YES".to_string(),
            "RESAMPLING=AVERAGE".to_string(),
            "BIGTIFF=IF_SAFER".to_string(),
        ]);
        take_failure();
        let out = src.create_copy(&driver, cog, &options).map_err(err)?;
        out.close().map_err(err)?;
        self.check_failure()
    }
}

/// Rows `range` of a window of `cols` columns at column `x0` whose data starts at row `y0`
/// and holds `rows` rows.
struct Piece {
    x0: usize,
    cols: usize,
    y0: usize,
    rows: usize,
    range: std::ops::Range<usize>,
}

impl Drop for GeoTiffWriter {
    /// Removes the temporary file unless [`GeoTiffWriter::finish`] renamed it.
    fn drop(&mut self) {
        drop(self.dataset.take());
        // After a successful finish the temporary no longer exists; nothing to report then.
        if !self.tmp.exists() {
            return;
        }
        let _ = std::fs::remove_file(&self.tmp);
        let mut aux = self.tmp.clone().into_os_string();
        aux.push(".aux.xml");
        let _ = std::fs::remove_file(aux);
    }
}

/// Pixel types [`write_geotiff`] writes.
pub trait Sample: Copy {
    /// The GDAL type written.
    const TYPE: SampleType;
    /// The value as f32 (exact for every implementing type).
    fn to_f32(self) -> f32;
}

impl Sample for u8 {
    const TYPE: SampleType = SampleType::Byte;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}

impl Sample for u16 {
    const TYPE: SampleType = SampleType::UInt16;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}

impl Sample for i16 {
    const TYPE: SampleType = SampleType::Int16;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}

impl Sample for f32 {
    const TYPE: SampleType = SampleType::Float32;
    fn to_f32(self) -> f32 {
        self
    }
}

/// Writes `data` (band-major: `bands` planes of `width`×`height`) as a GeoTIFF at `path`
/// with [`GeoTiffWriter`] (tiled, compressed, atomic), `georef` and, when given, the same
/// `nodata` value on every band. NaN values of f32 data are written as `nodata` (0 without).
pub fn write_geotiff<T: Sample>(
    path: &Path,
    (width, height): (usize, usize),
    bands: usize,
    data: &[T],
    georef: &GeoRef,
    nodata: Option<f64>,
) -> Result<(), RasterError> {
    if data.len() != width * height * bands {
        return Err(RasterError::invalid(
            path,
            format!(
                "cannot write {} values as {bands} bands of {width}x{height}",
                data.len()
            ),
        ));
    }
    let mut writer =
        GeoTiffWriter::create(path, (width, height), bands, T::TYPE, georef, nodata, &[])?;
    let plane = width * height;
    let mut chunk = Vec::with_capacity(bands * TILE * width);
    for y0 in (0..height).step_by(TILE) {
        let rows = TILE.min(height - y0);
        chunk.clear();
        for b in 0..bands {
            let src = &data[b * plane + y0 * width..b * plane + (y0 + rows) * width];
            chunk.extend(src.iter().map(|v| v.to_f32()));
        }
        writer.write_rows(y0, rows, &chunk)?;
    }
    writer.finish()
}
