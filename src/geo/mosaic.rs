//! [`build_vrt`]: rasters stitched into one dataset with GDAL's VRT (`satcolor mosaic`), the
//! view of a colorized archive as one raster without copying a pixel.

use super::raster::gdal_msg;
use super::{quiet_gdal, take_failure, RasterError};
use gdal::Dataset;
use std::path::{Path, PathBuf};

/// Writes `output` (a `.vrt`), the mosaic of `inputs`: one dataset covering them all, each
/// placed by its geotransform (GDAL's `gdalbuildvrt`). The inputs must share a band count and
/// a coordinate reference system. Written atomically; sources are referenced relative to the
/// VRT's directory where they can be, so the two move together.
pub fn build_vrt(inputs: &[PathBuf], output: &Path) -> Result<(), RasterError> {
    let vrt = output
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("vrt"));
    if !vrt {
        return Err(RasterError::invalid(
            output,
            "the mosaic is a GDAL VRT: name it .vrt",
        ));
    }
    if inputs.is_empty() {
        return Err(RasterError::Input("no rasters to stitch".into()));
    }
    crate::output::check_output(output, true).map_err(|e| RasterError::Input(e.to_string()))?;
    quiet_gdal();
    let mut datasets = Vec::with_capacity(inputs.len());
    let mut first: Option<(usize, String)> = None;
    for path in inputs {
        let raster = super::Raster::open(path)?;
        let ds = Dataset::open(path).map_err(|e| RasterError::NotRaster {
            path: path.clone(),
            reason: gdal_msg(&e),
        })?;
        let key = (raster.bands().len(), ds.projection());
        match &first {
            None => first = Some(key),
            Some((bands, crs)) => {
                if key.0 != *bands {
                    return Err(RasterError::invalid(
                        path,
                        format!("has {} bands, {} has {bands}", key.0, inputs[0].display()),
                    ));
                }
                if key.1 != *crs {
                    return Err(RasterError::invalid(
                        path,
                        format!(
                            "its coordinate reference system differs from {}'s: a VRT mosaic needs one",
                            inputs[0].display()
                        ),
                    ));
                }
            }
        }
        datasets.push(ds);
    }
    let tmp = crate::output::temporary_path(output);
    crate::output::remove_stale_temporaries(
        output.parent().unwrap_or(Path::new(".")),
        Some(output),
    );
    let err = |e: gdal::errors::GdalError| RasterError::io(output, gdal_msg(&e));
    take_failure();
    let written = gdal::programs::raster::build_vrt(Some(&tmp), &datasets, None)
        .and_then(|ds| ds.close())
        .map_err(err)
        .and_then(|()| match take_failure() {
            Some(msg) => Err(RasterError::io(output, msg)),
            None => Ok(()),
        })
        .and_then(|()| std::fs::rename(&tmp, output).map_err(|e| RasterError::io(output, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
