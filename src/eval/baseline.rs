//! The baselines every model is compared with: the "do nothing" colorization (the gray
//! input copied into every output band) and the linear baseline (a per-pixel least-squares
//! map of the input bands, the consistent head's base map). A model that does not beat the
//! stronger of the two has learned nothing a linear map could not.

use super::metrics::{MetricError, Nchw};
use crate::model::HeadTensors;

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

/// The linear baseline `A·x + b` of a batch `x` (`[n, C_in, h, w]`, `shape.c` = C_in) under
/// the fitted output head `head` (its base map, fitted by least squares on the training
/// split): `[n, C_out, h, w]`, computed per pixel in f64.
pub fn linear(x: &[f32], shape: Nchw, head: &HeadTensors) -> Vec<f32> {
    let plane = shape.h * shape.w;
    let (cin, cout) = (head.in_bands, head.out_bands);
    debug_assert_eq!((shape.c, x.len()), (cin, shape.len()));
    let mut out = vec![0.0f32; shape.n * cout * plane];
    for (image, dst) in x
        .chunks_exact(cin * plane)
        .zip(out.chunks_exact_mut(cout * plane))
    {
        for o in 0..cout {
            let row = &head.base_weight[o * cin..(o + 1) * cin];
            let bias = f64::from(head.base_bias[o]);
            for p in 0..plane {
                let dot: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| f64::from(a) * f64::from(image[i * plane + p]))
                    .sum();
                dst[o * plane + p] = (dot + bias) as f32;
            }
        }
    }
    out
}
