//! `satcolor colorize --model CKPT IN OUT`: a trained generator applied to a raster of any
//! size, written as a GeoTIFF with the input's georeferencing (see [`crate::infer::raster`]);
//! `--inputs LIST --out-dir DIR [--shard I/N]`: every raster of a list or directory, one
//! shard of it, skipping outputs already complete (see [`crate::infer::archive`]).

use crate::device::open::{run_on, DeviceVisitor};
use crate::device::precision::Precision;
use crate::device::DeviceSpec;
use crate::infer::archive::{is_complete, list_inputs, plan, Shard};
use crate::infer::raster::{ColorizeJob, ColorizeOptions, ColorizeSummary, GrayFrom};
use crate::infer::DEFAULT_BATCH;
use crate::model::Checkpoint;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `satcolor colorize`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The trained model (model.safetensors of a run, or one of its checkpoints).
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// The input raster: panchromatic, or color with the gray derived (--gray-from).
    #[arg(
        value_name = "IN",
        required_unless_present = "inputs",
        conflicts_with = "inputs"
    )]
    pub input: Option<PathBuf>,
    /// The output GeoTIFF (written atomically; same size, georeferencing and nodata as IN).
    #[arg(value_name = "OUT", required_unless_present = "inputs")]
    pub output: Option<PathBuf>,
    /// Colorize every raster of LIST instead: a directory (searched recursively for .tif,
    /// .tiff, .jp2, .vrt, .img) or a text file of paths, one per line. Each IN is written to
    /// --out-dir as STEM.tif; outputs already complete are skipped, so a rerun resumes.
    #[arg(long, value_name = "LIST", requires = "out_dir")]
    pub inputs: Option<PathBuf>,
    /// Where --inputs' outputs go (created when missing).
    #[arg(long, value_name = "DIR", requires = "inputs")]
    pub out_dir: Option<PathBuf>,
    /// Colorize only shard I of N of --inputs (I from 0): inputs I, I+N, I+2N, … of the
    /// sorted list, so N jobs (a Slurm job array, a Kubernetes Indexed Job) share an archive
    /// with no coordinator.
    #[arg(long, value_name = "I/N", requires = "inputs")]
    pub shard: Option<Shard>,
    /// Write Cloud Optimized GeoTIFFs (GDAL's COG driver: tiled, compressed, with overviews).
    #[arg(long)]
    pub cog: bool,
    /// auto (the first GPU that works, else the CPU), cpu, emu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Arithmetic of the convolutions: fp32, tf32 (tensor cores) or 3xtf32; or bf16 / fp16:
    /// weights and activations stored in 16 bits, TF32 tensor-core products and FP32
    /// accumulation (half the memory; GPUs of compute capability 8.0+ and emu) [default:
    /// tf32 on GPUs of compute capability 8.0+, else fp32].
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Overlap of neighbouring tiles in pixels [default: a quarter of the model's window].
    #[arg(long)]
    pub overlap: Option<usize>,
    /// Tiles per batch.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    pub batch: usize,
    /// Gray input of a one-band model: auto (the band of a one-band raster, else the luma of
    /// bands 1-3), luma, or band:N.
    #[arg(long, default_value = "auto")]
    pub gray_from: GrayFrom,
    /// 1-based input bands, comma-separated: the model's input bands, or the R,G,B of a luma
    /// input (e.g. 3,2,1 for a BGR raster).
    #[arg(long, value_delimiter = ',')]
    pub bands: Option<Vec<usize>>,
    /// Run each batch's forward pass as one replayed launch graph (a CUDA Graph on cuda; emu
    /// replays the same frozen launches). Off by default until a GPU run has checked it
    /// (`satcolor selftest --device cuda`).
    #[arg(long)]
    pub cuda_graphs: bool,
}

/// Colorizes as `args` say and prints what it did: size, device, time, throughput and the
/// process's peak resident memory.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    let ckpt = Checkpoint::load(&args.model)?;
    let options = ColorizeOptions {
        overlap: args.overlap,
        batch: args.batch,
        gray_from: args.gray_from,
        bands: args.bands.clone(),
        graphs: args.cuda_graphs,
        cog: args.cog,
    };
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        return run_archive(args, &device, ckpt, &options);
    };
    let job = ColorizeJob::new(ckpt, input, output, &options)?;
    let start = Instant::now();
    let (summary, precision) = run_on(&device, args.precision, Visit { job: &job })??;
    let seconds = start.elapsed().as_secs_f64();
    let (w, h) = summary.size;
    let mp = (w * h) as f64 / 1e6;
    crate::console::print(&format!(
        "colorized {} ({w}x{h}, {}) into {} ({} {} bands, overlap {}) on {} ({precision}) in \
         {seconds:.1} s{}: {:.2} MP/s, peak RSS {}\n",
        input.display(),
        summary.input,
        output.display(),
        summary.bands,
        summary.dtype.name(),
        summary.overlap,
        summary.device,
        if args.cuda_graphs {
            " with launch graphs"
        } else {
            ""
        },
        mp / seconds,
        super::peak_rss().map_or("unknown".into(), |b| format!("{} MiB", b >> 20)),
    ))?;
    Ok(())
}

/// Runs the job on the opened device with a progress bar on a terminal.
struct Visit<'a> {
    job: &'a ColorizeJob,
}

impl DeviceVisitor for Visit<'_> {
    type Output = anyhow::Result<(ColorizeSummary, Precision)>;

    fn visit<D: crate::device::Device>(self, dev: &D) -> crate::Result<Self::Output> {
        let (width, height) = self.job.size();
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new((width * height) as u64);
            bar.set_style(
                ProgressStyle::with_template("{percent:>3}% [{bar:30}] ETA {eta}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let result = self.job.run(dev, &mut |done, _| bar.set_position(done));
        bar.finish_and_clear();
        Ok(result.map(|r| (r, dev.precision())))
    }
}

/// `--inputs LIST --out-dir DIR [--shard I/N]`: this shard's inputs, one after the other on
/// one opened device. An input that fails is reported and the others go on; the exit status
/// says whether any failed (2 when every failure was bad input, else 1).
fn run_archive(
    args: &Args,
    device: &DeviceSpec,
    ckpt: Checkpoint,
    options: &ColorizeOptions,
) -> anyhow::Result<()> {
    let (Some(list), Some(out_dir)) = (&args.inputs, &args.out_dir) else {
        return Err(
            crate::Error::Input("give IN and OUT, or --inputs and --out-dir".into()).into(),
        );
    };
    let shard = args.shard.unwrap_or_default();
    let inputs = list_inputs(list)?;
    let items = plan(&inputs, out_dir, shard)?;
    std::fs::create_dir_all(out_dir).map_err(|e| {
        crate::Error::Input(format!(
            "--out-dir {}: cannot create it ({e})",
            out_dir.display()
        ))
    })?;
    let start = Instant::now();
    let visit = Archive {
        items: &items,
        ckpt,
        options,
    };
    let tally = run_on(device, args.precision, visit)??;
    crate::console::print(&format!(
        "shard {}/{}: {} of the archive's {} inputs: {} colorized, {} already complete, {} failed \
         in {:.1} s\n",
        shard.index,
        shard.count,
        items.len(),
        inputs.len(),
        tally.done,
        tally.skipped,
        tally.failed,
        start.elapsed().as_secs_f64()
    ))?;
    if tally.failed > 0 {
        let msg = format!(
            "{} of {} inputs failed (see above); rerun to retry them",
            tally.failed,
            items.len()
        );
        return Err(if tally.all_bad_input {
            crate::Error::Input(msg).into()
        } else {
            anyhow::anyhow!(msg)
        });
    }
    Ok(())
}

/// The inputs of one shard, run on the opened device.
struct Archive<'a> {
    items: &'a [crate::infer::archive::Item],
    ckpt: Checkpoint,
    options: &'a ColorizeOptions,
}

/// What an [`Archive`] did.
struct Tally {
    done: usize,
    skipped: usize,
    failed: usize,
    /// Whether every failure was bad input (exit code 2).
    all_bad_input: bool,
}

impl DeviceVisitor for Archive<'_> {
    type Output = anyhow::Result<Tally>;

    fn visit<D: crate::device::Device>(self, dev: &D) -> crate::Result<Self::Output> {
        let mut tally = Tally {
            done: 0,
            skipped: 0,
            failed: 0,
            all_bad_input: true,
        };
        for item in self.items {
            let started = Instant::now();
            let result =
                ColorizeJob::new(self.ckpt.clone(), &item.input, &item.output, self.options)
                    .and_then(|job| {
                        if is_complete(&item.output, job.size(), job.out_bands()) {
                            return Ok(None);
                        }
                        job.run(dev, &mut |_, _| ()).map(Some)
                    });
            let line = match result {
                Ok(None) => {
                    tally.skipped += 1;
                    format!("complete already: {}\n", item.output.display())
                }
                Ok(Some(s)) => {
                    tally.done += 1;
                    format!(
                        "colorized {} ({}x{}) into {} in {:.1} s\n",
                        item.input.display(),
                        s.size.0,
                        s.size.1,
                        item.output.display(),
                        started.elapsed().as_secs_f64()
                    )
                }
                Err(e) => {
                    // A request to stop ends the whole shard; the output being written is
                    // removed, those finished stay, and a rerun resumes after them.
                    if crate::interrupt::requested().is_some() {
                        return Ok(Err(e));
                    }
                    tally.failed += 1;
                    tally.all_bad_input &= crate::error::is_bad_input(&e);
                    format!("failed: {}: {e:#}\n", item.input.display())
                }
            };
            if let Err(e) = crate::console::print(&line) {
                return Ok(Err(e.into()));
            }
        }
        Ok(Ok(tally))
    }
}
