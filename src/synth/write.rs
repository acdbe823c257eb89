//! Writing a set of scenes as georeferenced GeoTIFFs.

use super::{render_scene, EPSG};
use crate::geo::{write_geotiff, GeoRef, RasterError};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What `satcolor synth` makes.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Number of scenes.
    pub scenes: usize,
    /// Width and height of each scene in pixels.
    pub size: usize,
    /// Seed of the set.
    pub seed: u64,
}

/// The file of scene `index` in `dir`: `scene-00007.tif`.
pub fn scene_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("scene-{index:05}.tif"))
}

/// Renders the scenes in parallel and writes each atomically as a 3-band Byte GeoTIFF
/// (EPSG:32613, no nodata) into `dir`, which is created if needed. Returns the files in
/// scene order.
pub fn write_scenes(dir: &Path, options: &SynthOptions) -> Result<Vec<PathBuf>, RasterError> {
    if options.size < 16 || options.size > 16384 {
        return Err(RasterError::invalid(
            dir,
            format!("scene size {} is not in 16..=16384 pixels", options.size),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| RasterError::io(dir, e))?;
    let georef = GeoRef::north_up(EPSG, (0.0, 0.0), 1.0).map_err(|e| RasterError::io(dir, e))?;
    (0..options.scenes)
        .into_par_iter()
        .map(|i| {
            crate::interrupt::check().map_err(|e| RasterError::Input(e.to_string()))?;
            let scene = render_scene(options.seed, i as u64, options.size);
            let path = scene_path(dir, i);
            let georef = GeoRef {
                geo_transform: Some([
                    scene.origin.0,
                    scene.pixel_m,
                    0.0,
                    scene.origin.1,
                    0.0,
                    -scene.pixel_m,
                ]),
                ..georef.clone()
            };
            write_geotiff(
                &path,
                (scene.size, scene.size),
                3,
                &scene.rgb,
                &georef,
                None,
            )?;
            Ok(path)
        })
        .collect()
}
