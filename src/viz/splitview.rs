//! `satcolor splitview`: the real color raster and the colorized one in one PNG, split at a
//! column with a divider line, or side by side.
//!
//! Large rasters are never read at full resolution: each band is read once through GDAL's
//! RasterIO with a buffer smaller than the window (average resampling), so the longer side
//! of the output is at most `max_size` pixels. Display follows [`crate::viz::compose`]:
//! Byte bands as they are, other types stretched per band from the 2nd to the 98th
//! percentile **of the real raster**, the same stretch for both (so that colours compare:
//! a stretch of its own would make a dull colorization look as saturated as the truth),
//! nodata black.
//!
//! [`write_comparison`] adds, below the split view, a crop of the input gray, the
//! colorization and the truth side by side at the same scale (the demo's picture).

use crate::geo::{DataType, Raster, RasterError};
use crate::viz::compose::{
    band_stretch, crop_columns, fit_size, luma_image, panel_with, side_by_side, split_view,
    stacked, BandPlane, Stretch, GAP,
};
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
    let (left, right) = panels(real, fake, options)?;
    Ok(if options.side_by_side {
        side_by_side(&left, &right)
    } else {
        split_view(&left, &right, options.split).expect("both panels have the same size")
    })
}

/// The real and the fake panel at the size `options` allow, with the real one's stretch.
fn panels(
    real: &Path,
    fake: &Path,
    options: &SplitviewOptions,
) -> anyhow::Result<(RgbImage, RgbImage)> {
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
    let real_planes = read_planes(&real_raster, &bands, size)?;
    let fake_planes = read_planes(&fake_raster, &bands, size)?;
    let stretches: Vec<Stretch> = planes(&real_raster, &bands, &real_planes)
        .iter()
        .map(band_stretch)
        .collect();
    let panel = |raster: &Raster, values: &[Vec<f32>]| {
        panel_with(&planes(raster, &bands, values), size, &stretches)
            .expect("one or three bands of the panel's size")
    };
    Ok((
        panel(&real_raster, &real_planes),
        panel(&fake_raster, &fake_planes),
    ))
}

/// The demo's picture: the split view of `real` and `fake` (at most `options.max_size`
/// wide), and below it, at the same scale, columns `crop_x ..` of the input gray (the luma
/// of the real panel), the colorization and the truth side by side, as wide together as
/// the view. Written as PNG to `out` atomically; returns its size.
pub fn write_comparison(
    real: &Path,
    fake: &Path,
    out: &Path,
    crop_x: u32,
    options: &SplitviewOptions,
) -> anyhow::Result<(u32, u32)> {
    let options = SplitviewOptions {
        side_by_side: false,
        ..options.clone()
    };
    let (left, right) = panels(real, fake, &options)?;
    let view = split_view(&left, &right, options.split).expect("both panels have the same size");
    let width = (left.width().saturating_sub(2 * GAP as u32) / 3).max(1);
    let x0 = crop_x.min(left.width().saturating_sub(width));
    let truth = crop_columns(&left, x0, width);
    let crops = side_by_side(
        &side_by_side(&luma_image(&truth), &crop_columns(&right, x0, width)),
        &truth,
    );
    let img = stacked(&view, &crops);
    crate::train::samples::write_png(out, &img)?;
    Ok(img.dimensions())
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

/// The display planes of `values` (read by [`read_planes`]) with `raster`'s band types.
fn planes<'a>(raster: &Raster, bands: &[usize], values: &'a [Vec<f32>]) -> Vec<BandPlane<'a>> {
    values
        .iter()
        .zip(bands)
        .map(|(values, &b)| BandPlane {
            values,
            nodata: raster.bands()[b].nodata,
            byte: raster.bands()[b].dtype == DataType::Byte,
        })
        .collect()
}

/// Reads `bands` (0-based) of `raster` resampled to `size`.
fn read_planes(
    raster: &Raster,
    bands: &[usize],
    size: (usize, usize),
) -> anyhow::Result<Vec<Vec<f32>>> {
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
    Ok(planes)
}
