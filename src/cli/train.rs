//! `satcolor train`: trains G and D on GeoTIFFs into a run directory, or resumes a run.
//!
//! A new run takes its hyperparameters from `--preset` (default `unet`:
//! [`crate::train::defaults::PRESET`]) and the flags that override single
//! ones, and its settings from the flags or their defaults. A resumed run
//! (`--resume RUNDIR`) takes everything from its checkpoint; flags may change the schedule
//! (`--steps`, the `--*-every` periods), the data paths and the device, and any other flag
//! given must agree with the run (an error otherwise: a resumed run continues exactly).

use crate::device::precision::Precision;
use crate::device::DeviceSpec;
use crate::dist::{self, Collective};
use crate::geo::parse_bands;
use crate::model::{AdvLoss, LossConfig, ModelConfig};
use crate::train::data::DataConfig;
use crate::train::defaults;
use crate::train::run::{self, Progress, RunSpec, Schedule, TrainSettings};
use crate::train::{LogRecord, StepLosses};
use crate::Error;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

/// Arguments of `satcolor train`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// GeoTIFF files or directories of them (searched recursively), e.g. the output of
    /// `satcolor synth`, whose input is the luma of the targets; or SpaceNet-2 area folders
    /// (PAN/, RGB-PanSharpen/, MUL-PanSharpen/), whose images pair PAN with RGB-PanSharpen
    /// (--in-bands 1) or RGB-PanSharpen with MUL-PanSharpen (--in-bands 3 --out-bands 8).
    /// On --resume, defaults to the run's data.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub data: Vec<PathBuf>,
    /// Held-out rasters (files or directories, as --data) scored at every checkpoint: the
    /// held-out PSNR and colorfulness in log.jsonl and loss.png, and the sample grids. Without
    /// it, the bottom 10 % of a single raster (or every tenth raster) is held out instead.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub val_data: Vec<PathBuf>,
    /// Run directory of a new run: model.safetensors, log.jsonl, loss.png, samples/,
    /// checkpoints/.
    #[arg(long, value_name = "RUNDIR", required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in RUNDIR from its latest checkpoint.
    #[arg(long, value_name = "RUNDIR")]
    pub resume: Option<PathBuf>,
    /// auto (the first GPU that works, else the CPU), cpu, emu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Arithmetic of the convolutions: fp32, tf32 (tensor cores) or 3xtf32 [default: tf32
    /// on GPUs of compute capability 8.0+, else fp32]; bf16 and fp16 are for colorize only.
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Run each training iteration as one replayed launch graph (a CUDA Graph on cuda; emu
    /// replays the same frozen launches). Off by default until a GPU run has checked it:
    /// `satcolor selftest --device cuda` compares replay with op-by-op launches. Not with
    /// --max-grad-norm.
    #[arg(long)]
    pub cuda_graphs: bool,
    /// Under mpirun: how long one rank waits for the others in a collective (averaging the
    /// gradients, agreeing to stop) before it decides one of them hangs and ends the run;
    /// 0 waits forever [default: 600].
    #[arg(long, value_name = "SECONDS")]
    pub collective_timeout: Option<u64>,
    /// The step to train up to, counting the steps before a resume [default: 2400].
    #[arg(long)]
    pub steps: Option<u64>,
    /// Windows per batch [default: 16].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate of G (and of D unless --d-lr is given) [default: 1e-3; the write-up's
    /// is 2e-4].
    #[arg(long)]
    pub lr: Option<f32>,
    /// Learning rate of D [default: --lr].
    #[arg(long)]
    pub d_lr: Option<f32>,
    /// Flip and rotate the training windows (the 8 symmetries of the square): true or
    /// false [default: true].
    #[arg(long)]
    pub augment: Option<bool>,
    /// sgd (momentum 0.9) or adam (β1 0.5, β2 0.999) [default: adam].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// The generator's adversarial loss: nonsaturating or saturating [default:
    /// nonsaturating].
    #[arg(long)]
    pub g_loss: Option<String>,
    /// Model preset: seed, small (the write-up's generator) or unet (the U-Net generator)
    /// [default: unet].
    #[arg(long)]
    pub preset: Option<String>,
    /// Input bands C_in: 1 (a panchromatic raster, or the luma of the targets) or the band
    /// count of the paired input rasters.
    #[arg(long)]
    pub in_bands: Option<usize>,
    /// Output bands C_out: the target rasters' band count (alpha bands aside), or the number
    /// of --bands.
    #[arg(long)]
    pub out_bands: Option<usize>,
    /// 1-based bands of the target rasters to train on, comma-separated, e.g. 3,2,1
    /// [default: every band but alpha bands].
    #[arg(long, value_name = "LIST")]
    pub bands: Option<String>,
    /// Window side W in pixels (a multiple of 32).
    #[arg(long)]
    pub window: Option<usize>,
    /// Filters F of the generator's inner convolutions.
    #[arg(long)]
    pub filters: Option<usize>,
    /// Kernel side k of the generator's convolutions (odd).
    #[arg(long)]
    pub kernel: Option<usize>,
    /// Stride s (1 or 2) of conv2 and of the transposed convolution.
    #[arg(long)]
    pub stride: Option<usize>,
    /// Outer layers L of the generator.
    #[arg(long)]
    pub outer_layers: Option<usize>,
    /// Filters of D's five convolutions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub disc_widths: Option<Vec<usize>>,
    /// Widths of the U-Net's levels, comma-separated (--preset unet: 16,32,64,128); the
    /// number of widths is the number of levels.
    #[arg(long, value_delimiter = ',')]
    pub unet_widths: Option<Vec<usize>>,
    /// Negative slope of D's LeakyReLUs.
    #[arg(long)]
    pub leaky_slope: Option<f32>,
    /// G's output head: consistent (the linear base map plus a residual, projected onto the
    /// input through the fitted sensor model) or raw (the write-up's ReLU output)
    /// [default: consistent].
    #[arg(long)]
    pub head: Option<String>,
    /// λ_D, weight of the L2 penalty on D's weights [default: 1e-4].
    #[arg(long)]
    pub lambda_d: Option<f32>,
    /// λ_start, weight of G's MSE term at step 0 [default: 1e4; the write-up's is 100].
    #[arg(long)]
    pub lambda_start: Option<f32>,
    /// λ_end, the value the MSE weight decays to [default: 1e4; the write-up's is 1].
    #[arg(long)]
    pub lambda_end: Option<f32>,
    /// τ, decay time of the MSE weight in steps [default: 2e4].
    #[arg(long)]
    pub tau: Option<f32>,
    /// Seed of the initial weights and the window draws [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Clip each network's global gradient norm to this before its optimizer step.
    #[arg(long)]
    pub max_grad_norm: Option<f32>,
    /// Checkpoint (and redraw loss.png, and score the held-out data) every N steps
    /// [default: 200].
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Log a record to log.jsonl every N steps [default: 10].
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Write samples/step-N.png every N steps [default: the checkpoint period].
    #[arg(long)]
    pub sample_every: Option<u64>,
}

/// Trains as `args` say and prints where the run is.
///
/// Started by `mpirun -np N` (or another MPI launcher), each process is one rank of a
/// data-parallel run ([`crate::dist`]): `--device auto` takes GPU `local_rank`
/// when there is one, else the CPU with its share of the cores; rank 0 reports and writes
/// the run directory; a rank that fails ends every rank, and so does one that waits longer
/// than `--collective-timeout` for the others.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let timeout = match args.collective_timeout {
        None => Some(dist::DEFAULT_TIMEOUT),
        Some(0) => None,
        Some(s) => Some(std::time::Duration::from_secs(s)),
    };
    let collective: Rc<dyn Collective> = Rc::from(dist::from_environment(timeout)?);
    let result = run_ranked(args, collective.clone());
    if let (Err(e), true) = (&result, collective.size() > 1) {
        // The other ranks wait in a collective this one will not join: end them all.
        crate::console::note(&format!("error: rank {}: {e:#}", collective.rank()));
        collective.abort(if crate::error::is_bad_input(e) { 2 } else { 1 });
    }
    result
}

/// [`run`] as one rank of `collective`.
fn run_ranked(args: &Args, collective: Rc<dyn Collective>) -> anyhow::Result<()> {
    let mut spec = run_spec(args)?;
    // Whether the device is chosen (`auto`, in any spelling), as parsed.
    let auto = spec.device == DeviceSpec::Auto;
    let ranks = collective.size();
    if ranks > 1 {
        spec.device = rank_device(&spec.device, collective.as_ref())?;
    }
    let dir = spec.dir.clone();
    let mut progress = if collective.rank() == 0 {
        progress_for(auto)
    } else {
        Box::new(run::Silent)
    };
    let summary = run::train_ranked(spec, progress.as_mut(), collective.clone())?;
    if collective.rank() != 0 {
        return Ok(());
    }
    match summary.last {
        Some(l) => crate::console::print(&format!(
            "trained {} to step {} on {}: d_loss {:.4}, g_loss {:.4}, mse {:.5}; model in {}\n",
            dir.display(),
            summary.step,
            summary.device,
            l.d_loss,
            l.g_loss,
            l.mse,
            run::model_path(&dir).display()
        ))?,
        None => crate::console::print(&format!(
            "{} is already at step {}: nothing to train\n",
            dir.display(),
            summary.step
        ))?,
    }
    Ok(())
}

/// The device of one rank: `auto` takes GPU `local_rank` when it opens, else the CPU. A
/// CPU rank gets its share of the machine's cores (cores it may run on / ranks on the
/// machine, at least one: Open MPI binds each rank to cores of its own by default), unless
/// `RAYON_NUM_THREADS` says otherwise.
fn rank_device(spec: &DeviceSpec, c: &dyn Collective) -> anyhow::Result<DeviceSpec> {
    let spec = match spec {
        #[cfg(feature = "cuda")]
        DeviceSpec::Auto if crate::device::cuda::CudaExec::new(c.local_rank()).is_ok() => {
            DeviceSpec::Cuda(c.local_rank())
        }
        DeviceSpec::Auto => DeviceSpec::Cpu,
        other => other.clone(),
    };
    if spec == DeviceSpec::Cpu && std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / c.local_size()).max(1);
        // Fails only when the pool was built already; it then keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    Ok(spec)
}

/// The run `args` describe: a new one, or the resumed one with the changes they may make.
pub fn run_spec(args: &Args) -> anyhow::Result<RunSpec> {
    let device: DeviceSpec = args.device.parse()?;
    match &args.resume {
        Some(dir) => resumed(args, dir, device),
        None => fresh(args, device),
    }
}

/// The spec of a new run.
fn fresh(args: &Args, device: DeviceSpec) -> anyhow::Result<RunSpec> {
    let dir = args
        .out
        .clone()
        .ok_or_else(|| Error::Input("--out RUNDIR is required for a new run".into()))?;
    if args.data.is_empty() {
        return Err(Error::Input("--data is required for a new run".into()).into());
    }
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Input(format!("--out {}: not a folder", dir.display())).into());
    }
    let config = model_config(args, ModelConfig::preset(defaults::PRESET)?)?;
    let data = DataConfig::default();
    let bands = target_bands(args)?;
    let settings = TrainSettings {
        data: absolute(&args.data),
        batch: args.batch.unwrap_or(defaults::BATCH),
        optimizer: args
            .optimizer
            .clone()
            .unwrap_or_else(|| defaults::OPTIMIZER.into()),
        lr: args.lr.unwrap_or(defaults::LR),
        loss: loss_config(args, defaults::LOSS)?,
        seed: args.seed.unwrap_or(0),
        max_grad_norm: args.max_grad_norm,
        val_fraction: data.val_fraction,
        max_nodata: data.max_nodata,
        bands,
        d_lr: args.d_lr,
        augment: args.augment.unwrap_or(defaults::AUGMENT),
        val_data: absolute(&args.val_data),
    };
    if args.steps == Some(0) {
        return Err(Error::Input("--steps must be at least 1".into()).into());
    }
    let checkpoint_every = args.checkpoint_every.unwrap_or(defaults::CHECKPOINT_EVERY);
    let schedule = Schedule {
        steps: args.steps.unwrap_or(defaults::STEPS),
        checkpoint_every,
        log_every: args.log_every.unwrap_or(defaults::LOG_EVERY),
        sample_every: args.sample_every.unwrap_or(checkpoint_every),
    };
    Ok(RunSpec {
        dir,
        device,
        precision: args.precision,
        graphs: args.cuda_graphs,
        config,
        settings,
        schedule,
        resume: None,
    })
}

/// The spec of a resumed run: the run's own, with the changes `args` may make.
fn resumed(args: &Args, dir: &PathBuf, device: DeviceSpec) -> anyhow::Result<RunSpec> {
    if let Some(out) = &args.out {
        if out != dir {
            return Err(Error::Input(format!(
                "--out {} and --resume {} differ: a resumed run continues in its own directory",
                out.display(),
                dir.display()
            ))
            .into());
        }
    }
    let (ckpt, state) = run::read_run(dir)?;
    let wanted = model_config(args, ckpt.config.clone())?;
    if wanted != ckpt.config {
        return Err(Error::Input(format!(
            "the flags ask for a model config other than the run's: {}",
            differences(&wanted, &ckpt.config)?
        ))
        .into());
    }
    let mut settings = state.settings.clone();
    let old = &state.settings;
    let loss = loss_config(args, old.loss)?;
    let given = TrainSettings {
        data: old.data.clone(),
        batch: args.batch.unwrap_or(old.batch),
        optimizer: args
            .optimizer
            .clone()
            .unwrap_or_else(|| old.optimizer.clone()),
        lr: args.lr.unwrap_or(old.lr),
        loss,
        seed: args.seed.unwrap_or(old.seed),
        max_grad_norm: args.max_grad_norm.or(old.max_grad_norm),
        val_fraction: old.val_fraction,
        max_nodata: old.max_nodata,
        bands: target_bands(args)?.or_else(|| old.bands.clone()),
        d_lr: args.d_lr.or(old.d_lr),
        augment: args.augment.unwrap_or(old.augment),
        val_data: old.val_data.clone(),
    };
    if &given != old {
        return Err(Error::Input(format!(
            "the flags ask for training settings other than the run's ({}): a resumed run \
             keeps its settings",
            differences(&given, old)?
        ))
        .into());
    }
    if !args.data.is_empty() {
        settings.data = absolute(&args.data);
    }
    if !args.val_data.is_empty() {
        // The held-out rasters may move, like the data; but a run split by rows cannot
        // start holding out other rasters (its training windows would change).
        if old.val_data.is_empty() {
            return Err(Error::Input(
                "--val-data: the run was started without held-out rasters (it holds out \
                 part of its data instead) and keeps its split"
                    .into(),
            )
            .into());
        }
        settings.val_data = absolute(&args.val_data);
    }
    let old = state.schedule;
    let checkpoint_every = args.checkpoint_every.unwrap_or(old.checkpoint_every);
    let schedule = Schedule {
        steps: args.steps.unwrap_or(old.steps),
        checkpoint_every,
        log_every: args.log_every.unwrap_or(old.log_every),
        sample_every: args.sample_every.unwrap_or(old.sample_every),
    };
    Ok(RunSpec {
        dir: dir.clone(),
        device,
        precision: args.precision,
        graphs: args.cuda_graphs,
        config: ckpt.config.clone(),
        settings,
        schedule,
        resume: Some((ckpt, state.sampler)),
    })
}

/// `base` (or the preset `--preset` names) with the hyperparameters the flags set.
fn model_config(args: &Args, base: ModelConfig) -> anyhow::Result<ModelConfig> {
    let mut c = match &args.preset {
        Some(name) => ModelConfig::preset(name)?,
        None => base,
    };
    let set = |field: &mut usize, v: Option<usize>| *field = v.unwrap_or(*field);
    set(&mut c.in_bands, args.in_bands);
    let listed = target_bands(args)?.map(|b| b.len());
    set(&mut c.out_bands, args.out_bands.or(listed));
    set(&mut c.window, args.window);
    set(&mut c.filters, args.filters);
    set(&mut c.kernel, args.kernel);
    set(&mut c.stride, args.stride);
    set(&mut c.outer_layers, args.outer_layers);
    if let Some(w) = &args.disc_widths {
        c.disc_widths = w.clone();
    }
    if let Some(w) = &args.unet_widths {
        c.unet_widths = w.clone();
    }
    if let Some(s) = args.leaky_slope {
        c.leaky_slope = s;
    }
    if let Some(h) = &args.head {
        c.head = h.parse()?;
    }
    c.validate()?;
    Ok(c)
}

/// The 1-based target bands of `--bands`, if given.
fn target_bands(args: &Args) -> anyhow::Result<Option<Vec<usize>>> {
    Ok(match &args.bands {
        Some(list) => Some(parse_bands(list)?.iter().map(|b| b + 1).collect()),
        None => None,
    })
}

/// `base` with the loss hyperparameters the flags set.
fn loss_config(args: &Args, base: LossConfig) -> anyhow::Result<LossConfig> {
    let mut l = base;
    if let Some(name) = &args.g_loss {
        l.adv = name.parse::<AdvLoss>()?;
    }
    l.lambda_d = args.lambda_d.unwrap_or(l.lambda_d);
    l.lambda_start = args.lambda_start.unwrap_or(l.lambda_start);
    l.lambda_end = args.lambda_end.unwrap_or(l.lambda_end);
    l.tau = args.tau.unwrap_or(l.tau);
    l.validate()?;
    Ok(l)
}

/// `key flags-value (run: run-value)` for every key where the JSON of `flags` and `run`
/// differ, nested keys joined by dots.
fn differences<T: serde::Serialize>(flags: &T, run: &T) -> anyhow::Result<String> {
    fn walk(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, va) in x {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, va, y.get(k).unwrap_or(&Value::Null), out);
                }
            }
            _ if a != b => out.push(format!("{prefix} {a} (run: {b})")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::to_value(flags)?,
        &serde_json::to_value(run)?,
        &mut out,
    );
    Ok(out.join(", "))
}

/// The paths made absolute (so that a run resumes from any directory); a path that does
/// not exist is kept as given, for the data loader to report.
fn absolute(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect()
}

/// How a run reports on stderr: a progress bar on a terminal, else plain lines; `auto` when
/// the device was chosen automatically (the first line says which).
pub fn progress_for(auto: bool) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bar::new(auto))
    } else {
        Box::new(Lines::new(auto))
    }
}

/// `device auto: chose NAME` when the device was chosen, else `training on NAME`, and the
/// step a resumed run starts at.
fn device_line(auto: bool, device: &str, first: u64) -> String {
    let on = if auto {
        format!("device auto: chose {device}")
    } else {
        format!("training on {device}")
    };
    if first > 0 {
        format!("{on}; resuming at step {first}")
    } else {
        on
    }
}

/// One step's losses, for people.
fn losses_text(l: &StepLosses) -> String {
    format!(
        "d_loss {:.4}  g_loss {:.4}  mse {:.5}  λ_G {:.3}",
        l.d_loss, l.g_loss, l.mse, l.lambda_g
    )
}

/// A progress bar on stderr (a terminal): step, losses, rate and ETA.
struct Bar {
    auto: bool,
    bar: ProgressBar,
}

impl Bar {
    fn new(auto: bool) -> Self {
        Bar {
            auto,
            bar: ProgressBar::hidden(),
        }
    }
}

impl Progress for Bar {
    fn begin(&mut self, device: &str, first: u64, total: u64) {
        crate::console::note(&device_line(self.auto, device, first));
        self.bar = ProgressBar::new(total).with_position(first);
        self.bar.set_style(
            ProgressStyle::with_template("step {pos}/{len} [{bar:30}] {per_sec} ETA {eta}  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        self.bar.reset_eta();
    }
    fn step(&mut self, step: u64, losses: &StepLosses) {
        self.bar.set_position(step);
        self.bar.set_message(losses_text(losses));
    }
    fn logged(&mut self, _: &LogRecord) {}
    fn finish(&mut self) {
        self.bar.finish();
    }
}

/// Plain lines on stderr (not a terminal): one per logged step, with the ETA.
struct Lines {
    auto: bool,
    start: Option<(Instant, u64, u64)>,
}

impl Lines {
    fn new(auto: bool) -> Self {
        Lines { auto, start: None }
    }
}

impl Progress for Lines {
    fn begin(&mut self, device: &str, first: u64, total: u64) {
        crate::console::note(&device_line(self.auto, device, first));
        self.start = Some((Instant::now(), first, total));
    }
    fn step(&mut self, _: u64, _: &StepLosses) {}
    fn logged(&mut self, r: &LogRecord) {
        let eta = self.start.map_or(String::new(), |(t, first, total)| {
            let done = r.step.saturating_sub(first).max(1) as f64;
            let left = total.saturating_sub(r.step) as f64;
            format!("  eta {:.0} s", t.elapsed().as_secs_f64() / done * left)
        });
        let total = self.start.map_or(r.step, |s| s.2);
        let losses = StepLosses {
            d_loss: r.d_loss,
            g_loss: r.g_loss,
            mse: r.mse,
            lambda_g: r.lambda_g,
        };
        crate::console::note(&format!(
            "step {}/{total}  {}  {:.1} samples/s{eta}",
            r.step,
            losses_text(&losses),
            r.samples_per_s
        ));
    }
    fn finish(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Train {
        #[command(flatten)]
        args: Args,
    }

    /// The help text states the defaults that [`defaults`] holds (one source of truth
    /// for the values; this keeps the words in line with it).
    #[test]
    fn help_states_the_defaults() {
        let help = Train::command().render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let l = defaults::LOSS;
        for want in [
            format!("[default: {}]", defaults::STEPS),
            format!("[default: {}]", defaults::BATCH),
            format!("[default: {:e};", defaults::LR),
            format!("the write-up's is {:e}]", defaults::WRITE_UP_LR),
            format!("[default: {}]", defaults::OPTIMIZER),
            format!("[default: {}]", defaults::PRESET),
            format!("[default: {}]", defaults::AUGMENT),
            format!("[default: {:e}]", l.lambda_d),
            format!("step 0 [default: {:e};", l.lambda_start),
            format!("decays to [default: {:e};", l.lambda_end),
            format!("in steps [default: {:e}]", l.tau),
            format!("[default: {}]", defaults::CHECKPOINT_EVERY),
            format!("[default: {}]", defaults::LOG_EVERY),
        ] {
            assert!(help.contains(&want), "the help does not say {want}");
        }
        let w = LossConfig::write_up();
        assert!(help.contains(&format!("the write-up's is {}]", w.lambda_start)));
    }

    /// A new run without flags gets exactly the defaults.
    #[test]
    fn a_new_run_takes_the_defaults() {
        use clap::Parser;
        let t = Train::try_parse_from(["train", "--data", "d.tif", "--out", "r"]).unwrap();
        let spec = run_spec(&t.args).unwrap();
        let s = &spec.settings;
        assert_eq!(
            (s.batch, s.lr, s.loss, s.augment, s.optimizer.as_str()),
            (
                defaults::BATCH,
                defaults::LR,
                defaults::LOSS,
                defaults::AUGMENT,
                defaults::OPTIMIZER
            )
        );
        assert_eq!(spec.config, ModelConfig::preset(defaults::PRESET).unwrap());
        assert_eq!(spec.schedule.steps, defaults::STEPS);
    }
}
