//! Embedding satcolor as an inference engine without GDAL: a checkpoint and an array of
//! panchromatic values in, an array of color values out, through the stable API
//! `satcolor::infer::Colorizer`.
//!
//! ```sh
//! cargo run --release --no-default-features --features cuda --example colorize_in_memory -- \
//!     tests/data/pan-rgb-tiny.safetensors [DEVICE]
//! ```
//!
//! The input here is a synthetic 300×200 gradient in the checkpoint's input units (f32 raw
//! values); a real program passes its own pixels (u8, u16, i16 or f32; planar, interleaved
//! or strided) and a nodata value or validity mask.

use satcolor::infer::{Bands, Colorizer, Options, Validity};
use satcolor::model::Checkpoint;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: colorize_in_memory MODEL.safetensors [DEVICE]"))?;
    let device = args.next().unwrap_or_else(|| "auto".into());
    let ckpt = Checkpoint::load(path.as_ref())?;
    let mut colorizer = Colorizer::from_checkpoint(&ckpt, &Options::new().device(&device))?;
    let (width, height) = (300, 200);
    let gray = &ckpt.normalization.input[0];
    let values: Vec<f32> = (0..width * height)
        .map(|i| (gray.lo + (gray.hi - gray.lo) * (i % width) as f64 / width as f64) as f32)
        .collect();
    let input = Bands::planar(&values, width, height, 1)?;
    let out: Vec<f32> = colorizer.colorize_planar(&input, Validity::default())?;
    println!(
        "{}x{} on {} ({})",
        width,
        height,
        colorizer.device(),
        colorizer.precision()
    );
    let plane = width * height;
    for (b, name) in colorizer.band_names().iter().enumerate() {
        let band = &out[b * plane..(b + 1) * plane];
        let mean = band.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64;
        println!(
            "{name}: mean {mean:.2} ({})",
            colorizer.output_type().name()
        );
    }
    Ok(())
}
