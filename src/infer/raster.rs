//! Colorizing a raster file into a GeoTIFF through GDAL (the `geo` feature), strip by strip:
//! the input is read and the output written a window's height of rows at a time, so memory
//! is bounded by the raster's width, not its size.

use super::colorizer::{DeviceColorizer, DEFAULT_BATCH};
use super::tiles::{positions, tile_rows, Rect, RowSink, RowSource};
use crate::device::Device;
use crate::geo::{GeoTiffWriter, Raster};
use crate::model::normalization::{common_type, BandNorm, SampleType};
use crate::model::Checkpoint;
use crate::Error;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Where the model's gray input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrayFrom {
    /// The only band of a one-band raster; the luma of bands 1–3 of a raster with three or
    /// more.
    Auto,
    /// Luma 0.299·R + 0.587·G + 0.114·B of three bands (1, 2, 3 or `--bands`), each
    /// normalized with the model's target mappings.
    Luma,
    /// One band, 1-based.
    Band(usize),
}

impl std::str::FromStr for GrayFrom {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Self::Auto),
            "luma" => Ok(Self::Luma),
            _ => s
                .strip_prefix("band:")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n >= 1)
                .map(Self::Band)
                .ok_or_else(|| {
                    Error::Input(format!(
                        "--gray-from {s}: expected auto, luma or band:N with N from 1"
                    ))
                }),
        }
    }
}

/// Settings of a [`ColorizeJob`].
#[derive(Clone, Debug, PartialEq)]
pub struct ColorizeOptions {
    /// Overlap of neighbouring tiles in pixels; `None` is a quarter window.
    pub overlap: Option<usize>,
    /// Tiles per batch.
    pub batch: usize,
    /// How a gray input is formed (models with one input band).
    pub gray_from: GrayFrom,
    /// 1-based input bands: the model's C_in bands, or the R, G, B of a luma input.
    pub bands: Option<Vec<usize>>,
    /// Whether batches run as a replayed launch graph (`--cuda-graphs`, GPU devices;
    /// [`DeviceColorizer::set_graphs`]).
    pub graphs: bool,
    /// Whether the output is a Cloud Optimized GeoTIFF with overviews (`--cog`;
    /// [`GeoTiffWriter::cloud_optimized`]).
    pub cog: bool,
}

impl Default for ColorizeOptions {
    fn default() -> Self {
        Self {
            overlap: None,
            batch: DEFAULT_BATCH,
            gray_from: GrayFrom::Auto,
            bands: None,
            graphs: false,
            cog: false,
        }
    }
}

/// How the model's input is made from the raster's bands.
#[derive(Clone, Debug, PartialEq)]
enum InputMode {
    /// The bands (0-based) as they are, one per input band.
    Direct(Vec<usize>),
    /// The luma of three bands (0-based), normalized with the target's first three mappings.
    Luma([usize; 3]),
}

/// Everything checked before any output is written: the input raster, how the model's
/// input is formed from it, and the output's type and nodata value.
pub struct ColorizeJob {
    ckpt: Checkpoint,
    input: Raster,
    output: PathBuf,
    mode: InputMode,
    /// The mappings of the bands read: the model's input mappings, or the target's first
    /// three for a luma input.
    input_norms: Vec<BandNorm>,
    overlap: usize,
    batch: usize,
    /// Output columns per column block (see [`tile_rows`]).
    block_cols: usize,
    out_type: SampleType,
    nodata: Option<f64>,
    /// Whether the output carries a validity mask (see [`GeoTiffWriter::add_mask`]).
    mask: bool,
    /// Whether batches replay a launch graph.
    graphs: bool,
    /// Whether the output is a Cloud Optimized GeoTIFF.
    cog: bool,
}

/// What a finished [`ColorizeJob`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct ColorizeSummary {
    /// Raster size in pixels.
    pub size: (usize, usize),
    /// The device's name.
    pub device: String,
    /// How the input was formed, e.g. `band 1` or `luma of bands 1,2,3`.
    pub input: String,
    /// Output bands and their data type.
    pub bands: usize,
    /// The output's data type.
    pub dtype: SampleType,
    /// Tile overlap used.
    pub overlap: usize,
}

impl ColorizeJob {
    /// Checks that `input` fits `ckpt` (band count, band types, sizes) under `options` and
    /// that `output` is a new path different from the input; nothing is written yet.
    pub fn new(
        ckpt: Checkpoint,
        input: &Path,
        output: &Path,
        options: &ColorizeOptions,
    ) -> Result<Self> {
        ckpt.validate()?;
        let tiff = output
            .extension()
            .and_then(|e| e.to_str())
            .is_none_or(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"));
        if !tiff {
            return Err(Error::Input(format!(
                "{}: the output is a GeoTIFF: name it .tif or .tiff",
                output.display()
            ))
            .into());
        }
        crate::output::check_output(output, true)?;
        let raster = Raster::open(input)?;
        if same_file(input, output) {
            return Err(Error::Input(format!(
                "the output {} is the input: choose another path",
                output.display()
            ))
            .into());
        }
        let cfg = &ckpt.config;
        let w = cfg.window;
        let overlap = options.overlap.unwrap_or(w / 4);
        if overlap >= w {
            return Err(Error::Input(format!(
                "--overlap {overlap} must be smaller than the model's window {w}"
            ))
            .into());
        }
        if options.batch == 0 {
            return Err(Error::Input("--batch must be at least 1".into()).into());
        }
        let count = raster.bands().len();
        let pick = |b: usize| -> Result<usize> {
            if b == 0 || b > count {
                return Err(Error::Input(format!(
                    "{}: band {b} out of range (the raster has {count} band{})",
                    input.display(),
                    if count == 1 { "" } else { "s" }
                ))
                .into());
            }
            Ok(b - 1)
        };
        let picked = |default: Vec<usize>| -> Result<Vec<usize>> {
            options
                .bands
                .clone()
                .unwrap_or(default)
                .into_iter()
                .map(pick)
                .collect()
        };
        let mode = if cfg.in_bands == 1 {
            let luma = |bands: Vec<usize>| -> Result<InputMode> {
                if bands.len() != 3 || cfg.out_bands < 3 {
                    return Err(Error::Input(format!(
                        "a luma input needs three bands and a model with at least three output \
                         bands; got {} band(s) for a model with {}",
                        bands.len(),
                        cfg.out_bands
                    ))
                    .into());
                }
                Ok(InputMode::Luma([bands[0], bands[1], bands[2]]))
            };
            match options.gray_from {
                GrayFrom::Band(b) => InputMode::Direct(vec![pick(b)?]),
                GrayFrom::Luma => luma(picked(vec![1, 2, 3])?)?,
                GrayFrom::Auto => match (&options.bands, count) {
                    (Some(b), _) if b.len() == 1 => InputMode::Direct(picked(vec![])?),
                    (Some(_), _) => luma(picked(vec![])?)?,
                    (None, 1) => InputMode::Direct(vec![0]),
                    (None, n) if n >= 3 => luma(vec![0, 1, 2])?,
                    (None, n) => {
                        return Err(Error::Input(format!(
                            "{}: has {n} bands; the model takes one gray band: choose it with \
                             --gray-from band:N",
                            input.display()
                        ))
                        .into())
                    }
                },
            }
        } else {
            if options.gray_from != GrayFrom::Auto {
                return Err(Error::Input(format!(
                    "--gray-from applies to models with one input band; this one takes {}",
                    cfg.in_bands
                ))
                .into());
            }
            let bands = picked((1..=cfg.in_bands).collect())?;
            if bands.len() != cfg.in_bands {
                return Err(Error::Input(format!(
                    "{}: the model takes {} input bands, {} given",
                    input.display(),
                    cfg.in_bands,
                    bands.len()
                ))
                .into());
            }
            InputMode::Direct(bands)
        };
        let (used, norms): (Vec<usize>, Vec<BandNorm>) = match &mode {
            InputMode::Direct(b) => (b.clone(), ckpt.normalization.input.clone()),
            InputMode::Luma(b) => (b.to_vec(), ckpt.normalization.output[..3].to_vec()),
        };
        check_band_types(&raster, &used, &norms)?;
        let out_type = common_type(&ckpt.normalization.output);
        // The input's nodata value, when the output type holds it; NaN for a Float32 output
        // of Float32 input bands that declare none (their NaN pixels are nodata).
        let band = &raster.bands()[used[0]];
        let float_nan = band.nodata.is_none()
            && used
                .iter()
                .any(|&b| raster.bands()[b].dtype == crate::geo::DataType::Float32);
        let nodata = match band.nodata {
            Some(v) => Some(v).filter(|&v| out_type.quantize(v) == v),
            None if float_nan && out_type == SampleType::Float32 => Some(f64::NAN),
            None => None,
        };
        // Invalid pixels without a nodata value to mark them: the output gets a mask.
        let mask =
            nodata.is_none() && (float_nan || used.iter().any(|&b| raster.bands()[b].masked));
        let (block_cols, batch) = plan(
            &ckpt,
            (raster.width(), raster.height()),
            overlap,
            options.batch,
        )?;
        Ok(Self {
            ckpt,
            input: raster,
            output: output.to_path_buf(),
            mode,
            input_norms: norms,
            overlap,
            batch,
            block_cols,
            out_type,
            nodata,
            mask,
            graphs: options.graphs,
            cog: options.cog,
        })
    }

    /// The output's band count.
    pub fn out_bands(&self) -> usize {
        self.ckpt.config.out_bands
    }

    /// The input's size in pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.input.width(), self.input.height())
    }

    /// Tiles per batch: the one asked for, lowered to the tiles of a column block and to
    /// what fits the memory budget.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Colorizes on `dev`, calling `progress` with the pixels done and the total; the
    /// output appears complete when this returns `Ok`, and not at all otherwise.
    pub fn run<D: Device>(
        &self,
        dev: &D,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ColorizeSummary> {
        let cfg = &self.ckpt.config;
        let mut colorizer = DeviceColorizer::new(dev, &self.ckpt, self.batch)?;
        colorizer.set_graphs(self.graphs)?;
        let size = self.size();
        // Twice a row of 256×256 tiles of a column block of the output (4-byte samples at
        // most) and of the input: tiles being filled and read stay cached, nothing more.
        let cols = (self.block_cols + 2 * cfg.window).min(size.0);
        let tile_row = |bands: usize| (cols.div_ceil(256) * 256 * 256 * 4 * bands) as u64;
        crate::geo::set_block_cache(
            2 * (tile_row(cfg.out_bands) + tile_row(self.input.bands().len())),
        );
        let mut writer = GeoTiffWriter::create(
            &self.output,
            size,
            cfg.out_bands,
            self.out_type,
            self.input.georef(),
            self.nodata,
            &self.ckpt.bands.output,
        )?;
        writer.keep_off_nodata();
        if self.cog {
            writer.cloud_optimized();
        }
        if self.mask {
            writer.add_mask()?;
        }
        let mut source = GeoSource {
            raster: &self.input,
            mode: &self.mode,
            norms: &self.input_norms,
            scratch: Vec::new(),
            mask: Vec::new(),
        };
        let mut sink = GeoSink {
            writer: &mut writer,
            norms: &self.ckpt.normalization.output,
            buf: Vec::new(),
            valid: 0,
            mask: self.mask,
        };
        tile_rows(
            &mut colorizer,
            size,
            self.overlap,
            self.block_cols,
            &mut source,
            &mut sink,
            progress,
        )?;
        if sink.valid == 0 {
            // Dropping the writer removes the partial output.
            return Err(Error::Input(format!(
                "{}: no valid pixel (every pixel is nodata or masked)",
                self.input.path().display()
            ))
            .into());
        }
        writer.finish()?;
        Ok(ColorizeSummary {
            size,
            device: dev.name(),
            input: match &self.mode {
                InputMode::Direct(b) => {
                    format!("band{} {}", if b.len() > 1 { "s" } else { "" }, list(b))
                }
                InputMode::Luma(b) => format!("luma of bands {}", list(b)),
            },
            bands: cfg.out_bands,
            dtype: self.out_type,
            overlap: self.overlap,
        })
    }
}

/// Most bytes of the strip buffers of one column block (input, blended output, weights).
const STRIP_BUDGET: u64 = 64 << 20;

/// The column block width and the batch of a job on a `size` raster: blocks as wide as
/// [`STRIP_BUDGET`] (and the memory budget) allow, in whole 256-pixel tiles of the output;
/// the batch at most the tiles across a block and what fits the memory budget. Errors (bad
/// input) when not even one tile fits.
fn plan(
    ckpt: &Checkpoint,
    (width, height): (usize, usize),
    overlap: usize,
    batch: usize,
) -> Result<(usize, usize)> {
    let cfg = &ckpt.config;
    let w = cfg.window as u64;
    let budget = crate::memory::budget();
    // Per column of a block: the input rows read, the mirrored strip, the sums, the weights
    // and the finished rows, 4 bytes each, and the mask.
    let per_col = w * (4 * (2 * cfg.in_bands as u64 + 2 * cfg.out_bands as u64 + 1) + 2);
    let strip = STRIP_BUDGET.min(budget / 4);
    let tiles = (strip / per_col) as usize / crate::geo::TILE * crate::geo::TILE;
    let block_cols = tiles.max(crate::geo::TILE).max(cfg.window);
    let span = (block_cols + 2 * cfg.window).min(width.max(cfg.window));
    let across = positions(span, cfg.window, overlap).len();
    // The generator's activations, its input on the device and the batch on the host.
    let per_tile = 4
        * (crate::infer::generator::floats_per_window(cfg) as u64
            + (2 * cfg.in_bands + cfg.out_bands) as u64 * w * w);
    let fixed = per_col * span as u64;
    let fits = crate::memory::fitting_batch(batch.min(across), fixed, per_tile);
    if fits == 0 {
        crate::memory::check(
            &format!(
                "colorizing {width}x{height} pixels in {}-pixel tiles",
                cfg.window
            ),
            fixed + per_tile,
        )?;
    }
    Ok((block_cols, fits.max(1)))
}

/// Checks that bands `bands` (0-based) of `raster` have the types the model's mappings
/// `norms` were made for (a Byte raster is no input for a model trained on UInt16 data).
pub fn check_band_types(raster: &Raster, bands: &[usize], norms: &[BandNorm]) -> Result<()> {
    let path = raster.path().display();
    raster.check_not_paletted(bands)?;
    for (&b, norm) in bands.iter().zip(norms) {
        let t = SampleType::try_from(raster.bands()[b].dtype)
            .map_err(|e| Error::Input(format!("{path}: band {}: {e}", b + 1)))?;
        if t != norm.dtype {
            return Err(Error::Input(format!(
                "{path}: band {} is {}, the model was trained on {} bands",
                b + 1,
                t.name(),
                norm.dtype.name()
            ))
            .into());
        }
    }
    Ok(())
}

/// `0,1,2` → `1,2,3`.
fn list(bands: &[usize]) -> String {
    bands
        .iter()
        .map(|b| (b + 1).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether two paths name the same file (the second may not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Rows of the input raster, normalized; nodata (and masked) pixels read as 0.
struct GeoSource<'a> {
    raster: &'a Raster,
    mode: &'a InputMode,
    norms: &'a [BandNorm],
    scratch: Vec<f32>,
    mask: Vec<bool>,
}

impl RowSource for GeoSource<'_> {
    fn read_rows(&mut self, r: Rect, values: &mut [f32], valid: &mut [bool]) -> Result<()> {
        let n = r.pixels();
        let bands: &[usize] = match self.mode {
            InputMode::Direct(b) => b,
            InputMode::Luma(b) => b,
        };
        let (raw, mask) = self
            .raster
            .read_masked(bands, (r.x, r.y), (r.width, r.height))?;
        self.scratch = raw;
        self.mask = mask;
        valid.copy_from_slice(&self.mask);
        let norm = |k: usize, i: usize| self.norms[k].normalize(self.scratch[k * n + i]);
        match self.mode {
            InputMode::Direct(b) => {
                for k in 0..b.len() {
                    for i in 0..n {
                        values[k * n + i] = if valid[i] { norm(k, i) } else { 0.0 };
                    }
                }
            }
            InputMode::Luma(_) => {
                for i in 0..n {
                    values[i] = if valid[i] {
                        crate::train::data::luma(norm(0, i), norm(1, i), norm(2, i))
                    } else {
                        0.0
                    };
                }
            }
        }
        Ok(())
    }
}

/// Writes output rows in the target's units; nodata where the input is.
struct GeoSink<'a> {
    writer: &'a mut GeoTiffWriter,
    norms: &'a [BandNorm],
    buf: Vec<f32>,
    /// Valid pixels written so far.
    valid: usize,
    /// Whether to write the validity into the output's mask.
    mask: bool,
}

impl RowSink for GeoSink<'_> {
    fn write_rows(&mut self, r: Rect, values: &[f32], valid: &[bool]) -> Result<()> {
        let n = r.pixels();
        self.valid += valid.iter().filter(|&&v| v).count();
        self.buf.resize(values.len(), 0.0);
        for (k, norm) in self.norms.iter().enumerate() {
            for i in 0..n {
                self.buf[k * n + i] = if valid[i] {
                    norm.output(values[k * n + i]) as f32
                } else {
                    f32::NAN
                };
            }
        }
        // The mask first: the values' write flushes a finished row of tiles.
        if self.mask {
            self.writer
                .write_mask_window((r.x, r.y), (r.width, r.height), valid)?;
        }
        self.writer
            .write_window((r.x, r.y), (r.width, r.height), &self.buf)?;
        Ok(())
    }
}
