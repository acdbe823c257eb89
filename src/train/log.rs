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
}
