//! The "do nothing" colorization: the gray input copied into every output band. A model
//! that does not beat it on MSE and colorfulness has learned nothing useful.

use super::metrics::{MetricError, Nchw};

/// The gray-replicated baseline of a batch of single-band inputs `x` (`[n, 1, h, w]`):
/// `[n, out_bands, h, w]` with every band equal to the input. Errors when `x`'s length does
/// not fit `shape` (whose `c` must be 1) or `out_bands` is 0.
pub fn gray_replicated(x: &[f32], shape: Nchw, out_bands: usize) -> Result<Vec<f32>, MetricError> {
    if shape.c != 1 {
        return Err(MetricError::Shape(format!(
            "the gray baseline needs single-band inputs, got {} bands",
            shape.c
        )));
    }
    if out_bands == 0 {
        return Err(MetricError::Shape("out_bands must be at least 1".into()));
    }
    shape.check("input", x)?;
    let plane = shape.h * shape.w;
    let mut out = Vec::with_capacity(x.len() * out_bands);
    for image in x.chunks_exact(plane) {
        for _ in 0..out_bands {
            out.extend_from_slice(image);
        }
    }
    Ok(out)
}
