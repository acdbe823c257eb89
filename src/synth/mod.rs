//! Procedural satellite-like scenes: the test bed for training (`satcolor synth`).
//!
//! A scene is an overhead RGB image at 0.5–1 m per pixel: grass, dry grass, bare soil and
//! cultivated parcels with row texture; lakes and rivers (smooth, dark blue-green, with a
//! muddy shore); a road network (a grid in town, curves in suburbs, dirt tracks in the
//! country) with lane markings and sidewalks; buildings along the roads with roofs of
//! several materials (red tile, concrete, dark shingle, blue and green metal, brown) and
//! shapes (flat, gable, hip) lit by one sun, with their shadows; trees with lit crowns and
//! shadows. Color follows from shape and texture (a corrugated roof is metal, a lobed
//! dome is a tree, a smooth dark area is water), which is what a colorizer can learn.
//!
//! Scene `i` of seed `s` depends only on (`s`, `i`): the same seed gives the same pixels,
//! and the first scenes of a larger set are the scenes of a smaller one.

mod canvas;
mod noise;
mod paths;
mod scene;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// EPSG code of the scenes' CRS: WGS 84 / UTM zone 13N (meters).
pub const EPSG: u32 = 32613;

/// One generated scene.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// Width and height in pixels.
    pub size: usize,
    /// Red, green and blue planes, band-major (`rgb[(band·size + row)·size + col]`).
    pub rgb: Vec<u8>,
    /// Ground sample distance in meters per pixel.
    pub pixel_m: f64,
    /// Easting and northing (EPSG:32613) of the top-left corner.
    pub origin: (f64, f64),
}

/// Renders scene `index` of the set of `seed`, `size`×`size` pixels.
pub fn render_scene(seed: u64, index: u64, size: usize) -> Scene {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let (canvas, tenths) = scene::paint(&mut rng, size);
    let plane = size * size;
    let mut rgb = vec![0u8; 3 * plane];
    for (i, p) in canvas.rgb.iter().enumerate() {
        for c in 0..3 {
            rgb[c * plane + i] = p[c].round().clamp(0.0, 255.0) as u8;
        }
    }
    // Scenes tile a 128-wide grid of 2 km cells, so no two of a set overlap.
    let origin = (
        300_000.0 + 2_000.0 * (index % 128) as f64,
        4_500_000.0 - 2_000.0 * (index / 128) as f64,
    );
    Scene {
        size,
        rgb,
        pixel_m: f64::from(tenths) / 10.0,
        origin,
    }
}

#[cfg(feature = "geo")]
mod write;
#[cfg(feature = "geo")]
pub use write::{scene_path, write_scenes, SynthOptions};
