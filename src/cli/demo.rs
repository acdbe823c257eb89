//! `satcolor demo`: the tool on real imagery in one command on a fresh machine. It runs two
//! tasks of the real-imagery benchmark ([`crate::quality`]) with the training defaults of
//! `satcolor train` and a short schedule, and scores both against the gray and linear
//! baselines:
//!
//! ```text
//! OUT/splitview.png        held-out Sentinel-2: real | colorized, and below it a crop of
//!                          the input gray | the model | the real colours
//! OUT/metrics.json         both tasks: `satcolor eval` of the held-out raster, training time
//! OUT/pan-rgb/             Sentinel-2 pan → RGB: run/ (model, log, loss.png with the
//!                          held-out PSNR and colorfulness), colorized.tif
//! OUT/sample/              the sample raster (Byte, nodata): run/, colorized.tif
//! OUT/data/                the tasks' training and held-out rasters, with their licenses
//! ```
//!
//! The two tasks are two models: a checkpoint maps each band of one data type (the
//! Sentinel-2 bands are UInt16 reflectances stretched by their percentiles, the sample
//! raster is Byte), so one model cannot take both.

use super::quality::new_folder;
use crate::device::DeviceSpec;
use crate::model::checkpoint::write_atomic;
use crate::quality::{check_flags, run_task, table, tasks, TaskResult};
use crate::viz::splitview::{write_comparison, SplitviewOptions};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Training iterations of the Sentinel-2 task by default (about 3⅓ minutes of the U-Net
/// on a 2-core CPU; with the sample raster's, the demo stays under 5 minutes).
pub const DEMO_STEPS: u64 = 640;
/// Training iterations of the sample raster by default (about 70 seconds).
pub const SAMPLE_STEPS: u64 = 240;
/// The first column of the crop shown under the split view: the farmland and marsh at the
/// west of the held-out Sentinel-2 rows.
const CROP_X: u32 = 0;

/// Arguments of `satcolor demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Output folder (created; must be new or empty).
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    /// auto (the first GPU that works, else the CPU), cpu, emu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Training iterations on the Sentinel-2 task.
    #[arg(long, default_value_t = DEMO_STEPS)]
    pub steps: u64,
    /// Training iterations on the sample raster.
    #[arg(long, default_value_t = SAMPLE_STEPS)]
    pub sample_steps: u64,
    /// Windows per batch [default: satcolor train's].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Seed of the weights and the window draws [default: satcolor train's].
    #[arg(long)]
    pub seed: Option<u64>,
}

/// What `metrics.json` holds.
#[derive(Serialize)]
struct Report<'a> {
    tasks: &'a [TaskResult],
}

/// Runs the demo and prints the table and where everything is.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let start = Instant::now();
    args.device.parse::<DeviceSpec>()?;
    let flags = |steps: u64| {
        let mut flags = vec![
            "--steps".to_string(),
            steps.to_string(),
            "--checkpoint-every".into(),
            (steps / 5).max(1).to_string(),
        ];
        if let Some(b) = args.batch {
            flags.extend(["--batch".into(), b.to_string()]);
        }
        if let Some(s) = args.seed {
            flags.extend(["--seed".into(), s.to_string()]);
        }
        flags
    };
    let flags = [flags(args.steps), flags(args.sample_steps)];
    for f in &flags {
        check_flags(f, &args.device)?;
    }
    let out = &args.out;
    new_folder(out)?;
    let data = out.join("data");
    crate::console::note(&format!("writing the data to {}", data.display()));
    let jobs = [tasks::pan_rgb(&data)?, tasks::sample(&data)?];
    let mut results = Vec::new();
    for (task, flags) in jobs.iter().zip(&flags) {
        crate::console::note(&format!("== {}: {}", task.name, task.title));
        results.push(run_task(task, &out.join(task.name), &args.device, flags)?);
    }
    let metrics = out.join("metrics.json");
    let json = serde_json::to_string_pretty(&Report { tasks: &results })?;
    write_atomic(&metrics, json.as_bytes())?;
    let view = out.join("splitview.png");
    let s2 = &results[0];
    write_comparison(
        &jobs[0].held_out,
        &s2.colorized,
        &view,
        CROP_X,
        &SplitviewOptions::default(),
    )?;

    crate::console::print(&format!(
        "demo done in {:.0} s: held-out imagery, the model against the gray and linear \
         baselines:\n",
        start.elapsed().as_secs_f64()
    ))?;
    crate::console::print(&table(&results))?;
    let s2_run = &s2.run_dir;
    for (what, path) in [
        ("real | colorized picture", view),
        ("colorized held-out raster", s2.colorized.clone()),
        ("training curves", s2_run.join("loss.png")),
        ("metrics", metrics),
        ("model", s2_run.join("model.safetensors")),
    ] {
        crate::console::print(&format!("  {what:<26} {}\n", path.display()))?;
    }
    Ok(())
}
