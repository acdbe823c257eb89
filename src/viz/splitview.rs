//! `satcolor splitview`: the real color raster and the colorized one in one PNG, split at a
//! column with a divider line, or side by side.
//!
//! Large rasters are never read at full resolution: each band is read once through GDAL's
//! RasterIO with a buffer smaller than the window (average resampling), so the longer side
//! of the output is at most `max_size` pixels. Display follows [`crate::viz::compose`]:
//! Byte bands as they are, other types stretched per band and per raster from the 2nd to
//! the 98th percentile, nodata black.

use crate::geo::{DataType, Raster, RasterError};
use crate::viz::compose::{fit_size, panel, side_by_side, split_view, BandPlane, GAP};
use crate::Error;
use gdal::raster::ResampleAlg;
use gdal::Dataset;
use image::RgbImage;
use std::path::Path;

/// The smallest `max_size` accepted: room for two panels and the gap side by side.
pub const MIN_MAX_SIZE: usize = 2 * GAP + 2;

/// How the view is made.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitviewOptions {
    /// Fraction of the width shown from the real raster, strictly between 0 and 1.
    pub split: f64,
    /// The two panels next to each other instead of split.
    pub side_by_side: bool,
    /// Bound on the longer side of the output image, in pixels.
    pub max_size: usize,
    /// 1-based band numbers shown as R, G, B (three) or as gray (one); `None`: bands 1, 2, 3,
    /// or band 1 as gray when a raster has fewer than three bands.
    pub bands: Option<Vec<usize>>,
}

impl Default for SplitviewOptions {
    fn default() -> Self {
        Self {
            split: 0.5,
            side_by_side: false,
            max_size: 2048,
            bands: None,
        }
    }
}

impl SplitviewOptions {
    /// Checks the settings that do not depend on the rasters.
    fn validate(&self) -> Result<(), Error> {
        if !(self.split > 0.0 && self.split < 1.0) {
            return Err(Error::Input(format!(
                "--split {} is not strictly between 0 and 1",
                self.split
            )));
        }
        if self.max_size < MIN_MAX_SIZE {
            return Err(Error::Input(format!(
                "--max-size {} is below the minimum of {MIN_MAX_SIZE} pixels",
                self.max_size
            )));
        }
        if let Some(bands) = &self.bands {
            if !(bands.len() == 1 || bands.len() == 3) || bands.contains(&0) {
                return Err(Error::Input(format!(
                    "--bands {bands:?}: give one band (gray) or three (R,G,B), numbered from 1"
                )));
            }
        }
        Ok(())
    }
}

/// Renders the view of `real` and `fake` (see the module docs). Errors: bad settings, a
/// missing or unreadable raster, a band out of range, rasters of different sizes.
pub fn render(real: &Path, fake: &Path, options: &SplitviewOptions) -> anyhow::Result<RgbImage> {
    options.validate()?;
    let real_raster = Raster::open(real)?;
    let fake_raster = Raster::open(fake)?;
    let (w, h) = (real_raster.width(), real_raster.height());
    let (fw, fh) = (fake_raster.width(), fake_raster.height());
    if (w, h) != (fw, fh) {
        return Err(Error::Input(format!(
            "{} is {w}x{h} pixels but {} is {fw}x{fh}: splitview needs rasters of the same size",
            real.display(),
            fake.display()
        ))
        .into());
    }
    let bands = match &options.bands {
        Some(b) => b.iter().map(|&b| b - 1).collect(),
        None if real_raster.bands().len() >= 3 && fake_raster.bands().len() >= 3 => vec![0, 1, 2],
        None => vec![0],
    };
    let max = options.max_size;
    let bound = if options.side_by_side {
        ((max - GAP) / 2, max)
    } else {
        (max, max)
    };
    let size = fit_size((w, h), bound);
    let left = read_panel(&real_raster, &bands, size)?;
    let right = read_panel(&fake_raster, &bands, size)?;
    Ok(if options.side_by_side {
        side_by_side(&left, &right)
    } else {
        split_view(&left, &right, options.split).expect("both panels have the same size")
    })
}

/// Renders the view and writes it as PNG to `out` atomically (no file is left on failure).
/// Returns the image's width and height.
pub fn write_splitview(
    real: &Path,
    fake: &Path,
    out: &Path,
    options: &SplitviewOptions,
) -> anyhow::Result<(u32, u32)> {
    let img = render(real, fake, options)?;
    crate::train::samples::write_png(out, &img)?;
    Ok(img.dimensions())
}

/// Reads `bands` (0-based) of `raster` resampled to `size` and turns them into a panel.
fn read_panel(raster: &Raster, bands: &[usize], size: (usize, usize)) -> anyhow::Result<RgbImage> {
    let path = raster.path();
    for &b in bands {
        let info = raster.bands().get(b).ok_or_else(|| {
            RasterError::invalid(
                path,
                format!(
                    "band {} out of range (the raster has {})",
                    b + 1,
                    raster.bands().len()
                ),
            )
        })?;
        if info.dtype == DataType::Other {
            return Err(RasterError::invalid(
                path,
                format!("band {} has a pixel type satcolor does not read", b + 1),
            )
            .into());
        }
    }
    // `Raster` reads full-resolution windows only; a second read-only handle does the
    // resampled reads.
    let dataset = Dataset::open(path).map_err(|e| RasterError::io(path, e))?;
    let full = (raster.width(), raster.height());
    let resample = (size != full).then_some(ResampleAlg::Average);
    let mut planes = Vec::with_capacity(bands.len());
    for &b in bands {
        let band = dataset
            .rasterband(b + 1)
            .map_err(|e| RasterError::io(path, e))?;
        let mut values = vec![0f32; size.0 * size.1];
        band.read_into_slice::<f32>((0, 0), full, size, &mut values, resample)
            .map_err(|e| RasterError::io(path, e))?;
        planes.push(values);
    }
    let planes: Vec<BandPlane<'_>> = planes
        .iter()
        .zip(bands)
        .map(|(values, &b)| BandPlane {
            values,
            nodata: raster.bands()[b].nodata,
            byte: raster.bands()[b].dtype == DataType::Byte,
        })
        .collect();
    Ok(panel(&planes, size).expect("one or three bands of the panel's size"))
}
