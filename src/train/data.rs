//! Training data: seeded random windows of color rasters, with flips and 90° rotations, as
//! batches of grayscale inputs and color targets ready to upload.
//!
//! Rasters are read whole into memory here (the simple reader of the training issue) and
//! normalized per the spec: Byte bands /255; other types by the per-band 0.5 %–99.5 %
//! percentile stretch of the loaded data. The gray input is the luma 0.299 R + 0.587 G +
//! 0.114 B of the normalized bands unless a paired single-band gray raster is given.
//!
//! Reproducibility: batch `k` of a sampler depends only on its seed, its data and `k`
//! ([`SamplerState`]), so a resumed run draws exactly the batches the uninterrupted run would.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::ops::Range;

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

/// How a band's values map to [0, 1]: `clamp((v - lo) / (hi - lo), 0, 1)`; stored in
/// checkpoints so that inference normalizes the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandNorm {
    /// GDAL's name of the band's type (`Byte`, `UInt16`, ...).
    pub dtype: String,
    /// Value mapped to 0.
    pub lo: f32,
    /// Value mapped to 1.
    pub hi: f32,
}

impl BandNorm {
    /// The normalization of Byte bands: v / 255.
    pub fn byte() -> Self {
        Self {
            dtype: "Byte".into(),
            lo: 0.0,
            hi: 255.0,
        }
    }

    /// The 0.5 % and 99.5 % percentiles of `values` (nearest rank) as lo and hi.
    pub fn stretch(dtype: &str, values: &mut [f32]) -> Result<Self, DataError> {
        if values.is_empty() {
            return Err(DataError::Invalid(format!(
                "cannot compute the percentile stretch of a {dtype} band without valid pixels"
            )));
        }
        let rank = |q: f64| ((values.len() - 1) as f64 * q).round() as usize;
        let (a, b) = (rank(0.005), rank(0.995));
        let lo = *values.select_nth_unstable_by(a, f32::total_cmp).1;
        let hi = *values.select_nth_unstable_by(b, f32::total_cmp).1;
        Ok(Self {
            dtype: dtype.into(),
            lo,
            hi: if hi > lo { hi } else { lo + 1.0 },
        })
    }

    /// The normalized value of `v`.
    pub fn apply(&self, v: f32) -> f32 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
}

/// The luma of normalized R, G, B.
pub fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// One raster in memory, normalized.
#[derive(Clone, Debug)]
pub struct Image {
    /// Where it came from (for messages).
    pub name: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Target bands, band-major planes of `width`×`height`.
    pub color: Vec<f32>,
    /// The gray input plane.
    pub gray: Vec<f32>,
    /// Whether each pixel is nodata (in any band), row-major.
    pub nodata: Vec<bool>,
}

impl Image {
    /// An image from normalized target bands (band-major) and, when given, a gray plane;
    /// without one the gray plane is the luma of three target bands.
    pub fn new(
        name: impl Into<String>,
        (width, height): (usize, usize),
        color: Vec<f32>,
        gray: Option<Vec<f32>>,
        nodata: Vec<bool>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let plane = width * height;
        if plane == 0 || color.len() % plane != 0 || color.is_empty() || nodata.len() != plane {
            return Err(DataError::Invalid(format!(
                "{name}: buffers do not fit {width}x{height} pixels"
            )));
        }
        let gray = match gray {
            Some(g) if g.len() == plane => g,
            Some(_) => {
                return Err(DataError::Invalid(format!(
                    "{name}: the gray plane does not fit {width}x{height} pixels"
                )))
            }
            None if color.len() == 3 * plane => (0..plane)
                .map(|i| luma(color[i], color[plane + i], color[2 * plane + i]))
                .collect(),
            None => {
                return Err(DataError::Invalid(format!(
                "{name}: deriving gray by luma needs 3 bands, found {}; give a paired gray raster",
                color.len() / plane
            )))
            }
        };
        Ok(Self {
            name,
            width,
            height,
            color,
            gray,
            nodata,
        })
    }

    fn bands(&self) -> usize {
        self.color.len() / (self.width * self.height)
    }
}

/// Settings of a [`WindowSampler`].
#[derive(Clone, Debug)]
pub struct DataConfig {
    /// Window side W in pixels.
    pub window: usize,
    /// Target bands C_out every raster must have.
    pub out_bands: usize,
    /// Largest share of nodata pixels a window may hold (the spec's default: 0.01).
    pub max_nodata: f64,
    /// Share of the data held out for validation: whole rasters when there are several
    /// (spread evenly over the sorted list), else the bottom rows of the only raster. 0 holds
    /// nothing out.
    pub val_fraction: f64,
    /// Seed of the window draws.
    pub seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            window: 64,
            out_bands: 3,
            max_nodata: 0.01,
            val_fraction: 0.1,
            seed: 0,
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
    /// Gray inputs [B, 1, W, W].
    pub x: Vec<f32>,
    /// Color targets [B, C_out, W, W].
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
    norm_in: Vec<BandNorm>,
    norm_out: Vec<BandNorm>,
}

impl WindowSampler {
    /// A sampler over in-memory images whose bands were normalized with `norm_in` (gray) and
    /// `norm_out` (targets). Errors: no images, band counts other than `out_bands`, a window
    /// larger than every image, no window with little enough nodata.
    pub fn new(
        images: Vec<Image>,
        config: DataConfig,
        norm_in: Vec<BandNorm>,
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
            if im.bands() != config.out_bands {
                return Err(DataError::Invalid(format!(
                    "{}: has {} bands, expected {} (out_bands)",
                    im.name,
                    im.bands(),
                    config.out_bands
                )));
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
        let (train, val) = sampler.split();
        sampler.train = train.into_iter().map(|r| sampler.count(r)).collect();
        sampler.val = val.into_iter().map(|r| sampler.count(r)).collect();
        if sampler.train.iter().all(|r| r.valid == 0) {
            return Err(sampler.no_valid("training"));
        }
        Ok(sampler)
    }

    /// Normalizations of the gray input band and of the target bands.
    pub fn normalization(&self) -> (&[BandNorm], &[BandNorm]) {
        (&self.norm_in, &self.norm_out)
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
        let c = self.config.out_bands;
        out.batch = batch;
        out.window = w;
        out.x.resize(batch * w * w, 0.0);
        out.y.resize(batch * c * w * w, 0.0);
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
            let symmetry = rng.random_range(0..8u8);
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
        let c = self.config.out_bands;
        let mut out = Batch {
            batch: n,
            window: w,
            x: vec![0.0; n * w * w],
            y: vec![0.0; n * c * w * w],
        };
        for b in 0..n {
            let (im, x, y) = tiles[b * tiles.len() / n];
            self.copy(im, (x, y), 0, b, &mut out);
        }
        Ok(out)
    }

    /// Training and held-out regions: whole images when there are several (the held-out ones
    /// spread evenly over the list), else the top and bottom rows of the only one.
    #[allow(clippy::type_complexity)]
    fn split(&self) -> (Vec<(usize, Range<usize>)>, Vec<(usize, Range<usize>)>) {
        let n = self.images.len();
        let f = self.config.val_fraction;
        let whole = |i: usize| (i, 0..self.images[i].height);
        if f == 0.0 {
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
        let h = self.images[0].height;
        let held = ((h as f64 * f).round() as usize).max(self.config.window);
        if h >= held + self.config.window {
            (vec![(0, 0..h - held)], vec![(0, h - held..h)])
        } else {
            (vec![whole(0)], Vec::new())
        }
    }

    /// Counts the valid window positions of a region.
    fn count(&self, (image, rows): (usize, Range<usize>)) -> Region {
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
        let c = self.config.out_bands;
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
                out.x[(b * w + i) * w + j] = image.gray[src];
                for k in 0..c {
                    out.y[((b * c + k) * w + i) * w + j] = image.color[k * plane + src];
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

/// A color raster to train on and, optionally, the gray raster paired with it (same size
/// and georeferencing) that replaces the luma input.
#[cfg(feature = "geo")]
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The target raster (C_out bands).
    pub color: std::path::PathBuf,
    /// A single-band gray input raster.
    pub gray: Option<std::path::PathBuf>,
}

/// The rasters at `paths`: files as given, directories searched recursively for `*.tif` and
/// `*.tiff` (hidden files skipped), sorted per directory. Errors for a missing path and when
/// nothing is found.
#[cfg(feature = "geo")]
pub fn find_rasters(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, DataError> {
    use crate::geo::RasterError;
    use std::path::{Path, PathBuf};
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
        let entries = std::fs::read_dir(dir).map_err(|e| RasterError::io(dir, e))?;
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in entries {
            found.push(entry.map_err(|e| RasterError::io(dir, e))?.path());
        }
        found.sort();
        for p in found {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if p.is_dir() {
                walk(&p, out)?;
            } else if lower.ends_with(".tif") || lower.ends_with(".tiff") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(RasterError::Missing(p.clone()).into());
        }
    }
    if out.is_empty() {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(DataError::NoRasters(list.join(", ")));
    }
    Ok(out)
}

/// A raster read whole: its values (band-major), nodata mask and band types.
#[cfg(feature = "geo")]
struct RawRaster {
    size: (usize, usize),
    values: Vec<f32>,
    nodata: Vec<bool>,
    dtypes: Vec<crate::geo::DataType>,
}

#[cfg(feature = "geo")]
impl RawRaster {
    /// Reads `path`, which must have `bands` bands.
    fn read(path: &std::path::Path, bands: usize) -> Result<(Self, crate::geo::Raster), DataError> {
        let raster = crate::geo::Raster::open(path)?;
        if raster.bands().len() != bands {
            return Err(DataError::Invalid(format!(
                "{}: has {} bands, expected {bands}",
                path.display(),
                raster.bands().len()
            )));
        }
        let values = raster.read_all()?;
        let plane = raster.width() * raster.height();
        let mut nodata = vec![false; plane];
        for (band, info) in values.chunks_exact(plane).zip(raster.bands()) {
            let nd = info.nodata.map(|v| v as f32);
            for (m, &v) in nodata.iter_mut().zip(band) {
                *m |= v.is_nan() || nd == Some(v);
            }
        }
        let raw = Self {
            size: (raster.width(), raster.height()),
            values,
            nodata,
            dtypes: raster.bands().iter().map(|b| b.dtype).collect(),
        };
        Ok((raw, raster))
    }
}

/// Per band of `rasters`, its normalization: Byte /255, other types the percentile stretch
/// of the valid pixels of all of them (at most about 2 million samples per band).
#[cfg(feature = "geo")]
fn normalizations(rasters: &[&RawRaster], bands: usize) -> Result<Vec<BandNorm>, DataError> {
    use crate::geo::DataType;
    (0..bands)
        .map(|k| {
            let dtype = rasters[0].dtypes[k];
            if rasters.iter().any(|r| r.dtypes[k] != dtype) {
                return Err(DataError::Invalid(format!(
                    "band {} has different pixel types in different rasters",
                    k + 1
                )));
            }
            if dtype == DataType::Byte {
                return Ok(BandNorm::byte());
            }
            let pixels: usize = rasters.iter().map(|r| r.nodata.len()).sum();
            let step = pixels.div_ceil(2_000_000).max(1);
            let mut samples = Vec::new();
            for r in rasters {
                let plane = r.nodata.len();
                let band = &r.values[k * plane..(k + 1) * plane];
                samples.extend(
                    (0..plane)
                        .step_by(step)
                        .filter(|&i| !r.nodata[i])
                        .map(|i| band[i]),
                );
            }
            BandNorm::stretch(dtype.name(), &mut samples)
        })
        .collect()
}

#[cfg(feature = "geo")]
impl WindowSampler {
    /// A sampler over the rasters found at `paths` (see [`find_rasters`]), gray by luma.
    pub fn from_paths(paths: &[std::path::PathBuf], config: DataConfig) -> Result<Self, DataError> {
        let sources: Vec<Source> = find_rasters(paths)?
            .into_iter()
            .map(|color| Source { color, gray: None })
            .collect();
        Self::open(&sources, config)
    }

    /// Reads every source whole, normalizes it (see the module's documentation), marks as
    /// nodata each pixel that is nodata in any band, and builds the sampler. A gray raster
    /// must have one band and the size and geotransform of its color raster.
    pub fn open(sources: &[Source], config: DataConfig) -> Result<Self, DataError> {
        if sources.is_empty() {
            return Err(DataError::NoRasters("the given data".into()));
        }
        let mut colors = Vec::with_capacity(sources.len());
        let mut grays = Vec::with_capacity(sources.len());
        for s in sources {
            let (color, color_raster) = RawRaster::read(&s.color, config.out_bands)?;
            let gray = match &s.gray {
                None => None,
                Some(g) => {
                    let (mut gray, gray_raster) = RawRaster::read(g, 1)?;
                    let same_place = match (
                        color_raster.georef().geo_transform,
                        gray_raster.georef().geo_transform,
                    ) {
                        (Some(a), Some(b)) => a
                            .iter()
                            .zip(&b)
                            .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1.0)),
                        (None, None) => true,
                        _ => false,
                    };
                    if gray.size != color.size || !same_place {
                        return Err(DataError::Invalid(format!(
                            "{} and {} do not match: sizes {:?} and {:?}, or different geotransforms",
                            s.color.display(),
                            g.display(),
                            color.size,
                            gray.size
                        )));
                    }
                    gray.nodata
                        .iter_mut()
                        .zip(&color.nodata)
                        .for_each(|(a, b)| *a |= b);
                    Some(gray)
                }
            };
            colors.push(color);
            grays.push(gray);
        }
        let color_refs: Vec<&RawRaster> = colors.iter().collect();
        let norm_out = normalizations(&color_refs, config.out_bands)?;
        let gray_refs: Vec<&RawRaster> = grays.iter().flatten().collect();
        let norm_in = match (gray_refs.len(), sources.len()) {
            (0, _) => vec![BandNorm {
                dtype: "luma".into(),
                lo: 0.0,
                hi: 1.0,
            }],
            (g, n) if g == n => normalizations(&gray_refs, 1)?,
            _ => {
                return Err(DataError::Invalid(
                    "either every color raster has a paired gray raster or none has".into(),
                ))
            }
        };
        let mut images = Vec::with_capacity(sources.len());
        for ((s, mut color), gray) in sources.iter().zip(colors).zip(grays) {
            let plane = color.nodata.len();
            for (k, band) in color.values.chunks_exact_mut(plane).enumerate() {
                band.iter_mut().for_each(|v| *v = norm_out[k].apply(*v));
            }
            let (gray_plane, nodata) = match gray {
                Some(g) => (
                    Some(g.values.iter().map(|&v| norm_in[0].apply(v)).collect()),
                    g.nodata,
                ),
                None => (None, color.nodata),
            };
            images.push(Image::new(
                s.color.display().to_string(),
                color.size,
                color.values,
                gray_plane,
                nodata,
            )?);
        }
        Self::new(images, config, norm_in, norm_out)
    }
}
