//! `satcolor eval` on rasters (the `geo` feature): each held-out target raster is colorized
//! from its input (a paired input raster, or the luma of its own bands as in training) and
//! scored, with the gray baseline (one input band), the linear baseline (the checkpoint's
//! fitted base map, or one fitted with [`fit_linear`]) and the real imagery's colorfulness.
//!
//! Each raster is read whole: evaluation is meant for held-out scenes and tiles, not for
//! rasters larger than memory (use `satcolor colorize` for those).

use super::baseline::linear;
use super::compare::{combine, score, truth_colorfulness, Comparison};
use super::metrics::Nchw;
use crate::device::Device;
use crate::geo::Raster;
use crate::infer::raster::check_band_types;
use crate::infer::{DeviceColorizer, ImageData};
use crate::model::normalization::BandNorm;
use crate::model::{Checkpoint, HeadTensors, PixelStats};
use crate::train::data::{luma, Source};
use crate::Error;
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The scores of one raster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RasterEval {
    /// The target raster.
    pub target: PathBuf,
    /// The paired input raster, if any (else the gray is the target's luma).
    pub input: Option<PathBuf>,
    /// Its scores.
    #[serde(flatten)]
    pub scores: Comparison,
}

/// What `satcolor eval` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// The device that ran the model.
    pub device: String,
    /// Tile overlap used.
    pub overlap: usize,
    /// Where the linear baseline comes from: `checkpoint` (the consistent head's base map,
    /// fitted on the training split) or `fitted on PATHS`; `None` without one.
    pub linear_fit: Option<String>,
    /// Every raster's scores.
    pub rasters: Vec<RasterEval>,
    /// All rasters together (see [`combine`]).
    pub overall: Comparison,
}

/// The linear baseline a report uses: `fitted` when given (with where it came from), else
/// the checkpoint's own base map (consistent head), else none.
pub struct LinearBaseline {
    /// The fitted map (its base map is the baseline).
    pub head: HeadTensors,
    /// Where it comes from, for the report.
    pub origin: String,
}

impl LinearBaseline {
    /// The consistent head's base map of `ckpt`, if it has one.
    pub fn of_checkpoint(ckpt: &Checkpoint) -> Option<Self> {
        let head = HeadTensors::from_tensors(&ckpt.tensors, &ckpt.config).ok()?;
        Some(LinearBaseline {
            head,
            origin: "checkpoint".into(),
        })
    }
}

/// Colorizes and scores every source on `dev` (see the module docs), with `linear` as the
/// linear baseline. Errors: a raster whose band count or band types do not fit the model, a
/// pair that does not match, a raster with no valid pixel.
pub fn evaluate<D: Device>(
    dev: &D,
    ckpt: &Checkpoint,
    sources: &[Source],
    overlap: usize,
    batch: usize,
    linear: Option<&LinearBaseline>,
) -> Result<EvalReport> {
    let mut colorizer = DeviceColorizer::new(dev, ckpt, batch)?;
    let mut rasters = Vec::with_capacity(sources.len());
    for s in sources {
        let head = linear.map(|l| &l.head);
        let scores = evaluate_one(&mut colorizer, ckpt, s, overlap, head)?;
        rasters.push(RasterEval {
            target: s.target.clone(),
            input: s.input.clone(),
            scores,
        });
    }
    let parts: Vec<Comparison> = rasters.iter().map(|r| r.scores.clone()).collect();
    let overall = combine(&parts).ok_or_else(|| Error::Input("nothing to evaluate".into()))?;
    Ok(EvalReport {
        device: dev.name(),
        overlap,
        linear_fit: linear.map(|l| l.origin.clone()),
        rasters,
        overall,
    })
}

/// The linear baseline fitted by least squares on the valid pixels of `sources` (training
/// rasters: target and input, normalized with the checkpoint's mappings), as a consistent
/// head would fit it; for checkpoints without one (the raw head).
pub fn fit_linear(ckpt: &Checkpoint, sources: &[Source]) -> Result<LinearBaseline> {
    let (cin, cout) = (ckpt.config.in_bands, ckpt.config.out_bands);
    let mut stats = PixelStats::new(cin, cout);
    let (mut x, mut y) = (vec![0.0; cin], vec![0.0; cout]);
    for s in sources {
        let (input, truth, valid) = read_pair(ckpt, s)?;
        let plane = valid.len();
        for p in (0..plane).filter(|&p| valid[p]) {
            for (k, v) in x.iter_mut().enumerate() {
                *v = input.values[k * plane + p];
            }
            for (k, v) in y.iter_mut().enumerate() {
                *v = truth.values[k * plane + p];
            }
            stats.add(&x, &y);
        }
    }
    let paths: Vec<String> = sources
        .iter()
        .map(|s| s.target.display().to_string())
        .collect();
    Ok(LinearBaseline {
        head: stats.fit()?,
        origin: format!("fitted on {}", paths.join(", ")),
    })
}

/// A raster read whole, normalized with `norms`, with its validity mask.
fn read_normalized(path: &Path, norms: &[BandNorm], what: &str) -> Result<(ImageData, Raster)> {
    let raster = Raster::open(path)?;
    // Alpha bands are masks (read_masked applies them), not data.
    let bands = raster.data_bands();
    let count = bands.len();
    if count != norms.len() {
        return Err(Error::Input(format!(
            "{}: has {count} bands, the model's {what} has {}",
            path.display(),
            norms.len()
        ))
        .into());
    }
    check_band_types(&raster, &bands, norms)?;
    let (w, h) = (raster.width(), raster.height());
    let (mut values, valid) = raster.read_masked(&bands, (0, 0), (w, h))?;
    for (plane, norm) in values.chunks_exact_mut(w * h).zip(norms) {
        for (v, &ok) in plane.iter_mut().zip(&valid) {
            *v = if ok { norm.normalize(*v) } else { 0.0 };
        }
    }
    Ok((ImageData::with_mask(w, h, count, values, valid)?, raster))
}

/// The input and the truth of `source`, normalized with the checkpoint's mappings, and the
/// pixels valid in both.
fn read_pair(ckpt: &Checkpoint, source: &Source) -> Result<(ImageData, ImageData, Vec<bool>)> {
    let cfg = &ckpt.config;
    let norm = &ckpt.normalization;
    let (truth, target) = read_normalized(&source.target, &norm.output, "output")?;
    let (w, h) = (truth.width, truth.height);
    let plane = w * h;
    let mut input = match &source.input {
        Some(path) => {
            let (input, raster) = read_normalized(path, &norm.input, "input")?;
            target.check_same_grid(&raster)?;
            input
        }
        None if cfg.in_bands == 1 && cfg.out_bands >= 3 => {
            let gray = (0..plane)
                .map(|i| {
                    luma(
                        truth.values[i],
                        truth.values[plane + i],
                        truth.values[2 * plane + i],
                    )
                })
                .collect();
            ImageData::with_mask(w, h, 1, gray, truth.valid.clone())?
        }
        None => {
            return Err(Error::Input(format!(
                "{}: the model takes {} input band(s); give the paired input raster",
                source.target.display(),
                cfg.in_bands
            ))
            .into())
        }
    };
    let valid: Vec<bool> = input
        .valid
        .iter()
        .zip(&truth.valid)
        .map(|(a, b)| *a && *b)
        .collect();
    input.valid.clone_from(&valid);
    Ok((input, truth, valid))
}

/// Rounds normalized `values` (band-major planes) to what a raster of the target's types
/// would hold, and back to normalized values.
fn as_written(values: &mut [f32], plane: usize, norms: &[BandNorm]) {
    for (p, n) in values.chunks_exact_mut(plane).zip(norms) {
        for v in p.iter_mut() {
            *v = n.normalize(n.output(*v) as f32);
        }
    }
}

fn evaluate_one<D: Device>(
    colorizer: &mut DeviceColorizer<'_, D>,
    ckpt: &Checkpoint,
    source: &Source,
    overlap: usize,
    linear_head: Option<&HeadTensors>,
) -> Result<Comparison> {
    let cfg = &ckpt.config;
    let norms = &ckpt.normalization.output;
    let (input, truth, valid) = read_pair(ckpt, source)?;
    let (w, h) = (truth.width, truth.height);
    let plane = w * h;
    let mut pred = colorizer.colorize_normalized(&input, overlap)?;
    // Score what the output file would hold: the values rounded to the target's type.
    as_written(&mut pred.values, plane, norms);
    let c = cfg.out_bands;
    let scored = |values: &[f32]| {
        score(values, &truth.values, &valid, c, (w, h))
            .map_err(|e| Error::Input(format!("{}: {e}", source.target.display())))
    };
    let model = scored(&pred.values)?;
    let gray = if cfg.in_bands == 1 {
        let replicated: Vec<f32> = (0..c).flat_map(|_| input.values.iter().copied()).collect();
        Some(scored(&replicated)?)
    } else {
        None
    };
    let linear = match linear_head {
        Some(head) => {
            let mut base = linear(&input.values, Nchw::new(1, cfg.in_bands, h, w), head);
            as_written(&mut base, plane, norms);
            Some(scored(&base)?)
        }
        None => None,
    };
    Ok(Comparison {
        pixels: valid.iter().filter(|&&v| v).count(),
        model,
        gray,
        linear,
        truth_colorfulness: truth_colorfulness(&truth.values, &valid, c)?,
    })
}
