//! The `satcolor` command line. Every failure is one line on stderr and a non-zero exit
//! code (2 for bad input), never a panic.

use clap::{Parser, Subcommand};
use satcolor::device::DeviceSpec;

/// Colorize panchromatic satellite imagery with GANs on hand-written CUDA kernels.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Version, compiled CUDA archs, devices found, per-kernel ptxas resources.
    Info,
    /// Every op's parity check against the f64 reference on a device.
    Selftest {
        /// auto, cpu, emu or cuda[:N].
        #[arg(long, default_value = "auto")]
        device: String,
        /// Run every case (the test suite's set) instead of the quick set.
        #[arg(long)]
        full: bool,
    },
    /// Write procedural satellite-like RGB scenes as georeferenced GeoTIFFs.
    #[cfg(feature = "geo")]
    Synth(satcolor::cli::synth::Args),
    /// Train G and D on GeoTIFFs into a run directory, or resume a run.
    #[cfg(feature = "geo")]
    Train(Box<satcolor::cli::train::Args>),
    /// Colorize a raster of any size with a trained model into a GeoTIFF.
    #[cfg(feature = "geo")]
    Colorize(satcolor::cli::colorize::Args),
    /// The tool on real imagery in one go: a few minutes of training on Sentinel-2 and on
    /// the sample raster, colorized held-out rasters, a picture, the loss curves and metrics
    /// against the gray and linear baselines.
    #[cfg(feature = "geo")]
    Demo(satcolor::cli::demo::Args),
    /// Score a model on held-out rasters against the gray and linear baselines.
    #[cfg(feature = "geo")]
    Eval(satcolor::cli::eval::Args),
    /// The real-imagery benchmark: Sentinel-2 pan → RGB and RGB → multispectral and the
    /// sample raster, trained and scored against the gray and linear baselines.
    #[cfg(feature = "geo")]
    Quality(satcolor::cli::quality::Args),
    /// One PNG of the real and the colorized raster, split by a divider or side by side.
    #[cfg(feature = "geo")]
    Splitview(satcolor::cli::splitview::Args),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Info => satcolor::cli::info::run(),
        Cmd::Selftest { device, full } => {
            let spec: DeviceSpec = device.parse()?;
            satcolor::cli::selftest::run(&spec, full)
        }
        #[cfg(feature = "geo")]
        Cmd::Synth(args) => satcolor::cli::synth::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Train(args) => satcolor::cli::train::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Colorize(args) => satcolor::cli::colorize::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Demo(args) => satcolor::cli::demo::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Eval(args) => satcolor::cli::eval::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Quality(args) => satcolor::cli::quality::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Splitview(args) => satcolor::cli::splitview::run(&args),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        let bad_input = satcolor::error::is_bad_input(&e);
        eprintln!("error: {e:#}");
        std::process::exit(if bad_input { 2 } else { 1 });
    }
}
