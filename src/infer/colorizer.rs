//! [`DeviceColorizer`]: a checkpoint's generator on a device as a [`TileModel`], and the
//! in-memory inference API (arrays of raw band values in, arrays out) that needs no GDAL.

use super::generator::InferenceGenerator;
use super::tiles::{tile_rows, Rect, RowSink, RowSource, TileModel};
use crate::device::graph::LaunchGraph;
use crate::device::Device;
use crate::model::{Checkpoint, ModelResult, Normalization};
use anyhow::{ensure, Result};

/// An image in memory: `bands` planes of `width`×`height` raw values (the raster's units,
/// band-major) and a validity mask (false = nodata).
#[derive(Clone, Debug, PartialEq)]
pub struct ImageData {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Number of bands.
    pub bands: usize,
    /// `values[(b·height + row)·width + col]`.
    pub values: Vec<f32>,
    /// `valid[row·width + col]`.
    pub valid: Vec<bool>,
}

impl ImageData {
    /// An image with every pixel valid. Errors when `values` does not hold `bands` planes of
    /// `width`×`height`.
    pub fn new(width: usize, height: usize, bands: usize, values: Vec<f32>) -> Result<Self> {
        let valid = vec![true; width * height];
        Self::with_mask(width, height, bands, values, valid)
    }

    /// An image with a validity mask.
    pub fn with_mask(
        width: usize,
        height: usize,
        bands: usize,
        values: Vec<f32>,
        valid: Vec<bool>,
    ) -> Result<Self> {
        let plane = width * height;
        ensure!(
            plane > 0 && bands > 0 && values.len() == bands * plane && valid.len() == plane,
            "{} values and {} mask entries do not make {bands} bands of {width}x{height}",
            values.len(),
            valid.len()
        );
        Ok(Self {
            width,
            height,
            bands,
            values,
            valid,
        })
    }
}

/// Default tiles per batch of a [`DeviceColorizer`].
pub const DEFAULT_BATCH: usize = 16;

/// A checkpoint's generator on a device, with its normalization: colorizes W×W tiles
/// ([`TileModel`]) and whole images in memory ([`DeviceColorizer::colorize`]).
pub struct DeviceColorizer<'d, D: Device> {
    dev: DeviceRef<'d, D>,
    generator: InferenceGenerator<D>,
    normalization: Normalization,
    x: D::Buf,
    /// Whether batches run as a replayed launch graph, and the graph once recorded.
    graph: LaunchGraph<D::Graph>,
    /// The checkpoint, for `build_partial`.
    ckpt: Checkpoint,
    /// A generator (and its input) for the last batch of fewer tiles than `batch` that ran
    /// (the last tiles of a strip): running those alone, not padded to a full batch.
    partial: Option<(InferenceGenerator<D>, D::Buf)>,
}

/// The device of a [`DeviceColorizer`]: borrowed, or owned by it
/// ([`DeviceColorizer::owning`]).
enum DeviceRef<'d, D> {
    Borrowed(&'d D),
    Owned(Box<D>),
}

impl<D> std::ops::Deref for DeviceRef<'_, D> {
    type Target = D;

    fn deref(&self) -> &D {
        match self {
            DeviceRef::Borrowed(d) => d,
            DeviceRef::Owned(d) => d,
        }
    }
}

impl<D: Device> DeviceColorizer<'static, D> {
    /// As [`DeviceColorizer::new`], owning the device (the engine behind
    /// [`super::Colorizer`]).
    pub fn owning(dev: D, ckpt: &Checkpoint, batch: usize) -> ModelResult<Self> {
        Self::on(DeviceRef::Owned(Box::new(dev)), ckpt, batch)
    }
}

impl<'d, D: Device> DeviceColorizer<'d, D> {
    /// The generator of `ckpt` on `dev`, running up to `batch` tiles at a time: a strip's
    /// last, fewer tiles run alone, through a second generator built for their number when
    /// first needed (so no work is spent on padding tiles).
    pub fn new(dev: &'d D, ckpt: &Checkpoint, batch: usize) -> ModelResult<Self> {
        Self::on(DeviceRef::Borrowed(dev), ckpt, batch)
    }

    fn on(dev: DeviceRef<'d, D>, ckpt: &Checkpoint, batch: usize) -> ModelResult<Self> {
        let generator = InferenceGenerator::from_checkpoint(&*dev, ckpt, batch)?;
        let x = dev.alloc_zeros(generator.input_len())?;
        Ok(Self {
            dev,
            generator,
            normalization: ckpt.normalization.clone(),
            x,
            graph: LaunchGraph::Off,
            ckpt: ckpt.clone(),
            partial: None,
        })
    }

    /// Builds `partial` for batches of `n` tiles (fewer than a full
    /// batch) when `n` differs from the last such batch's.
    fn build_partial(&mut self, n: usize) -> Result<()> {
        if self.partial.as_ref().map(|(g, _)| g.batch()) != Some(n) {
            // The old one goes first, so that both are never held at once.
            self.partial = None;
            let generator = InferenceGenerator::from_checkpoint(&*self.dev, &self.ckpt, n)?;
            let x = self.dev.alloc_zeros(generator.input_len())?;
            self.partial = Some((generator, x));
        }
        Ok(())
    }

    /// Runs each batch's forward pass as one replayed launch graph (`--cuda-graphs`; see
    /// [`Device::begin_graph`]): the next batch runs op by op, the one after is recorded,
    /// and every later one replays it (the input is written before, the output read after).
    pub fn set_graphs(&mut self, on: bool) -> Result<()> {
        if on && !self.dev.has_graphs() {
            return Err(crate::Error::Input(format!(
                "launch graphs (--cuda-graphs) need a GPU device (cuda, or emu to check one); {} runs ops directly",
                self.dev.name()
            ))
            .into());
        }
        self.graph = LaunchGraph::new(on);
        Ok(())
    }

    /// The device it runs on.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// How raw input and output values map to [0, 1].
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// Colorizes `input` (C_in bands of raw values, normalized with the checkpoint's input
    /// mappings) in tiles overlapping by `overlap` pixels. Returns C_out bands in the
    /// target's units, rounded and clamped to its data type; pixels that are nodata in the
    /// input are nodata in the output (same mask, value 0).
    pub fn colorize(&mut self, input: &ImageData, overlap: usize) -> Result<ImageData> {
        let norm = self.normalization.clone();
        ensure!(
            input.bands == norm.input.len(),
            "the image has {} bands, the model takes {}",
            input.bands,
            norm.input.len()
        );
        let plane = input.width * input.height;
        let mut x = input.clone();
        for (b, n) in norm.input.iter().enumerate() {
            for (v, &ok) in x.values[b * plane..(b + 1) * plane]
                .iter_mut()
                .zip(&input.valid)
            {
                *v = if ok { n.normalize(*v) } else { 0.0 };
            }
        }
        let mut y = self.colorize_normalized(&x, overlap)?;
        for (b, n) in norm.output.iter().enumerate() {
            for (v, &ok) in y.values[b * plane..(b + 1) * plane]
                .iter_mut()
                .zip(&input.valid)
            {
                *v = if ok { n.output(*v) as f32 } else { 0.0 };
            }
        }
        Ok(y)
    }

    /// Colorizes `input`, C_in bands already normalized to [0, 1], in tiles overlapping by
    /// `overlap` pixels; returns G's C_out normalized bands blended over the tiles, with the
    /// input's mask. Nodata pixels are fed to G as they are.
    pub fn colorize_normalized(&mut self, input: &ImageData, overlap: usize) -> Result<ImageData> {
        let c_in = self.in_bands();
        ensure!(
            input.bands == c_in,
            "the image has {} bands, the model takes {c_in}",
            input.bands
        );
        let mut sink = MemorySink {
            width: input.width,
            height: input.height,
            values: vec![0.0; self.out_bands() * input.width * input.height],
        };
        let size = (input.width, input.height);
        let mut source = MemorySource { image: input };
        // The image is in memory already: one column block.
        tile_rows(
            self,
            size,
            overlap,
            usize::MAX,
            &mut source,
            &mut sink,
            &mut |_, _| (),
        )?;
        ImageData::with_mask(
            input.width,
            input.height,
            self.out_bands(),
            sink.values,
            input.valid.clone(),
        )
    }
}

impl<D: Device> TileModel for DeviceColorizer<'_, D> {
    fn window(&self) -> usize {
        self.generator.config().window
    }

    fn in_bands(&self) -> usize {
        self.generator.config().in_bands
    }

    fn out_bands(&self) -> usize {
        self.generator.config().out_bands
    }

    fn batch(&self) -> usize {
        self.generator.batch()
    }

    fn run(&mut self, x: &[f32], y: &mut [f32]) -> Result<()> {
        let tile = self.generator.input_len() / self.batch();
        let n = x.len() / tile;
        ensure!(
            n >= 1 && n <= self.batch() && x.len() == n * tile,
            "a batch of {} values is not 1 to {} tiles of {tile}",
            x.len(),
            self.batch()
        );
        if n < self.batch() {
            // The last tiles of a strip: a generator of their number, op by op.
            self.build_partial(n)?;
            let (dev, (generator, buf)) = (&*self.dev, self.partial.as_mut().expect("built"));
            dev.write(buf, x)?;
            let out = generator.forward(dev, buf)?;
            y.copy_from_slice(&dev.download(out)?);
            return Ok(());
        }
        let dev = &*self.dev;
        dev.write(&mut self.x, x)?;
        let (generator, x) = (&mut self.generator, &self.x);
        self.graph
            .run(dev, || generator.forward(dev, x).map(|_| ()))?;
        let host = dev.download(self.generator.output())?;
        y.copy_from_slice(&host);
        Ok(())
    }
}

/// Rows of an [`ImageData`] of normalized values.
struct MemorySource<'a> {
    image: &'a ImageData,
}

impl RowSource for MemorySource<'_> {
    fn read_rows(&mut self, r: Rect, values: &mut [f32], valid: &mut [bool]) -> Result<()> {
        let im = self.image;
        let n = r.pixels();
        for row in 0..r.height {
            let src = (r.y + row) * im.width + r.x;
            valid[row * r.width..][..r.width].copy_from_slice(&im.valid[src..][..r.width]);
            for b in 0..im.bands {
                values[b * n + row * r.width..][..r.width]
                    .copy_from_slice(&im.values[b * im.width * im.height + src..][..r.width]);
            }
        }
        Ok(())
    }
}

/// Collects output rows into planes.
struct MemorySink {
    width: usize,
    height: usize,
    values: Vec<f32>,
}

impl RowSink for MemorySink {
    fn write_rows(&mut self, r: Rect, values: &[f32], _valid: &[bool]) -> Result<()> {
        let n = r.pixels();
        for (b, src) in values.chunks_exact(n).enumerate() {
            for row in 0..r.height {
                let dst = (b * self.height + r.y + row) * self.width + r.x;
                self.values[dst..][..r.width].copy_from_slice(&src[row * r.width..][..r.width]);
            }
        }
        Ok(())
    }
}
