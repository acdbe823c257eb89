//! Channel concatenation and its split, element by element from the definition.

use crate::ops::{check_len, ConcatShape};
use crate::Result;

/// `y[n, c] = a[n, c]` for `c < c_a`, else `b[n, c − c_a]`.
pub fn concat_channels(s: &ConcatShape, a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    s.validate()?;
    check_len("concat_channels", "a", a.len(), s.a_len())?;
    check_len("concat_channels", "b", b.len(), s.b_len())?;
    let c = s.c_a + s.c_b;
    let mut y = vec![0.0; s.y_len()];
    for n in 0..s.n {
        for ch in 0..c {
            for p in 0..s.plane {
                y[(n * c + ch) * s.plane + p] = if ch < s.c_a {
                    a[(n * s.c_a + ch) * s.plane + p]
                } else {
                    b[(n * s.c_b + ch - s.c_a) * s.plane + p]
                };
            }
        }
    }
    Ok(y)
}

/// The gradients `(da, db)` of the concatenation from `dy`: the adjoint of
/// [`concat_channels`], which routes each element of dy back to the input it came from.
pub fn split_channels(s: &ConcatShape, dy: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    s.validate()?;
    check_len("split_channels", "dy", dy.len(), s.y_len())?;
    let c = s.c_a + s.c_b;
    let (mut da, mut db) = (vec![0.0; s.a_len()], vec![0.0; s.b_len()]);
    for n in 0..s.n {
        for ch in 0..c {
            for p in 0..s.plane {
                let g = dy[(n * c + ch) * s.plane + p];
                if ch < s.c_a {
                    da[(n * s.c_a + ch) * s.plane + p] = g;
                } else {
                    db[(n * s.c_b + ch - s.c_a) * s.plane + p] = g;
                }
            }
        }
    }
    Ok((da, db))
}
