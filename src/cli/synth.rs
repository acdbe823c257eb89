//! `satcolor synth`: writes procedural satellite-like scenes as georeferenced GeoTIFFs.

use crate::synth::{write_scenes, SynthOptions};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `satcolor synth`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Output directory (created if needed); scenes are written as scene-NNNNN.tif.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of scenes.
    #[arg(long, default_value_t = 20)]
    pub scenes: usize,
    /// Width and height of each scene in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// Seed: the same seed writes the same files.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Writes the scenes and prints where they are.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let start = Instant::now();
    if args.scenes == 0 {
        return Err(crate::Error::Input("--scenes must be at least 1".into()).into());
    }
    let options = SynthOptions {
        scenes: args.scenes,
        size: args.size,
        seed: args.seed,
    };
    // Stopped by a signal: the scenes written are complete, the exit code says why.
    let files = write_scenes(&args.out, &options).map_err(|e| match crate::interrupt::check() {
        Err(signal) => anyhow::Error::from(signal),
        Ok(()) => e.into(),
    })?;
    crate::console::print(&format!(
        "wrote {} scenes of {}x{} pixels to {} in {:.1} s\n",
        files.len(),
        args.size,
        args.size,
        args.out.display(),
        start.elapsed().as_secs_f64()
    ))?;
    Ok(())
}
