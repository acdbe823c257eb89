//! `satcolor colorize --model CKPT IN OUT`: a trained generator applied to a raster of any
//! size, written as a GeoTIFF with the input's georeferencing (see [`crate::infer::raster`]).

use crate::device::open::{run_on, DeviceVisitor};
use crate::device::precision::Precision;
use crate::device::DeviceSpec;
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
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// The output GeoTIFF (written atomically; same size, georeferencing and nodata as IN).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
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
    };
    let job = ColorizeJob::new(ckpt, &args.input, &args.output, &options)?;
    let start = Instant::now();
    let (summary, precision) = run_on(&device, args.precision, Visit { job: &job })??;
    let seconds = start.elapsed().as_secs_f64();
    let (w, h) = summary.size;
    let mp = (w * h) as f64 / 1e6;
    crate::console::print(&format!(
        "colorized {} ({w}x{h}, {}) into {} ({} {} bands, overlap {}) on {} ({precision}) in \
         {seconds:.1} s{}: {:.2} MP/s, peak RSS {}\n",
        args.input.display(),
        summary.input,
        args.output.display(),
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
