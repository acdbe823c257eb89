//! Launch-configuration helpers shared by the op modules: 1-D grids for elementwise and
//! reduction kernels, block sizes of block-per-output reductions, the reduction scratch
//! buffer, and checked conversions of sizes to the kernels' `int` parameters.

use super::{Elem, GpuDevice, KernelExec, LaunchConfig};
use crate::kernels::{consts, Kernel};
use crate::ops::shape_err;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// Threads per block of the 1-D kernels (elementwise and two-launch reductions); a
/// multiple of [`WARP`] and at most [`BLOCK_SUM_MAX_THREADS`], as `sc_block_sum` in
/// kernels/common.cuh requires.
pub(crate) const BLOCK: u32 = 256;
/// Threads of a warp as the kernels' shuffles assume them (`SC_WARP_SIZE`).
const WARP: usize = consts::SC_WARP_SIZE as usize;
/// Most threads of a block that `sc_block_sum` reduces: `SC_WARP_SIZE` ×
/// `SC_BLOCK_SUM_MAX_WARPS` (the length of the kernels' `warp_sums` arrays).
const BLOCK_SUM_MAX_THREADS: usize = WARP * consts::SC_BLOCK_SUM_MAX_WARPS as usize;
const _: () = assert!(
    consts::SC_WARP_SIZE > 0
        && consts::SC_BLOCK_SUM_MAX_WARPS > 0
        && BLOCK as usize % WARP == 0
        && BLOCK as usize <= BLOCK_SUM_MAX_THREADS
);
/// Most blocks of a grid-stride elementwise launch.
const MAX_ELEMENTWISE_BLOCKS: usize = 4096;
/// Most blocks of a two-launch reduction: the size of the partial-sums scratch buffer.
pub(crate) const MAX_REDUCE_BLOCKS: usize = 256;
/// CUDA's limit on grid.y and grid.z.
const MAX_GRID_YZ: usize = 65535;

/// Converts a size to a kernel's `int` parameter, or fails naming the op.
pub(crate) fn to_i32(op: &'static str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| shape_err(op, format!("size {v} does not fit the kernels' int")))
}

/// Checks that a grid.y or grid.z extent is within CUDA's limit.
pub(crate) fn grid_yz(op: &'static str, what: &str, v: usize) -> Result<u32> {
    if v == 0 || v > MAX_GRID_YZ {
        return Err(shape_err(
            op,
            format!("{what} = {v} is outside 1..={MAX_GRID_YZ}"),
        ));
    }
    Ok(v as u32)
}

/// A grid-stride 1-D launch over `n > 0` elements.
pub(crate) fn elementwise(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_ELEMENTWISE_BLOCKS);
    LaunchConfig {
        grid: (blocks as u32, 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// The first launch of a two-launch reduction over `n` elements: the grid size depends
/// only on `n`, so the partial sums (and the final sum) are the same on every run.
pub(crate) fn reduce_blocks(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_REDUCE_BLOCKS);
    LaunchConfig {
        grid: (blocks as u32, 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// Threads of a block that reduces `len` values: a multiple of [`WARP`] (whole warps for
/// the shuffles), at most [`BLOCK`].
pub(crate) fn reduce_threads(len: usize) -> u32 {
    (len.div_ceil(WARP) * WARP).clamp(WARP, BLOCK as usize) as u32
}

impl<E: KernelExec> GpuDevice<E> {
    /// Runs `f` with the partial-sums scratch buffer (at least [`MAX_REDUCE_BLOCKS`]
    /// floats), allocating it on first use only.
    pub(crate) fn with_scratch<R>(&self, f: impl FnOnce(&mut E::Buf) -> Result<R>) -> Result<R> {
        let mut guard = self
            .scratch
            .lock()
            .map_err(|_| Error::Device("the reduction scratch buffer's lock is poisoned".into()))?;
        let buf = match guard.take() {
            Some(buf) => buf,
            None => self.exec.alloc_zeros(MAX_REDUCE_BLOCKS)?,
        };
        f(guard.insert(buf))
    }

    /// Runs `f` with a scratch buffer of exactly `len` floats for split-K partial products,
    /// allocating one on the first use of each length only. The buffer is taken out of the
    /// pool while `f` runs, so `f` may ask for a scratch of another length (a two-stage
    /// sum of the partials).
    pub(crate) fn with_split_scratch<R>(
        &self,
        len: usize,
        f: impl FnOnce(&mut E::Buf) -> Result<R>,
    ) -> Result<R> {
        let alloc = || self.exec.alloc_zeros(len);
        with_pooled(
            &self.split_scratch,
            "split-K scratch buffers",
            len,
            alloc,
            true,
            f,
        )
    }

    /// Runs `f` with `count` zeroed `int` counters for a launch that finishes its split K
    /// in the kernel (the fold of kernels/common.cuh's `sc_fold_arrive`, which leaves every
    /// counter at zero again), allocating one buffer per count on its first use only (and
    /// after a failed launch: it may have stopped with counters short of their count, so
    /// those are dropped).
    pub(crate) fn with_tickets<R>(
        &self,
        count: usize,
        f: impl FnOnce(&mut E::Buf) -> Result<R>,
    ) -> Result<R> {
        let alloc = || self.exec.alloc(count, Elem::I32);
        with_pooled(&self.tickets, "split-K counters", count, alloc, false, f)
    }

    /// Runs `f` with a 1-element buffer of the storage's element (f32, or u16 with 16-bit
    /// storage) standing in for an output argument a launch does not write (a patch-staged
    /// convolution's pooled copy when it does not pool, a convolution's second output half
    /// when its output is whole), allocated on first use only; `slot` tells apart the
    /// stand-ins of one launch (0, 1).
    pub(crate) fn with_stand_in<R>(
        &self,
        slot: usize,
        f: impl FnOnce(&mut E::Buf) -> Result<R>,
    ) -> Result<R> {
        let elem = if self.storage().is_some() {
            Elem::U16
        } else {
            Elem::F32
        };
        let alloc = || self.exec.alloc(1, elem);
        let key = 2 * slot + usize::from(elem == Elem::U16);
        with_pooled(&self.stand_ins, "stand-in buffers", key, alloc, true, f)
    }

    /// The instance of an op for the device's storage: `f32`, or with 16-bit storage `h16`
    /// and the format code of its `fmt` argument.
    pub(crate) fn storage_kernel(
        &self,
        f32: &'static Kernel,
        h16: &'static Kernel,
    ) -> (&'static Kernel, Option<i32>) {
        match self.storage() {
            None => (f32, None),
            Some(f) => (h16, Some(f.code())),
        }
    }
}

/// Runs `f` with the buffer of `pool` (named `what` in errors) kept under `key`, allocated
/// by `alloc` on first use; the buffer is out of the pool while `f` runs and goes back
/// after, or (`keep_on_error` false) only when `f` succeeded.
fn with_pooled<B, R>(
    pool: &Mutex<HashMap<usize, B>>,
    what: &str,
    key: usize,
    alloc: impl FnOnce() -> Result<B>,
    keep_on_error: bool,
    f: impl FnOnce(&mut B) -> Result<R>,
) -> Result<R> {
    let lock = || {
        pool.lock()
            .map_err(|_| Error::Device(format!("the {what}' lock is poisoned")))
    };
    let taken = lock()?.remove(&key);
    let mut buf = match taken {
        Some(buf) => buf,
        None => alloc()?,
    };
    let result = f(&mut buf);
    if keep_on_error || result.is_ok() {
        lock()?.insert(key, buf);
    }
    result
}
