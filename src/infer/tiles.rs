//! Tiled inference over an image of any size, one strip of tile rows at a time.
//!
//! The image is covered by W×W tiles that overlap by `overlap` pixels (the last tile of a
//! row or column is moved back to end at the edge). Each tile's output is weighted by a
//! Hann window, sin²(π(i + ½)/W) along each side: largest in the middle, near 0 at the
//! borders, where the zero padding of the convolutions makes G least reliable. Every pixel
//! is the weighted mean of the tiles covering it, so where two tiles overlap one fades
//! into the other and tile borders do not show as seams (tests/learning.rs measures it).
//! With `overlap` 0 the weights are flat and the tiles simply abut.
//!
//! Memory is bounded whatever the image's shape: [`tile_rows`] works in column blocks of a
//! chosen width, and in each holds one strip of W rows (input, output sums and weights),
//! handing each finished piece to a [`RowSink`] before reading the next strip from a
//! [`RowSource`]. An image narrower or shorter than W is mirrored out to W (reflection
//! about the edge pixels) and the output cropped back.

use anyhow::{ensure, Result};

/// Where a tile may start along an axis of `len` pixels (padded to at least `window`):
/// every `window − overlap` pixels, the last one moved back to end at the edge.
pub fn positions(len: usize, window: usize, overlap: usize) -> Vec<usize> {
    let len = len.max(window);
    let step = window - overlap.min(window - 1);
    let mut p: Vec<usize> = (0..)
        .map(|k| k * step)
        .take_while(|&x| x + window < len)
        .collect();
    p.push(len - window);
    p
}

/// The 1-D blending weights of a tile side: the Hann window sin²(π(i + ½)/W), every weight
/// positive; flat for `overlap` 0 (abutting tiles need no blending).
pub fn blend_weights(window: usize, overlap: usize) -> Vec<f32> {
    (0..window)
        .map(|i| {
            if overlap == 0 {
                return 1.0;
            }
            let t = (i as f64 + 0.5) / window as f64;
            (std::f64::consts::PI * t).sin().powi(2) as f32
        })
        .collect()
}

/// A model that maps batches of W×W tiles of normalized values, `C_in` bands in and
/// `C_out` out (NCHW).
pub trait TileModel {
    /// Tile side W.
    fn window(&self) -> usize;
    /// Input bands C_in.
    fn in_bands(&self) -> usize;
    /// Output bands C_out.
    fn out_bands(&self) -> usize;
    /// Tiles per call of [`TileModel::run`], at most.
    fn batch(&self) -> usize;
    /// Maps `x` (`n·C_in·W·W`) to `y` (`n·C_out·W·W`), n from 1 to [`batch`](Self::batch)
    /// tiles (fewer for the last tiles of a strip).
    fn run(&mut self, x: &[f32], y: &mut [f32]) -> Result<()>;
}

/// A rectangle of pixels: top-left corner (`x`, `y`) and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// First column.
    pub x: usize,
    /// First row.
    pub y: usize,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl Rect {
    /// Pixels in the rectangle.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }
}

/// Supplies the image's pixels, normalized.
pub trait RowSource {
    /// Fills `values` (band-major: `C_in` planes of `rect.height`×`rect.width`) and `valid`
    /// (`rect.height`×`rect.width`, false where the input is nodata) with the pixels of
    /// `rect`. Pixels may be asked for more than once (tiles overlap).
    fn read_rows(&mut self, rect: Rect, values: &mut [f32], valid: &mut [bool]) -> Result<()>;
}

/// Receives the output, each pixel exactly once: column block by column block, each top
/// to bottom.
pub trait RowSink {
    /// Takes the pixels of `rect`: `values` band-major (`C_out` planes of
    /// `rect.height`×`rect.width`, normalized) and the input's `valid` mask there.
    fn write_rows(&mut self, rect: Rect, values: &[f32], valid: &[bool]) -> Result<()>;
}

/// The output columns of each column block: `[start, end)` ranges of at most `max_cols`
/// columns (at least one) covering `0..width`.
pub fn column_blocks(width: usize, max_cols: usize) -> Vec<(usize, usize)> {
    let step = max_cols.max(1);
    (0..width)
        .step_by(step)
        .map(|c| (c, (c + step).min(width)))
        .collect()
}

/// Runs `model` over the `width`×`height` image of `source` in overlapping tiles and
/// writes the blended result to `sink`; `progress` is called with the pixels finished so far
/// and the total.
///
/// The image is done in column blocks of at most `max_cols` output columns, each top to
/// bottom, one strip of W rows at a time, so memory is bounded by `max_cols`, not by the
/// image's width. A block runs every tile of the whole image's grid that touches its
/// columns (tiles that straddle two blocks run twice), so every pixel is blended from the
/// same tiles whatever `max_cols` is, and block borders do not show.
pub fn tile_rows(
    model: &mut dyn TileModel,
    (width, height): (usize, usize),
    overlap: usize,
    max_cols: usize,
    source: &mut dyn RowSource,
    sink: &mut dyn RowSink,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let w = model.window();
    ensure!(
        width > 0 && height > 0,
        "the image is empty ({width}x{height})"
    );
    ensure!(
        overlap < w,
        "overlap {overlap} must be smaller than the window {w}"
    );
    let xs = positions(width.max(w), w, overlap);
    let total = (width * height) as u64;
    let mut done = 0u64;
    for (c0, c1) in column_blocks(width, max_cols) {
        let tiles: Vec<usize> = xs
            .iter()
            .copied()
            .filter(|&x0| x0 < c1 && x0 + w > c0)
            .collect();
        let block = Block {
            x0: tiles[0],
            span: tiles[tiles.len() - 1] + w - tiles[0],
            out: (c0, c1),
        };
        block.run(
            model,
            (width, height),
            overlap,
            &tiles,
            source,
            sink,
            &mut |rows| progress(done + (rows * (c1 - c0)) as u64, total),
        )?;
        done += ((c1 - c0) * height) as u64;
    }
    Ok(())
}

/// One column block: the padded columns `x0 .. x0 + span` its tiles cover, and the output
/// columns `out` it finishes.
struct Block {
    x0: usize,
    span: usize,
    out: (usize, usize),
}

impl Block {
    /// Runs the block's `tiles` (their left columns) down the image, strip by strip;
    /// `progress` gets the rows finished.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        model: &mut dyn TileModel,
        (width, height): (usize, usize),
        overlap: usize,
        tiles: &[usize],
        source: &mut dyn RowSource,
        sink: &mut dyn RowSink,
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let w = model.window();
        let (c_in, c_out, batch) = (model.in_bands(), model.out_bands(), model.batch());
        let (bx, bw) = (self.x0, self.span);
        let (c0, c1) = self.out;
        let ph = height.max(w);
        let ys = positions(ph, w, overlap);
        let ramp = blend_weights(w, overlap);
        // The real columns the block reads (all of them when the image is narrower than W).
        let read_cols = bw.min(width - bx);
        let rows_read = w.min(height);
        let mut raw = vec![0f32; c_in * rows_read * read_cols];
        let mut raw_valid = vec![false; rows_read * read_cols];
        // One strip: W rows of the block's padded columns, the output sums and weight sums.
        let mut strip = vec![0f32; c_in * w * bw];
        let mut acc = vec![0f32; c_out * w * bw];
        let mut wsum = vec![0f32; w * bw];
        let mut x = vec![0f32; batch * c_in * w * w];
        let mut y = vec![0f32; batch * c_out * w * w];
        let mut out = Vec::new();
        let mut out_valid = Vec::new();
        let out_cols = c1 - c0;

        for (k, &y0) in ys.iter().enumerate() {
            crate::interrupt::check()?;
            // Read the strip's real pixels and mirror them out to W×bw.
            let real = rows_read.min(height - y0);
            let n = real * read_cols;
            let rect = Rect {
                x: bx,
                y: y0,
                width: read_cols,
                height: real,
            };
            source.read_rows(rect, &mut raw[..c_in * n], &mut raw_valid[..n])?;
            for c in 0..c_in {
                for r in 0..w {
                    let src_row = reflect(r, real);
                    for col in 0..bw {
                        strip[(c * w + r) * bw + col] =
                            raw[(c * real + src_row) * read_cols + reflect(bx + col, width) - bx];
                    }
                }
            }
            // Every tile of the strip, `batch` at a time.
            for group in tiles.chunks(batch) {
                for (t, &x0) in group.iter().enumerate() {
                    for c in 0..c_in {
                        for r in 0..w {
                            let dst = ((t * c_in + c) * w + r) * w;
                            let src = (c * w + r) * bw + x0 - bx;
                            x[dst..dst + w].copy_from_slice(&strip[src..src + w]);
                        }
                    }
                }
                let n = group.len();
                model.run(&x[..n * c_in * w * w], &mut y[..n * c_out * w * w])?;
                for (t, &x0) in group.iter().enumerate() {
                    for r in 0..w {
                        for col in 0..w {
                            let wt = ramp[r] * ramp[col];
                            let at = r * bw + x0 - bx + col;
                            wsum[at] += wt;
                            for c in 0..c_out {
                                acc[c * w * bw + at] += wt * y[((t * c_out + c) * w + r) * w + col];
                            }
                        }
                    }
                }
            }
            // Rows no later tile row touches are final: emit the block's output columns
            // of them, then shift the strip up.
            let next = ys.get(k + 1).copied().unwrap_or(ph);
            let done = (next - y0).min(height.saturating_sub(y0));
            if done > 0 {
                out.resize(c_out * done * out_cols, 0.0);
                for c in 0..c_out {
                    for r in 0..done {
                        for col in c0..c1 {
                            let at = r * bw + col - bx;
                            out[(c * done + r) * out_cols + col - c0] =
                                acc[c * w * bw + at] / wsum[at];
                        }
                    }
                }
                out_valid.clear();
                for r in 0..done {
                    let row = r * read_cols;
                    out_valid.extend_from_slice(&raw_valid[row + c0 - bx..row + c1 - bx]);
                }
                let rect = Rect {
                    x: c0,
                    y: y0,
                    width: out_cols,
                    height: done,
                };
                sink.write_rows(rect, &out, &out_valid)?;
                progress(y0 + done);
            }
            let shift = next - y0;
            if shift < w {
                for c in 0..c_out {
                    acc.copy_within((c * w + shift) * bw..(c + 1) * w * bw, c * w * bw);
                    acc[((c + 1) * w - shift) * bw..(c + 1) * w * bw].fill(0.0);
                }
                wsum.copy_within(shift * bw.., 0);
                wsum[(w - shift) * bw..].fill(0.0);
            } else {
                acc.fill(0.0);
                wsum.fill(0.0);
            }
        }
        Ok(())
    }
}

/// Index `i` of a padded axis mapped into `0..len` by mirroring about the edge pixels
/// (… 2 1 | 0 1 2 … len−1 | len−2 …).
fn reflect(i: usize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let j = i % period;
    if j < len {
        j
    } else {
        period - j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_cover_the_axis_with_the_overlap() {
        assert_eq!(positions(64, 64, 16), vec![0]);
        assert_eq!(positions(10, 64, 16), vec![0]);
        assert_eq!(positions(100, 64, 16), vec![0, 36]);
        assert_eq!(positions(160, 64, 16), vec![0, 48, 96]);
        assert_eq!(positions(161, 64, 16), vec![0, 48, 96, 97]);
        assert_eq!(positions(130, 64, 0), vec![0, 64, 66]);
    }

    #[test]
    fn blend_weights_are_a_hann_window_or_flat() {
        let w = blend_weights(4, 1);
        let s = |t: f64| (std::f64::consts::PI * t).sin().powi(2) as f32;
        assert_eq!(w, vec![s(0.125), s(0.375), s(0.625), s(0.875)]);
        assert!(w.iter().all(|&v| v > 0.0));
        assert!(blend_weights(5, 0).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn reflect_mirrors_about_the_edge_pixels() {
        let got: Vec<usize> = (0..9).map(|i| reflect(i, 3)).collect();
        assert_eq!(got, vec![0, 1, 2, 1, 0, 1, 2, 1, 0]);
        assert_eq!(reflect(5, 1), 0);
    }
}
