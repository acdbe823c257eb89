//! `satcolor splitview`: the real and the colorized raster in one PNG (see
//! [`crate::viz::splitview`]).

use crate::viz::splitview::{write_splitview, SplitviewOptions};
use std::path::PathBuf;

/// Arguments of `satcolor splitview`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The real color raster (shown left).
    #[arg(long)]
    pub real: PathBuf,
    /// The colorized raster of the same size (shown right).
    #[arg(long)]
    pub fake: PathBuf,
    /// Output PNG, written atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Fraction of the width shown from the real raster, strictly between 0 and 1.
    #[arg(long, default_value_t = 0.5)]
    pub split: f64,
    /// Put the two rasters next to each other with a small gap instead of splitting.
    #[arg(long)]
    pub side_by_side: bool,
    /// Bound on the longer side of the image in pixels; larger rasters are read downsampled.
    #[arg(long, default_value_t = 2048)]
    pub max_size: usize,
    /// 1-based bands shown as R,G,B (three) or gray (one); default 1,2,3 (band 1 as gray
    /// for rasters with fewer than three bands). Non-Byte bands are stretched from their
    /// 2nd to their 98th percentile; nodata is black.
    #[arg(long, value_delimiter = ',')]
    pub bands: Option<Vec<usize>>,
}

/// Writes the view and prints where it is.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let options = SplitviewOptions {
        split: args.split,
        side_by_side: args.side_by_side,
        max_size: args.max_size,
        bands: args.bands.clone(),
    };
    let (w, h) = write_splitview(&args.real, &args.fake, &args.out, &options)?;
    crate::console::print(&format!("wrote {} ({w}x{h} pixels)\n", args.out.display()))?;
    Ok(())
}
