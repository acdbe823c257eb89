//! Embedding satcolor as an inference engine without GDAL: a checkpoint and an array of
//! panchromatic values in, an array of color values out.
//!
//! ```sh
//! cargo run --release --no-default-features --example colorize_in_memory -- run/model.safetensors
//! ```
//!
//! The input here is a synthetic 300×200 gradient in the checkpoint's input units; a real
//! program passes its own pixels (band-major `f32`, raw units) and validity mask.

use satcolor::device::cpu::CpuDevice;
use satcolor::infer::{Colorizer, ImageData};
use satcolor::model::Checkpoint;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: colorize_in_memory MODEL.safetensors"))?;
    let ckpt = Checkpoint::load(path.as_ref())?;
    let (width, height) = (300, 200);
    let gray = &ckpt.normalization.input[0];
    let values: Vec<f32> = (0..width * height)
        .map(|i| (gray.lo + (gray.hi - gray.lo) * (i % width) as f64 / width as f64) as f32)
        .collect();
    let input = ImageData::new(width, height, 1, values)?;

    let dev = CpuDevice::new();
    let mut colorizer = Colorizer::new(&dev, &ckpt, 16)?;
    let overlap = ckpt.config.window / 4;
    let out = colorizer.colorize(&input, overlap)?;
    let plane = width * height;
    for (b, name) in ckpt.bands.output.iter().enumerate() {
        let band = &out.values[b * plane..(b + 1) * plane];
        let mean = band.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64;
        println!(
            "{name}: mean {mean:.2} ({:?})",
            ckpt.normalization.output[b].dtype
        );
    }
    Ok(())
}
