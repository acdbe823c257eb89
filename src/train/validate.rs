//! Scores on held-out windows during training: at each checkpoint G runs on a fixed set of
//! held-out windows and the run logs its PSNR and colorfulness next to those of the gray and
//! linear baselines and of the real imagery, so `loss.png` shows whether training still
//! helps.
//!
//! The windows are the non-overlapping held-out tiles ([`WindowSampler::validation`], at
//! most [`VAL_WINDOWS`]); outputs are clamped to [0, 1] (what a raster can hold) and scored
//! as one image (all their pixels together), as `satcolor eval` scores a raster.

use super::data::{Batch, WindowSampler};
use super::log::ValScores;
use crate::device::Device;
use crate::eval::baseline::{gray_replicated, linear};
use crate::eval::metrics::{colorfulness, psnr, Nchw};
use crate::model::{Generator, HeadTensors, ModelResult};

/// Most held-out windows scored at each checkpoint.
pub const VAL_WINDOWS: usize = 64;

/// The held-out windows and what does not change during a run: the baselines' PSNR and
/// the real imagery's colorfulness.
pub struct Validator {
    windows: Batch,
    gray_psnr_db: Option<f32>,
    linear_psnr_db: f32,
    real_colorfulness: Option<f32>,
}

impl Validator {
    /// The validator of `sampler`'s held-out data, with the linear baseline of `head`;
    /// `None` when there is no held-out window.
    pub fn new(sampler: &WindowSampler, head: &HeadTensors) -> Option<Self> {
        let windows = sampler.validation(VAL_WINDOWS).ok()?;
        let w = windows.window;
        let (n, cin) = (windows.batch, head.in_bands);
        let shape_x = Nchw::new(n, cin, w, w);
        let cout = windows.y.len() / (n * w * w);
        let psnr = |pred: &[f32]| psnr_db(pred, &windows.y, n, cout, w);
        let gray_psnr_db = (cin == 1)
            .then(|| gray_replicated(&windows.x, shape_x, cout).ok())
            .flatten()
            .map(|g| psnr(&g));
        let linear_psnr_db = psnr(&linear(&windows.x, shape_x, head));
        let real_colorfulness = colorfulness_of(&windows.y, n, cout, w);
        Some(Validator {
            windows,
            gray_psnr_db,
            linear_psnr_db,
            real_colorfulness,
        })
    }

    /// Runs `g` on the held-out windows (in batches of its size, the last one padded with
    /// copies) and scores its outputs. `x` is a device buffer of one input batch.
    pub fn score<D: Device>(
        &self,
        dev: &D,
        g: &mut Generator<D>,
        x: &mut D::Buf,
    ) -> ModelResult<ValScores> {
        let (n, w) = (self.windows.batch, self.windows.window);
        let per_x = g.input_len() / g.batch();
        let per_y = g.output_len() / g.batch();
        let mut out = Vec::with_capacity(n * per_y);
        let mut chunk = vec![0.0f32; g.input_len()];
        for first in (0..n).step_by(g.batch()) {
            for (b, slot) in chunk.chunks_exact_mut(per_x).enumerate() {
                let i = (first + b).min(n - 1);
                slot.copy_from_slice(&self.windows.x[i * per_x..(i + 1) * per_x]);
            }
            dev.write(x, &chunk)?;
            g.forward(dev, x)?;
            let y = dev.download(g.output())?;
            let take = (n - first).min(g.batch());
            out.extend_from_slice(&y[..take * per_y]);
        }
        out.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        let cout = per_y / (w * w);
        Ok(ValScores {
            psnr_db: psnr_db(&out, &self.windows.y, n, cout, w),
            colorfulness: colorfulness_of(&out, n, cout, w),
            real_colorfulness: self.real_colorfulness,
            gray_psnr_db: self.gray_psnr_db,
            linear_psnr_db: self.linear_psnr_db,
        })
    }
}

/// PSNR in dB (data range 1) of `pred` against `truth`, `[n, c, w, w]` each.
fn psnr_db(pred: &[f32], truth: &[f32], n: usize, c: usize, w: usize) -> f32 {
    psnr(pred, truth, Nchw::new(n, c, w, w), 1.0).unwrap_or(f64::NAN) as f32
}

/// The colorfulness of all pixels of `[n, 3, w, w]` windows together (as one image); `None`
/// unless there are three bands.
fn colorfulness_of(v: &[f32], n: usize, c: usize, w: usize) -> Option<f32> {
    if c != 3 {
        return None;
    }
    let plane = w * w;
    let mut bands = Vec::with_capacity(v.len());
    for k in 0..3 {
        for window in v.chunks_exact(3 * plane) {
            bands.extend_from_slice(&window[k * plane..(k + 1) * plane]);
        }
    }
    colorfulness(&bands, Nchw::new(1, 3, 1, n * plane))
        .ok()
        .map(|c| c as f32)
}
