//! One benchmark task end to end, as a user would run it: `satcolor train` on the task's
//! training data (with its held-out data scored at every checkpoint), `satcolor colorize` of
//! the held-out raster, and `satcolor eval` of it against the gray and linear baselines. The
//! training flags are those of `satcolor train`, so a benchmark run measures exactly what a
//! user's command line would do.

use super::tasks::Task;
use crate::cli::train::{progress_for, run_spec, Args as TrainArgs};
use crate::device::open::{run_on, DeviceVisitor};
use crate::device::{Device, DeviceSpec};
use crate::eval::dataset::{evaluate, fit_linear, EvalReport, LinearBaseline};
use crate::infer::raster::{ColorizeJob, ColorizeOptions};
use crate::infer::DEFAULT_BATCH;
use crate::model::Checkpoint;
use crate::train::data::discover;
use crate::train::run::{self, read_log};
use crate::Error;
use anyhow::Result;
use clap::Parser;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What one task measured.
#[derive(Clone, Debug, Serialize)]
pub struct TaskResult {
    /// The task's short name.
    pub task: String,
    /// What it is.
    pub title: String,
    /// The `satcolor train` flags of the run (besides data, output and band counts).
    pub train_flags: Vec<String>,
    /// Iterations trained.
    pub steps: u64,
    /// Wall time of the training command (data loading, checkpoints and held-out scores
    /// included), in seconds.
    pub train_seconds: f64,
    /// Training throughput: the median samples/s of the log's second half.
    pub samples_per_s: Option<f64>,
    /// The device trained on.
    pub device: String,
    /// The run directory.
    pub run_dir: PathBuf,
    /// The colorized held-out raster.
    pub colorized: PathBuf,
    /// `satcolor eval` of the held-out raster.
    pub report: EvalReport,
}

/// The `satcolor train` command line of a task (parsed exactly as the command would be).
#[derive(Parser)]
#[command(name = "satcolor train")]
struct TrainCommand {
    #[command(flatten)]
    args: TrainArgs,
}

/// The `satcolor train` flags a benchmark sets itself.
const SET_BY_THE_BENCHMARK: &[&str] = &[
    "--data",
    "--val-data",
    "--out",
    "--resume",
    "--in-bands",
    "--out-bands",
    "--device",
];

/// The arguments of `satcolor train` for training data `train`, held-out data `held_out`,
/// band counts `bands`, run directory `out` on `device`, and the user's `flags`.
fn train_args(
    (train, held_out, out): (&Path, &Path, &Path),
    bands: (usize, usize),
    device: &str,
    flags: &[String],
) -> Result<TrainArgs> {
    if let Some(f) = flags.iter().find(|f| {
        SET_BY_THE_BENCHMARK
            .iter()
            .any(|s| f == s || f.starts_with(&format!("{s}=")))
    }) {
        return Err(Error::Input(format!(
            "the training flags: {f} is set by the benchmark for each task"
        ))
        .into());
    }
    let path = |p: &Path| p.display().to_string();
    let mut argv = vec![
        "satcolor train".to_string(),
        "--data".into(),
        path(train),
        "--val-data".into(),
        path(held_out),
        "--out".into(),
        path(out),
        "--in-bands".into(),
        bands.0.to_string(),
        "--out-bands".into(),
        bands.1.to_string(),
        "--device".into(),
        device.to_string(),
    ];
    argv.extend(flags.iter().cloned());
    let cmd = TrainCommand::try_parse_from(&argv).map_err(|e| {
        let msg = e.to_string();
        let first = msg
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        Error::Input(format!("the training flags: {first}"))
    })?;
    Ok(cmd.args)
}

/// Checks the `satcolor train` flags `flags` of a benchmark before anything is written:
/// they parse, and the model, settings and schedule they make are valid.
pub fn check_flags(flags: &[String], device: &str) -> Result<()> {
    let placeholder = Path::new("data.tif");
    let args = train_args(
        (placeholder, placeholder, placeholder),
        (1, 3),
        device,
        flags,
    )?;
    let spec = run_spec(&args)?;
    spec.config.validate()?;
    spec.settings.validate()?;
    spec.schedule.validate()?;
    crate::train::run::check_memory(&spec.config, &spec.settings)?;
    Ok(())
}

/// Trains, colorizes and evaluates `task` in folder `dir` on `device` with the extra
/// `satcolor train` flags `flags`.
pub fn run_task(task: &Task, dir: &Path, device: &str, flags: &[String]) -> Result<TaskResult> {
    let run_dir = dir.join("run");
    let args = train_args(
        (&task.train, &task.held_out, &run_dir),
        (task.in_bands, task.out_bands),
        device,
        flags,
    )?;
    let spec = run_spec(&args)?;
    let mut progress = progress_for(spec.device == DeviceSpec::Auto);
    let start = Instant::now();
    let summary = run::train(spec, progress.as_mut())?;
    let train_seconds = start.elapsed().as_secs_f64();
    let ckpt = Checkpoint::load(&run::model_path(&run_dir))?;
    let linear = match LinearBaseline::of_checkpoint(&ckpt) {
        Some(l) => l,
        None => fit_linear(
            &ckpt,
            &discover(
                std::slice::from_ref(&task.train),
                task.in_bands,
                task.out_bands,
            )?,
        )?,
    };
    let colorized = dir.join("colorized.tif");
    let source = &task.held_out_source;
    let input = source.input.as_ref().unwrap_or(&source.target);
    let job = ColorizeJob::new(ckpt.clone(), input, &colorized, &ColorizeOptions::default())?;
    let device_spec: DeviceSpec = device.parse()?;
    let report = run_on(
        &device_spec,
        None,
        Finish {
            job: &job,
            ckpt: &ckpt,
            task,
            linear: &linear,
        },
    )??;
    let log = read_log(&run::log_path(&run_dir))?;
    let rates: Vec<f64> = log
        .iter()
        .map(|r| f64::from(r.samples_per_s))
        .skip(log.len() / 2)
        .collect();
    Ok(TaskResult {
        task: task.name.into(),
        title: task.title.into(),
        train_flags: flags.to_vec(),
        steps: summary.step,
        train_seconds,
        samples_per_s: median(rates),
        device: summary.device,
        run_dir,
        colorized,
        report,
    })
}

/// The median of `v` (`None` when empty).
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

/// Colorizes the held-out raster and evaluates it, on the opened device.
struct Finish<'a> {
    job: &'a ColorizeJob,
    ckpt: &'a Checkpoint,
    task: &'a Task,
    linear: &'a LinearBaseline,
}

impl DeviceVisitor for Finish<'_> {
    type Output = Result<EvalReport>;

    fn visit<D: Device>(self, dev: &D) -> crate::Result<Self::Output> {
        let go = || -> Result<EvalReport> {
            self.job.run(dev, &mut |_, _| ())?;
            evaluate(
                dev,
                self.ckpt,
                std::slice::from_ref(&self.task.held_out_source),
                self.ckpt.config.window / 4,
                DEFAULT_BATCH,
                Some(self.linear),
            )
        };
        Ok(go())
    }
}

/// The benchmark table of `results`: per task, the model and the baselines (PSNR, SSIM,
/// ΔE, SAM, ERGAS, colorfulness with its ratio to the real imagery's), the verdict, and
/// the training time.
pub fn table(results: &[TaskResult]) -> String {
    let mut s = format!(
        "{:<8} {:<7} {:>8} {:>7} {:>6} {:>7} {:>6} {:>15}\n",
        "task", "", "PSNR dB", "SSIM", "ΔE00", "SAM °", "ERGAS", "colorfulness"
    );
    for r in results {
        let o = &r.report.overall;
        let real = o.truth_colorfulness;
        let rows = [
            ("model", Some(&o.model)),
            ("gray", o.gray.as_ref()),
            ("linear", o.linear.as_ref()),
        ];
        for (i, (name, scores)) in rows.into_iter().enumerate() {
            let Some(e) = scores else { continue };
            let opt = |v: Option<f64>, d: usize| v.map_or("-".into(), |v| format!("{v:.d$}"));
            let colorfulness = match (e.colorfulness, real) {
                (Some(c), Some(t)) if t > 0.0 => format!("{c:.1} ({:.2}×)", c / t),
                (c, _) => opt(c, 1),
            };
            s += &format!(
                "{:<8} {name:<7} {:>8.2} {:>7} {:>6} {:>7} {:>6} {:>15}\n",
                if i == 0 { r.task.as_str() } else { "" },
                e.psnr_db,
                opt(e.ssim, 4),
                opt(e.delta_e, 2),
                opt(e.sam_deg, 2),
                opt(e.ergas, 2),
                colorfulness,
            );
        }
        if let Some(t) = real {
            s += &format!("{:<8} {:<7} {:>56}\n", "", "real", format!("{t:.1}"));
        }
    }
    for r in results {
        s += &format!(
            "{}: {} steps in {:.0} s on {}; {}",
            r.task,
            r.steps,
            r.train_seconds,
            r.device,
            r.report.overall.verdict()
        );
    }
    s
}
