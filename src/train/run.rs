//! A whole training run in a run directory: `satcolor train` without its command line.
//!
//! `RUNDIR` holds
//! - `model.safetensors`: the latest checkpoint (the spec's tensors and metadata, the
//!   optimizers' state, and under the extra metadata key `training` the [`TrainState`]:
//!   settings, schedule and the sampler's position), so that a resumed run continues exactly
//!   where the checkpoint was taken;
//! - `checkpoints/step-N.safetensors`: the same at periodic steps, the last [`KEEP_CHECKPOINTS`]
//!   kept;
//! - `log.jsonl`: one [`LogRecord`] per logged step, appended and flushed as training goes;
//! - `train.lock`: the PID of the trainer working in the directory, which holds an advisory
//!   lock on it (a second trainer is refused);
//! - `loss.png` (at each checkpoint and at the end; with the `plots` feature) and `samples/step-N.png` (input | output |
//!   truth of fixed held-out windows).
//!
//! Every file but the log is written atomically (temporary file, fsync, rename), and the
//! log's records after the checkpoint's step are dropped on resume, so killing the process
//! at any moment leaves a run that loads and resumes. Steady state allocates nothing on the
//! device and reuses the host batch buffers.

use super::data::{DataConfig, SamplerState, WindowSampler};
use super::log::LogRecord;
use super::optim::OptimizerConfig;
#[cfg(feature = "plots")]
use super::plot::plot_losses;
use super::samples::write_sample_grid;
use super::step::{StepLosses, Trainer};
use super::validate::Validator;
use crate::device::open::{run_on, DeviceVisitor};
use crate::device::precision::Precision;
use crate::device::{Device, DeviceSpec};
use crate::dist::{Collective, Single};
use crate::model::checkpoint::write_atomic;
use crate::model::{
    Bands, Checkpoint, Head, HeadTensors, LossConfig, ModelConfig, ModelError, Normalization,
};
use crate::Error;
use anyhow::Context;
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The metadata key of the [`TrainState`] JSON in a run's checkpoints.
pub const TRAINING_KEY: &str = "training";
/// Periodic checkpoints kept in `RUNDIR/checkpoints`.
pub const KEEP_CHECKPOINTS: usize = 3;
/// Most rows of a sample grid.
const SAMPLE_ROWS: usize = 8;

/// The file of the latest checkpoint in a run directory.
pub fn model_path(dir: &Path) -> PathBuf {
    dir.join("model.safetensors")
}

/// The log of a run directory.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("log.jsonl")
}

/// Everything besides the model's hyperparameters that decides a run's weights: the same
/// settings, data and checkpoint give the same weights (on the same device).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Rasters or directories of rasters to train on.
    pub data: Vec<PathBuf>,
    /// Windows per batch.
    pub batch: usize,
    /// `sgd` or `adam` (both networks).
    pub optimizer: String,
    /// Learning rate of both networks.
    pub lr: f32,
    /// Loss hyperparameters.
    pub loss: LossConfig,
    /// Seed of the initial weights and of the window draws.
    pub seed: u64,
    /// Global gradient norm each network is clipped to, if any.
    pub max_grad_norm: Option<f32>,
    /// Share of the data held out (for the sample grids).
    pub val_fraction: f64,
    /// Largest share of nodata pixels in a window.
    pub max_nodata: f64,
    /// The target rasters' bands to train on, 1-based, in order (`--bands 3,2,1`); `None`:
    /// every band but alpha bands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<usize>>,
    /// D's learning rate when it differs from G's (`lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d_lr: Option<f32>,
    /// Whether training windows are flipped and rotated (runs saved before the setting
    /// existed were).
    #[serde(default = "augment_default")]
    pub augment: bool,
    /// Held-out rasters scored at each checkpoint; when given, the training data is used
    /// whole (no `val_fraction` split).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub val_data: Vec<PathBuf>,
}

/// The augmentation of runs saved before [`TrainSettings::augment`] existed.
fn augment_default() -> bool {
    true
}

impl TrainSettings {
    /// G's optimizer.
    pub fn optimizer_config(&self) -> Result<OptimizerConfig, ModelError> {
        OptimizerConfig::from_name(&self.optimizer, self.lr)
    }

    /// D's optimizer: G's, at `d_lr` when set.
    pub fn d_optimizer_config(&self) -> Result<OptimizerConfig, ModelError> {
        OptimizerConfig::from_name(&self.optimizer, self.d_lr.unwrap_or(self.lr))
    }

    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        if self.batch == 0 {
            return bad("batch must be at least 1".into());
        }
        if self.data.is_empty() {
            return bad("no data given".into());
        }
        self.optimizer_config()?;
        self.d_optimizer_config()?;
        self.loss.validate()?;
        if let Some(m) = self.max_grad_norm {
            if !(m.is_finite() && m > 0.0) {
                return bad(format!("max grad norm must be positive, got {m}"));
            }
        }
        match &self.bands {
            Some(b) if b.is_empty() => bad("the band list is empty".into()),
            Some(b) if b.contains(&0) => bad("bands are numbered from 1".into()),
            _ => Ok(()),
        }
    }
}

/// When a run stops, logs, writes samples and checkpoints (in steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The step the run ends at (iterations in all, counting those before a resume).
    pub steps: u64,
    /// A checkpoint (and `loss.png`) every this many steps, and at the end.
    pub checkpoint_every: u64,
    /// A log record every this many steps, and at the end.
    pub log_every: u64,
    /// A sample grid every this many steps, and at the end.
    pub sample_every: u64,
}

impl Schedule {
    /// Checks that the run has steps and every period is at least 1.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (key, v) in [
            ("steps", self.steps),
            ("checkpoint-every", self.checkpoint_every),
            ("log-every", self.log_every),
            ("sample-every", self.sample_every),
        ] {
            if v == 0 {
                return Err(ModelError::Config(format!("{key} must be at least 1")));
            }
        }
        Ok(())
    }

    /// Whether step `s` is the end or a multiple of `every`.
    fn due(&self, s: u64, every: u64) -> bool {
        s == self.steps || s % every == 0
    }
}

/// What a run's checkpoints carry besides the model: the `training` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    /// The settings the run was started with.
    pub settings: TrainSettings,
    /// Its schedule.
    pub schedule: Schedule,
    /// Where the window sampler is (one batch per step).
    pub sampler: SamplerState,
}

/// A run to start or continue.
pub struct RunSpec {
    /// The run directory.
    pub dir: PathBuf,
    /// The device to train on.
    pub device: DeviceSpec,
    /// The arithmetic of its convolutions (the device's default when `None`,
    /// [`crate::device::precision`]); recorded in every log record.
    pub precision: Option<Precision>,
    /// Whether iterations run as a replayed launch graph (`--cuda-graphs`, GPU devices;
    /// [`Trainer::set_graphs`]); recorded in every log record. It does not change the
    /// weights, so it is not a [`TrainSettings`] entry.
    pub graphs: bool,
    /// The networks' hyperparameters.
    pub config: ModelConfig,
    /// The training settings.
    pub settings: TrainSettings,
    /// The schedule.
    pub schedule: Schedule,
    /// The checkpoint to continue from (a resumed run), with its sampler position.
    pub resume: Option<(Checkpoint, SamplerState)>,
}

/// How a run reports its progress (a progress bar, plain lines, or nothing).
pub trait Progress {
    /// Training starts on `device` (its [`Device::name`]) at step `first` of `total`.
    fn begin(&mut self, device: &str, first: u64, total: u64);
    /// Step `step` is done with `losses`.
    fn step(&mut self, step: u64, losses: &StepLosses);
    /// A record was logged.
    fn logged(&mut self, record: &LogRecord);
    /// Training ended (normally or not).
    fn finish(&mut self);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn begin(&mut self, _: &str, _: u64, _: u64) {}
    fn step(&mut self, _: u64, _: &StepLosses) {}
    fn logged(&mut self, _: &LogRecord) {}
    fn finish(&mut self) {}
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The device's name.
    pub device: String,
    /// The step the run is at.
    pub step: u64,
    /// The losses of the last step run (none when there was nothing to do).
    pub last: Option<StepLosses>,
    /// Device allocations made after the first training step (0 in steady state).
    pub loop_allocations: u64,
}

/// A loss became NaN or infinite: training stopped, the last good checkpoint stays.
#[derive(Debug, thiserror::Error)]
#[error(
    "training diverged: {loss} is {value} at step {step}; stopped, keeping the last good \
     checkpoint {} (step {checkpoint_step})", checkpoint.display()
)]
pub struct Diverged {
    /// The step whose loss is not finite.
    pub step: u64,
    /// Which loss (`d_loss`, `g_loss` or `mse`).
    pub loss: &'static str,
    /// Its value.
    pub value: f32,
    /// The last checkpoint written.
    pub checkpoint: PathBuf,
    /// Its step.
    pub checkpoint_step: u64,
}

/// Reads the resume point of the run in `dir`: its latest checkpoint and training state.
/// Errors (bad input) when the directory or its checkpoint is missing, unreadable,
/// truncated, or was not written by a training run.
pub fn read_run(dir: &Path) -> anyhow::Result<(Checkpoint, TrainState)> {
    if !dir.is_dir() {
        return Err(Error::Input(format!("{}: no such run directory", dir.display())).into());
    }
    let path = model_path(dir);
    if !path.is_file() {
        return Err(Error::Input(format!(
            "{}: no checkpoint (model.safetensors) to resume from",
            dir.display()
        ))
        .into());
    }
    let bad = |reason: String| ModelError::Checkpoint {
        path: path.clone(),
        reason,
    };
    let bytes = crate::model::checkpoint::read_file(&path)?;
    let ckpt = Checkpoint::from_bytes(&bytes).map_err(|e| match e {
        ModelError::Config(reason) => bad(reason),
        other => other,
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(TRAINING_KEY))
        .ok_or_else(|| {
            bad(format!(
                "no '{TRAINING_KEY}' metadata: not written by satcolor train, cannot resume"
            ))
        })?;
    let state: TrainState = serde_json::from_str(json)
        .map_err(|e| bad(format!("bad '{TRAINING_KEY}' metadata: {e}")))?;
    check_same_run(dir, &ckpt)?;
    if state.sampler.batches != ckpt.step {
        return Err(bad(format!(
            "the sampler drew {} batches but the checkpoint is at step {}",
            state.sampler.batches, ckpt.step
        ))
        .into());
    }
    Ok((ckpt, state))
}

/// Checks that `ckpt` (the run's model.safetensors) belongs to the run in `dir`: its model
/// config is that of the run's latest periodic checkpoint, when there is one. A checkpoint
/// of another run swapped in would otherwise be trained on and rotate the run's own away.
fn check_same_run(dir: &Path, ckpt: &Checkpoint) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.join("checkpoints")) else {
        return Ok(());
    };
    let latest = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u64 = name
                .strip_prefix("step-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .max();
    let Some((step, path)) = latest else {
        return Ok(());
    };
    let Ok(bytes) = crate::model::checkpoint::read_file(&path) else {
        return Ok(());
    };
    let config = SafeTensors::read_metadata(&bytes)
        .ok()
        .and_then(|(_, h)| h.metadata().as_ref()?.get("config").cloned())
        .and_then(|json| ModelConfig::from_json(&json).ok());
    match config {
        Some(c) if c != ckpt.config => Err(Error::Input(format!(
            "{}: its model config differs from the run's (checkpoints/step-{step}.safetensors): \
             not this run's checkpoint",
            model_path(dir).display()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Runs (or continues) training as `spec` says, reporting to `progress`.
///
/// Everything is checked (settings, data, device, checkpoint) before anything is written:
/// bad input leaves the run directory untouched. A fresh run refuses a directory that
/// already holds a checkpoint.
pub fn train(spec: RunSpec, progress: &mut dyn Progress) -> anyhow::Result<Summary> {
    train_ranked(spec, progress, Rc::new(Single))
}

/// As [`train`], as one rank of a data-parallel run of `collective.size()` ranks (see
/// [`crate::dist`]): `settings.batch` is the global batch, which every rank draws
/// whole (the same windows as one process draws) and of which it trains on its share (rank r
/// of N: windows r·B/N to (r+1)·B/N − 1); gradients and losses are averaged over the ranks
/// before every optimizer step. Rank 0 alone locks and writes the run directory (log,
/// checkpoints, samples, held-out scores), so a run resumes on any number of ranks that
/// divides its batch.
pub fn train_ranked(
    spec: RunSpec,
    progress: &mut dyn Progress,
    collective: Rc<dyn Collective>,
) -> anyhow::Result<Summary> {
    let RunSpec {
        dir,
        device,
        precision,
        graphs,
        config,
        settings,
        schedule,
        resume,
    } = spec;
    config.validate()?;
    settings.validate()?;
    schedule.validate()?;
    if let Some(p) = precision {
        p.check_training()?;
    }
    if graphs && settings.max_grad_norm.is_some() {
        return Err(Error::Input(
            "--cuda-graphs cannot be combined with --max-grad-norm: the clipping norm is read \
             on the host mid-iteration"
                .into(),
        )
        .into());
    }
    if let Some(b) = &settings.bands {
        if b.len() != config.out_bands {
            return Err(Error::Input(format!(
                "--bands lists {} band(s) but the model has out_bands {}",
                b.len(),
                config.out_bands
            ))
            .into());
        }
    }
    let start = resume.as_ref().map_or(0, |(c, _)| c.step);
    if schedule.steps == 0 || schedule.steps < start {
        return Err(Error::Input(format!(
            "--steps {} is before the run's step {start}: nothing to train",
            schedule.steps
        ))
        .into());
    }
    let ranks = collective.size();
    if settings.batch % ranks != 0 {
        return Err(Error::Input(format!(
            "--batch {} is the global batch of the {ranks} ranks: it must be a multiple of {ranks}",
            settings.batch
        ))
        .into());
    }
    if graphs && ranks > 1 {
        return Err(Error::Input(
            "--cuda-graphs cannot be used by the ranks of a data-parallel run: the gradients \
             are averaged through the host mid-iteration"
                .into(),
        )
        .into());
    }
    check_memory(&config, &settings)?;
    // The directory is rank 0's: another rank may see the first checkpoint rank 0 wrote.
    let lead = collective.rank() == 0;
    if lead && resume.is_none() && model_path(&dir).exists() {
        return Err(Error::Input(format!(
            "{} already holds a run (model.safetensors): continue it with --resume {0} or \
             choose another --out",
            dir.display()
        ))
        .into());
    }
    let mut sampler = WindowSampler::from_split_paths(
        &settings.data,
        &settings.val_data,
        DataConfig {
            window: config.window,
            in_bands: config.in_bands,
            out_bands: config.out_bands,
            bands: settings
                .bands
                .as_ref()
                .map(|b| b.iter().map(|&k| k - 1).collect()),
            max_nodata: settings.max_nodata,
            val_fraction: settings.val_fraction,
            seed: settings.seed,
            augment: settings.augment,
        },
    )?;
    let normalization = normalization(&sampler)?;
    let bands = Bands::default_for(&config);
    if let Some((ckpt, state)) = &resume {
        if ckpt.config != config {
            return Err(ModelError::Config(
                "the checkpoint's model config differs from the run's".into(),
            )
            .into());
        }
        if ckpt.normalization != normalization {
            return Err(Error::Input(format!(
                "the data's normalization {} differs from the checkpoint's {}: not the data \
                 the run was trained on",
                serde_json::to_string(&normalization)?,
                serde_json::to_string(&ckpt.normalization)?
            ))
            .into());
        }
        if state.seed != settings.seed {
            return Err(Error::Input("the sampler's seed differs from the run's".into()).into());
        }
        sampler.set_state(*state);
    }
    let held_out = held_out_batch(&sampler, settings.batch / ranks)?;
    // The output head's fit (a fresh run's head, and the linear baseline of the held-out
    // scores): least squares over the training split.
    let (fit, target_mean) = match &resume {
        Some((ckpt, _)) if config.head == Head::Consistent => (
            HeadTensors::from_tensors(&ckpt.tensors, &ckpt.config)?,
            None,
        ),
        _ => {
            let stats = sampler.pixel_stats();
            (stats.fit()?, Some(stats.target_mean()))
        }
    };
    let validator = Validator::new(&sampler, &fit);
    let run = Run {
        dir,
        config,
        settings,
        schedule,
        normalization,
        bands,
        sampler,
        held_out,
        fit,
        target_mean,
        validator,
        resume: resume.map(|(c, _)| c),
        progress,
        loop_allocations: 0,
        graphs,
        collective,
    };
    run_on(&device, precision, run)?
}

/// Refuses a batch whose training state cannot fit the memory budget, before anything is
/// allocated: first by the activations of G and D alone (so that no absurd batch or window
/// is ever built), then by the trainer's memory measured at batches of one and two windows,
/// with the sampler's batch buffers.
pub(crate) fn check_memory(config: &ModelConfig, settings: &TrainSettings) -> anyhow::Result<()> {
    let batch = settings.batch as u64;
    let w = config.window as u64;
    let d_floats: u64 = (0..5)
        .map(|i| config.disc_widths[i] as u64 * (w >> i) * (w >> i))
        .sum();
    let g_floats = crate::infer::generator::floats_per_window(config) as u64;
    let what = format!("training at --batch {batch}");
    let lower = 4 * (g_floats + d_floats);
    crate::memory::check(&what, lower.saturating_mul(batch.max(2)))?;
    let (fixed, per_window) = super::step::memory_use(
        config,
        settings.loss,
        settings.optimizer_config()?,
        settings.d_optimizer_config()?,
    )?;
    // The sampler's batch, the one being filled and the held-out batch.
    let data = 3 * 4 * (config.in_bands + config.out_bands) as u64 * w * w;
    let total = fixed.saturating_add(batch.saturating_mul(per_window + data));
    crate::memory::check(&what, total)?;
    Ok(())
}

/// The file whose lock says a trainer is working in a run directory; it holds the trainer's
/// PID.
pub const LOCK_FILE: &str = "train.lock";

/// Creates `dir` if needed and takes the advisory lock of its [`LOCK_FILE`], writing this
/// process's PID into it; the lock lasts as long as the returned file is open (the OS
/// releases it when the process ends, however it ends). Errors (bad input) naming the
/// holder's PID when another trainer holds it.
fn lock_run(dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function owns; non-blocking.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::WouldBlock {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(Error::Input(format!(
            "{} is in use by another trainer (PID {}): wait for it or stop it",
            dir.display(),
            holder.trim()
        ))
        .into());
    }
    use std::io::Seek;
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(file)
}

/// The held-out windows shown in the sample grids, padded to a whole batch by repeating
/// them, and how many are real. Without held-out data, a fixed batch of training windows
/// (drawn by a copy of the sampler, which does not move).
fn held_out_batch(
    sampler: &WindowSampler,
    batch: usize,
) -> anyhow::Result<(super::data::Batch, usize)> {
    let mut b = match sampler.validation(batch) {
        Ok(b) => b,
        Err(_) => {
            let mut copy = sampler.clone();
            copy.set_state(SamplerState {
                seed: sampler.state().seed ^ 0x5A3B_1E5D,
                batches: 0,
            });
            copy.next_batch(batch)?
        }
    };
    let rows = b.batch;
    let per_x = b.x.len() / rows;
    let per_y = b.y.len() / rows;
    for i in rows..batch {
        b.x.extend_from_within((i % rows) * per_x..(i % rows + 1) * per_x);
        b.y.extend_from_within((i % rows) * per_y..(i % rows + 1) * per_y);
    }
    b.batch = batch;
    Ok((b, rows))
}

/// The checkpoint's normalization from the sampler's: one mapping per paired input band, or
/// for a luma input the first target band's mapping (a gray raster of the same kind maps the
/// same way).
fn normalization(sampler: &WindowSampler) -> anyhow::Result<Normalization> {
    let (input, output) = sampler.normalization();
    let input = match input {
        Some(norms) => norms.to_vec(),
        None => vec![*output.first().ok_or_else(|| {
            super::data::DataError::Invalid("the data has no target bands".into())
        })?],
    };
    Ok(Normalization {
        input,
        output: output.to_vec(),
    })
}

/// A run being set up or going, generic over the device once [`run_on`] opened it.
struct Run<'p> {
    dir: PathBuf,
    config: ModelConfig,
    settings: TrainSettings,
    schedule: Schedule,
    normalization: Normalization,
    bands: Bands,
    sampler: WindowSampler,
    /// The sample grids' batch and how many of its windows are distinct.
    held_out: (super::data::Batch, usize),
    /// The output head fitted to the training split (a resumed consistent run's own).
    fit: HeadTensors,
    /// The training means of the output bands (where computed: not on a resumed consistent
    /// run), the raw head's initial last bias.
    target_mean: Option<Vec<f64>>,
    /// Scores G on held-out windows at each checkpoint, when there are any.
    validator: Option<Validator>,
    resume: Option<Checkpoint>,
    progress: &'p mut dyn Progress,
    /// Device allocations made after the first training step.
    loop_allocations: u64,
    /// Whether iterations replay a launch graph.
    graphs: bool,
    /// The ranks of the run (one for a single process).
    collective: Rc<dyn Collective>,
}

impl DeviceVisitor for Run<'_> {
    type Output = anyhow::Result<Summary>;

    fn visit<D: Device>(self, dev: &D) -> crate::Result<Self::Output> {
        Ok(self.go(dev))
    }
}

impl Run<'_> {
    /// Builds the trainer, prepares the directory and trains.
    fn go<D: Device>(mut self, dev: &D) -> anyhow::Result<Summary> {
        // Held until the run ends; taken once the device works, before anything is written.
        let lead = self.collective.rank() == 0;
        let _lock = if lead {
            let lock = lock_run(&self.dir)?;
            self.recheck_under_lock()?;
            Some(lock)
        } else {
            None
        };
        let s = &self.settings;
        let (opt, d_opt) = (s.optimizer_config()?, s.d_optimizer_config()?);
        let batch = s.batch / self.collective.size();
        let mut trainer = match &self.resume {
            Some(ckpt) => Trainer::from_checkpoint(dev, ckpt, batch, s.loss, opt, d_opt)?,
            None => {
                let mut t = Trainer::new(dev, &self.config, batch, s.seed, s.loss, opt, d_opt)?;
                match (self.config.head, &self.target_mean) {
                    (Head::Consistent, _) => t.g.set_head(dev, &self.fit)?,
                    (Head::Raw, Some(mean)) => {
                        let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
                        t.g.set_output_bias(dev, &mean)?;
                    }
                    (Head::Raw, None) => unreachable!("a fresh run computes the band means"),
                }
                t
            }
        };
        trainer.set_max_grad_norm(dev, s.max_grad_norm)?;
        trainer.set_graphs(dev, self.graphs)?;
        if self.collective.size() > 1 {
            trainer.set_collective(dev, self.collective.clone())?;
        }
        let sample_x = dev.upload(&self.held_out.0.x)?;
        let mut val_x = dev.alloc_zeros(trainer.g.input_len())?;
        let mut records = if lead {
            self.prepare_dir()?
        } else {
            Vec::new()
        };
        if lead && self.resume.is_none() {
            self.save(dev, &trainer, &records)?;
        }
        let device = dev.name();
        self.progress.begin(
            &format!(
                "{device} ({} convolutions{})",
                dev.precision(),
                if self.graphs { ", launch graphs" } else { "" }
            ),
            trainer.steps_done(),
            self.schedule.steps,
        );
        let result = self.train_loop(dev, &mut trainer, &sample_x, &mut val_x, &mut records);
        #[cfg(feature = "plots")]
        if result.is_err() && !records.is_empty() {
            // Best effort: the curves up to the failure help to see what happened.
            let _ = plot_losses(&records, &self.dir.join("loss.png"));
        }
        self.progress.finish();
        Ok(Summary {
            device,
            step: trainer.steps_done(),
            last: result?,
            loop_allocations: self.loop_allocations,
        })
    }

    /// Checks the run directory again under its lock: another trainer may have been faster
    /// (started the run, or moved it on) since it was read.
    fn recheck_under_lock(&self) -> anyhow::Result<()> {
        let on_disk = model_path(&self.dir);
        match &self.resume {
            None if on_disk.exists() => Err(Error::Input(format!(
                "{} already holds a run (model.safetensors)",
                self.dir.display()
            ))
            .into()),
            Some(ckpt) if read_run(&self.dir)?.0.step != ckpt.step => Err(Error::Input(format!(
                "{} changed while the run was being set up: resume it again",
                on_disk.display()
            ))
            .into()),
            _ => Ok(()),
        }
    }

    /// Trains up to the schedule's last step; returns the last step's losses.
    fn train_loop<D: Device>(
        &mut self,
        dev: &D,
        trainer: &mut Trainer<D>,
        sample_x: &D::Buf,
        val_x: &mut D::Buf,
        records: &mut Vec<LogRecord>,
    ) -> anyhow::Result<Option<StepLosses>> {
        let path = log_path(&self.dir);
        let lead = self.collective.rank() == 0;
        let mut log = if lead {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            Some(file)
        } else {
            None
        };
        let batch_size = self.settings.batch;
        // This rank's share of the global batch: windows [rank·per, (rank + 1)·per).
        let (rank, per) = (self.collective.rank(), batch_size / self.collective.size());
        let mut batch = super::data::Batch::default();
        let mut last = None;
        let mut allocs_after_first = None;
        let mut last_checkpoint = trainer.steps_done();
        // Time spent drawing batches and training since the last record, and its first step.
        let mut busy = (Duration::ZERO, trainer.steps_done());
        while trainer.steps_done() < self.schedule.steps {
            let t0 = Instant::now();
            self.sampler.next_batch_into(batch_size, &mut batch)?;
            let (xs, ys) = (batch.x.len() / batch_size, batch.y.len() / batch_size);
            let losses = trainer.train_step(
                dev,
                &batch.x[rank * per * xs..(rank + 1) * per * xs],
                &batch.y[rank * per * ys..(rank + 1) * per * ys],
            )?;
            busy.0 += t0.elapsed();
            let step = trainer.steps_done();
            if let Some((loss, value)) = non_finite(&losses) {
                return Err(Diverged {
                    step,
                    loss,
                    value,
                    checkpoint: model_path(&self.dir),
                    checkpoint_step: last_checkpoint,
                }
                .into());
            }
            let allocs = *allocs_after_first.get_or_insert(dev.alloc_count());
            last = Some(losses);
            self.progress.step(step, &losses);
            let checkpoint = self.schedule.due(step, self.schedule.checkpoint_every);
            let val = match (&self.validator, checkpoint && lead) {
                (Some(v), true) => Some(v.score(dev, &mut trainer.g, val_x)?),
                _ => None,
            };
            let logged = self.schedule.due(step, self.schedule.log_every) || val.is_some();
            if let (true, Some(log)) = (logged, log.as_mut()) {
                let secs = busy.0.as_secs_f64();
                let samples = ((step - busy.1) * batch_size as u64) as f64;
                busy = (Duration::ZERO, step);
                let record = LogRecord {
                    step,
                    d_loss: losses.d_loss,
                    g_loss: losses.g_loss,
                    mse: losses.mse,
                    lambda_g: losses.lambda_g,
                    samples_per_s: (samples / secs.max(1e-9)) as f32,
                    val,
                    precision: Some(dev.precision()),
                    graphs: self.graphs,
                };
                let mut line = serde_json::to_string(&record)?;
                line.push('\n');
                log.write_all(line.as_bytes())
                    .and_then(|()| log.flush())
                    .with_context(|| format!("appending to {}", path.display()))?;
                records.push(record);
                self.progress.logged(&record);
            }
            if lead && self.schedule.due(step, self.schedule.sample_every) {
                self.write_samples(dev, trainer, sample_x, step)?;
            }
            if lead && checkpoint {
                self.save(dev, trainer, records)?;
            }
            if checkpoint {
                last_checkpoint = step;
            }
            self.loop_allocations = dev.alloc_count() - allocs;
            // Every rank stops at the same step when any was asked to (mpirun forwards a
            // signal to all, but not necessarily before the same step).
            let asked = crate::interrupt::requested();
            if self.collective.any(asked.is_some())? {
                let signal = asked.unwrap_or(libc::SIGTERM);
                if lead && !checkpoint {
                    self.save(dev, trainer, records)?;
                }
                return Err(crate::interrupt::Interrupted {
                    signal,
                    detail: Some(format!(
                        "checkpoint of step {step} written to {}; continue with --resume {}",
                        model_path(&self.dir).display(),
                        self.dir.display()
                    )),
                }
                .into());
            }
        }
        Ok(last)
    }

    /// Creates the directories, removes temporary files a killed run left, and starts the
    /// log afresh (a new run) or cuts it back to the checkpoint's step (a resumed run).
    /// Returns the log's records.
    fn prepare_dir(&self) -> anyhow::Result<Vec<LogRecord>> {
        for sub in ["checkpoints", "samples"] {
            let d = self.dir.join(sub);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        for d in [
            self.dir.clone(),
            self.dir.join("checkpoints"),
            self.dir.join("samples"),
        ] {
            crate::output::remove_stale_temporaries(&d, None);
        }
        let path = log_path(&self.dir);
        let records = match &self.resume {
            None => Vec::new(),
            Some(ckpt) => read_log(&path)?
                .into_iter()
                .filter(|r| r.step <= ckpt.step)
                .collect(),
        };
        let mut text = String::new();
        for r in &records {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes())?;
        Ok(records)
    }

    /// Writes the checkpoint of the current step: `checkpoints/step-N.safetensors` (except
    /// at step 0), then `model.safetensors`, then prunes old periodic checkpoints and
    /// redraws `loss.png`.
    #[cfg_attr(not(feature = "plots"), allow(unused_variables))]
    fn save<D: Device>(
        &self,
        dev: &D,
        trainer: &Trainer<D>,
        records: &[LogRecord],
    ) -> anyhow::Result<()> {
        let step = trainer.steps_done();
        let ckpt = trainer.checkpoint(dev, self.normalization.clone(), self.bands.clone(), true)?;
        let state = TrainState {
            settings: self.settings.clone(),
            schedule: self.schedule,
            sampler: self.sampler.state(),
        };
        let bytes = with_metadata(
            &ckpt.to_bytes()?,
            TRAINING_KEY,
            serde_json::to_string(&state)?,
        )?;
        if step > 0 {
            let dir = self.dir.join("checkpoints");
            write_atomic(&dir.join(format!("step-{step}.safetensors")), &bytes)?;
            prune_checkpoints(&dir)?;
        }
        write_atomic(&model_path(&self.dir), &bytes)?;
        #[cfg(feature = "plots")]
        if !records.is_empty() {
            plot_losses(records, &self.dir.join("loss.png"))?;
        }
        Ok(())
    }

    /// Runs G on the held-out batch and writes `samples/step-N.png`.
    fn write_samples<D: Device>(
        &mut self,
        dev: &D,
        trainer: &mut Trainer<D>,
        sample_x: &D::Buf,
        step: u64,
    ) -> anyhow::Result<()> {
        trainer.g.forward(dev, sample_x)?;
        let fake = dev.download(trainer.g.output())?;
        let (batch, rows) = (&self.held_out.0, self.held_out.1);
        let w = self.config.window;
        let (cin, cout) = (self.config.in_bands, self.config.out_bands);
        write_sample_grid(
            &self.dir.join("samples").join(format!("step-{step}.png")),
            &batch.x[..rows * cin * w * w],
            &fake[..rows * cout * w * w],
            &batch.y[..rows * cout * w * w],
            rows,
            cin,
            cout,
            w,
            SAMPLE_ROWS,
        )
    }
}

/// The first non-finite loss of a step, by name.
fn non_finite(l: &StepLosses) -> Option<(&'static str, f32)> {
    [("d_loss", l.d_loss), ("g_loss", l.g_loss), ("mse", l.mse)]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
}

/// The records of a log file (none when it does not exist), up to the first line that is
/// not a whole record (what a kill in the middle of a write leaves).
pub fn read_log(path: &Path) -> anyhow::Result<Vec<LogRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(text
        .split_inclusive('\n')
        .map_while(|line| {
            line.strip_suffix('\n')
                .and_then(|l| serde_json::from_str(l).ok())
        })
        .collect())
}

/// safetensors bytes with one more `__metadata__` entry (the tensors unchanged).
fn with_metadata(bytes: &[u8], key: &str, value: String) -> anyhow::Result<Vec<u8>> {
    let st = SafeTensors::deserialize(bytes)?;
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    let mut meta = header.metadata().clone().unwrap_or_default();
    meta.insert(key.to_string(), value);
    Ok(safetensors::serialize(st.tensors(), Some(meta))?)
}

/// Deletes `dir/checkpoints/step-N.safetensors` but the [`KEEP_CHECKPOINTS`] latest.
fn prune_checkpoints(dir: &Path) -> anyhow::Result<()> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let n = name.strip_prefix("step-")?.strip_suffix(".safetensors")?;
            Some((n.parse().ok()?, path))
        })
        .collect();
    found.sort();
    let excess = found.len().saturating_sub(KEEP_CHECKPOINTS);
    for (_, path) in &found[..excess] {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}
