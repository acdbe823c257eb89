//! The `satcolor` command line. Every failure is one line on stderr and a non-zero exit
//! code, never a panic: 1 for a valid request that failed (a full disk), 2 for bad input,
//! 128 + the signal for SIGINT and SIGTERM; a closed stdout ends it by SIGPIPE (see
//! docs/failures.md).

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
        /// Arithmetic of the convolutions (fp32, tf32, 3xtf32) [default: the device's]; the
        /// convolutions' tolerance follows it. bf16 or fp16: the 16-bit storage of
        /// inference, which runs the forward ops only.
        #[arg(long)]
        precision: Option<satcolor::device::precision::Precision>,
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
    /// Stitch rasters (a directory, e.g. colorize --out-dir's, or a list) into one GDAL VRT.
    #[cfg(feature = "geo")]
    Mosaic(satcolor::cli::mosaic::Args),
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
    /// Predicted GPU time of a training iteration and an inference batch, per launch kind,
    /// from the emulator's counters and the SASS (a prediction; needs the emu-counters build).
    #[cfg(feature = "emu")]
    Perfmodel(satcolor::cli::perfmodel::Args),
}

impl Cmd {
    /// Whether the command polls for Ctrl-C and SIGTERM (between tiles, steps or scenes) to
    /// stop cleanly; the others keep the default action of the signals, which ends them at
    /// once.
    fn polls_interrupt(&self) -> bool {
        match self {
            Cmd::Info | Cmd::Selftest { .. } => false,
            #[cfg(feature = "geo")]
            Cmd::Splitview(_) => false,
            #[cfg(feature = "emu")]
            Cmd::Perfmodel(_) => false,
            #[allow(unreachable_patterns)]
            _ => true,
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Info => satcolor::cli::info::run(),
        Cmd::Selftest {
            device,
            full,
            precision,
        } => {
            let spec: DeviceSpec = device.parse()?;
            satcolor::cli::selftest::run(&spec, precision, full)
        }
        #[cfg(feature = "geo")]
        Cmd::Synth(args) => satcolor::cli::synth::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Train(args) => satcolor::cli::train::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Colorize(args) => satcolor::cli::colorize::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Mosaic(args) => satcolor::cli::mosaic::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Demo(args) => satcolor::cli::demo::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Eval(args) => satcolor::cli::eval::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Quality(args) => satcolor::cli::quality::run(&args),
        #[cfg(feature = "geo")]
        Cmd::Splitview(args) => satcolor::cli::splitview::run(&args),
        #[cfg(feature = "emu")]
        Cmd::Perfmodel(args) => satcolor::cli::perfmodel::run(&args),
    }
}

fn main() {
    let cli = Cli::parse();
    if cli.cmd.polls_interrupt() {
        if let Err(e) = satcolor::interrupt::install() {
            exit_with(&anyhow::anyhow!("cannot handle Ctrl-C: {e}"), 1);
        }
    }
    if let Err(e) = run(cli) {
        let stdout = e
            .chain()
            .find_map(|c| c.downcast_ref::<satcolor::console::StdoutError>());
        if stdout.is_some_and(|s| s.is_broken_pipe()) {
            end_by_sigpipe();
        }
        let code = match e
            .chain()
            .find_map(|c| c.downcast_ref::<satcolor::interrupt::Interrupted>())
        {
            Some(i) => i.exit_code(),
            None if satcolor::error::is_bad_input(&e) => 2,
            None => 1,
        };
        exit_with(&e, code);
    }
}

/// Prints `e` as one line on stderr (a failing stderr is ignored) and exits with `code`.
fn exit_with(e: &anyhow::Error, code: i32) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
    std::process::exit(code)
}

/// Ends the process as the coreutils do when their reader goes away: by SIGPIPE, whose
/// default action Rust programs start with ignored.
fn end_by_sigpipe() -> ! {
    // SAFETY: restoring a signal's default action and raising it; nothing else runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + libc::SIGPIPE)
}
