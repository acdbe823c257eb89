//! The defaults of `satcolor train` — and so of `satcolor demo` and `satcolor quality`,
//! which train through it: the setting that measured best on the real-imagery benchmark's
//! pan → RGB task within about 10 minutes of training on a 2-core CPU (docs/perf.md,
//! "Defaults that work"; spec § Training defaults). The write-up's values stay available
//! as flags: [`WRITE_UP_LR`] and [`LossConfig::write_up`].

use crate::model::{AdvLoss, LossConfig};

/// The model preset of a new run: the U-Net generator.
pub const PRESET: &str = "unet";
/// Learning rate of both networks (Adam).
pub const LR: f32 = 1e-3;
/// The write-up's learning rate.
pub const WRITE_UP_LR: f32 = 2e-4;
/// The loss weights: the MSE term leads, at a constant λ_G = 10⁴ (λ_D as in the write-up).
pub const LOSS: LossConfig = LossConfig {
    lambda_d: 1e-4,
    lambda_start: 1e4,
    lambda_end: 1e4,
    tau: 20000.0,
    adv: AdvLoss::NonSaturating,
};
/// Windows per batch.
pub const BATCH: usize = 16;
/// Iterations of a new run: about 10 minutes of the U-Net on a 2-core CPU.
pub const STEPS: u64 = 2400;
/// Flip and rotate the training windows.
pub const AUGMENT: bool = true;
/// The optimizer of both networks.
pub const OPTIMIZER: &str = "adam";
/// Iterations between checkpoints (and held-out scores).
pub const CHECKPOINT_EVERY: u64 = 200;
/// Iterations between log records.
pub const LOG_EVERY: u64 = 10;
