//! The C ABI of satcolor's inference engine: a thin layer over
//! [`satcolor::infer::Colorizer`] that C and C++ programs (GIS tools, GDAL plugins) link as
//! `libsatcolor_c.so` or `libsatcolor_c.a` with `include/satcolor.h`.
//!
//! Every function returns a [`SatcolorStatus`] (except [`satcolor_last_error`] and
//! [`satcolor_version`], which cannot fail), never aborts, and never unwinds into C: a
//! panic is caught and becomes [`SatcolorStatus::ErrPanic`], after which the colorizer it
//! happened in refuses further work. The message of the last failure on a thread is
//! [`satcolor_last_error`].
//!
//! Threads: one colorizer is used from one thread at a time (it may move between threads);
//! several colorizers may run in parallel.

use satcolor::infer::{Bands, BandsMut, Colorizer, InferError, Layout, Options, Sample, Validity};
use satcolor::model::normalization::SampleType;
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a call did: `SATCOLOR_STATUS_OK`, or the kind of failure (the message:
/// `satcolor_last_error()`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SatcolorStatus {
    /// Success.
    Ok = 0,
    /// Bad arguments: a NULL pointer, an unknown data type, arrays of the wrong band count,
    /// type or size, a buffer too short for its strides, overlapping input and output,
    /// settings that cannot be used.
    ErrInput = 1,
    /// The checkpoint file cannot be read (missing, unreadable).
    ErrIo = 2,
    /// Not a satcolor checkpoint, or a checkpoint that does not fit its model.
    ErrCheckpoint = 3,
    /// An unknown device name, or a device that cannot be opened (no GPU).
    ErrDevice = 4,
    /// A failure while running (out of memory, a kernel error).
    ErrFailed = 5,
    /// An internal error (a bug in satcolor): the colorizer it happened in refuses further
    /// work; close it.
    ErrPanic = 6,
}

/// Data type code of 8-bit unsigned samples (`uint8_t`).
pub const SATCOLOR_TYPE_U8: u32 = 1;
/// Data type code of 16-bit unsigned samples (`uint16_t`).
pub const SATCOLOR_TYPE_U16: u32 = 2;
/// Data type code of 16-bit signed samples (`int16_t`).
pub const SATCOLOR_TYPE_I16: u32 = 3;
/// Data type code of 32-bit float samples (`float`).
pub const SATCOLOR_TYPE_F32: u32 = 4;

/// A colorizer: a checkpoint's generator on a device. Opaque; made by `satcolor_open` or
/// `satcolor_open_bytes`, released by `satcolor_close`.
pub struct SatcolorColorizer {
    inner: Colorizer,
    /// Set when a call panicked: the colorizer's state is unknown from then on.
    poisoned: bool,
}

/// How a colorizer is opened. A NULL `SatcolorOptions*` means every default.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SatcolorOptions {
    /// `auto` (the first CUDA GPU that opens, else the CPU), `cpu`, `emu`, `cuda` or
    /// `cuda:N`; NULL for `auto`.
    pub device: *const c_char,
    /// `fp32`, `tf32`, `3xtf32`, `bf16` or `fp16`; NULL for the device's default.
    pub precision: *const c_char,
    /// Tiles per batch; 0 for the default (16).
    pub batch: usize,
    /// Overlap of neighbouring tiles in pixels; negative for the default (a quarter window).
    pub overlap: i64,
}

/// What a colorizer takes and gives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SatcolorInfo {
    /// Bands of the input (1 for panchromatic → RGB).
    pub in_bands: usize,
    /// Bands of the output.
    pub out_bands: usize,
    /// Side of the square tiles the generator runs on.
    pub window: usize,
    /// Overlap of neighbouring tiles in pixels.
    pub overlap: usize,
    /// The model's input type (`SATCOLOR_TYPE_*`); inputs are of this type or F32.
    pub input_type: u32,
    /// The model's output type (`SATCOLOR_TYPE_*`); outputs are of this type or F32.
    pub output_type: u32,
}

/// An array the caller owns, read by `satcolor_colorize`: band `b`, row `r`, column `c`
/// is element `b*band_stride + r*row_stride + c*col_stride` of `data` (strides in elements,
/// not bytes). Planar: strides (width*height, width, 1); interleaved: (1, width*bands,
/// bands).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SatcolorImage {
    /// The first element, aligned for its type.
    pub data: *const c_void,
    /// Elements `data` holds.
    pub len: usize,
    /// `SATCOLOR_TYPE_*`.
    pub data_type: u32,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Bands.
    pub bands: usize,
    /// Elements from one band to the next.
    pub band_stride: usize,
    /// Elements from one row to the next.
    pub row_stride: usize,
    /// Elements from one column to the next.
    pub col_stride: usize,
}

/// An array the caller owns, written by `satcolor_colorize`: as `SatcolorImage`, writable.
/// Elements outside its layout are left as they are.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SatcolorImageMut {
    /// The first element, aligned for its type.
    pub data: *mut c_void,
    /// Elements `data` holds.
    pub len: usize,
    /// `SATCOLOR_TYPE_*`.
    pub data_type: u32,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Bands.
    pub bands: usize,
    /// Elements from one band to the next.
    pub band_stride: usize,
    /// Elements from one row to the next.
    pub row_stride: usize,
    /// Elements from one column to the next.
    pub col_stride: usize,
}

/// A failed call: its status and message.
struct Fail(SatcolorStatus, String);

impl From<InferError> for Fail {
    fn from(e: InferError) -> Self {
        let status = match &e {
            InferError::Input(_) => SatcolorStatus::ErrInput,
            InferError::Io(_) => SatcolorStatus::ErrIo,
            InferError::Checkpoint(_) => SatcolorStatus::ErrCheckpoint,
            InferError::Device(_) => SatcolorStatus::ErrDevice,
            _ => SatcolorStatus::ErrFailed,
        };
        Fail(status, e.to_string())
    }
}

fn bad(msg: impl Into<String>) -> Fail {
    Fail(SatcolorStatus::ErrInput, msg.into())
}

thread_local! {
    /// The message of the last failed call on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    // A message never holds NUL; were one there, the text before it is kept.
    let text = msg.split('\0').next().unwrap_or_default();
    let c = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, turning its failure or panic into a status and the thread's last error.
fn guard(f: impl FnOnce() -> Result<(), Fail>) -> SatcolorStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error("");
            SatcolorStatus::Ok
        }
        Ok(Err(Fail(status, msg))) => {
            set_last_error(&msg);
            status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!(
                "internal error in satcolor (please report it): {what}"
            ));
            SatcolorStatus::ErrPanic
        }
    }
}

/// A C string argument as UTF-8; `None` for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn opt_str<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Fail> {
    if p.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(p)
        .to_str()
        .map(Some)
        .map_err(|_| bad(format!("{what} is not UTF-8")))
}

/// The options a C caller passed.
///
/// # Safety
/// `o` is NULL or points to a `SatcolorOptions` whose strings are NULL or NUL-terminated.
unsafe fn options(o: *const SatcolorOptions) -> Result<Options, Fail> {
    let mut opts = Options::new();
    let Some(o) = o.as_ref() else {
        return Ok(opts);
    };
    if let Some(d) = opt_str(o.device, "the device")? {
        opts = opts.device(d);
    }
    if let Some(p) = opt_str(o.precision, "the precision")? {
        opts.precision = Some(p.parse().map_err(|e: satcolor::Error| bad(e.to_string()))?);
    }
    if o.batch > 0 {
        opts.batch = o.batch;
    }
    if o.overlap >= 0 {
        opts.overlap = Some(usize::try_from(o.overlap).map_err(|_| bad("overlap too large"))?);
    }
    Ok(opts)
}

/// Stores a new colorizer in `*out` (left untouched on failure).
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn publish(
    out: *mut *mut SatcolorColorizer,
    make: impl FnOnce() -> Result<Colorizer, Fail>,
) -> Result<(), Fail> {
    if out.is_null() {
        return Err(bad("out is NULL"));
    }
    let inner = make()?;
    *out = Box::into_raw(Box::new(SatcolorColorizer {
        inner,
        poisoned: false,
    }));
    Ok(())
}

/// Opens the checkpoint file `path` (a run's `model.safetensors`) with `options` (NULL:
/// every default) and stores the colorizer in `*out`, which `satcolor_close` releases.
///
/// # Safety
/// `path` is a NUL-terminated string; `options` is NULL or valid; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn satcolor_open(
    path: *const c_char,
    options: *const SatcolorOptions,
    out: *mut *mut SatcolorColorizer,
) -> SatcolorStatus {
    guard(|| {
        let path = opt_str(path, "the path")?.ok_or_else(|| bad("path is NULL"))?;
        let opts = self::options(options)?;
        publish(out, || Ok(Colorizer::open(path, &opts)?))
    })
}

/// Opens a checkpoint held in memory (`len` bytes of a `.safetensors` file; the caller keeps
/// ownership and may free them on return) and stores the colorizer in `*out`.
///
/// # Safety
/// `bytes` points to `len` readable bytes; `options` is NULL or valid; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn satcolor_open_bytes(
    bytes: *const u8,
    len: usize,
    options: *const SatcolorOptions,
    out: *mut *mut SatcolorColorizer,
) -> SatcolorStatus {
    guard(|| {
        if bytes.is_null() {
            return Err(bad("bytes is NULL"));
        }
        let data = std::slice::from_raw_parts(bytes, len);
        let opts = self::options(options)?;
        publish(out, || Ok(Colorizer::from_bytes(data, &opts)?))
    })
}

/// Releases a colorizer and its device memory. NULL does nothing.
///
/// # Safety
/// `colorizer` is NULL or came from `satcolor_open*` and was not closed before.
#[no_mangle]
pub unsafe extern "C" fn satcolor_close(colorizer: *mut SatcolorColorizer) -> SatcolorStatus {
    guard(|| {
        if !colorizer.is_null() {
            drop(Box::from_raw(colorizer));
        }
        Ok(())
    })
}

/// The code of a sample type.
fn type_code(t: SampleType) -> u32 {
    match t {
        SampleType::Byte => SATCOLOR_TYPE_U8,
        SampleType::UInt16 => SATCOLOR_TYPE_U16,
        SampleType::Int16 => SATCOLOR_TYPE_I16,
        SampleType::Float32 => SATCOLOR_TYPE_F32,
    }
}

/// Fills `*info` with the colorizer's bands, window, overlap and data types.
///
/// # Safety
/// `colorizer` is valid; `info` is writable.
#[no_mangle]
pub unsafe extern "C" fn satcolor_info(
    colorizer: *const SatcolorColorizer,
    info: *mut SatcolorInfo,
) -> SatcolorStatus {
    guard(|| {
        let c = &colorizer
            .as_ref()
            .ok_or_else(|| bad("colorizer is NULL"))?
            .inner;
        let info = info.as_mut().ok_or_else(|| bad("info is NULL"))?;
        *info = SatcolorInfo {
            in_bands: c.in_bands(),
            out_bands: c.out_bands(),
            window: c.window(),
            overlap: c.overlap(),
            input_type: type_code(c.input_type()),
            output_type: type_code(c.output_type()),
        };
        Ok(())
    })
}

/// Writes the device's name (e.g. `cpu (2 threads)`), NUL-terminated and cut to fit, into
/// `buf` of `capacity` bytes.
///
/// # Safety
/// `colorizer` is valid; `buf` has `capacity` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn satcolor_device_name(
    colorizer: *const SatcolorColorizer,
    buf: *mut c_char,
    capacity: usize,
) -> SatcolorStatus {
    guard(|| {
        let c = &colorizer
            .as_ref()
            .ok_or_else(|| bad("colorizer is NULL"))?
            .inner;
        if buf.is_null() || capacity == 0 {
            return Err(bad("buf is NULL or capacity is 0"));
        }
        let name = c.device();
        let n = name.len().min(capacity - 1);
        std::ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), buf, n);
        *buf.add(n) = 0;
        Ok(())
    })
}

/// The byte range of a buffer.
fn byte_range(data: usize, len: usize, size: usize) -> Result<std::ops::Range<usize>, Fail> {
    len.checked_mul(size)
        .filter(|&b| b <= isize::MAX as usize)
        .and_then(|b| data.checked_add(b))
        .map(|end| data..end)
        .ok_or_else(|| bad("the buffer's length overflows"))
}

/// The byte range of `len` elements of `T` at `data`, after checking that `data` is not
/// NULL and is aligned for `T`.
fn check_buffer<T: Sample>(
    data: *const c_void,
    len: usize,
    what: &str,
) -> Result<std::ops::Range<usize>, Fail> {
    if data.is_null() {
        return Err(bad(format!("{what}: data is NULL")));
    }
    if (data as usize) % std::mem::align_of::<T>() != 0 {
        return Err(bad(format!(
            "{what}: data is not aligned for {}",
            T::TYPE.name()
        )));
    }
    byte_range(data as usize, len, std::mem::size_of::<T>())
}

/// Colorizes with input samples `T` and output samples `U`.
///
/// # Safety
/// As `satcolor_colorize`; the types are the buffers' own.
unsafe fn run<T: Sample, U: Sample>(
    c: &mut Colorizer,
    input: &SatcolorImage,
    valid: Validity<'_>,
    output: &SatcolorImageMut,
) -> Result<(), Fail> {
    let xr = check_buffer::<T>(input.data, input.len, "input")?;
    let yr = check_buffer::<U>(output.data, output.len, "output")?;
    if xr.start < yr.end && yr.start < xr.end {
        return Err(bad("the output buffer overlaps the input"));
    }
    let x = std::slice::from_raw_parts(input.data.cast::<T>(), input.len);
    let y = std::slice::from_raw_parts_mut(output.data.cast::<U>(), output.len);
    let layout = |w, h, bands, bs, rs, cs| Layout {
        width: w,
        height: h,
        bands,
        band_stride: bs,
        row_stride: rs,
        col_stride: cs,
    };
    let li = layout(
        input.width,
        input.height,
        input.bands,
        input.band_stride,
        input.row_stride,
        input.col_stride,
    );
    let lo = layout(
        output.width,
        output.height,
        output.bands,
        output.band_stride,
        output.row_stride,
        output.col_stride,
    );
    let x = Bands::new(x, li)?;
    let mut y = BandsMut::new(y, lo)?;
    c.colorize(&x, valid, &mut y)?;
    Ok(())
}

/// Dispatches on the input's type with output samples `U`.
///
/// # Safety
/// As `satcolor_colorize`.
unsafe fn run_out<U: Sample>(
    c: &mut Colorizer,
    input: &SatcolorImage,
    valid: Validity<'_>,
    output: &SatcolorImageMut,
) -> Result<(), Fail> {
    match input.data_type {
        SATCOLOR_TYPE_U8 => run::<u8, U>(c, input, valid, output),
        SATCOLOR_TYPE_U16 => run::<u16, U>(c, input, valid, output),
        SATCOLOR_TYPE_I16 => run::<i16, U>(c, input, valid, output),
        SATCOLOR_TYPE_F32 => run::<f32, U>(c, input, valid, output),
        t => Err(bad(format!("input: unknown data type {t}"))),
    }
}

/// Colorizes `input` (the model's input bands, of its input type or F32) into `output`
/// (its output bands, same width and height, of its output type or F32), tiled and blended
/// as `satcolor colorize` does: the same values it writes for the same pixels.
///
/// `mask` is NULL or `width*height` bytes, row-major, 0 for nodata; `nodata` is NULL or
/// the raw value that marks a missing pixel (NaN input values are nodata too). Nodata
/// pixels are written as the nodata value when the output type holds it (valid values are
/// kept off it), else as NaN (F32) or 0. On failure `output` is left as it was.
///
/// # Safety
/// `colorizer` is valid and not in use by another thread; `input` and `output` describe
/// buffers of `len` elements that do not overlap; `mask` is NULL or has `width*height`
/// bytes; `nodata` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn satcolor_colorize(
    colorizer: *mut SatcolorColorizer,
    input: *const SatcolorImage,
    mask: *const u8,
    nodata: *const f64,
    output: *const SatcolorImageMut,
) -> SatcolorStatus {
    guard(|| {
        let c = colorizer.as_mut().ok_or_else(|| bad("colorizer is NULL"))?;
        if c.poisoned {
            return Err(Fail(
                SatcolorStatus::ErrPanic,
                "this colorizer failed with an internal error before: close it".into(),
            ));
        }
        let input = input.as_ref().ok_or_else(|| bad("input is NULL"))?;
        let output = output.as_ref().ok_or_else(|| bad("output is NULL"))?;
        let pixels = input
            .width
            .checked_mul(input.height)
            .ok_or_else(|| bad("input: width*height overflows"))?;
        let mask: Option<Vec<bool>> = (!mask.is_null()).then(|| {
            std::slice::from_raw_parts(mask, pixels)
                .iter()
                .map(|&m| m != 0)
                .collect()
        });
        let valid = Validity {
            nodata: nodata.as_ref().copied(),
            mask: mask.as_deref(),
        };
        // Poisoned unless the call returns: a panic leaves the flag set.
        c.poisoned = true;
        let inner = &mut c.inner;
        let result = match output.data_type {
            SATCOLOR_TYPE_U8 => run_out::<u8>(inner, input, valid, output),
            SATCOLOR_TYPE_U16 => run_out::<u16>(inner, input, valid, output),
            SATCOLOR_TYPE_I16 => run_out::<i16>(inner, input, valid, output),
            SATCOLOR_TYPE_F32 => run_out::<f32>(inner, input, valid, output),
            t => Err(bad(format!("output: unknown data type {t}"))),
        };
        c.poisoned = false;
        result
    })
}

/// The message of the last call on this thread that failed (empty after a success). The
/// pointer stays valid until the next satcolor call on this thread. Never NULL.
#[no_mangle]
pub extern "C" fn satcolor_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library's version, e.g. `0.1.0`. Never NULL; static.
#[no_mangle]
pub extern "C" fn satcolor_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the version has no NUL"),
        };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom {}", 7));
        assert_eq!(status, SatcolorStatus::ErrPanic);
        let msg = unsafe { CStr::from_ptr(satcolor_last_error()) };
        assert!(msg.to_str().unwrap().contains("boom 7"), "{msg:?}");
        assert_eq!(guard(|| Ok(())), SatcolorStatus::Ok);
        let msg = unsafe { CStr::from_ptr(satcolor_last_error()) };
        assert!(msg.to_bytes().is_empty());
    }
}
