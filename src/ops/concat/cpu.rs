//! Channel concatenation `y = [a; b]` and its backward, the split of `dy` into `da`, `db`:
//! one contiguous copy per image and input (NCHW keeps each image's channels together).

use crate::ops::{check_len, ConcatShape};
use crate::Result;
use rayon::prelude::*;

/// `y[n] = [a[n]; b[n]]` for every image n.
pub fn concat_channels(s: &ConcatShape, a: &[f32], b: &[f32], y: &mut [f32]) -> Result<()> {
    check(s, "concat_channels", a.len(), b.len(), y.len())?;
    let (ea, eb) = (s.c_a * s.plane, s.c_b * s.plane);
    y.par_chunks_mut(ea + eb).enumerate().for_each(|(n, y)| {
        y[..ea].copy_from_slice(&a[n * ea..(n + 1) * ea]);
        y[ea..].copy_from_slice(&b[n * eb..(n + 1) * eb]);
    });
    Ok(())
}

/// `da[n] = dy[n][..c_a]`, `db[n] = dy[n][c_a..]` for every image n.
pub fn split_channels(s: &ConcatShape, dy: &[f32], da: &mut [f32], db: &mut [f32]) -> Result<()> {
    check(s, "split_channels", da.len(), db.len(), dy.len())?;
    let (ea, eb) = (s.c_a * s.plane, s.c_b * s.plane);
    da.par_chunks_mut(ea)
        .zip(db.par_chunks_mut(eb))
        .enumerate()
        .for_each(|(n, (da, db))| {
            let dy = &dy[n * (ea + eb)..(n + 1) * (ea + eb)];
            da.copy_from_slice(&dy[..ea]);
            db.copy_from_slice(&dy[ea..]);
        });
    Ok(())
}

/// Checks the shape and the three buffer lengths.
fn check(s: &ConcatShape, op: &'static str, a: usize, b: usize, y: usize) -> Result<()> {
    s.validate()?;
    check_len(op, "a", a, s.a_len())?;
    check_len(op, "b", b, s.b_len())?;
    check_len(op, "y", y, s.y_len())
}
