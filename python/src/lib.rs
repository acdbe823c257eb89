//! The Python module `satcolor._satcolor` (re-exported by the `satcolor` package): numpy
//! arrays of raw band values in, numpy arrays out, through [`satcolor::infer::Colorizer`].
//!
//! The GIL is released while a colorizer opens and computes; each colorizer holds a lock,
//! so Python threads sharing one take turns, and threads with their own run in parallel.

use numpy::ndarray::Array3;
use numpy::{
    Element, IntoPyArray, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use satcolor::infer::{Bands, BandsMut, Colorizer, InferError, Layout, Options, Sample, Validity};
use satcolor::model::normalization::SampleType;
use std::path::PathBuf;
use std::sync::Mutex;

/// An [`InferError`] as the Python exception a user expects: `OSError` for a file that
/// cannot be read, `RuntimeError` for a failure while running, `ValueError` otherwise.
fn to_py(e: InferError) -> PyErr {
    match e {
        InferError::Io(m) => PyOSError::new_err(m),
        InferError::Failed(m) => PyRuntimeError::new_err(m),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// numpy's name of a sample type.
fn numpy_name(t: SampleType) -> &'static str {
    match t {
        SampleType::Byte => "uint8",
        SampleType::UInt16 => "uint16",
        SampleType::Int16 => "int16",
        SampleType::Float32 => "float32",
    }
}

/// A checkpoint's generator on a device: colorizes numpy arrays of raw band values.
#[pyclass(module = "satcolor._satcolor", name = "Colorizer", frozen)]
struct PyColorizer {
    inner: Mutex<Colorizer>,
    /// What the getters report, read once.
    in_bands: usize,
    out_bands: usize,
    window: usize,
    overlap: usize,
    input_type: SampleType,
    output_type: SampleType,
    band_names: Vec<String>,
    device: String,
    precision: String,
}

impl PyColorizer {
    fn wrap(c: Colorizer) -> Self {
        Self {
            in_bands: c.in_bands(),
            out_bands: c.out_bands(),
            window: c.window(),
            overlap: c.overlap(),
            input_type: c.input_type(),
            output_type: c.output_type(),
            band_names: c.band_names().to_vec(),
            device: c.device(),
            precision: c.precision().to_string(),
            inner: Mutex::new(c),
        }
    }
}

/// The options of the constructors.
fn options(
    device: &str,
    precision: Option<&str>,
    batch: usize,
    overlap: Option<usize>,
) -> PyResult<Options> {
    let mut o = Options::new().device(device).batch(batch);
    o.overlap = overlap;
    if let Some(p) = precision {
        o.precision = Some(
            p.parse()
                .map_err(|e: satcolor::Error| PyValueError::new_err(e.to_string()))?,
        );
    }
    Ok(o)
}

/// An input array copied out of numpy (so the computation needs neither the GIL nor the
/// caller's buffer), as planar or interleaved values.
struct Input<T> {
    values: Vec<T>,
    layout: Layout,
}

/// Reads a numpy array of element type `T`: (rows, cols) for one band, (bands, rows, cols)
/// planar, or (rows, cols, bands) when `interleaved`.
fn read<T: Sample + Element>(
    array: &Bound<'_, PyUntypedArray>,
    interleaved: bool,
) -> PyResult<Input<T>> {
    let typed: PyReadonlyArrayDyn<'_, T> = array.downcast::<numpy::PyArrayDyn<T>>()?.readonly();
    let view = typed.as_array();
    let shape = view.shape().to_vec();
    let layout = match (shape.as_slice(), interleaved) {
        (&[h, w], _) => Layout::planar(w, h, 1),
        (&[b, h, w], false) => Layout::planar(w, h, b),
        (&[h, w, b], true) => Layout::interleaved(w, h, b),
        _ => {
            return Err(PyValueError::new_err(format!(
                "expected an array of shape (rows, cols), {}, got shape {shape:?}",
                if interleaved {
                    "or (rows, cols, bands) with interleaved=True"
                } else {
                    "or (bands, rows, cols)"
                }
            )))
        }
    };
    // Logical (C) order whatever the strides: a copy either way.
    let values = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    Ok(Input { values, layout })
}

/// Colorizes `x` into a new array of the output type `U`, without the GIL.
fn run<T: Sample, U: Sample + Element>(
    py: Python<'_>,
    colorizer: &Mutex<Colorizer>,
    x: Input<T>,
    nodata: Option<f64>,
    mask: Option<Vec<bool>>,
    interleaved: bool,
    bands: usize,
) -> PyResult<PyObject> {
    let Layout { width, height, .. } = x.layout;
    let out_layout = if interleaved {
        Layout::interleaved(width, height, bands)
    } else {
        Layout::planar(width, height, bands)
    };
    let y = py.allow_threads(|| -> Result<Vec<U>, InferError> {
        let mut c = colorizer
            .lock()
            .map_err(|_| InferError::Failed("the colorizer failed in another thread".into()))?;
        let input = Bands::new(&x.values, x.layout)?;
        let mut y = vec![U::from_value(0.0); bands * width * height];
        let mut out = BandsMut::new(&mut y, out_layout)?;
        let validity = Validity {
            nodata,
            mask: mask.as_deref(),
        };
        c.colorize(&input, validity, &mut out)?;
        Ok(y)
    });
    let y = y.map_err(to_py)?;
    let shape_err = |e: numpy::ndarray::ShapeError| PyRuntimeError::new_err(e.to_string());
    Ok(if interleaved {
        Array3::from_shape_vec((height, width, bands), y)
            .map_err(shape_err)?
            .into_pyarray(py)
            .into_any()
            .unbind()
    } else {
        Array3::from_shape_vec((bands, height, width), y)
            .map_err(shape_err)?
            .into_pyarray(py)
            .into_any()
            .unbind()
    })
}

#[pymethods]
impl PyColorizer {
    /// Opens the checkpoint file `path` on `device` ("auto", "cpu", "emu", "cuda",
    /// "cuda:N").
    #[new]
    #[pyo3(signature = (path, device = "auto", *, precision = None, batch = 16, overlap = None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        device: &str,
        precision: Option<&str>,
        batch: usize,
        overlap: Option<usize>,
    ) -> PyResult<Self> {
        let opts = options(device, precision, batch, overlap)?;
        let c = py
            .allow_threads(|| Colorizer::open(&path, &opts))
            .map_err(to_py)?;
        Ok(Self::wrap(c))
    }

    /// Opens a checkpoint held in memory (the bytes of a .safetensors file).
    #[staticmethod]
    #[pyo3(signature = (data, device = "auto", *, precision = None, batch = 16, overlap = None))]
    fn from_bytes(
        py: Python<'_>,
        data: Vec<u8>,
        device: &str,
        precision: Option<&str>,
        batch: usize,
        overlap: Option<usize>,
    ) -> PyResult<Self> {
        let opts = options(device, precision, batch, overlap)?;
        let c = py
            .allow_threads(|| Colorizer::from_bytes(&data, &opts))
            .map_err(to_py)?;
        Ok(Self::wrap(c))
    }

    /// Colorizes `array`: raw band values of the model's input dtype (or float32/float64),
    /// shaped (rows, cols) or (bands, rows, cols) — (rows, cols, bands) with
    /// `interleaved=True`. Returns the output bands in the model's output dtype, shaped
    /// (bands, rows, cols) or (rows, cols, bands). `nodata` marks missing input pixels
    /// (NaN does too), as does `mask` (bool, (rows, cols), False = nodata); missing pixels
    /// get `nodata` in the output when its dtype holds it, else 0 (NaN for float32).
    #[pyo3(signature = (array, nodata = None, mask = None, *, interleaved = false))]
    fn colorize(
        &self,
        py: Python<'_>,
        array: &Bound<'_, PyAny>,
        nodata: Option<f64>,
        mask: Option<&Bound<'_, PyAny>>,
        interleaved: bool,
    ) -> PyResult<PyObject> {
        let array = array.downcast::<PyUntypedArray>().map_err(|_| {
            PyValueError::new_err(format!(
                "expected a numpy array, got {}",
                array
                    .get_type()
                    .name()
                    .map_or("?".into(), |n| n.to_string())
            ))
        })?;
        let mask = match mask {
            None => None,
            Some(m) => {
                let m = m
                    .downcast::<numpy::PyArrayDyn<bool>>()
                    .map_err(|_| PyValueError::new_err("mask: expected a numpy bool array"))?
                    .readonly();
                let v = m.as_array();
                if v.ndim() != 2 {
                    return Err(PyValueError::new_err(format!(
                        "mask: expected shape (rows, cols), got {:?}",
                        v.shape()
                    )));
                }
                Some(v.iter().copied().collect::<Vec<bool>>())
            }
        };
        let dtype = array.dtype();
        let bands = self.out_bands;
        // Reads `$array` as `$t` and colorizes it into the model's output type.
        macro_rules! go {
            ($t:ty, $array:expr) => {{
                let x = read::<$t>($array, interleaved)?;
                if let Some(m) = &mask {
                    let l = &x.layout;
                    if m.len() != l.pixels() {
                        return Err(PyValueError::new_err(format!(
                            "mask: {} entries for an image of {}x{} pixels",
                            m.len(),
                            l.width,
                            l.height
                        )));
                    }
                }
                let (c, v) = (&self.inner, nodata);
                match self.output_type {
                    SampleType::Byte => run::<$t, u8>(py, c, x, v, mask, interleaved, bands),
                    SampleType::UInt16 => run::<$t, u16>(py, c, x, v, mask, interleaved, bands),
                    SampleType::Int16 => run::<$t, i16>(py, c, x, v, mask, interleaved, bands),
                    SampleType::Float32 => run::<$t, f32>(py, c, x, v, mask, interleaved, bands),
                }
            }};
        }
        if dtype.is_equiv_to(&numpy::dtype::<u8>(py)) {
            go!(u8, array)
        } else if dtype.is_equiv_to(&numpy::dtype::<u16>(py)) {
            go!(u16, array)
        } else if dtype.is_equiv_to(&numpy::dtype::<i16>(py)) {
            go!(i16, array)
        } else if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
            go!(f32, array)
        } else if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
            // Raw values as float64 (as numpy computes by default): as float32.
            let f = array
                .call_method1("astype", ("float32",))?
                .downcast_into::<PyUntypedArray>()?;
            go!(f32, &f)
        } else {
            Err(PyValueError::new_err(format!(
                "array dtype {dtype}: expected {} (the model's input), float32 or float64",
                numpy_name(self.input_type)
            )))
        }
    }

    /// Bands of the output (the first axis of what `colorize` returns).
    #[getter]
    fn bands(&self) -> usize {
        self.out_bands
    }

    /// Bands of the input.
    #[getter]
    fn in_bands(&self) -> usize {
        self.in_bands
    }

    /// The output bands' names, e.g. ["red", "green", "blue"].
    #[getter]
    fn band_names(&self) -> Vec<String> {
        self.band_names.clone()
    }

    /// Side of the square tiles the generator runs on.
    #[getter]
    fn window(&self) -> usize {
        self.window
    }

    /// Overlap of neighbouring tiles in pixels.
    #[getter]
    fn overlap(&self) -> usize {
        self.overlap
    }

    /// numpy dtype name of the model's input bands.
    #[getter]
    fn input_dtype(&self) -> &'static str {
        numpy_name(self.input_type)
    }

    /// numpy dtype name of the output.
    #[getter]
    fn output_dtype(&self) -> &'static str {
        numpy_name(self.output_type)
    }

    /// The device, e.g. "cpu (2 threads)".
    #[getter]
    fn device(&self) -> String {
        self.device.clone()
    }

    /// The convolutions' arithmetic, e.g. "fp32".
    #[getter]
    fn precision(&self) -> String {
        self.precision.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Colorizer(bands={}, in_bands={}, window={}, device={:?})",
            self.out_bands, self.in_bands, self.window, self.device
        )
    }
}

/// satcolor's inference engine: colorize numpy arrays of satellite imagery.
#[pymodule]
fn _satcolor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyColorizer>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
