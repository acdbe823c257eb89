//! `satcolor mosaic DIR OUT.vrt`: the rasters of a directory (or a list file, as `colorize
//! --inputs` takes) stitched into one GDAL VRT ([`crate::geo::build_vrt`]).

use crate::infer::archive::list_inputs;
use std::path::PathBuf;

/// Arguments of `satcolor mosaic`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// A directory of rasters (searched recursively, as `colorize --inputs`), or a text
    /// file listing them.
    #[arg(value_name = "DIR")]
    pub inputs: PathBuf,
    /// The mosaic: a .vrt file (written atomically) referencing the rasters.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}

/// Stitches the rasters and says how many, and the mosaic's size.
pub fn run(args: &Args) -> anyhow::Result<()> {
    // The mosaic itself may sit in the directory (a rerun): never a part of itself.
    let own = args.output.canonicalize().ok();
    let inputs: Vec<PathBuf> = list_inputs(&args.inputs)?
        .into_iter()
        .filter(|p| own.is_none() || p.canonicalize().ok() != own)
        .collect();
    crate::geo::build_vrt(&inputs, &args.output)?;
    let mosaic = crate::geo::Raster::open(&args.output)?;
    crate::console::print(&format!(
        "stitched {} rasters into {} ({}x{} pixels, {} bands)\n",
        inputs.len(),
        args.output.display(),
        mosaic.width(),
        mosaic.height(),
        mosaic.bands().len()
    ))?;
    Ok(())
}
