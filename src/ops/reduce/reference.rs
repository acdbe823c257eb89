//! The f64 reference of the plain sum and the sum of squares.

/// `Σ x`.
pub fn sum(x: &[f64]) -> f64 {
    x.iter().sum()
}

/// `out_in + Σ x²`.
pub fn sum_squares(x: &[f64], out_in: f64) -> f64 {
    let mut total = 0.0;
    for &v in x {
        total += v * v;
    }
    out_in + total
}
