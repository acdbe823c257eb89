//! Gradient accumulation (plain and scaled) and scaling on the CPU.

use crate::ops::{check_len, CHUNK};
use crate::Result;
use rayon::prelude::*;

/// `dst ← dst + src`.
pub fn add_assign(dst: &mut [f32], src: &[f32]) -> Result<()> {
    check_len("add_assign", "src", src.len(), dst.len())?;
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| {
            for (d, s) in d.iter_mut().zip(s) {
                *d += *s;
            }
        });
    Ok(())
}

/// `dst ← dst + alpha[0] · src`.
pub fn add_scaled(dst: &mut [f32], src: &[f32], alpha: &[f32]) -> Result<()> {
    check_len("add_scaled", "src", src.len(), dst.len())?;
    check_len("add_scaled", "alpha", alpha.len(), 1)?;
    let a = alpha[0];
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| {
            for (d, s) in d.iter_mut().zip(s) {
                *d += a * *s;
            }
        });
    Ok(())
}

/// `x ← factor · x`.
pub fn scale(x: &mut [f32], factor: f32) -> Result<()> {
    x.par_chunks_mut(CHUNK).for_each(|c| {
        for v in c {
            *v *= factor;
        }
    });
    Ok(())
}
