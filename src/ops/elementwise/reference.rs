//! The f64 reference of gradient accumulation (plain and scaled) and scaling.

use crate::ops::check_len;
use crate::Result;

/// `dst + src`.
pub fn add_assign(dst: &[f64], src: &[f64]) -> Result<Vec<f64>> {
    check_len("add_assign", "src", src.len(), dst.len())?;
    Ok(dst.iter().zip(src).map(|(d, s)| d + s).collect())
}

/// `dst + alpha · src`.
pub fn add_scaled(dst: &[f64], src: &[f64], alpha: f64) -> Result<Vec<f64>> {
    check_len("add_scaled", "src", src.len(), dst.len())?;
    Ok(dst.iter().zip(src).map(|(d, s)| d + alpha * s).collect())
}

/// `factor · x`.
pub fn scale(x: &[f64], factor: f64) -> Vec<f64> {
    x.iter().map(|v| factor * v).collect()
}
