//! `satcolor eval --model CKPT --data PATH... [--json]`: a checkpoint scored on held-out
//! rasters against the gray and linear baselines (see [`crate::eval::dataset`]).

use crate::device::open::{run_on, DeviceVisitor};
use crate::device::DeviceSpec;
use crate::eval::compare::{Comparison, EvalScores};
use crate::eval::dataset::{evaluate, fit_linear, EvalReport, LinearBaseline};
use crate::infer::DEFAULT_BATCH;
use crate::model::Checkpoint;
use crate::train::data::{discover, Source};
use std::path::PathBuf;

/// Arguments of `satcolor eval`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The trained model (model.safetensors of a run, or one of its checkpoints).
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// Held-out target rasters: files or directories of GeoTIFFs (searched recursively).
    #[arg(long, num_args = 1.., required = true, value_name = "PATH")]
    pub data: Vec<PathBuf>,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// auto (the first GPU that works, else the CPU), cpu, emu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Overlap of neighbouring tiles in pixels [default: a quarter of the model's window].
    #[arg(long)]
    pub overlap: Option<usize>,
    /// Fit the linear baseline by least squares on these rasters (the training data; files
    /// or directories, as --data) instead of taking the checkpoint's: for raw-head
    /// checkpoints, which store none.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub fit_baseline_on: Vec<PathBuf>,
}

/// Evaluates as `args` say and prints the report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    let ckpt = Checkpoint::load(&args.model)?;
    let mut sources = discover(&args.data, ckpt.config.in_bands, ckpt.config.out_bands)?;
    // A raster named twice (or reached through two paths) is scored once.
    let mut seen = std::collections::HashSet::new();
    sources.retain(|s| seen.insert(s.target.canonicalize().unwrap_or_else(|_| s.target.clone())));
    let overlap = args.overlap.unwrap_or(ckpt.config.window / 4);
    if overlap >= ckpt.config.window {
        return Err(crate::Error::Input(format!(
            "--overlap {overlap} must be smaller than the model's window {}",
            ckpt.config.window
        ))
        .into());
    }
    let linear = if args.fit_baseline_on.is_empty() {
        LinearBaseline::of_checkpoint(&ckpt)
    } else {
        let (cin, cout) = (ckpt.config.in_bands, ckpt.config.out_bands);
        Some(fit_linear(
            &ckpt,
            &discover(&args.fit_baseline_on, cin, cout)?,
        )?)
    };
    let report = run_on(
        &device,
        None,
        Visit {
            ckpt: &ckpt,
            sources: &sources,
            overlap,
            linear: linear.as_ref(),
        },
    )??;
    if args.json {
        crate::console::print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        crate::console::print(&table(&report))?;
    }
    Ok(())
}

struct Visit<'a> {
    ckpt: &'a Checkpoint,
    sources: &'a [Source],
    overlap: usize,
    linear: Option<&'a LinearBaseline>,
}

impl DeviceVisitor for Visit<'_> {
    type Output = anyhow::Result<EvalReport>;

    fn visit<D: crate::device::Device>(self, dev: &D) -> crate::Result<Self::Output> {
        Ok(evaluate(
            dev,
            self.ckpt,
            self.sources,
            self.overlap,
            DEFAULT_BATCH,
            self.linear,
        ))
    }
}

/// The report as a plain-text table: the model against the baselines over all rasters.
pub fn table(report: &EvalReport) -> String {
    let o = &report.overall;
    let mut s = format!(
        "{} raster(s), {} valid pixels, on {}, tile overlap {}\n",
        report.rasters.len(),
        o.pixels,
        report.device,
        report.overlap
    );
    s += &comparison_table(o);
    if let Some(fit) = &report.linear_fit {
        s += &format!("linear baseline: {fit}\n");
    }
    s += &o.verdict();
    s
}

/// The rows model, gray, linear and truth (colorfulness) of a comparison, with a header.
pub fn comparison_table(o: &Comparison) -> String {
    let mut s = format!(
        "{:<8} {:>9} {:>8} {:>7} {:>7} {:>8} {:>7} {:>13}  {}\n",
        "", "MSE", "PSNR dB", "SSIM", "ΔE00", "SAM deg", "ERGAS", "colorfulness", "RMSE per band"
    );
    s += &row("model", &o.model, o.truth_colorfulness);
    for (name, b) in [("gray", &o.gray), ("linear", &o.linear)] {
        if let Some(b) = b {
            s += &row(name, b, o.truth_colorfulness);
        }
    }
    if let Some(c) = o.truth_colorfulness {
        s += &format!(
            "{:<8} {:>9} {:>8} {:>7} {:>7} {:>8} {:>7} {:>13.2}\n",
            "truth", "", "", "", "", "", "", c
        );
    }
    s
}

/// One row; the colorfulness with its ratio to the real imagery's when known.
fn row(name: &str, e: &EvalScores, real: Option<f64>) -> String {
    let opt =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let rmse: Vec<String> = e.rmse_per_band.iter().map(|r| format!("{r:.4}")).collect();
    let colorfulness = match (e.colorfulness, real) {
        (Some(c), Some(r)) if r > 0.0 => format!("{c:.2} ({:.2}×)", c / r),
        (c, _) => opt(c, 2),
    };
    format!(
        "{name:<8} {:>9.5} {:>8.2} {:>7} {:>7} {:>8} {:>7} {:>13}  {}\n",
        e.mse,
        e.psnr_db,
        opt(e.ssim, 4),
        opt(e.delta_e, 2),
        opt(e.sam_deg, 2),
        opt(e.ergas, 2),
        colorfulness,
        rmse.join(" ")
    )
}
