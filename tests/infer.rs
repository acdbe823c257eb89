//! Inference without GDAL: the inference-only generator against the training generator,
//! tiled blending against a brute-force evaluation of its definition, padding of small
//! images and the in-memory API. The seam check of the default overlap needs a trained
//! model: it is part of tests/learning.rs.

#[allow(dead_code)]
mod common;

use anyhow::Result;
use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::infer::tiles::{
    blend_weights, column_blocks, positions, tile_rows, Rect, RowSink, RowSource, TileModel,
};
use satcolor::infer::{DeviceColorizer, ImageData, InferenceGenerator};
use satcolor::model::normalization::{BandNorm, SampleType};
use satcolor::model::{Checkpoint, Generator, GeneratorKind, ModelConfig, Normalization};

/// A small config with an odd mix of sizes: W 32, F 6, k 3, stride 2, L 3.
fn config(stride: usize) -> ModelConfig {
    ModelConfig {
        window: 32,
        filters: 6,
        kernel: 3,
        stride,
        disc_widths: vec![4, 4, 4, 4, 4],
        ..ModelConfig::small()
    }
}

/// A freshly initialized checkpoint of `cfg` from `seed`, Byte bands, made to look trained
/// ([`common::liven_checkpoint`]).
fn checkpoint(cfg: &ModelConfig, seed: u64) -> Checkpoint {
    let mut ckpt = common::fresh_checkpoint(cfg, seed);
    common::liven_checkpoint(&mut ckpt, seed);
    ckpt
}

fn ramp_input(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37 % 101) as f32) / 100.0).collect()
}

/// A three-level U-Net (widths 4, 6, 5) at window 32.
fn unet_config() -> ModelConfig {
    ModelConfig {
        generator: GeneratorKind::Unet,
        unet_widths: vec![4, 6, 5],
        ..config(1)
    }
}

fn inference_matches_training_generator<D: Device>(dev: &D) {
    for cfg in [config(1), config(2), unet_config()] {
        let stride = cfg.stride;
        let ckpt = checkpoint(&cfg, 5);
        let batch = 3;
        let mut g = Generator::new(dev, &cfg, batch, 0).unwrap();
        g.upload(dev, &ckpt.tensors).unwrap();
        let before = dev.alloc_count();
        let mut inf = InferenceGenerator::from_checkpoint(dev, &ckpt, batch).unwrap();
        // Parameters, the consistent head's Q, K and c, and activations only, no gradients:
        // three h buffers, u, a and b (write-up's G); per U-Net level its block's two
        // activations, the pooled input (L − 1 levels) and the decoder's up, concat, middle
        // and output (L − 1 levels), then r and the head's output and scratch.
        let g_tensors = g.params.specs.len() as u64;
        let levels = cfg.unet_widths.len() as u64;
        let activations = match cfg.generator {
            GeneratorKind::Outer => 6,
            GeneratorKind::Unet => 2 * levels + 5 * (levels - 1) + 3,
        };
        assert_eq!(dev.alloc_count() - before, g_tensors + 3 + activations);
        let x = dev.upload(&ramp_input(g.input_len())).unwrap();
        g.forward(dev, &x).unwrap();
        let want = dev.download(g.output()).unwrap();
        let before = dev.alloc_count();
        for _ in 0..2 {
            let got = dev.download(inf.forward(dev, &x).unwrap()).unwrap();
            assert_eq!(got, want, "stride {stride}");
        }
        assert_eq!(dev.alloc_count(), before, "forward allocates nothing");
        assert!(want.iter().any(|&v| v > 0.0));
    }
}

#[test]
fn inference_generator_equals_training_generator_on_cpu() {
    inference_matches_training_generator(&CpuDevice::new());
}

#[cfg(feature = "emu")]
#[test]
fn inference_generator_equals_training_generator_on_emu() {
    use satcolor::device::emu::{EmuExec, EmuOptions};
    use satcolor::device::gpu::GpuDevice;
    let dev = GpuDevice::new(EmuExec::new(EmuOptions::default()).unwrap());
    inference_matches_training_generator(&dev);
}

/// A model whose output depends on the pixel's value and its place in the tile, so that
/// blending is visible: band 0 = v, band 1 = v + row/W, band 2 = col/W.
struct PositionModel {
    window: usize,
    batch: usize,
}

impl TileModel for PositionModel {
    fn window(&self) -> usize {
        self.window
    }
    fn in_bands(&self) -> usize {
        1
    }
    fn out_bands(&self) -> usize {
        3
    }
    fn batch(&self) -> usize {
        self.batch
    }
    fn run(&mut self, x: &[f32], y: &mut [f32]) -> Result<()> {
        let w = self.window;
        // The tiler hands over 1 to `batch` tiles, only the tiles it uses.
        let n = x.len() / (w * w);
        assert!((1..=self.batch).contains(&n) && x.len() == n * w * w && y.len() == 3 * x.len());
        for t in 0..n {
            for r in 0..w {
                for c in 0..w {
                    let v = x[(t * w + r) * w + c];
                    let f = [v, v + r as f32 / w as f32, c as f32 / w as f32];
                    for (b, fb) in f.iter().enumerate() {
                        y[((t * 3 + b) * w + r) * w + c] = *fb;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Rows of a plane, with a checkable nodata pattern.
struct PlaneSource<'a> {
    width: usize,
    plane: &'a [f32],
}

impl RowSource for PlaneSource<'_> {
    fn read_rows(&mut self, r: Rect, values: &mut [f32], valid: &mut [bool]) -> Result<()> {
        for row in 0..r.height {
            for col in 0..r.width {
                let at = (r.y + row) * self.width + r.x + col;
                values[row * r.width + col] = self.plane[at];
                valid[row * r.width + col] = at % 7 != 3;
            }
        }
        Ok(())
    }
}

/// Collects pixels, checking that each comes once: column blocks left to right, each top to
/// bottom.
struct CollectSink {
    width: usize,
    /// The current block's first column and its next row.
    block: (usize, usize),
    written: Vec<bool>,
    bands: Vec<Vec<f32>>,
    valid: Vec<bool>,
}

impl CollectSink {
    fn new(width: usize, height: usize) -> Self {
        CollectSink {
            width,
            block: (0, 0),
            written: vec![false; width * height],
            bands: vec![vec![f32::NAN; width * height]; 3],
            valid: vec![false; width * height],
        }
    }
}

impl RowSink for CollectSink {
    fn write_rows(&mut self, r: Rect, values: &[f32], valid: &[bool]) -> Result<()> {
        if r.x != self.block.0 {
            assert!(
                r.x > self.block.0 && r.y == 0,
                "blocks left to right: {r:?}"
            );
            self.block = (r.x, 0);
        }
        assert_eq!(r.y, self.block.1, "rows top to bottom: {r:?}");
        self.block.1 += r.height;
        let n = r.pixels();
        for row in 0..r.height {
            for col in 0..r.width {
                let at = (r.y + row) * self.width + r.x + col;
                let i = row * r.width + col;
                assert!(!self.written[at], "pixel {at} written twice");
                self.written[at] = true;
                for (b, band) in self.bands.iter_mut().enumerate() {
                    band[at] = values[b * n + i];
                }
                self.valid[at] = valid[i];
            }
        }
        Ok(())
    }
}

/// The definition of the blend, evaluated pixel by pixel: the weighted mean over every tile
/// covering the pixel of `f(tile origin, row and column in the tile, pixel value)`, with the
/// image mirrored out to W when smaller.
fn brute_force(
    plane: &[f32],
    (width, height): (usize, usize),
    w: usize,
    overlap: usize,
    f: impl Fn(usize, usize, f32) -> [f32; 3],
) -> Vec<Vec<f32>> {
    let mirror = |i: usize, n: usize| -> usize {
        let p = if n == 1 { 1 } else { 2 * (n - 1) };
        let j = i % p;
        if j < n {
            j
        } else {
            p - j
        }
    };
    let ramp = blend_weights(w, overlap);
    let (xs, ys) = (positions(width, w, overlap), positions(height, w, overlap));
    let mut out = vec![vec![0f32; width * height]; 3];
    for py in 0..height {
        for px in 0..width {
            let (mut num, mut den) = ([0f64; 3], 0f64);
            for &y0 in ys.iter().filter(|&&y0| y0 <= py && py < y0 + w) {
                for &x0 in xs.iter().filter(|&&x0| x0 <= px && px < x0 + w) {
                    let (r, c) = (py - y0, px - x0);
                    let v = plane[mirror(py, height) * width + mirror(px, width)];
                    let wt = ramp[r] as f64 * ramp[c] as f64;
                    for (n, fb) in num.iter_mut().zip(f(r, c, v)) {
                        *n += wt * fb as f64;
                    }
                    den += wt;
                }
            }
            for b in 0..3 {
                out[b][py * width + px] = (num[b] / den) as f32;
            }
        }
    }
    out
}

#[test]
fn tiled_blend_equals_its_definition_at_awkward_sizes() {
    let w = 16;
    // Column blocks as wide as the image, and narrower: a block of 1 column, blocks that
    // end inside a tile, and blocks as wide as a tile.
    for (width, height, overlap, batch, max_cols) in [
        (77, 130, 4, 3, usize::MAX),
        (77, 130, 4, 3, 20),
        (77, 130, 4, 2, 1),
        (16, 16, 4, 2, usize::MAX),
        (45, 17, 0, 5, 16),
        (45, 17, 0, 5, 7),
        (10, 7, 4, 1, 3),
        (1, 40, 3, 2, 1),
        (33, 5, 15, 4, 11),
    ] {
        let plane: Vec<f32> = ramp_input(width * height);
        let mut model = PositionModel { window: w, batch };
        let mut sink = CollectSink::new(width, height);
        let mut source = PlaneSource {
            width,
            plane: &plane,
        };
        let mut last = (0, 0);
        tile_rows(
            &mut model,
            (width, height),
            overlap,
            max_cols,
            &mut source,
            &mut sink,
            &mut |done, total| last = (done, total),
        )
        .unwrap();
        let pixels = (width * height) as u64;
        assert_eq!(last, (pixels, pixels));
        assert!(sink.written.iter().all(|&w| w), "every pixel written");
        let wf = w as f32;
        let want = brute_force(&plane, (width, height), w, overlap, |r, c, v| {
            [v, v + r as f32 / wf, c as f32 / wf]
        });
        for (b, (got, want)) in sink.bands.iter().zip(&want).enumerate() {
            let err = got
                .iter()
                .zip(want)
                .map(|(a, e)| (a - e).abs())
                .fold(0f32, f32::max);
            assert!(
                err < 2e-6,
                "{width}x{height} overlap {overlap} blocks of {max_cols} band {b}: error {err}"
            );
        }
        // A pointwise band is reproduced exactly wherever the image is.
        assert_eq!(sink.bands[0].len(), plane.len());
        for (a, e) in sink.bands[0].iter().zip(&plane) {
            assert!((a - e).abs() < 1e-6);
        }
        let want_valid: Vec<bool> = (0..width * height).map(|i| i % 7 != 3).collect();
        assert_eq!(sink.valid, want_valid);
    }
}

#[test]
fn column_blocks_cover_the_width() {
    assert_eq!(column_blocks(10, 4), vec![(0, 4), (4, 8), (8, 10)]);
    assert_eq!(column_blocks(10, usize::MAX), vec![(0, 10)]);
    assert_eq!(column_blocks(3, 0), vec![(0, 1), (1, 2), (2, 3)]);
}

#[test]
fn overlap_must_be_smaller_than_the_window() {
    let mut model = PositionModel {
        window: 8,
        batch: 1,
    };
    let plane = vec![0.5; 64];
    let mut source = PlaneSource {
        width: 8,
        plane: &plane,
    };
    let mut sink = CollectSink::new(8, 8);
    let err = tile_rows(
        &mut model,
        (8, 8),
        8,
        usize::MAX,
        &mut source,
        &mut sink,
        &mut |_, _| (),
    )
    .unwrap_err();
    assert!(err.to_string().contains("overlap 8"), "{err}");
}

/// UInt16 input and outputs, with ranges that are not 0..1.
fn uint16_checkpoint(cfg: &ModelConfig, seed: u64) -> Checkpoint {
    let mut ckpt = checkpoint(cfg, seed);
    let band = |lo, hi| BandNorm {
        lo,
        hi,
        dtype: SampleType::UInt16,
    };
    ckpt.normalization = Normalization {
        input: vec![band(100.0, 1900.0)],
        output: vec![band(50.0, 1500.0), band(80.0, 1700.0), band(20.0, 2047.0)],
    };
    ckpt
}

/// The in-memory API against G run tile by tile and blended by the definition, for `cfg`.
fn colorize_in_memory_equals_g_tile_by_tile(cfg: &ModelConfig) {
    let dev = CpuDevice::new();
    let ckpt = uint16_checkpoint(cfg, 5);
    let (width, height, overlap) = (41, 70, 8);
    let raw: Vec<f32> = ramp_input(width * height)
        .iter()
        .map(|v| 40.0 + v * 2000.0)
        .collect();
    let mut valid = vec![true; width * height];
    valid[5] = false;
    let input = ImageData::with_mask(width, height, 1, raw.clone(), valid.clone()).unwrap();
    let mut colorizer = DeviceColorizer::new(&dev, &ckpt, 4).unwrap();
    let got = colorizer.colorize(&input, overlap).unwrap();
    assert_eq!((got.width, got.height, got.bands), (width, height, 3));
    assert_eq!(got.valid, valid);

    // Independently: G on each tile of the normalized image, blended by the definition.
    let w = cfg.window;
    let norm = |v: f32| ((v - 100.0) / 1800.0).clamp(0.0, 1.0);
    let normalized: Vec<f32> = raw
        .iter()
        .zip(&valid)
        .map(|(&v, &ok)| if ok { norm(v) } else { 0.0 })
        .collect();
    let mut g = InferenceGenerator::from_checkpoint(&dev, &ckpt, 1).unwrap();
    let mut tiles = std::collections::HashMap::new();
    for &y0 in &positions(height, w, overlap) {
        for &x0 in &positions(width, w, overlap) {
            let mut x = vec![0f32; w * w];
            for r in 0..w {
                x[r * w..(r + 1) * w].copy_from_slice(&normalized[(y0 + r) * width + x0..][..w]);
            }
            let buf = dev.upload(&x).unwrap();
            tiles.insert(
                (x0, y0),
                dev.download(g.forward(&dev, &buf).unwrap()).unwrap(),
            );
        }
    }
    let xs = positions(width, w, overlap);
    let ys = positions(height, w, overlap);
    let ramp = blend_weights(w, overlap);
    let ranges = [(50.0, 1500.0), (80.0, 1700.0), (20.0, 2047.0)];
    for py in 0..height {
        for px in 0..width {
            let i = py * width + px;
            for (b, (lo, hi)) in ranges.iter().enumerate() {
                let (mut num, mut den) = (0f64, 0f64);
                for &y0 in ys.iter().filter(|&&y0| y0 <= py && py < y0 + w) {
                    for &x0 in xs.iter().filter(|&&x0| x0 <= px && px < x0 + w) {
                        let (r, c) = (py - y0, px - x0);
                        let wt = ramp[r] as f64 * ramp[c] as f64;
                        num += wt * tiles[&(x0, y0)][(b * w + r) * w + c] as f64;
                        den += wt;
                    }
                }
                let want = if valid[i] {
                    // Written values are clamped to the stretch, [lo, hi].
                    (lo + (num / den).clamp(0.0, 1.0) * (hi - lo)).round()
                } else {
                    0.0
                };
                let v = got.values[b * width * height + i] as f64;
                // One unit of rounding either way where the f32 blend sits on a half.
                assert!(
                    (v - want).abs() <= 1.0,
                    "pixel ({px}, {py}) band {b}: {v} vs {want}"
                );
                assert_eq!(v, v.round());
            }
        }
    }
}

#[test]
fn colorize_in_memory_equals_g_tile_by_tile_outer() {
    colorize_in_memory_equals_g_tile_by_tile(&config(2));
}

#[test]
fn colorize_in_memory_equals_g_tile_by_tile_unet() {
    colorize_in_memory_equals_g_tile_by_tile(&unet_config());
}

#[test]
fn colorize_checks_the_band_count() {
    let dev = CpuDevice::new();
    let cfg = config(2);
    let mut colorizer = DeviceColorizer::new(&dev, &checkpoint(&cfg, 1), 2).unwrap();
    let image = ImageData::new(40, 40, 3, vec![0.0; 3 * 1600]).unwrap();
    let err = colorizer.colorize(&image, 8).unwrap_err();
    assert!(err.to_string().contains("3 bands"), "{err}");
    assert!(ImageData::new(4, 4, 1, vec![0.0; 15]).is_err());
}

#[test]
fn floats_per_window_is_what_the_generator_allocates_per_window() {
    let mut seed = ModelConfig::seed();
    seed.window = 32;
    for cfg in [ModelConfig::small(), ModelConfig::unet(), seed] {
        let ckpt = checkpoint(&cfg, 1);
        let count = |batch: usize| {
            let dev = CpuDevice::new();
            InferenceGenerator::from_checkpoint(&dev, &ckpt, batch).unwrap();
            dev.allocated_floats()
        };
        let per = satcolor::infer::generator::floats_per_window(&cfg) as u64;
        assert!(per > 0);
        assert_eq!(count(3) - count(1), 2 * per, "{:?}", cfg.generator);
    }
}
