//! `satcolor eval --model CKPT --data PATH... [--json]`: a checkpoint scored on held-out
//! rasters against the gray baseline (see [`crate::eval::dataset`]).

use crate::device::open::{run_on, DeviceVisitor};
use crate::device::DeviceSpec;
use crate::eval::compare::{Comparison, EvalScores};
use crate::eval::dataset::{evaluate, EvalReport};
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
}

/// Evaluates as `args` say and prints the report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    let ckpt = Checkpoint::load(&args.model)?;
    let sources = discover(&args.data, ckpt.config.in_bands, ckpt.config.out_bands)?;
    let overlap = args.overlap.unwrap_or(ckpt.config.window / 4);
    if overlap >= ckpt.config.window {
        return Err(crate::Error::Input(format!(
            "--overlap {overlap} must be smaller than the model's window {}",
            ckpt.config.window
        ))
        .into());
    }
    let report = run_on(
        &device,
        Visit {
            ckpt: &ckpt,
            sources: &sources,
            overlap,
        },
    )??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

struct Visit<'a> {
    ckpt: &'a Checkpoint,
    sources: &'a [Source],
    overlap: usize,
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
        ))
    }
}

/// The report as a plain-text table: the model against the baseline over all rasters.
pub fn table(report: &EvalReport) -> String {
    let o = &report.overall;
    let mut s = format!(
        "{} raster(s), {} valid pixels, on {}, tile overlap {}\n",
        report.rasters.len(),
        o.pixels,
        report.device,
        report.overlap
    );
    s += &format!(
        "{:<10} {:>9} {:>9} {:>7} {:>8} {:>8} {:>13}  {}\n",
        "", "MSE", "PSNR dB", "SSIM", "SAM deg", "ERGAS", "colorfulness", "RMSE per band"
    );
    s += &row("model", &o.model);
    if let Some(b) = &o.baseline {
        s += &row("gray", b);
    }
    if let Some(c) = o.truth_colorfulness {
        s += &format!(
            "{:<10} {:>9} {:>9} {:>7} {:>8} {:>8} {:>13.2}\n",
            "truth", "", "", "", "", "", c
        );
    }
    s += &verdict(o);
    s
}

fn row(name: &str, e: &EvalScores) -> String {
    let opt =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let rmse: Vec<String> = e.rmse_per_band.iter().map(|r| format!("{r:.4}")).collect();
    format!(
        "{name:<10} {:>9.5} {:>9.2} {:>7} {:>8} {:>8} {:>13}  {}\n",
        e.mse,
        e.psnr_db,
        opt(e.ssim, 4),
        opt(e.sam_deg, 2),
        opt(e.ergas, 2),
        opt(e.colorfulness, 2),
        rmse.join(" ")
    )
}

/// One line: whether the model beats doing nothing.
fn verdict(o: &Comparison) -> String {
    match &o.baseline {
        Some(b) if o.model.mse < b.mse => format!(
            "the model beats the gray baseline: MSE {:.1}% lower\n",
            100.0 * (1.0 - o.model.mse / b.mse)
        ),
        Some(b) => format!(
            "the model does NOT beat the gray baseline: MSE {:.1}% higher\n",
            100.0 * (o.model.mse / b.mse - 1.0)
        ),
        None => String::new(),
    }
}
