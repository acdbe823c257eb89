//! Per-thread scratch buffers for im2col/col2im matrices, padded inputs and packed weights,
//! reused between calls so that a convolution does not fault in tens of megabytes of fresh
//! pages on every image.

use std::cell::Cell;

/// Scratch slots per thread: a routine that needs several buffers at once takes one of
/// each (the Winograd pass: two for the whole pass, two more per task).
const SLOTS: usize = 4;

thread_local! {
    static SCRATCH: [Cell<Vec<f32>>; SLOTS] = const { [const { Cell::new(Vec::new()) }; SLOTS] };
}

/// Runs `f` on a scratch slice of `len` elements (contents unspecified) owned by the
/// calling thread: [`with_scratch_in`] slot 0.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_scratch_in(0, len, f)
}

/// Runs `f` on a scratch slice of `len` elements (contents unspecified) from the calling
/// thread's slot `slot` (< 4). The buffer is taken out of the slot while `f` runs, so a
/// nested call on the same slot (rayon work stealing) simply gets a fresh buffer.
pub(crate) fn with_scratch_in<R>(slot: usize, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = SCRATCH.with(|s| s[slot].take());
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    SCRATCH.with(|s| {
        let other = s[slot].take();
        s[slot].set(if other.len() > buf.len() { other } else { buf });
    });
    r
}
