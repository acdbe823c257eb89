//! [`Colorizer`]: the embedding API's engine. It owns a checkpoint's generator and the device
//! it runs on (chosen by name, as on the command line), takes arrays of raw band values of
//! any size, data type and layout, and writes the colorization into the caller's buffer,
//! tiled and blended exactly as `satcolor colorize` does. The C ABI (`capi/`) and the Python
//! module (`python/`) wrap this one type.

use super::array::{Bands, BandsMut, Sample};
use super::colorizer::{DeviceColorizer, ImageData, DEFAULT_BATCH};
use super::error::InferError;
use crate::device::open::{open, DeviceTaker};
use crate::device::precision::Precision;
use crate::device::{Device, DeviceSpec};
use crate::model::normalization::{common_type, BandNorm, SampleType};
use crate::model::Checkpoint;
use std::path::Path;

/// How a [`Colorizer`] is opened: the device, the precision of its convolutions, tiles per
/// batch and the overlap of neighbouring tiles.
///
/// ```
/// use satcolor::infer::Options;
///
/// let o = Options::new().device("cpu").batch(8).overlap(16);
/// assert_eq!(o.device, "cpu");
/// assert_eq!(Options::default().device, "auto");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `auto` (the first CUDA GPU that opens, else the CPU), `cpu`, `emu` (the CUDA kernels
    /// on the CPU emulator), `cuda` or `cuda:N`.
    pub device: String,
    /// The convolutions' arithmetic: `None` for the device's default (TF32 on GPUs of compute
    /// capability 8.0 and newer, else FP32); [`Precision::Bf16`] or [`Precision::Fp16`]
    /// store weights and activations in 16 bits (GPUs and `emu`; the cpu device runs FP32
    /// only).
    pub precision: Option<Precision>,
    /// Tiles per batch (at least 1).
    pub batch: usize,
    /// Overlap of neighbouring tiles in pixels; `None` is a quarter of the model's window.
    pub overlap: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            device: "auto".into(),
            precision: None,
            batch: DEFAULT_BATCH,
            overlap: None,
        }
    }
}

impl Options {
    /// The defaults: device `auto`, its default precision, [`DEFAULT_BATCH`] tiles per batch,
    /// a quarter-window overlap.
    ///
    /// ```
    /// let o = satcolor::infer::Options::new();
    /// assert_eq!((o.device.as_str(), o.batch, o.overlap), ("auto", 16, None));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// With `device` (`auto`, `cpu`, `emu`, `cuda`, `cuda:N`).
    ///
    /// ```
    /// assert_eq!(satcolor::infer::Options::new().device("cuda:1").device, "cuda:1");
    /// ```
    pub fn device(mut self, device: &str) -> Self {
        self.device = device.into();
        self
    }

    /// With `precision`.
    ///
    /// ```
    /// use satcolor::device::precision::Precision;
    ///
    /// let o = satcolor::infer::Options::new().device("cuda").precision(Precision::Bf16);
    /// assert_eq!(o.precision, Some(Precision::Bf16));
    /// ```
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// With `batch` tiles per batch.
    ///
    /// ```
    /// assert_eq!(satcolor::infer::Options::new().batch(4).batch, 4);
    /// ```
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// With `overlap` pixels between neighbouring tiles.
    ///
    /// ```
    /// assert_eq!(satcolor::infer::Options::new().overlap(12).overlap, Some(12));
    /// ```
    pub fn overlap(mut self, overlap: usize) -> Self {
        self.overlap = Some(overlap);
        self
    }
}

/// Which pixels of an input are valid. A pixel is nodata when the mask says so, when any of
/// its bands equals the nodata value, or when any is NaN (f32 input).
///
/// ```
/// use satcolor::infer::Validity;
///
/// let mask = [true, false, true];
/// let v = Validity { nodata: Some(0.0), mask: Some(&mask) };
/// assert_eq!(Validity::default().nodata, None);
/// # let _ = v;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Validity<'a> {
    /// The raw value that marks a missing pixel. Also the value written for nodata pixels
    /// when the output type holds it (valid outputs are then kept off it).
    pub nodata: Option<f64>,
    /// One entry per pixel, row-major (`mask[row·width + col]`); `false` is nodata.
    pub mask: Option<&'a [bool]>,
}

/// A checkpoint's generator on a device, ready to colorize arrays of raw band values.
///
/// One `Colorizer` is used from one thread at a time (it is `Send`, not `Sync`: `colorize`
/// takes `&mut self`); several may run in parallel, each with its own device state.
///
/// ```
/// use satcolor::infer::{Bands, BandsMut, Colorizer, Options, Validity};
///
/// let mut c = Colorizer::open("tests/data/pan-rgb-tiny.safetensors", &Options::new().device("cpu"))?;
/// assert_eq!((c.in_bands(), c.out_bands()), (1, 3));
/// // A 100×70 panchromatic array of u16 values (the model's input type), nodata 0.
/// let (w, h) = (100, 70);
/// let pan: Vec<u16> = (0..w * h).map(|i| (1000 + 7 * (i % w) + 3 * (i / w)) as u16).collect();
/// let mut rgb = vec![0u16; 3 * w * h];
/// c.colorize(
///     &Bands::planar(&pan, w, h, 1)?,
///     Validity { nodata: Some(0.0), mask: None },
///     &mut BandsMut::interleaved(&mut rgb, w, h, 3)?,
/// )?;
/// assert!(rgb.iter().all(|&v| v != 0));
/// # Ok::<(), satcolor::infer::InferError>(())
/// ```
pub struct Colorizer {
    engine: Box<dyn Engine>,
    window: usize,
    in_norms: Vec<BandNorm>,
    out_norms: Vec<BandNorm>,
    out_names: Vec<String>,
    overlap: usize,
}

impl std::fmt::Debug for Colorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Colorizer")
            .field("device", &self.engine.device_name())
            .field("window", &self.window)
            .field("in_bands", &self.in_bands())
            .field("out_bands", &self.out_bands())
            .finish()
    }
}

impl Colorizer {
    /// Opens the checkpoint file `path` (a run's `model.safetensors` or one of its
    /// checkpoints) on the device `options` names.
    ///
    /// Errors: [`InferError::Io`] (no such file), [`InferError::Checkpoint`] (not a satcolor
    /// checkpoint), [`InferError::Device`], [`InferError::Input`] (bad options).
    ///
    /// ```
    /// use satcolor::infer::{Colorizer, InferError, Options};
    ///
    /// let err = Colorizer::open("no/such/model.safetensors", &Options::new()).unwrap_err();
    /// assert!(matches!(err, InferError::Io(_)), "{err}");
    /// let err = Colorizer::open("tests/data/pan-rgb-tiny.safetensors", &Options::new().device("tpu"));
    /// assert!(matches!(err, Err(InferError::Device(_))));
    /// ```
    pub fn open(path: impl AsRef<Path>, options: &Options) -> Result<Self, InferError> {
        let ckpt = Checkpoint::load(path.as_ref()).map_err(|e| InferError::classify(e.into()))?;
        Self::from_checkpoint(&ckpt, options)
    }

    /// Opens a checkpoint held in memory (the bytes of a `.safetensors` file).
    ///
    /// ```
    /// use satcolor::infer::{Colorizer, InferError, Options};
    ///
    /// let bytes = std::fs::read("tests/data/pan-rgb-tiny.safetensors").unwrap();
    /// let c = Colorizer::from_bytes(&bytes, &Options::new().device("cpu"))?;
    /// assert_eq!(c.window(), 32);
    /// let err = Colorizer::from_bytes(b"not a checkpoint", &Options::new()).unwrap_err();
    /// assert!(matches!(err, InferError::Checkpoint(_)));
    /// # Ok::<(), InferError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8], options: &Options) -> Result<Self, InferError> {
        let ckpt = Checkpoint::from_bytes(bytes).map_err(|e| InferError::classify(e.into()))?;
        Self::from_checkpoint(&ckpt, options)
    }

    /// The generator of a loaded checkpoint on the device `options` names.
    ///
    /// ```
    /// use satcolor::infer::{Colorizer, Options};
    /// use satcolor::model::Checkpoint;
    ///
    /// let ckpt = Checkpoint::load("tests/data/pan-rgb-tiny.safetensors".as_ref()).unwrap();
    /// let c = Colorizer::from_checkpoint(&ckpt, &Options::new().device("cpu").overlap(4))?;
    /// assert_eq!(c.overlap(), 4);
    /// # Ok::<(), satcolor::infer::InferError>(())
    /// ```
    pub fn from_checkpoint(ckpt: &Checkpoint, options: &Options) -> Result<Self, InferError> {
        ckpt.validate()
            .map_err(|e| InferError::classify(e.into()))?;
        let window = ckpt.config.window;
        let overlap = options.overlap.unwrap_or(window / 4);
        if overlap >= window {
            return Err(InferError::Input(format!(
                "overlap {overlap} must be smaller than the model's window {window}"
            )));
        }
        if options.batch == 0 {
            return Err(InferError::Input("batch must be at least 1".into()));
        }
        let spec: DeviceSpec = options
            .device
            .parse()
            .map_err(|e: crate::Error| InferError::Device(e.to_string()))?;
        let engine = open(
            &spec,
            options.precision,
            Build {
                ckpt,
                batch: options.batch,
            },
        )
        .map_err(|e| InferError::classify(e.into()))?
        .map_err(|e| InferError::classify(e.into()))?;
        Ok(Self {
            engine,
            window,
            in_norms: ckpt.normalization.input.clone(),
            out_norms: ckpt.normalization.output.clone(),
            out_names: ckpt.bands.output.clone(),
            overlap,
        })
    }

    /// Bands of the input (1 for panchromatic → RGB).
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.in_bands(), 1);
    /// ```
    pub fn in_bands(&self) -> usize {
        self.in_norms.len()
    }

    /// Bands of the output (3 for panchromatic → RGB).
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.out_bands(), 3);
    /// ```
    pub fn out_bands(&self) -> usize {
        self.out_norms.len()
    }

    /// The side of the square tiles the generator runs on.
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.window(), 32);
    /// ```
    pub fn window(&self) -> usize {
        self.window
    }

    /// The overlap of neighbouring tiles in pixels.
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.overlap(), c.window() / 4);
    /// ```
    pub fn overlap(&self) -> usize {
        self.overlap
    }

    /// The data type of the bands the model was trained on; an input is of this type or
    /// `f32` (raw values as floats).
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.input_type(), satcolor::model::normalization::SampleType::UInt16);
    /// ```
    pub fn input_type(&self) -> SampleType {
        common_type(&self.in_norms)
    }

    /// The data type of the target bands (Float32 when they differ); an output buffer is of
    /// this type or `f32`.
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.output_type(), satcolor::model::normalization::SampleType::UInt16);
    /// ```
    pub fn output_type(&self) -> SampleType {
        common_type(&self.out_norms)
    }

    /// The output bands' names (e.g. `red`, `green`, `blue`), as the checkpoint records them.
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.band_names(), ["red", "green", "blue"]);
    /// ```
    pub fn band_names(&self) -> &[String] {
        &self.out_names
    }

    /// The device's name, e.g. `cpu (2 threads)` or `cuda:0 (NVIDIA H100)`.
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert!(c.device().starts_with("cpu"));
    /// ```
    pub fn device(&self) -> String {
        self.engine.device_name()
    }

    /// The arithmetic the device's convolutions run in.
    ///
    /// ```
    /// # let c = satcolor::infer::Colorizer::open(
    /// #     "tests/data/pan-rgb-tiny.safetensors",
    /// #     &satcolor::infer::Options::new().device("cpu"),
    /// # ).unwrap();
    /// assert_eq!(c.precision(), satcolor::device::precision::Precision::Fp32);
    /// ```
    pub fn precision(&self) -> Precision {
        self.engine.precision()
    }

    /// Colorizes `input` (the model's input bands, raw values of [`Colorizer::input_type`] or
    /// `f32`) into `output` (its output bands, of the same width and height, of
    /// [`Colorizer::output_type`] or `f32`), in overlapping tiles blended as `satcolor
    /// colorize` blends them: the same values it writes for the same pixels.
    ///
    /// Valid pixels get the target's values, rounded and clamped to its type and kept off
    /// the nodata value. Nodata pixels ([`Validity`]) get the nodata value when the output
    /// type holds it, else NaN in an `f32` output and 0 in an integer one. Errors
    /// ([`InferError::Input`]) leave `output` as it was.
    ///
    /// ```
    /// use satcolor::infer::{Bands, BandsMut, Colorizer, Options, Validity};
    ///
    /// let mut c = Colorizer::open("tests/data/pan-rgb-tiny.safetensors", &Options::new().device("cpu"))?;
    /// // f32 values with NaN where a pixel is missing, into an interleaved f32 buffer.
    /// let (w, h) = (50, 40);
    /// let mut pan = vec![1500f32; w * h];
    /// pan[7] = f32::NAN;
    /// let mut rgb = vec![0f32; w * h * 3];
    /// c.colorize(
    ///     &Bands::planar(&pan, w, h, 1)?,
    ///     Validity::default(),
    ///     &mut BandsMut::interleaved(&mut rgb, w, h, 3)?,
    /// )?;
    /// assert!(rgb[21..24].iter().all(|v| v.is_nan()));
    /// assert!(rgb[..21].iter().all(|v| *v > 0.0));
    /// // Two bands for a one-band model: an error, and the output is left as it was.
    /// let two = vec![1500u16; 2 * w * h];
    /// let err = c.colorize(
    ///     &Bands::planar(&two, w, h, 2)?,
    ///     Validity::default(),
    ///     &mut BandsMut::interleaved(&mut rgb, w, h, 3)?,
    /// );
    /// assert!(matches!(err, Err(satcolor::infer::InferError::Input(_))));
    /// # Ok::<(), satcolor::infer::InferError>(())
    /// ```
    pub fn colorize<T: Sample, U: Sample>(
        &mut self,
        input: &Bands<'_, T>,
        validity: Validity<'_>,
        output: &mut BandsMut<'_, U>,
    ) -> Result<(), InferError> {
        let (li, lo) = (input.layout(), output.layout());
        self.check(
            li.bands,
            T::TYPE,
            self.in_bands(),
            self.input_type(),
            "input",
        )?;
        self.check(
            lo.bands,
            U::TYPE,
            self.out_bands(),
            self.output_type(),
            "output",
        )?;
        if (li.width, li.height) != (lo.width, lo.height) {
            return Err(InferError::Input(format!(
                "the output is {}x{}, the input {}x{}",
                lo.width, lo.height, li.width, li.height
            )));
        }
        let (width, height) = (li.width, li.height);
        if let Some(m) = validity.mask {
            if m.len() != width * height {
                return Err(InferError::Input(format!(
                    "the mask has {} entries, the image {width}x{height} pixels",
                    m.len()
                )));
            }
        }
        let plane = width * height;
        // The normalized input, the blended output with its sums and weights, and the mask.
        let floats = (li.bands + 3 * lo.bands + 1) as u64 * plane as u64;
        crate::memory::check(
            &format!("colorizing {width}x{height} pixels"),
            floats.saturating_mul(4).saturating_add(plane as u64),
        )
        .map_err(|e| InferError::Input(e.to_string()))?;
        let mut valid = vec![true; plane];
        let mut x = vec![0f32; li.bands * plane];
        for r in 0..height {
            for c in 0..width {
                let i = r * width + c;
                let mut ok = validity.mask.is_none_or(|m| m[i]);
                for b in 0..li.bands {
                    let v = input.get(b, r, c).to_f32();
                    ok &= !v.is_nan() && validity.nodata.is_none_or(|nd| f64::from(v) != nd);
                    x[b * plane + i] = v;
                }
                valid[i] = ok;
            }
        }
        let y = if valid.iter().any(|&v| v) {
            for (b, norm) in self.in_norms.iter().enumerate() {
                for (v, &ok) in x[b * plane..][..plane].iter_mut().zip(&valid) {
                    *v = if ok { norm.normalize(*v) } else { 0.0 };
                }
            }
            let image = ImageData::with_mask(width, height, li.bands, x, valid.clone())
                .map_err(InferError::classify)?;
            self.engine
                .colorize_normalized(&image, self.overlap)
                .map_err(InferError::classify)?
                .values
        } else {
            Vec::new()
        };
        let out_type = self.output_type();
        // What nodata pixels get: the nodata value when the output holds it.
        let kept = validity
            .nodata
            .filter(|&nd| nd.is_nan() || U::TYPE.quantize(nd) == nd && out_type.quantize(nd) == nd);
        let fill = kept.unwrap_or(if U::TYPE == SampleType::Float32 {
            f64::NAN
        } else {
            0.0
        });
        for (b, norm) in self.out_norms.iter().enumerate() {
            for r in 0..height {
                for c in 0..width {
                    let i = r * width + c;
                    let v = if valid[i] {
                        let q = norm.output(y[b * plane + i]);
                        kept.map_or(q, |nd| out_type.keep_off(q, nd))
                    } else {
                        fill
                    };
                    output.set(b, r, c, U::from_value(v));
                }
            }
        }
        Ok(())
    }

    /// As [`Colorizer::colorize`], into a new band-major (`[band][row][col]`) vector.
    ///
    /// ```
    /// use satcolor::infer::{Bands, Colorizer, Options, Validity};
    ///
    /// let mut c = Colorizer::open("tests/data/pan-rgb-tiny.safetensors", &Options::new().device("cpu"))?;
    /// let pan = vec![2000f32; 40 * 9];
    /// let rgb: Vec<f32> = c.colorize_planar(&Bands::planar(&pan, 40, 9, 1)?, Validity::default())?;
    /// assert_eq!(rgb.len(), 3 * 40 * 9);
    /// # Ok::<(), satcolor::infer::InferError>(())
    /// ```
    pub fn colorize_planar<T: Sample, U: Sample>(
        &mut self,
        input: &Bands<'_, T>,
        validity: Validity<'_>,
    ) -> Result<Vec<U>, InferError> {
        let l = input.layout();
        let mut out = vec![U::from_value(0.0); self.out_bands() * l.pixels()];
        let mut bands = BandsMut::planar(&mut out, l.width, l.height, self.out_bands())?;
        self.colorize(input, validity, &mut bands)?;
        Ok(out)
    }

    /// Errors unless an array of `bands` bands of type `t` fits the model's `want` bands of
    /// type `model` (or f32).
    fn check(
        &self,
        bands: usize,
        t: SampleType,
        want: usize,
        model: SampleType,
        what: &str,
    ) -> Result<(), InferError> {
        if bands != want {
            return Err(InferError::Input(format!(
                "the {what} has {bands} band{}, the model's {what} {want}",
                if bands == 1 { "" } else { "s" }
            )));
        }
        if t != model && t != SampleType::Float32 {
            return Err(InferError::Input(format!(
                "the {what} is {}: the model's {what} bands are {} (or pass Float32 values)",
                t.name(),
                model.name()
            )));
        }
        Ok(())
    }
}

/// A [`DeviceColorizer`] that owns its device, with the device's type erased.
trait Engine: Send {
    /// See [`DeviceColorizer::colorize_normalized`].
    fn colorize_normalized(&mut self, x: &ImageData, overlap: usize) -> anyhow::Result<ImageData>;
    /// See [`Device::name`].
    fn device_name(&self) -> String;
    /// See [`Device::precision`].
    fn precision(&self) -> Precision;
}

impl<D> Engine for DeviceColorizer<'static, D>
where
    D: Device + Send + Sync + 'static,
    D::Buf: Send,
    D::Graph: Send,
{
    fn colorize_normalized(&mut self, x: &ImageData, overlap: usize) -> anyhow::Result<ImageData> {
        DeviceColorizer::colorize_normalized(self, x, overlap)
    }

    fn device_name(&self) -> String {
        self.device().name()
    }

    fn precision(&self) -> Precision {
        self.device().precision()
    }
}

/// Builds the engine on the device [`open`] hands over.
struct Build<'a> {
    ckpt: &'a Checkpoint,
    batch: usize,
}

impl DeviceTaker for Build<'_> {
    type Output = crate::model::ModelResult<Box<dyn Engine>>;

    fn take<D>(self, dev: D) -> crate::Result<Self::Output>
    where
        D: Device + Send + Sync + 'static,
        D::Buf: Send,
        D::Graph: Send,
    {
        Ok(DeviceColorizer::owning(dev, self.ckpt, self.batch)
            .map(|c| Box::new(c) as Box<dyn Engine>))
    }
}
