//! The training log: one [`LogRecord`] per logged step, stored as JSON lines in
//! `RUNDIR/log.jsonl`.

use serde::{Deserialize, Serialize};

/// One logged training step, one JSON object per line of `log.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The step number (1-based: the step that has just finished).
    pub step: u64,
    /// The discriminator's loss L_D at this step.
    pub d_loss: f32,
    /// The generator's loss L_G at this step.
    pub g_loss: f32,
    /// The mean squared error between G(x) and the truth at this step.
    pub mse: f32,
    /// The weight λ_G(t) of the MSE term at this step.
    pub lambda_g: f32,
    /// Training throughput since the previous logged step, in samples per second (time
    /// spent drawing batches and training; checkpoints and pictures not counted).
    pub samples_per_s: f32,
    /// Scores on the held-out windows (at checkpoint steps of runs with held-out data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val: Option<ValScores>,
    /// The arithmetic of the device's convolutions during these steps (absent in logs
    /// written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<crate::device::precision::Precision>,
    /// Whether the steps ran as a replayed launch graph (`--cuda-graphs`; absent when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub graphs: bool,
}

/// Scores of G on the held-out windows (see [`crate::train::validate`]), beside the
/// baselines' and the real imagery's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValScores {
    /// PSNR of G's output (clamped to [0, 1]) in dB, data range 1.
    pub psnr_db: f32,
    /// Colorfulness of G's output (three-band outputs).
    pub colorfulness: Option<f32>,
    /// Colorfulness of the real imagery.
    pub real_colorfulness: Option<f32>,
    /// PSNR of the gray baseline (one input band).
    pub gray_psnr_db: Option<f32>,
    /// PSNR of the linear baseline.
    pub linear_psnr_db: f32,
}
