//! `satcolor eval` on rasters (the `geo` feature): each held-out target raster is colorized
//! from its gray input (a paired panchromatic raster, or the luma of its own bands as in
//! training) and scored, with the gray baseline and the real imagery's colorfulness.
//!
//! Each raster is read whole: evaluation is meant for held-out scenes and tiles, not for
//! rasters larger than memory (use `satcolor colorize` for those).

use super::compare::{combine, score, truth_colorfulness, Comparison};
use crate::device::Device;
use crate::geo::Raster;
use crate::infer::raster::check_band_types;
use crate::infer::{Colorizer, ImageData};
use crate::model::normalization::BandNorm;
use crate::model::Checkpoint;
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
    /// Every raster's scores.
    pub rasters: Vec<RasterEval>,
    /// All rasters together (see [`combine`]).
    pub overall: Comparison,
}

/// Colorizes and scores every source on `dev` (see the module docs). Errors: a raster whose
/// band count or band types do not fit the model, a pair that does not match, a raster with
/// no valid pixel.
pub fn evaluate<D: Device>(
    dev: &D,
    ckpt: &Checkpoint,
    sources: &[Source],
    overlap: usize,
    batch: usize,
) -> Result<EvalReport> {
    let mut colorizer = Colorizer::new(dev, ckpt, batch)?;
    let mut rasters = Vec::with_capacity(sources.len());
    for s in sources {
        let scores = evaluate_one(&mut colorizer, ckpt, s, overlap)?;
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
        rasters,
        overall,
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

fn evaluate_one<D: Device>(
    colorizer: &mut Colorizer<'_, D>,
    ckpt: &Checkpoint,
    source: &Source,
    overlap: usize,
) -> Result<Comparison> {
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
    let mut pred = colorizer.colorize_normalized(&input, overlap)?;
    // Score what the output file would hold: the values rounded to the target's type.
    for (p, n) in pred.values.chunks_exact_mut(plane).zip(&norm.output) {
        for v in p.iter_mut() {
            *v = n.normalize(n.dtype.quantize(n.denormalize(*v)) as f32);
        }
    }
    let c = cfg.out_bands;
    let model = score(&pred.values, &truth.values, &valid, c, (w, h))
        .map_err(|e| Error::Input(format!("{}: {e}", source.target.display())))?;
    let baseline = if cfg.in_bands == 1 {
        let replicated: Vec<f32> = (0..c).flat_map(|_| input.values.iter().copied()).collect();
        Some(score(&replicated, &truth.values, &valid, c, (w, h))?)
    } else {
        None
    };
    Ok(Comparison {
        pixels: valid.iter().filter(|&&v| v).count(),
        model,
        baseline,
        truth_colorfulness: truth_colorfulness(&truth.values, &valid, c)?,
    })
}
