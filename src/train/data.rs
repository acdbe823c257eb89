//! Training data: seeded random windows of target rasters and their inputs, with flips and
//! 90° rotations, as batches ready to upload.
//!
//! [`discover`] finds the rasters: plain files and folders of target rasters, whose one-band
//! input is the luma 0.299 R + 0.587 G + 0.114 B of their first three normalized bands, and
//! SpaceNet-2 area folders, whose images pair an input raster (`PAN/` or `RGB-PanSharpen/`)
//! with a target raster (`RGB-PanSharpen/` or `MUL-PanSharpen/`) as the model's band counts
//! say.
//!
//! Rasters are read whole into memory here (the simple reader of the training issue) and
//! normalized per the spec: Byte bands /255; other types by the per-band 0.5 %–99.5 %
//! percentile stretch of the valid pixels of the training split only (whole training
//! rasters, or the training rows of a single raster), so that held-out data never shapes
//! the mapping it is scored with.
//!
//! Reproducibility: batch `k` of a sampler depends only on its seed, its data and `k`
//! ([`SamplerState`]), so a resumed run draws exactly the batches the uninterrupted run would.

use crate::model::normalization::BandNorm;
#[cfg(feature = "geo")]
use crate::model::normalization::SampleType;
use crate::model::PixelStats;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::ops::Range;
#[cfg(feature = "geo")]
use std::path::{Path, PathBuf};

/// Errors of the training data; each is one line naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Nothing to train on at the given paths.
    #[error("no rasters (*.tif, *.tiff) found in {0}")]
    NoRasters(String),
    /// Reading a raster failed.
    #[cfg(feature = "geo")]
    #[error(transparent)]
    Raster(#[from] crate::geo::RasterError),
    /// The window does not fit in any raster.
    #[error(
        "window {window}x{window} is larger than every raster (the largest is {width}x{height})"
    )]
    WindowTooLarge {
        /// Window side.
        window: usize,
        /// Width of the largest raster.
        width: usize,
        /// Height of the largest raster.
        height: usize,
    },
    /// Every window that fits has too much nodata.
    #[error("no {window}x{window} window of the {set} rasters has at most {percent}% nodata")]
    NoValidWindow {
        /// Window side.
        window: usize,
        /// The allowed nodata share in percent.
        percent: f64,
        /// `training` or `held-out`.
        set: &'static str,
    },
    /// A batch of zero windows was asked for.
    #[error("batch size must be at least 1")]
    ZeroBatch,
    /// Anything else that does not fit: band counts, pairs, settings.
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    /// Whether the error comes from the user's input: every data error does (missing,
    /// unreadable or unsuitable rasters, settings that do not fit the data).
    pub fn is_bad_input(&self) -> bool {
        true
    }
}

/// The luma of normalized R, G, B.
pub fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// One raster in memory, normalized: its target bands and its input bands.
#[derive(Clone, Debug)]
pub struct Image {
    /// Where it came from (for messages).
    pub name: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Target bands, band-major planes of `width`×`height`.
    pub target: Vec<f32>,
    /// Input bands, band-major planes of `width`×`height`.
    pub input: Vec<f32>,
    /// Whether each pixel is nodata (in any band of the target or the input), row-major.
    pub nodata: Vec<bool>,
    /// Held out as a whole (given as validation data): never trained on, never shaping the
    /// normalization or the output head's fit.
    pub held_out: bool,
}

impl Image {
    /// An image from normalized target bands (band-major) and, when given, input bands
    /// (band-major); without them the input is one band, the luma of the first three target
    /// bands.
    pub fn new(
        name: impl Into<String>,
        (width, height): (usize, usize),
        target: Vec<f32>,
        input: Option<Vec<f32>>,
        nodata: Vec<bool>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let plane = width * height;
        if plane == 0 || target.len() % plane != 0 || target.is_empty() || nodata.len() != plane {
            return Err(DataError::Invalid(format!(
                "{name}: buffers do not fit {width}x{height} pixels"
            )));
        }
        let input = match input {
            Some(x) if !x.is_empty() && x.len() % plane == 0 => x,
            Some(_) => {
                return Err(DataError::Invalid(format!(
                    "{name}: the input bands do not fit {width}x{height} pixels"
                )))
            }
            None if target.len() >= 3 * plane => (0..plane)
                .map(|i| luma(target[i], target[plane + i], target[2 * plane + i]))
                .collect(),
            None => {
                return Err(DataError::Invalid(format!(
                    "{name}: deriving the gray input by luma needs 3 target bands, found {}; \
                     give a paired input raster",
                    target.len() / plane
                )))
            }
        };
        Ok(Self {
            name,
            width,
            height,
            target,
            input,
            nodata,
            held_out: false,
        })
    }

    /// The same image marked as held-out validation data (see [`Image::held_out`]).
    pub fn into_held_out(self) -> Self {
        Self {
            held_out: true,
            ..self
        }
    }

    /// Target bands.
    fn target_bands(&self) -> usize {
        self.target.len() / (self.width * self.height)
    }

    /// Input bands.
    fn input_bands(&self) -> usize {
        self.input.len() / (self.width * self.height)
    }
}

/// Settings of a [`WindowSampler`].
#[derive(Clone, Debug)]
pub struct DataConfig {
    /// Window side W in pixels.
    pub window: usize,
    /// Input bands C_in: 1 for a luma input; paired input rasters must have this many.
    pub in_bands: usize,
    /// Target bands C_out every image must have.
    pub out_bands: usize,
    /// The target rasters' bands to use (0-based, in this order, `out_bands` of them);
    /// `None` takes every band that is not an alpha band (GDAL color interpretation Alpha,
    /// which masks pixels instead).
    pub bands: Option<Vec<usize>>,
    /// Largest share of nodata pixels a window may hold (the spec's default: 0.01).
    pub max_nodata: f64,
    /// Share of the data held out for validation: whole rasters when there are several
    /// (spread evenly over the sorted list), else the bottom rows of the only raster. 0 holds
    /// nothing out.
    pub val_fraction: f64,
    /// Seed of the window draws.
    pub seed: u64,
    /// Whether each training window is flipped and rotated by a random one of the 8
    /// symmetries of the square (the same for input and target).
    pub augment: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            window: 64,
            in_bands: 1,
            out_bands: 3,
            bands: None,
            max_nodata: 0.01,
            val_fraction: 0.1,
            seed: 0,
            augment: true,
        }
    }
}

/// A batch, NCHW f32, ready to upload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Windows in the batch (B).
    pub batch: usize,
    /// Window side (W).
    pub window: usize,
    /// Inputs [B, C_in, W, W].
    pub x: Vec<f32>,
    /// Targets [B, C_out, W, W].
    pub y: Vec<f32>,
}

/// Where a sampler is in its sequence of batches: save it with a checkpoint, give it back to
/// [`WindowSampler::set_state`] on resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    /// The seed of the draws.
    pub seed: u64,
    /// Batches drawn so far.
    pub batches: u64,
}

/// Rows `rows` of image `image` and how many windows there have little enough nodata.
#[derive(Clone, Debug)]
struct Region {
    image: usize,
    rows: Range<usize>,
    /// Valid window positions in the region.
    valid: u64,
}

/// Rows of an image: `(image, rows)`.
type Rows = (usize, Range<usize>);

/// The training and held-out rows of images of heights `heights`: the images marked
/// `held_out` when there are any (explicit validation data; nothing else is held out), else
/// whole images when there are several (the held-out ones spread evenly over the list), else
/// the top and bottom rows of the only one (see [`DataConfig::val_fraction`]).
fn split(heights: &[usize], held_out: &[bool], config: &DataConfig) -> (Vec<Rows>, Vec<Rows>) {
    let n = heights.len();
    let f = config.val_fraction;
    let whole = |i: usize| (i, 0..heights[i]);
    if held_out.contains(&true) {
        let (val, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| held_out[i]);
        return (
            train.into_iter().map(whole).collect(),
            val.into_iter().map(whole).collect(),
        );
    }
    if f == 0.0 || n == 0 {
        return ((0..n).map(whole).collect(), Vec::new());
    }
    if n >= 2 {
        let n_val = ((n as f64 * f).round() as usize).clamp(1, n - 1);
        let held: Vec<usize> = (0..n_val).map(|j| (2 * j + 1) * n / (2 * n_val)).collect();
        let (val, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| held.contains(i));
        return (
            train.into_iter().map(whole).collect(),
            val.into_iter().map(whole).collect(),
        );
    }
    let h = heights[0];
    let held = ((h as f64 * f).round() as usize).max(config.window);
    if h >= held + config.window {
        (vec![(0, 0..h - held)], vec![(0, h - held..h)])
    } else {
        (vec![whole(0)], Vec::new())
    }
}

/// Draws seeded random windows from a set of images, and fixed held-out windows.
#[derive(Clone, Debug)]
pub struct WindowSampler {
    images: Vec<Image>,
    /// Per image, (height+1)×(width+1) prefix sums of the nodata mask.
    integrals: Vec<Vec<u32>>,
    train: Vec<Region>,
    val: Vec<Region>,
    config: DataConfig,
    state: SamplerState,
    norm_in: Option<Vec<BandNorm>>,
    norm_out: Vec<BandNorm>,
}

impl WindowSampler {
    /// A sampler over in-memory images whose bands were normalized with `norm_in` (the input
    /// bands; `None` when the input is the luma of the normalized targets) and `norm_out`
    /// (targets). Errors: no images, band counts other than `in_bands` and `out_bands`, a
    /// window larger than every image, no window with little enough nodata.
    pub fn new(
        images: Vec<Image>,
        config: DataConfig,
        norm_in: Option<Vec<BandNorm>>,
        norm_out: Vec<BandNorm>,
    ) -> Result<Self, DataError> {
        if images.is_empty() {
            return Err(DataError::NoRasters("the given data".into()));
        }
        if config.window == 0 {
            return Err(DataError::Invalid("window must be at least 1 pixel".into()));
        }
        if !(0.0..1.0).contains(&config.val_fraction) || !(0.0..=1.0).contains(&config.max_nodata) {
            return Err(DataError::Invalid(format!(
                "val fraction {} must be in [0, 1) and max nodata {} in [0, 1]",
                config.val_fraction, config.max_nodata
            )));
        }
        for im in &images {
            for (what, got, want) in [
                ("", im.target_bands(), config.out_bands),
                ("input ", im.input_bands(), config.in_bands),
            ] {
                if got != want {
                    return Err(DataError::Invalid(format!(
                        "{}: has {got} {what}bands, expected {want} ({}_bands)",
                        im.name,
                        if what.is_empty() { "out" } else { "in" }
                    )));
                }
            }
        }
        let w = config.window;
        if images.iter().all(|im| im.width < w || im.height < w) {
            let big = images
                .iter()
                .max_by_key(|im| im.width * im.height)
                .expect("not empty");
            return Err(DataError::WindowTooLarge {
                window: w,
                width: big.width,
                height: big.height,
            });
        }
        let integrals = images.iter().map(integral).collect();
        let heights: Vec<usize> = images.iter().map(|im| im.height).collect();
        let held_out: Vec<bool> = images.iter().map(|im| im.held_out).collect();
        if !held_out.contains(&false) {
            return Err(DataError::Invalid(
                "every raster is held out: nothing to train on".into(),
            ));
        }
        let (train, val) = split(&heights, &held_out, &config);
        let mut sampler = Self {
            state: SamplerState {
                seed: config.seed,
                batches: 0,
            },
            images,
            integrals,
            train: Vec::new(),
            val: Vec::new(),
            config,
            norm_in,
            norm_out,
        };
        sampler.train = train.into_iter().map(|r| sampler.count(r)).collect();
        sampler.val = val.into_iter().map(|r| sampler.count(r)).collect();
        let no_train = |s: &Self| s.train.iter().all(|r| r.valid == 0);
        if no_train(&sampler) && !held_out.contains(&true) && !sampler.val.is_empty() {
            // The split left no valid training window (nodata where the training rows
            // are): train on the rasters whole, holding nothing out.
            sampler.train = (0..heights.len())
                .map(|i| sampler.count((i, 0..heights[i])))
                .collect();
            sampler.val.clear();
        }
        if no_train(&sampler) {
            return Err(sampler.no_valid("training"));
        }
        Ok(sampler)
    }

    /// Normalizations of the input bands (`None` when the input is the luma of the
    /// normalized targets, which has no raw values of its own) and of the target bands.
    pub fn normalization(&self) -> (Option<&[BandNorm]>, &[BandNorm]) {
        (self.norm_in.as_deref(), &self.norm_out)
    }

    /// Names of the images windows are drawn from, then of the held-out ones (an image split
    /// by rows appears in both).
    pub fn split_names(&self) -> (Vec<&str>, Vec<&str>) {
        let names = |rs: &[Region]| {
            rs.iter()
                .map(|r| self.images[r.image].name.as_str())
                .collect()
        };
        (names(&self.train), names(&self.val))
    }

    /// The current state (see [`SamplerState`]).
    pub fn state(&self) -> SamplerState {
        self.state
    }

    /// Continues from `state`, saved by a sampler over the same data.
    pub fn set_state(&mut self, state: SamplerState) {
        self.state = state;
    }

    /// The next batch of `batch` random windows (see [`WindowSampler::next_batch_into`]).
    pub fn next_batch(&mut self, batch: usize) -> Result<Batch, DataError> {
        let mut out = Batch::default();
        self.next_batch_into(batch, &mut out)?;
        Ok(out)
    }

    /// Fills `out` with the next batch of `batch` windows, reusing its buffers: windows drawn
    /// uniformly among those with at most `max_nodata` nodata, each flipped and rotated by one
    /// of the 8 symmetries of the square, the same for input and target.
    pub fn next_batch_into(&mut self, batch: usize, out: &mut Batch) -> Result<(), DataError> {
        if batch == 0 {
            return Err(DataError::ZeroBatch);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.state.seed);
        rng.set_stream(self.state.batches);
        let w = self.config.window;
        out.batch = batch;
        out.window = w;
        out.x.resize(batch * self.config.in_bands * w * w, 0.0);
        out.y.resize(batch * self.config.out_bands * w * w, 0.0);
        let total: u64 = self.train.iter().map(|r| r.valid).sum();
        for b in 0..batch {
            let mut pick = rng.random_range(0..total);
            let region = self
                .train
                .iter()
                .find(|r| {
                    let hit = pick < r.valid;
                    if !hit {
                        pick -= r.valid;
                    }
                    hit
                })
                .expect("pick < total");
            let im = region.image;
            let (x, y) = loop {
                let x = rng.random_range(0..=self.images[im].width - w);
                let y = rng.random_range(region.rows.start..=region.rows.end - w);
                if self.valid(im, x, y) {
                    break (x, y);
                }
            };
            // Drawn either way, so that turning augmentation off moves no window.
            let symmetry = rng.random_range(0..8u8);
            let symmetry = if self.config.augment { symmetry } else { 0 };
            self.copy(im, (x, y), symmetry, b, out);
        }
        self.state.batches += 1;
        Ok(())
    }

    /// The held-out windows, at most `max_windows` of them: the non-overlapping W×W tiles of
    /// the held-out data with little enough nodata, in order, evenly thinned when there are
    /// more; not flipped or rotated. The same every call.
    pub fn validation(&self, max_windows: usize) -> Result<Batch, DataError> {
        if max_windows == 0 {
            return Err(DataError::ZeroBatch);
        }
        let w = self.config.window;
        let mut tiles = Vec::new();
        for r in &self.val {
            let im = &self.images[r.image];
            for y in (r.rows.start..=r.rows.end.saturating_sub(w)).step_by(w) {
                if y + w > r.rows.end {
                    break;
                }
                for x in (0..=im.width.saturating_sub(w)).step_by(w) {
                    if x + w <= im.width && self.valid(r.image, x, y) {
                        tiles.push((r.image, x, y));
                    }
                }
            }
        }
        if tiles.is_empty() {
            return Err(if self.val.is_empty() {
                DataError::Invalid("no held-out data (the validation fraction is 0 or the data too small to split)".into())
            } else {
                self.no_valid("held-out")
            });
        }
        let n = tiles.len().min(max_windows);
        let mut out = Batch {
            batch: n,
            window: w,
            x: vec![0.0; n * self.config.in_bands * w * w],
            y: vec![0.0; n * self.config.out_bands * w * w],
        };
        for b in 0..n {
            let (im, x, y) = tiles[b * tiles.len() / n];
            self.copy(im, (x, y), 0, b, &mut out);
        }
        Ok(out)
    }

    /// Sums over the valid pixels of the training split (input and target bands), from
    /// which the output head is fitted.
    pub fn pixel_stats(&self) -> PixelStats {
        let (cin, cout) = (self.config.in_bands, self.config.out_bands);
        let mut stats = PixelStats::new(cin, cout);
        let (mut x, mut y) = (vec![0.0; cin], vec![0.0; cout]);
        for r in &self.train {
            let im = &self.images[r.image];
            let plane = im.width * im.height;
            for p in r.rows.start * im.width..r.rows.end * im.width {
                if im.nodata[p] {
                    continue;
                }
                for (k, v) in x.iter_mut().enumerate() {
                    *v = im.input[k * plane + p];
                }
                for (k, v) in y.iter_mut().enumerate() {
                    *v = im.target[k * plane + p];
                }
                stats.add(&x, &y);
            }
        }
        stats
    }

    /// Counts the valid window positions of a region.
    fn count(&self, (image, rows): Rows) -> Region {
        let w = self.config.window;
        let im = &self.images[image];
        let mut valid = 0;
        if im.width >= w && rows.len() >= w {
            for y in rows.start..=rows.end - w {
                for x in 0..=im.width - w {
                    valid += u64::from(self.valid(image, x, y));
                }
            }
        }
        Region { image, rows, valid }
    }

    /// Whether the window at (`x`, `y`) of image `im` has at most `max_nodata` nodata.
    fn valid(&self, im: usize, x: usize, y: usize) -> bool {
        let w = self.config.window;
        let s = &self.integrals[im];
        let stride = self.images[im].width + 1;
        let at = |r: usize, c: usize| s[r * stride + c] as i64;
        let n = at(y + w, x + w) - at(y, x + w) - at(y + w, x) + at(y, x);
        n as f64 <= self.config.max_nodata * (w * w) as f64
    }

    fn no_valid(&self, set: &'static str) -> DataError {
        DataError::NoValidWindow {
            window: self.config.window,
            percent: self.config.max_nodata * 100.0,
            set,
        }
    }

    /// Copies the window at (`x`, `y`) of image `im`, transformed by `symmetry`, into slot `b`
    /// of `out`. Symmetry bits 0–1: quarter turns counterclockwise; bit 2: mirror left-right
    /// first. Output pixel (i, j) reads source pixel `source(i, j)`.
    fn copy(&self, im: usize, (x, y): (usize, usize), symmetry: u8, b: usize, out: &mut Batch) {
        let w = self.config.window;
        let image = &self.images[im];
        let plane = image.width * image.height;
        let (cin, cout) = (self.config.in_bands, self.config.out_bands);
        for i in 0..w {
            for j in 0..w {
                let (mut r, mut col) = (i, j);
                // Undo the quarter turns: out[i][j] = in[j][w-1-i] per turn.
                for _ in 0..(symmetry & 3) {
                    (r, col) = (col, w - 1 - r);
                }
                if symmetry & 4 != 0 {
                    col = w - 1 - col;
                }
                let src = (y + r) * image.width + x + col;
                for k in 0..cin {
                    out.x[((b * cin + k) * w + i) * w + j] = image.input[k * plane + src];
                }
                for k in 0..cout {
                    out.y[((b * cout + k) * w + i) * w + j] = image.target[k * plane + src];
                }
            }
        }
    }
}

/// (height+1)×(width+1) prefix sums of an image's nodata mask.
fn integral(im: &Image) -> Vec<u32> {
    let stride = im.width + 1;
    let mut s = vec![0u32; (im.height + 1) * stride];
    for y in 0..im.height {
        let mut row = 0;
        for x in 0..im.width {
            row += u32::from(im.nodata[y * im.width + x]);
            s[(y + 1) * stride + x + 1] = s[y * stride + x + 1] + row;
        }
    }
    s
}

/// A target raster to train on or score against and, optionally, the input raster paired
/// with it (same size and georeferencing).
#[cfg(feature = "geo")]
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The target raster (C_out bands).
    pub target: PathBuf,
    /// The paired input raster with C_in bands; `None`: the input is the luma of the
    /// target (C_in 1).
    pub input: Option<PathBuf>,
}

/// The input folder of a paired folder (see [`discover`]).
#[cfg(feature = "geo")]
pub const PAIRED_INPUT: &str = "input";
/// The target folder of a paired folder.
#[cfg(feature = "geo")]
pub const PAIRED_TARGET: &str = "target";
/// The panchromatic folder of a SpaceNet-2 area (1 band).
#[cfg(feature = "geo")]
pub const SPACENET_PAN: &str = "PAN";
/// The pan-sharpened RGB folder of a SpaceNet-2 area (3 bands).
#[cfg(feature = "geo")]
pub const SPACENET_RGB: &str = "RGB-PanSharpen";
/// The pan-sharpened multispectral folder of a SpaceNet-2 area (8 bands).
#[cfg(feature = "geo")]
pub const SPACENET_MUL: &str = "MUL-PanSharpen";

/// The sources at `paths` for a model with `in_bands` input and `out_bands` output bands.
///
/// - A file is a target raster with a luma input.
/// - A paired folder (one holding both [`PAIRED_INPUT`] and [`PAIRED_TARGET`] subfolders)
///   pairs `input/NAME` with `target/NAME` for every raster `NAME` of `target/`; each must
///   have its pair (an error names the one missing). For inputs of any band count, e.g.
///   RGB → multispectral.
/// - A SpaceNet-2 area folder (one holding a [`SPACENET_PAN`], [`SPACENET_RGB`] or
///   [`SPACENET_MUL`] subfolder; other subfolders such as `geojson/` are ignored) pairs
///   `<INPUT>/<INPUT>_<area>_img<N>.tif` with `<TARGET>/<TARGET>_<area>_img<N>.tif`: the
///   input folder is `PAN` for `in_bands` 1 and `RGB-PanSharpen` for 3; the target folder is
///   `MUL-PanSharpen` when the input is `RGB-PanSharpen` or `out_bands` is more than 3, else
///   `RGB-PanSharpen`. Images are matched by the name after the folder's prefix and sorted by
///   it; an image found in only one of the two folders is skipped with a warning on stderr.
/// - Any other folder is searched recursively (hidden entries skipped, sorted per folder):
///   SpaceNet areas in it are paired as above, other `*.tif` and `*.tiff` files are target
///   rasters with a luma input.
///
/// Errors: a missing path, nothing found, a SpaceNet area without the folders the band counts
/// ask for or in which no image pairs.
#[cfg(feature = "geo")]
pub fn discover(
    paths: &[PathBuf],
    in_bands: usize,
    out_bands: usize,
) -> Result<Vec<Source>, DataError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, (in_bands, out_bands), &mut out)?;
        } else if p.exists() {
            out.push(Source {
                target: p.clone(),
                input: None,
            });
        } else {
            return Err(crate::geo::RasterError::Missing(p.clone()).into());
        }
    }
    if out.is_empty() {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(DataError::NoRasters(list.join(", ")));
    }
    Ok(out)
}

/// The entries of `dir`, sorted, without hidden ones.
#[cfg(feature = "geo")]
fn entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |e: std::io::Error| crate::geo::RasterError::io(dir, e);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if !p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            found.push(p);
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `p` is a file named `*.tif` or `*.tiff` (any case).
#[cfg(feature = "geo")]
fn is_tiff(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
    p.is_file() && (ext.eq_ignore_ascii_case("tif") || ext.eq_ignore_ascii_case("tiff"))
}

/// Adds the sources under folder `dir` (see [`discover`]).
#[cfg(feature = "geo")]
fn walk(dir: &Path, bands: (usize, usize), out: &mut Vec<Source>) -> Result<(), DataError> {
    if dir.join(PAIRED_INPUT).is_dir() && dir.join(PAIRED_TARGET).is_dir() {
        return paired_folder(dir, out);
    }
    let is_area = [SPACENET_PAN, SPACENET_RGB, SPACENET_MUL]
        .iter()
        .any(|f| dir.join(f).is_dir());
    if is_area {
        return spacenet_pairs(dir, bands, out);
    }
    for p in entries(dir)? {
        if p.is_dir() {
            walk(&p, bands, out)?;
        } else if is_tiff(&p) {
            out.push(Source {
                target: p,
                input: None,
            });
        }
    }
    Ok(())
}

/// Adds the pairs of the paired folder `dir` (see [`discover`]).
#[cfg(feature = "geo")]
fn paired_folder(dir: &Path, out: &mut Vec<Source>) -> Result<(), DataError> {
    let targets: Vec<PathBuf> = entries(&dir.join(PAIRED_TARGET))?
        .into_iter()
        .filter(|p| is_tiff(p))
        .collect();
    if targets.is_empty() {
        return Err(DataError::NoRasters(
            dir.join(PAIRED_TARGET).display().to_string(),
        ));
    }
    for target in targets {
        let name = target.file_name().expect("a listed file has a name");
        let input = dir.join(PAIRED_INPUT).join(name);
        if !input.is_file() {
            return Err(DataError::Invalid(format!(
                "{}: no input {} to pair it with",
                target.display(),
                input.display()
            )));
        }
        out.push(Source {
            target,
            input: Some(input),
        });
    }
    Ok(())
}

/// Adds the input/target pairs of SpaceNet-2 area `dir` (see [`discover`]).
#[cfg(feature = "geo")]
fn spacenet_pairs(
    dir: &Path,
    (in_bands, out_bands): (usize, usize),
    out: &mut Vec<Source>,
) -> Result<(), DataError> {
    let input = match in_bands {
        1 => SPACENET_PAN,
        3 => SPACENET_RGB,
        n => {
            return Err(DataError::Invalid(format!(
                "{}: a SpaceNet-2 area gives inputs of 1 band ({SPACENET_PAN}) or 3 bands \
                 ({SPACENET_RGB}), not {n}",
                dir.display()
            )))
        }
    };
    let target = if input == SPACENET_RGB || out_bands > 3 {
        SPACENET_MUL
    } else {
        SPACENET_RGB
    };
    // Images by the name after the folder's prefix, without the extension.
    let list = |folder: &str| -> Result<std::collections::BTreeMap<String, PathBuf>, DataError> {
        let sub = dir.join(folder);
        if !sub.is_dir() {
            return Err(DataError::Invalid(format!(
                "{}: SpaceNet-2 area without {folder}/, which pairs {input} inputs with \
                 {target} targets (in_bands {in_bands}, out_bands {out_bands})",
                dir.display()
            )));
        }
        let prefix = format!("{folder}_");
        Ok(entries(&sub)?
            .into_iter()
            .filter(|p| is_tiff(p))
            .map(|p| {
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                (stem.strip_prefix(&prefix).unwrap_or(stem).to_string(), p)
            })
            .collect())
    };
    let (inputs, mut targets) = (list(input)?, list(target)?);
    let before = out.len();
    for (key, input_path) in inputs {
        match targets.remove(&key) {
            Some(target_path) => out.push(Source {
                target: target_path,
                input: Some(input_path),
            }),
            None => crate::console::note(&format!(
                "warning: {}: no {target}/{target}_{key}.tif to pair it with; skipped",
                input_path.display()
            )),
        }
    }
    for (key, target_path) in targets {
        crate::console::note(&format!(
            "warning: {}: no {input}/{input}_{key}.tif to pair it with; skipped",
            target_path.display()
        ));
    }
    if out.len() == before {
        return Err(DataError::Invalid(format!(
            "{}: no image of {input}/ pairs with one of {target}/ (expected names like \
             {input}_<area>_img<N>.tif and {target}_<area>_img<N>.tif)",
            dir.display()
        )));
    }
    Ok(())
}

/// A raster read whole: its values (band-major), nodata mask and band types.
#[cfg(feature = "geo")]
struct RawRaster {
    size: (usize, usize),
    values: Vec<f32>,
    nodata: Vec<bool>,
    dtypes: Vec<SampleType>,
}

#[cfg(feature = "geo")]
impl RawRaster {
    /// Reads bands `bands` (0-based; `None`: every band but alpha bands) of `path`; there
    /// must be `count` of them (the model's `what`, for messages), of types satcolor trains
    /// on. A pixel is nodata when any band read masks it (see
    /// [`crate::geo::Raster::read_masked`]: nodata values, alpha bands, mask files, NaN).
    fn read(
        path: &Path,
        bands: Option<&[usize]>,
        count: usize,
        what: &str,
    ) -> Result<(Self, crate::geo::Raster), DataError> {
        let raster = crate::geo::Raster::open(path)?;
        let bands = match bands {
            Some(b) => {
                raster.check_bands(b)?;
                b.to_vec()
            }
            None => {
                let b = raster.data_bands();
                if b.len() != count {
                    let alpha = raster.bands().len() - b.len();
                    return Err(DataError::Invalid(format!(
                        "{}: has {} bands{}, expected {count} ({what})",
                        path.display(),
                        b.len(),
                        if alpha > 0 {
                            format!(" besides {alpha} alpha band(s)")
                        } else {
                            String::new()
                        }
                    )));
                }
                b
            }
        };
        raster.check_not_paletted(&bands)?;
        let dtypes = bands
            .iter()
            .map(|&k| {
                SampleType::try_from(raster.bands()[k].dtype).map_err(|e| {
                    DataError::Invalid(format!("{}: band {}: {e}", path.display(), k + 1))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (values, valid) =
            raster.read_masked(&bands, (0, 0), (raster.width(), raster.height()))?;
        let raw = Self {
            size: (raster.width(), raster.height()),
            values,
            nodata: valid.into_iter().map(|ok| !ok).collect(),
            dtypes,
        };
        Ok((raw, raster))
    }
}

/// Per band of `rasters`, its normalization: Byte /255, other types the percentile stretch
/// of the valid pixels of the training rows `train` of them (at most about 2 million samples
/// per band). `names` name the rasters for messages.
#[cfg(feature = "geo")]
fn normalizations(
    rasters: &[RawRaster],
    names: &[&Path],
    train: &[Rows],
) -> Result<Vec<BandNorm>, DataError> {
    let bands = rasters[0].dtypes.len();
    (0..bands)
        .map(|k| {
            let dtype = rasters[0].dtypes[k];
            if let Some(i) = rasters.iter().position(|r| r.dtypes[k] != dtype) {
                return Err(DataError::Invalid(format!(
                    "band {} is {} in {} but {} in {}",
                    k + 1,
                    dtype.name(),
                    names[0].display(),
                    rasters[i].dtypes[k].name(),
                    names[i].display()
                )));
            }
            if dtype == SampleType::Byte {
                return Ok(BandNorm::byte());
            }
            let pixels: usize = train
                .iter()
                .map(|(i, rows)| rows.len() * rasters[*i].size.0)
                .sum();
            let step = pixels.div_ceil(2_000_000).max(1);
            let mut samples = Vec::new();
            for (i, rows) in train {
                let r = &rasters[*i];
                let (width, plane) = (r.size.0, r.nodata.len());
                let band = &r.values[k * plane..(k + 1) * plane];
                samples.extend(
                    (rows.start * width..rows.end * width)
                        .step_by(step)
                        .filter(|&p| !r.nodata[p])
                        .map(|p| band[p]),
                );
            }
            BandNorm::stretch(dtype, &mut samples)
                .map_err(|e| DataError::Invalid(format!("band {}: {e}", k + 1)))
        })
        .collect()
}

#[cfg(feature = "geo")]
impl WindowSampler {
    /// A sampler over the sources found at `paths` (see [`discover`]) for the band counts of
    /// `config`.
    pub fn from_paths(paths: &[PathBuf], config: DataConfig) -> Result<Self, DataError> {
        Self::from_split_paths(paths, &[], config)
    }

    /// A sampler that trains on the sources found at `paths` and holds out those found at
    /// `held_out` (when there are any; else it splits as [`DataConfig::val_fraction`] says).
    pub fn from_split_paths(
        paths: &[PathBuf],
        held_out: &[PathBuf],
        config: DataConfig,
    ) -> Result<Self, DataError> {
        let (ci, co) = (config.in_bands, config.out_bands);
        let sources = discover(paths, ci, co)?;
        let held = if held_out.is_empty() {
            Vec::new()
        } else {
            discover(held_out, ci, co)?
        };
        Self::open_split(&sources, &held, config)
    }

    /// Reads every source whole, normalizes it with the stretch of the training split (see
    /// the module's documentation), marks as nodata each pixel that is nodata in any band of
    /// the target or the input, and builds the sampler. Either every source has a paired
    /// input raster (with `in_bands` bands, the size and geotransform of its target) or none
    /// has, and then `in_bands` must be 1 (the luma).
    pub fn open(sources: &[Source], config: DataConfig) -> Result<Self, DataError> {
        Self::open_split(sources, &[], config)
    }

    /// [`open`](Self::open) over `train` and `held_out` sources: the held-out ones are read
    /// the same way and normalized with the training data's mappings, and only they are
    /// held out.
    pub fn open_split(
        train: &[Source],
        held_out: &[Source],
        config: DataConfig,
    ) -> Result<Self, DataError> {
        let Some(first) = train.first() else {
            return Err(DataError::NoRasters("the given data".into()));
        };
        let sources: Vec<Source> = train.iter().chain(held_out).cloned().collect();
        let sources = sources.as_slice();
        let is_held = |i: usize| i >= train.len();
        let paired = sources.iter().filter(|s| s.input.is_some()).count();
        if paired != 0 && paired != sources.len() {
            return Err(DataError::Invalid(
                "either every target raster has a paired input raster or none has".into(),
            ));
        }
        if paired == 0 && config.in_bands != 1 {
            return Err(DataError::Invalid(format!(
                "{}: no paired input raster, and only a one-band input can be derived (the \
                 luma); in_bands {} needs pairs such as a SpaceNet-2 area folder",
                first.target.display(),
                config.in_bands
            )));
        }
        if let Some(b) = &config.bands {
            if b.len() != config.out_bands {
                return Err(DataError::Invalid(format!(
                    "{} target bands selected, but out_bands is {}",
                    b.len(),
                    config.out_bands
                )));
            }
        }
        let mut targets = Vec::with_capacity(sources.len());
        let mut inputs = Vec::with_capacity(paired);
        for s in sources {
            let (mut target, target_raster) = RawRaster::read(
                &s.target,
                config.bands.as_deref(),
                config.out_bands,
                "out_bands",
            )?;
            if let Some(path) = &s.input {
                let (mut input, input_raster) =
                    RawRaster::read(path, None, config.in_bands, "in_bands")?;
                target_raster.check_same_grid(&input_raster)?;
                for (a, b) in input.nodata.iter_mut().zip(target.nodata.iter_mut()) {
                    *a |= *b;
                    *b = *a;
                }
                inputs.push(input);
            }
            targets.push(target);
        }
        let heights: Vec<usize> = targets.iter().map(|t| t.size.1).collect();
        let held: Vec<bool> = (0..sources.len()).map(is_held).collect();
        let (train_rows, _) = split(&heights, &held, &config);
        let target_names: Vec<&Path> = sources.iter().map(|s| s.target.as_path()).collect();
        let input_names: Vec<&Path> = sources.iter().filter_map(|s| s.input.as_deref()).collect();
        let norm_out = normalizations(&targets, &target_names, &train_rows)?;
        let norm_in = if inputs.is_empty() {
            None
        } else {
            Some(normalizations(&inputs, &input_names, &train_rows)?)
        };
        let mut inputs = inputs.into_iter();
        let mut images = Vec::with_capacity(sources.len());
        for (i, (s, mut target)) in sources.iter().zip(targets).enumerate() {
            let plane = target.nodata.len();
            normalize_planes(&mut target.values, plane, &norm_out);
            let input = match (&norm_in, inputs.next()) {
                (Some(norms), Some(mut input)) => {
                    normalize_planes(&mut input.values, plane, norms);
                    Some(input.values)
                }
                _ => None,
            };
            let image = Image::new(
                s.target.display().to_string(),
                target.size,
                target.values,
                input,
                target.nodata,
            )?;
            images.push(if is_held(i) {
                image.into_held_out()
            } else {
                image
            });
        }
        Self::new(images, config, norm_in, norm_out)
    }
}

/// Normalizes band-major planes of `plane` values, plane `k` with `norms[k]`.
#[cfg(feature = "geo")]
fn normalize_planes(values: &mut [f32], plane: usize, norms: &[BandNorm]) {
    for (band, norm) in values.chunks_exact_mut(plane).zip(norms) {
        band.iter_mut().for_each(|v| *v = norm.normalize(*v));
    }
}
