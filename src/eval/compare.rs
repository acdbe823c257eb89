//! A colorization and the baselines (gray, linear) scored against the truth on whole images
//! with nodata masks, and the scores of several images combined (what `satcolor eval`
//! reports).
//!
//! Values are normalized to [0, 1] with the checkpoint's target mappings, so PSNR is over
//! the target's data range (`hi − lo` of each band, 255 for Byte). Pixel-wise metrics (MSE,
//! PSNR, SAM, ERGAS, per-band RMSE, ΔE, colorfulness) use the valid pixels only; SSIM needs
//! whole windows, so it runs on the full image with nodata pixels set to 0 in both the
//! prediction and the truth (they then agree there).

use super::metrics::{self, MetricError, Nchw};
use serde::Serialize;

/// The figures of one prediction against the truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalScores {
    /// Mean squared error of the normalized values.
    pub mse: f64,
    /// Peak signal-to-noise ratio in dB over the data range (from `mse`).
    pub psnr_db: f64,
    /// SSIM (Gaussian 11×11, σ 1.5, K1 0.01, K2 0.03), per band then averaged; `None` for
    /// images smaller than 11×11.
    pub ssim: Option<f64>,
    /// Mean spectral angle in degrees; `None` when no pixel has one (all zero vectors).
    pub sam_deg: Option<f64>,
    /// ERGAS with resolution ratio 1; `None` when a true band's mean is 0.
    pub ergas: Option<f64>,
    /// RMSE of each band (normalized values).
    pub rmse_per_band: Vec<f64>,
    /// Hasler–Süsstrunk colorfulness on the 0–255 scale (signed means); `None` unless there
    /// are exactly three bands (R, G, B).
    pub colorfulness: Option<f64>,
    /// Mean CIEDE2000 ΔE₀₀, the bands read as sRGB (see [`metrics::delta_e2000`]); `None`
    /// unless there are exactly three bands.
    pub delta_e: Option<f64>,
}

/// A model's scores next to the baselines', on some number of valid pixels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Valid pixels scored.
    pub pixels: usize,
    /// The model's colorization.
    pub model: EvalScores,
    /// The gray input replicated into every band (models with one input band).
    pub gray: Option<EvalScores>,
    /// The linear baseline `A·x + b` fitted on the training split (see
    /// [`crate::eval::baseline::linear`]).
    pub linear: Option<EvalScores>,
    /// Colorfulness of the real imagery (three-band targets).
    pub truth_colorfulness: Option<f64>,
}

/// Scores `pred` against `truth`: `bands` planes of `width`×`height` normalized values,
/// over the pixels where `valid` is true. Errors when the sizes do not fit or no pixel is
/// valid.
pub fn score(
    pred: &[f32],
    truth: &[f32],
    valid: &[bool],
    bands: usize,
    (width, height): (usize, usize),
) -> Result<EvalScores, MetricError> {
    let (pred_v, truth_v, n) = valid_pixels(pred, truth, valid, bands)?;
    let flat = Nchw::new(1, bands, 1, n);
    let mse = metrics::mse(&pred_v, &truth_v, flat)?;
    let ssim = if width >= 11 && height >= 11 {
        let masked = |x: &[f32]| -> Vec<f32> {
            x.chunks_exact(valid.len())
                .flat_map(|plane| {
                    plane
                        .iter()
                        .zip(valid)
                        .map(|(&v, &ok)| if ok { v } else { 0.0 })
                })
                .collect()
        };
        let shape = Nchw::new(1, bands, height, width);
        Some(metrics::ssim(&masked(pred), &masked(truth), shape, 1.0)?)
    } else {
        None
    };
    Ok(EvalScores {
        mse,
        psnr_db: psnr(mse),
        ssim,
        sam_deg: defined(metrics::sam(&pred_v, &truth_v, flat))?,
        ergas: defined(metrics::ergas(&pred_v, &truth_v, flat))?,
        rmse_per_band: metrics::per_band_rmse(&pred_v, &truth_v, flat)?,
        colorfulness: colorfulness(&pred_v, bands, n)?,
        delta_e: if bands == 3 {
            Some(metrics::delta_e2000(&pred_v, &truth_v, flat)?)
        } else {
            None
        },
    })
}

impl Comparison {
    /// The stronger baseline (lower MSE) and its name, `gray` or `linear`.
    pub fn best_baseline(&self) -> Option<(&'static str, &EvalScores)> {
        match (&self.gray, &self.linear) {
            (Some(g), Some(l)) if l.mse < g.mse => Some(("linear", l)),
            (Some(g), _) => Some(("gray", g)),
            (None, Some(l)) => Some(("linear", l)),
            (None, None) => None,
        }
    }

    /// One line: whether the model beats the stronger baseline on MSE (empty without one).
    pub fn verdict(&self) -> String {
        let Some((name, b)) = self.best_baseline() else {
            return String::new();
        };
        if self.model.mse < b.mse {
            format!(
                "the model beats the stronger baseline ({name}): MSE {:.1}% lower, PSNR +{:.2} dB\n",
                100.0 * (1.0 - self.model.mse / b.mse),
                self.model.psnr_db - b.psnr_db
            )
        } else {
            format!(
                "the model does NOT beat the stronger baseline ({name}): MSE {:.1}% higher, \
                 PSNR {:.2} dB\n",
                100.0 * (self.model.mse / b.mse - 1.0),
                self.model.psnr_db - b.psnr_db
            )
        }
    }
}

/// Colorfulness of the valid pixels of `image` when it has three bands.
pub fn truth_colorfulness(
    image: &[f32],
    valid: &[bool],
    bands: usize,
) -> Result<Option<f64>, MetricError> {
    let (v, _, n) = valid_pixels(image, image, valid, bands)?;
    colorfulness(&v, bands, n)
}

/// The scores of several images as one: means weighted by valid pixels (per-band RMSE as
/// the root of the weighted mean square), PSNR from the combined MSE; an optional figure
/// counts over the images that have it. `None` for an empty list.
pub fn combine(parts: &[Comparison]) -> Option<Comparison> {
    let pixels: usize = parts.iter().map(|p| p.pixels).sum();
    if parts.is_empty() || pixels == 0 {
        return None;
    }
    let scores = |pick: &dyn Fn(&Comparison) -> Option<&EvalScores>| -> Option<EvalScores> {
        let items: Vec<(&EvalScores, usize)> = parts
            .iter()
            .filter_map(|p| pick(p).map(|s| (s, p.pixels)))
            .collect();
        if items.len() != parts.len() {
            return None;
        }
        let mean = |f: &dyn Fn(&EvalScores) -> Option<f64>| {
            weighted(items.iter().map(|(s, n)| (f(s), *n)))
        };
        let mse = mean(&|s| Some(s.mse)).expect("every part has an MSE");
        let bands = items[0].0.rmse_per_band.len();
        Some(EvalScores {
            mse,
            psnr_db: psnr(mse),
            ssim: mean(&|s| s.ssim),
            sam_deg: mean(&|s| s.sam_deg),
            ergas: mean(&|s| s.ergas),
            rmse_per_band: (0..bands)
                .map(|b| {
                    mean(&|s| s.rmse_per_band.get(b).map(|r| r * r))
                        .unwrap_or(f64::NAN)
                        .sqrt()
                })
                .collect(),
            colorfulness: mean(&|s| s.colorfulness),
            delta_e: mean(&|s| s.delta_e),
        })
    };
    Some(Comparison {
        pixels,
        model: scores(&|p| Some(&p.model))?,
        gray: scores(&|p| p.gray.as_ref()),
        linear: scores(&|p| p.linear.as_ref()),
        truth_colorfulness: weighted(parts.iter().map(|p| (p.truth_colorfulness, p.pixels))),
    })
}

/// The mean of the present values weighted by their counts; `None` if none is present.
fn weighted(items: impl Iterator<Item = (Option<f64>, usize)>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for (v, count) in items {
        if let Some(v) = v {
            sum += v * count as f64;
            n += count;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// PSNR in dB for data range 1.
fn psnr(mse: f64) -> f64 {
    super::metrics::psnr_of_mse(mse, 1.0)
}

/// A metric that may be undefined on the data: `Ok(None)` then; shape errors stay errors.
fn defined(r: Result<f64, MetricError>) -> Result<Option<f64>, MetricError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(MetricError::Undefined(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn colorfulness(values: &[f32], bands: usize, n: usize) -> Result<Option<f64>, MetricError> {
    if bands != 3 {
        return Ok(None);
    }
    metrics::colorfulness(values, Nchw::new(1, 3, 1, n)).map(Some)
}

/// The valid pixels of both images, band-major, and how many there are.
fn valid_pixels(
    pred: &[f32],
    truth: &[f32],
    valid: &[bool],
    bands: usize,
) -> Result<(Vec<f32>, Vec<f32>, usize), MetricError> {
    let plane = valid.len();
    if bands == 0 || pred.len() != bands * plane || truth.len() != bands * plane {
        return Err(MetricError::Shape(format!(
            "{} and {} values do not make {bands} bands of {plane} pixels",
            pred.len(),
            truth.len()
        )));
    }
    let n = valid.iter().filter(|&&v| v).count();
    if n == 0 {
        return Err(MetricError::Undefined("no valid pixel to score".into()));
    }
    let pick = |x: &[f32]| -> Vec<f32> {
        x.chunks_exact(plane)
            .flat_map(|p| p.iter().zip(valid).filter(|(_, &ok)| ok).map(|(&v, _)| v))
            .collect()
    };
    Ok((pick(pred), pick(truth), n))
}
