//! `satcolor quality`: the real-imagery benchmark (see [`crate::quality`]). It writes the
//! tasks' rasters, trains and scores each task with the same `satcolor train` flags, prints
//! one table against the gray and linear baselines and writes it as `OUT/quality.json`.
//!
//! ```text
//! satcolor quality --out q                         # every task, the training defaults
//! satcolor quality --out q --tasks pan-rgb -- --preset small --lr 2e-4
//! ```

use crate::model::checkpoint::write_atomic;
use crate::quality::{check_flags, run_task, table, tasks, Task, TaskResult};
use crate::Error;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The tasks, by name.
pub const TASKS: &[&str] = &["pan-rgb", "rgb-ms", "sample"];

/// Arguments of `satcolor quality`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Output folder (created; must be new or empty): data/, one folder per task (run/,
    /// colorized.tif) and quality.json.
    #[arg(long, default_value = "quality")]
    pub out: PathBuf,
    /// The Sentinel-2 scene folder (S2_B02.tif … S2_B12.tif), for the multispectral task.
    #[arg(long, default_value = "../shared/data/sentinel2")]
    pub sentinel2: PathBuf,
    /// Tasks to run, comma-separated: pan-rgb, rgb-ms, sample.
    #[arg(long, value_delimiter = ',', default_value = "pan-rgb,rgb-ms,sample")]
    pub tasks: Vec<String>,
    /// auto (the first GPU that works, else the CPU), cpu, emu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// `satcolor train` flags for every task, after `--` (not --data, --val-data, --out,
    /// --in-bands, --out-bands or --device, which the benchmark sets).
    #[arg(last = true, value_name = "TRAIN FLAGS")]
    pub train: Vec<String>,
}

/// What `quality.json` holds.
#[derive(Serialize)]
struct Report<'a> {
    tasks: &'a [TaskResult],
}

/// Runs the benchmark as `args` say.
pub fn run(args: &Args) -> anyhow::Result<()> {
    for t in &args.tasks {
        if !TASKS.contains(&t.as_str()) {
            return Err(
                Error::Input(format!("unknown task '{t}': expected {}", TASKS.join(", "))).into(),
            );
        }
    }
    check_flags(&args.train, &args.device)?;
    if args.tasks.iter().any(|t| t == "rgb-ms") && !args.sentinel2.join("S2_B05.tif").is_file() {
        return Err(Error::Input(format!(
            "{}: no Sentinel-2 scene (S2_B05.tif …) for the rgb-ms task; give --sentinel2 DIR",
            args.sentinel2.display()
        ))
        .into());
    }
    new_folder(&args.out)?;
    let data = args.out.join("data");
    let mut results = Vec::new();
    for name in &args.tasks {
        let task: Task = match name.as_str() {
            "pan-rgb" => tasks::pan_rgb(&data)?,
            "rgb-ms" => tasks::rgb_ms(&args.sentinel2, &data)?,
            _ => tasks::sample(&data)?,
        };
        crate::console::note(&format!("== {}: {}", task.name, task.title));
        let result = run_task(&task, &args.out.join(task.name), &args.device, &args.train)?;
        results.push(result);
        // Written after every task, so an interrupted benchmark keeps what it measured.
        let json = serde_json::to_string_pretty(&Report { tasks: &results })?;
        write_atomic(&args.out.join("quality.json"), json.as_bytes())?;
    }
    crate::console::print(&table(&results))?;
    crate::console::print(&format!(
        "results in {}\n",
        args.out.join("quality.json").display()
    ))?;
    Ok(())
}

/// Creates `dir`, which must not exist or be an empty folder. Errors (bad input) name it.
pub fn new_folder(dir: &Path) -> anyhow::Result<()> {
    let bad = |why: &str| {
        Error::Input(format!(
            "{}: {why}: give a new folder with --out",
            dir.display()
        ))
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err(bad("not a folder").into());
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| bad(&e.to_string()))?;
        if entries.next().is_some() {
            return Err(bad("not empty").into());
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(&format!("cannot create it ({e})")))?;
    // A folder that cannot be written to fails here rather than after minutes of work.
    let probe = crate::output::temporary_path(&dir.join("probe"));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| bad(&format!("cannot write in it ({e})")))?;
    Ok(())
}
