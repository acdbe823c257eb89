//! Per-thread scratch buffers for im2col/col2im matrices, reused between calls so that a
//! convolution does not fault in tens of megabytes of fresh pages on every image.

use std::cell::Cell;

thread_local! {
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` elements (contents unspecified) owned by the
/// calling thread. The buffer is taken out of the thread-local slot while `f` runs, so a
/// nested call on the same thread (rayon work stealing) simply gets a fresh buffer.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = SCRATCH.with(Cell::take);
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    SCRATCH.with(|s| {
        let other = s.take();
        s.set(if other.len() > buf.len() { other } else { buf });
    });
    r
}
