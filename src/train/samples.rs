//! Sample grids: `RUNDIR/samples/step-N.png`, one row per window of a batch showing
//! input | output | truth side by side, so a reader sees at a glance what G makes of the gray
//! input and how far it is from the real colors.
//!
//! Layout: three square panels per row, each the window upscaled by [`panel_scale`] (nearest
//! neighbour), separated from each other and framed by [`SEPARATOR`] pixels of light gray.
//! A panel with three or more bands shows its first three as R, G, B; a panel with fewer
//! shows its first band as gray. Values are clamped to [0, 1] (NaN shows as 0) and rounded to
//! 8 bits.

use anyhow::{bail, Context};
use image::{ImageEncoder, RgbImage};
use std::path::Path;

/// Width in pixels of the lines between panels and around the grid.
pub const SEPARATOR: usize = 2;

/// Color of the separator lines.
const SEPARATOR_RGB: [u8; 3] = [224, 224, 224];

/// The upscaling factor of a `window`-pixel panel: the smallest integer that makes panels
/// at least 128 pixels wide, at most 4 (windows of 128 and more are shown 1:1, 64 at ×2,
/// 32 at ×4).
pub fn panel_scale(window: usize) -> usize {
    128usize.div_ceil(window.max(1)).clamp(1, 4)
}

/// Writes the sample grid of a batch to `path` (PNG, atomically): the first
/// `min(batch, max_rows)` windows, each as input | output | truth.
///
/// `x` holds the inputs `[batch, in_bands, window, window]`, `fake` the generator's outputs
/// and `real` the targets, both `[batch, out_bands, window, window]` (NCHW, values nominally
/// in [0, 1]). Errors when a buffer's length does not fit the shape, when a size is 0, and
/// when the file cannot be written (the file at `path` is then untouched).
#[allow(clippy::too_many_arguments)]
pub fn write_sample_grid(
    path: &Path,
    x: &[f32],
    fake: &[f32],
    real: &[f32],
    batch: usize,
    in_bands: usize,
    out_bands: usize,
    window: usize,
    max_rows: usize,
) -> anyhow::Result<()> {
    for (what, v) in [
        ("batch", batch),
        ("in_bands", in_bands),
        ("out_bands", out_bands),
        ("window", window),
        ("max_rows", max_rows),
    ] {
        if v == 0 {
            bail!("sample grid: {what} must be at least 1");
        }
    }
    let plane = window
        .checked_mul(window)
        .filter(|p| p.checked_mul(batch * in_bands.max(out_bands)).is_some())
        .with_context(|| format!("sample grid: window {window} is too large"))?;
    for (what, got, bands) in [
        ("input", x.len(), in_bands),
        ("output", fake.len(), out_bands),
        ("truth", real.len(), out_bands),
    ] {
        let want = batch * bands * plane;
        if got != want {
            bail!(
                "sample grid: the {what} has {got} values, expected {want} \
                 ({batch}x{bands}x{window}x{window})"
            );
        }
    }
    let rows = batch.min(max_rows);
    let scale = panel_scale(window);
    let side = window * scale;
    let width = 3 * side + 4 * SEPARATOR;
    let height = rows * side + (rows + 1) * SEPARATOR;
    let (w32, h32) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => bail!("sample grid: a {width}x{height} picture is too large"),
    };
    let mut img = RgbImage::from_pixel(w32, h32, image::Rgb(SEPARATOR_RGB));
    for row in 0..rows {
        let top = SEPARATOR + row * (side + SEPARATOR);
        let panels = [(x, in_bands), (fake, out_bands), (real, out_bands)];
        for (col, (data, bands)) in panels.into_iter().enumerate() {
            let left = SEPARATOR + col * (side + SEPARATOR);
            let window_data = &data[row * bands * plane..(row + 1) * bands * plane];
            for i in 0..side {
                for j in 0..side {
                    let at = (i / scale) * window + j / scale;
                    let rgb = if bands >= 3 {
                        [0, 1, 2].map(|b| to_u8(window_data[b * plane + at]))
                    } else {
                        [to_u8(window_data[at]); 3]
                    };
                    img.put_pixel((left + j) as u32, (top + i) as u32, image::Rgb(rgb));
                }
            }
        }
    }
    write_png(path, &img)
}

/// A [0, 1] value as an 8-bit level: clamped, NaN as 0, rounded.
fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Encodes `img` as PNG and writes it to `path` atomically (temporary file, fsync, rename).
pub(crate) fn write_png(path: &Path, img: &RgbImage) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .with_context(|| format!("encoding {}", path.display()))?;
    crate::model::checkpoint::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}
