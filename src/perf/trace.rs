//! The launches of the two workloads the time model predicts, traced on the emulator with
//! its counters (the `emu-counters` build): one training iteration (G forward, a D step, a
//! G step through the updated D, Adam on both, as `satcolor train` runs them) and one
//! inference batch of colorize (G's forward pass alone), with the kernel variants of
//! `SATCOLOR_KERNELS` (device::gpu::variants). The values are constants: only the
//! launches and their memory traffic matter, and every kernel's work is independent of them.

use crate::device::emu::{EmuExec, EmuOptions, LaunchCounters};
use crate::device::gpu::{GpuDevice, Variants};
use crate::device::precision::Precision;
use crate::device::Device;
use crate::infer::generator::InferenceGenerator;
use crate::model::{Bands, HeadTensors, ModelConfig, Normalization};
use crate::train::defaults;
use crate::train::optim::OptimizerConfig;
use crate::train::step::Trainer;
use crate::Error;

/// What a trace ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One training iteration at the given batch.
    Train,
    /// One batch of colorize's inference.
    Infer,
}

/// The launches of one workload, in order, with how long tracing them took.
pub struct Trace {
    /// Every launch with its counters (blocks sampled as asked).
    pub launches: Vec<LaunchCounters>,
    /// Seconds the emulator took.
    pub seconds: f64,
}

/// Runs `workload` of `cfg` at `batch` on the counting emulator with its convolutions in
/// `precision`, tracing `sample_blocks` blocks of every launch (0: all) and scaling them
/// to the grid.
pub fn trace(
    cfg: &ModelConfig,
    batch: usize,
    workload: Workload,
    sample_blocks: u32,
    precision: Precision,
) -> anyhow::Result<Trace> {
    if !EmuExec::has_counters() {
        return Err(Error::Input(
            "the time model needs the emulator's counters: build with the emu-counters feature \
             (cargo run --profile perf --features emu-counters -- perfmodel …)"
                .into(),
        )
        .into());
    }
    if workload == Workload::Train {
        precision.check_training()?;
    }
    let open = |p: Precision| -> anyhow::Result<GpuDevice<EmuExec>> {
        let exec = EmuExec::new(EmuOptions {
            sample_blocks,
            ..EmuOptions::default()
        })?;
        Ok(GpuDevice::with_variants(exec, Variants::from_env()?).with_precision(p))
    };
    // The model is built in FP32 storage; a 16-bit precision's inference runs on a device
    // of its own.
    let dev = open(if precision.storage().is_some() {
        precision.math()
    } else {
        precision
    })?;
    let opt = OptimizerConfig::adam(defaults::LR);
    let mut t = Trainer::new(&dev, cfg, batch.max(1), 1, defaults::LOSS, opt, opt)?;
    // A luma-like sensor model, so that the head's consistency projection has work to do.
    let mut head = HeadTensors::unfitted(cfg.in_bands, cfg.out_bands);
    let luma = [0.299, 0.587, 0.114];
    for (i, w) in head.sensor_weight.iter_mut().enumerate() {
        *w = luma[i % 3];
    }
    t.g.set_head(&dev, &head)?;
    let start = std::time::Instant::now();
    match workload {
        Workload::Train => {
            let x = vec![0.5f32; t.g.input_len()];
            let y = vec![0.5f32; t.g.output_len()];
            t.set_batch(&dev, &x, &y)?;
            dev.exec().take_counters();
            t.step(&dev)?;
        }
        Workload::Infer => {
            let ckpt = t.checkpoint(
                &dev,
                Normalization::byte(cfg),
                Bands::default_for(cfg),
                false,
            )?;
            let dev = if precision.storage().is_some() {
                &open(precision)?
            } else {
                &dev
            };
            let mut g = InferenceGenerator::from_checkpoint(dev, &ckpt, batch.max(1))?;
            let x = dev.upload(&vec![0.5f32; g.input_len()])?;
            dev.exec().take_counters();
            g.forward(dev, &x)?;
            return Ok(Trace {
                launches: dev.exec().take_counters(),
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Trace {
        launches: dev.exec().take_counters(),
        seconds,
    })
}
