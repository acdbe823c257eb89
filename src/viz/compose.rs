//! 8-bit display of raster bands and the split-view / side-by-side layouts.
//!
//! Display: Byte bands are shown as they are (rounded and clamped to 0–255, since a
//! downsampled read may average); every other type is stretched per band linearly from its
//! 2nd percentile (→ 0) to its 98th percentile (→ 255) over the valid pixels, clamped.
//! A pixel that is nodata (or NaN) in any shown band is black.

use image::{Rgb, RgbImage};

/// Lower percentile of the stretch of non-Byte bands.
pub const STRETCH_LOW: f64 = 0.02;
/// Upper percentile of the stretch of non-Byte bands.
pub const STRETCH_HIGH: f64 = 0.98;
/// Width in pixels of the divider of the split view: a dark edge, two white columns, a dark
/// edge.
pub const DIVIDER_WIDTH: usize = 4;
/// Color of the divider's two middle columns.
pub const DIVIDER_LIGHT: [u8; 3] = [255, 255, 255];
/// Color of the divider's outer columns, so the line shows on bright imagery too.
pub const DIVIDER_DARK: [u8; 3] = [24, 24, 24];
/// Width in pixels of the white gap between the panels of the side-by-side layout.
pub const GAP: usize = 8;
/// Color of the side-by-side gap.
pub const GAP_RGB: [u8; 3] = [255, 255, 255];

/// One band as read for display: `width`×`height` values, row-major.
#[derive(Clone, Debug)]
pub struct BandPlane<'a> {
    /// The values.
    pub values: &'a [f32],
    /// The band's nodata value, if any.
    pub nodata: Option<f64>,
    /// Whether the band is Byte (shown as is) rather than stretched.
    pub byte: bool,
}

/// The largest size of aspect ratio `width`:`height` inside `max_w`×`max_h` (integer floor,
/// at least 1 pixel a side); the size itself when it already fits (never upsampled).
pub fn fit_size((width, height): (usize, usize), (max_w, max_h): (usize, usize)) -> (usize, usize) {
    if width <= max_w && height <= max_h {
        return (width, height);
    }
    // Width-limited when width/height >= max_w/max_h.
    if width as u128 * max_h as u128 >= height as u128 * max_w as u128 {
        let h = (height as u128 * max_w as u128 / width as u128) as usize;
        (max_w, h.max(1))
    } else {
        let w = (width as u128 * max_h as u128 / height as u128) as usize;
        (w.max(1), max_h)
    }
}

/// Whether `v` is a pixel to show black: NaN or equal to the band's nodata value (compared
/// as f32, the type it was read as).
fn is_missing(v: f32, nodata: Option<f64>) -> bool {
    v.is_nan() || nodata.is_some_and(|n| v == n as f32)
}

/// The value of rank `q`·(n − 1) (nearest rank, rounded down) of `values`; `None` when empty.
fn percentile(values: &mut [f32], q: f64) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let k = (q * (values.len() - 1) as f64).floor() as usize;
    let (_, v, _) = values.select_nth_unstable_by(k, f32::total_cmp);
    Some(*v)
}

/// How a band's values become 8-bit levels: as they are (Byte), or linearly from `lo`
/// (→ 0) to `hi` (→ 255).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stretch {
    /// Byte values shown as they are.
    Byte,
    /// A linear stretch.
    Linear {
        /// The value shown as 0.
        lo: f64,
        /// The value shown as 255.
        hi: f64,
    },
    /// No valid pixel to stretch from: everything black.
    Empty,
}

/// The stretch of one band (see the module docs): Byte as is, other types from their 2nd
/// to their 98th percentile over the valid pixels.
pub fn band_stretch(band: &BandPlane<'_>) -> Stretch {
    if band.byte {
        return Stretch::Byte;
    }
    let mut valid: Vec<f32> = band
        .values
        .iter()
        .copied()
        .filter(|&v| !is_missing(v, band.nodata) && v.is_finite())
        .collect();
    let lo = percentile(&mut valid, STRETCH_LOW);
    let hi = percentile(&mut valid, STRETCH_HIGH);
    match (lo, hi) {
        (Some(lo), Some(hi)) => Stretch::Linear {
            lo: lo as f64,
            hi: hi as f64,
        },
        _ => Stretch::Empty,
    }
}

/// The 8-bit levels of one band under `stretch`; missing pixels read 0.
fn band_levels(band: &BandPlane<'_>, stretch: Stretch) -> Vec<u8> {
    let (lo, hi) = match stretch {
        Stretch::Byte => {
            return band
                .values
                .iter()
                .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                .collect()
        }
        Stretch::Empty => return vec![0; band.values.len()],
        Stretch::Linear { lo, hi } => (lo, hi),
    };
    band.values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                0
            } else if hi > lo {
                ((v as f64 - lo) / (hi - lo) * 255.0)
                    .round()
                    .clamp(0.0, 255.0) as u8
            } else {
                // A constant band: mid gray.
                128
            }
        })
        .collect()
}

/// An RGB panel of `width`×`height` from one band (gray) or three bands (R, G, B) of that
/// many values each, band `k` shown with `stretches[k]` (two rasters shown with the same
/// stretches compare colour for colour). Returns `None` when the band count is not 1 or 3
/// or a band or the stretches have the wrong length.
pub fn panel_with(
    bands: &[BandPlane<'_>],
    (width, height): (usize, usize),
    stretches: &[Stretch],
) -> Option<RgbImage> {
    if !(bands.len() == 1 || bands.len() == 3)
        || stretches.len() != bands.len()
        || bands.iter().any(|b| b.values.len() != width * height)
    {
        return None;
    }
    let levels: Vec<Vec<u8>> = bands
        .iter()
        .zip(stretches)
        .map(|(b, &s)| band_levels(b, s))
        .collect();
    let mut img = RgbImage::new(u32::try_from(width).ok()?, u32::try_from(height).ok()?);
    for (i, px) in img.pixels_mut().enumerate() {
        let missing = bands.iter().any(|b| is_missing(b.values[i], b.nodata));
        *px = if missing {
            Rgb([0, 0, 0])
        } else if levels.len() == 1 {
            Rgb([levels[0][i]; 3])
        } else {
            Rgb([levels[0][i], levels[1][i], levels[2][i]])
        };
    }
    Some(img)
}

/// The column where the split view switches from `left` to `right` for a panel `width`
/// wide: round(`split`·`width`).
pub fn split_column(width: usize, split: f64) -> usize {
    ((split * width as f64).round() as usize).min(width)
}

/// The split view of two panels of the same size: columns left of
/// [`split_column`] from `left`, the others from `right`, then the divider drawn over
/// columns c − 2 .. c + 1 (dark, light, light, dark; clipped to the image).
/// Returns `None` when the panels differ in size.
pub fn split_view(left: &RgbImage, right: &RgbImage, split: f64) -> Option<RgbImage> {
    if left.dimensions() != right.dimensions() {
        return None;
    }
    let (w, h) = left.dimensions();
    let col = split_column(w as usize, split) as i64;
    let divider = [
        (col - 2, DIVIDER_DARK),
        (col - 1, DIVIDER_LIGHT),
        (col, DIVIDER_LIGHT),
        (col + 1, DIVIDER_DARK),
    ];
    Some(RgbImage::from_fn(w, h, |x, y| {
        let xi = x as i64;
        if let Some((_, rgb)) = divider.iter().find(|(c, _)| *c == xi) {
            Rgb(*rgb)
        } else if xi < col {
            *left.get_pixel(x, y)
        } else {
            *right.get_pixel(x, y)
        }
    }))
}

/// `left` and `right` next to each other with a [`GAP`]-pixel gap, top-aligned; the image is
/// as tall as the taller panel and the area no panel covers is the gap color.
pub fn side_by_side(left: &RgbImage, right: &RgbImage) -> RgbImage {
    let gap = GAP as u32;
    let w = left.width() + gap + right.width();
    let h = left.height().max(right.height());
    let mut img = RgbImage::from_pixel(w, h, Rgb(GAP_RGB));
    for (x, y, px) in left.enumerate_pixels() {
        img.put_pixel(x, y, *px);
    }
    for (x, y, px) in right.enumerate_pixels() {
        img.put_pixel(left.width() + gap + x, y, *px);
    }
    img
}

/// `top` above `bottom` with a [`GAP`]-pixel gap, left-aligned; the image is as wide as the
/// wider one and the area no image covers is the gap color.
pub fn stacked(top: &RgbImage, bottom: &RgbImage) -> RgbImage {
    let gap = GAP as u32;
    let w = top.width().max(bottom.width());
    let h = top.height() + gap + bottom.height();
    let mut img = RgbImage::from_pixel(w, h, Rgb(GAP_RGB));
    for (x, y, px) in top.enumerate_pixels() {
        img.put_pixel(x, y, *px);
    }
    for (x, y, px) in bottom.enumerate_pixels() {
        img.put_pixel(x, top.height() + gap + y, *px);
    }
    img
}

/// The columns `x0 .. x0 + width` of `img` (clipped to it).
pub fn crop_columns(img: &RgbImage, x0: u32, width: u32) -> RgbImage {
    let x0 = x0.min(img.width());
    let width = width.min(img.width() - x0);
    image::imageops::crop_imm(img, x0, 0, width, img.height()).to_image()
}

/// The gray image of the luma 0.299 R + 0.587 G + 0.114 B of `img`'s levels.
pub fn luma_image(img: &RgbImage) -> RgbImage {
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0.map(f64::from);
        let l = (0.299 * r + 0.587 * g + 0.114 * b).round() as u8;
        Rgb([l; 3])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_size_keeps_aspect_and_bound() {
        assert_eq!(fit_size((100, 50), (200, 200)), (100, 50));
        assert_eq!(fit_size((3001, 1000), (2048, 2048)), (2048, 682));
        assert_eq!(fit_size((1000, 3001), (2048, 2048)), (682, 2048));
        assert_eq!(fit_size((5000, 1), (100, 100)), (100, 1));
    }

    #[test]
    fn stretch_maps_percentiles_to_the_ends() {
        // 0..=100: the 2nd percentile (rank 2) is 2, the 98th (rank 98) is 98.
        let values: Vec<f32> = (0..=100).rev().map(|v| v as f32).collect();
        let band = BandPlane {
            values: &values,
            nodata: None,
            byte: false,
        };
        let stretch = band_stretch(&band);
        let img = panel_with(std::slice::from_ref(&band), (101, 1), &[stretch]).unwrap();
        for (i, &v) in values.iter().enumerate() {
            let want = ((v as f64 - 2.0) / 96.0 * 255.0).round().clamp(0.0, 255.0) as u8;
            assert_eq!(img.get_pixel(i as u32, 0).0, [want; 3], "value {v}");
        }
    }
}
