//! The launch code shared by the `cuda` and `emu` executions: [`GpuDevice`] implements
//! every op of [`Device`](super::Device) through the launch code of its family
//! (`src/ops/<family>/gpu.rs`), which chooses grid, block, shared memory and arguments
//! once and hands each launch to a [`KernelExec`], which either runs it on a GPU through cudarc or
//! runs the same kernel source on the CPU in the emulator. A launch-configuration bug
//! therefore shows up in the emulator too.

mod deferred;
pub(crate) mod launch;
mod ops;
pub mod variants;

use crate::device::precision::{Half, Precision};
use crate::dist::Collective;
use crate::kernels::Kernel;
use crate::Result;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
pub use variants::Variants;

/// Grid, block and dynamic shared memory of one launch (CUDA's `<<<grid, block, shmem>>>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LaunchConfig {
    /// Blocks in x, y, z.
    pub grid: (u32, u32, u32),
    /// Threads per block in x, y, z.
    pub block: (u32, u32, u32),
    /// Dynamic shared memory in bytes.
    pub shared_bytes: u32,
}

/// The element type of a buffer of an executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    /// f32, the element of every op but reduced-precision inference's.
    F32,
    /// 16-bit floats: bf16 or fp16 bits ([`crate::device::precision::Half`]), the storage of
    /// `--precision bf16|fp16` (kernels/half.cuh).
    U16,
    /// 32-bit signed integers: counters a kernel keeps (the split-K fold's tickets).
    I32,
}

impl Elem {
    /// Bytes of one element.
    pub fn bytes(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::U16 => 2,
            Elem::I32 => 4,
        }
    }
}

/// Elements between the starts of two parts of a group ([`crate::device::Group`]) on a GPU
/// device: 64 f32 (256 bytes), the alignment `cuMemAlloc` gives, so a part is as aligned as
/// a buffer of its own (vector loads), and the emulator's AddressSanitizer can fence each
/// part off from its neighbours.
pub const GROUP_ALIGN: usize = 64;

/// An error unless `offset..offset + len` is a valid view of a buffer of `buf_len`
/// elements ([`KernelExec::view`]).
pub(crate) fn check_view(buf_len: usize, offset: usize, len: usize) -> Result<()> {
    if offset % GROUP_ALIGN != 0 || offset.checked_add(len).is_none_or(|e| e > buf_len) {
        return Err(crate::Error::Device(format!(
            "a view of elements {offset}..{} of a buffer of {buf_len} (starts must be multiples of {GROUP_ALIGN})",
            offset.saturating_add(len)
        )));
    }
    Ok(())
}

/// One kernel argument, in the order of the kernel's signature, with the name of the
/// parameter it is passed as (the name in the .cu signature, e.g. `Arg::I32("h", h)`), so
/// that [`check_args`] catches two arguments of the same kind passed in the wrong order.
pub enum Arg<'a, B> {
    /// A buffer passed as `const float* name` (or `const unsigned short* name`: the
    /// buffer's [`Elem`] must match).
    In(&'static str, &'a B),
    /// A buffer passed as `float* name` (or `unsigned short* name`).
    Out(&'static str, &'a mut B),
    /// An `int name`.
    I32(&'static str, i32),
    /// A `float name`.
    F32(&'static str, f32),
}

impl<B> Arg<'_, B> {
    /// The name of the parameter this argument is passed as.
    pub fn name(&self) -> &'static str {
        match self {
            Arg::In(n, _) | Arg::Out(n, _) => n,
            Arg::I32(n, _) | Arg::F32(n, _) => n,
        }
    }

    /// Its value as a record keeps it, buffers by their length and element type (`buf`
    /// gives them).
    pub fn value(&self, buf: impl Fn(&B) -> (usize, Elem)) -> ArgValue {
        match self {
            Arg::In(_, b) => ArgValue::Buffer {
                len: buf(b).0,
                elem: buf(b).1,
                written: false,
            },
            Arg::Out(_, b) => ArgValue::Buffer {
                len: buf(b).0,
                elem: buf(b).1,
                written: true,
            },
            Arg::I32(_, v) => ArgValue::I32(*v),
            Arg::F32(_, v) => ArgValue::F32(*v),
        }
    }
}

/// The value of one kernel argument as a record of a launch keeps it (the emulator's
/// counters, [`crate::perf::work`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgValue {
    /// A buffer of `len` elements, read only (`const float*`) or written (`float*`).
    Buffer {
        /// Its length in elements.
        len: usize,
        /// Its element type.
        elem: Elem,
        /// Whether the kernel may write it.
        written: bool,
    },
    /// An `int`.
    I32(i32),
    /// A `float`.
    F32(f32),
}

/// Dynamic shared memory a kernel may take without opting in: 48 KiB on every GPU.
pub const DEFAULT_DYNAMIC_SHARED: u32 = 48 * 1024;

/// An executor of kernels/*.cu kernels: a CUDA GPU or the CPU emulator.
pub trait KernelExec {
    /// A buffer of f32 (or of 16-bit values, [`Elem::U16`]) in the executor's memory.
    type Buf;
    /// A captured sequence of launches ([`KernelExec::begin_capture`]), which keeps the
    /// buffers it launches on alive.
    type Graph;
    /// A human-readable name of the executor and its device.
    fn name(&self) -> String;
    /// Allocates `len` zeroed elements of type `elem`.
    fn alloc(&self, len: usize, elem: Elem) -> Result<Self::Buf>;
    /// Allocates `len` zeroed f32.
    fn alloc_zeros(&self, len: usize) -> Result<Self::Buf> {
        self.alloc(len, Elem::F32)
    }
    /// Copies host data into a new buffer.
    fn upload(&self, host: &[f32]) -> Result<Self::Buf>;
    /// A buffer of elements `offset..offset + len` of `buf`, sharing its memory (and
    /// keeping it alive): the parts and spans of a [`crate::device::Group`]. `offset` is a
    /// multiple of [`GROUP_ALIGN`] and the range lies within `buf`.
    fn view(&self, buf: &Self::Buf, offset: usize, len: usize) -> Result<Self::Buf>;
    /// Copies host data into an existing f32 buffer of the same length.
    fn write(&self, buf: &mut Self::Buf, host: &[f32]) -> Result<()>;
    /// Copies an f32 buffer to the host, after all launched work finished.
    fn download(&self, buf: &Self::Buf) -> Result<Vec<f32>>;
    /// Copies 16-bit host data into an existing [`Elem::U16`] buffer of the same length.
    fn write_u16(&self, buf: &mut Self::Buf, host: &[u16]) -> Result<()>;
    /// Copies a [`Elem::U16`] buffer to the host, after all launched work finished.
    fn download_u16(&self, buf: &Self::Buf) -> Result<Vec<u16>>;
    /// Number of elements of a buffer.
    fn len(&self, buf: &Self::Buf) -> usize;
    /// The element type of a buffer.
    fn elem(&self, buf: &Self::Buf) -> Elem;
    /// Number of buffer allocations made so far.
    fn alloc_count(&self) -> u64;
    /// Launches `kernel` with `cfg` and `args` (checked against the kernel's signature). A
    /// launch asking for more than [`DEFAULT_DYNAMIC_SHARED`] bytes of dynamic shared
    /// memory opts the kernel in to them first (`CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`),
    /// up to what a block can have.
    fn launch(
        &self,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        args: &mut [Arg<'_, Self::Buf>],
    ) -> Result<()>;
    /// Starts a capture: the launches until [`end_capture`](Self::end_capture) are
    /// checked and recorded with their arguments, not run (a CUDA stream capture).
    fn begin_capture(&self) -> Result<()>;
    /// Ends the capture and returns its graph.
    fn end_capture(&self) -> Result<Self::Graph>;
    /// Runs a captured graph's launches, in order, with the arguments they were captured
    /// with.
    fn replay(&self, graph: &Self::Graph) -> Result<()>;
    /// [`Device::connect_ranks`](crate::device::Device::connect_ranks) for this executor:
    /// the default (the emulator) cannot average in its memory and says so to the ranks.
    fn connect_ranks(&self, ranks: &dyn Collective) -> Result<bool> {
        ranks.any(true)?;
        Ok(false)
    }
    /// Replaces an f32 buffer by its mean over the ranks in the executor's memory if
    /// [`KernelExec::connect_ranks`] connected it, and returns whether it did (`false`:
    /// nothing done, the caller goes through the host).
    fn mean_over_ranks(&self, _buf: &mut Self::Buf, _ranks: &dyn Collective) -> Result<bool> {
        Ok(false)
    }
}

/// Checks `args` against the kernel's parameter list (count, then each argument's kind,
/// a buffer's element type as `elem` tells it, and name): the same check on every
/// executor, so that a wrong argument order is an error, not undefined behaviour or a
/// silently wrong result.
pub fn check_args<B>(
    kernel: &Kernel,
    args: &[Arg<'_, B>],
    elem: impl Fn(&B) -> Elem,
) -> Result<()> {
    use crate::kernels::ParamKind;
    let bad = |reason: String| crate::Error::Kernel {
        kernel: kernel.name.to_string(),
        reason,
    };
    if args.len() != kernel.params.len() {
        return Err(bad(format!(
            "launched with {} arguments, the kernel takes {}",
            args.len(),
            kernel.params.len()
        )));
    }
    for (i, (a, p)) in args.iter().zip(kernel.params).enumerate() {
        let ok = match (a, p.kind) {
            (Arg::In(_, b), ParamKind::ConstF32Ptr) => elem(b) == Elem::F32,
            (Arg::Out(_, b), ParamKind::MutF32Ptr) => elem(b) == Elem::F32,
            (Arg::In(_, b), ParamKind::ConstU16Ptr) => elem(b) == Elem::U16,
            (Arg::Out(_, b), ParamKind::MutU16Ptr) => elem(b) == Elem::U16,
            (Arg::Out(_, b), ParamKind::MutI32Ptr) => elem(b) == Elem::I32,
            (Arg::I32(..), ParamKind::I32) | (Arg::F32(..), ParamKind::F32) => true,
            _ => false,
        };
        if !ok {
            return Err(bad(format!(
                "argument {i} ('{}') does not match parameter kind {:?} of '{}'",
                a.name(),
                p.kind,
                p.name
            )));
        }
        if a.name() != p.name {
            return Err(bad(format!(
                "argument {i} is passed as '{}', but parameter {i} is '{}'",
                a.name(),
                p.name
            )));
        }
    }
    Ok(())
}

/// A [`Device`](crate::device::Device) whose ops launch kernels/*.cu on an executor.
pub struct GpuDevice<E: KernelExec> {
    exec: E,
    /// The kernel variant of each slot that has several.
    variants: Variants,
    /// The arithmetic of the implicit-GEMM convolutions (the v1 kernels are FP32 only).
    precision: Precision,
    /// Per-block partial sums of the two-launch reductions: allocated on first use with a
    /// fixed size ([`launch::MAX_REDUCE_BLOCKS`]), so steady state never allocates.
    scratch: Mutex<Option<E::Buf>>,
    /// The split-K partial products of the weight gradients, one buffer per length: a
    /// training run has a fixed set of shapes, so steady state never allocates.
    split_scratch: Mutex<HashMap<usize, E::Buf>>,
    /// The split-K fold's counters (one per output tile, `int`), one buffer per count:
    /// zeroed when allocated, and every launch leaves them at zero.
    tickets: Mutex<HashMap<usize, E::Buf>>,
    /// 1-element buffers standing in for outputs a launch does not write, by element (0:
    /// f32, 1: u16).
    stand_ins: Mutex<HashMap<usize, E::Buf>>,
    /// The weight-gradient split-K sums queued since [`Device::begin_weight_grads`]
    /// (`None`: not queueing; src/device/gpu/deferred.rs).
    ///
    /// [`Device::begin_weight_grads`]: crate::device::Device::begin_weight_grads
    deferred: Mutex<deferred::Queue<E::Buf>>,
    /// The queued sums' partial-sum scratches, by (position in the queue, length).
    deferred_parts: Mutex<deferred::PartsPool<E::Buf>>,
    /// Whether a launch graph is being recorded ([`Device::begin_graph`]).
    ///
    /// [`Device::begin_graph`]: crate::device::Device::begin_graph
    recording: AtomicBool,
}

impl<E: KernelExec> GpuDevice<E> {
    /// Wraps an executor, with the kernel variants of [`variants::SLOTS`] (not the
    /// environment's: [`crate::device::open::run_on`] applies those) and FP32 convolutions.
    pub fn new(exec: E) -> Self {
        GpuDevice::with_variants(exec, Variants::chosen())
    }
    /// Wraps an executor that runs the given kernel variants.
    pub fn with_variants(exec: E, variants: Variants) -> Self {
        GpuDevice {
            exec,
            variants,
            precision: Precision::Fp32,
            scratch: Mutex::new(None),
            split_scratch: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
            stand_ins: Mutex::new(HashMap::new()),
            deferred: Mutex::new(None),
            deferred_parts: Mutex::new(HashMap::new()),
            recording: AtomicBool::new(false),
        }
    }
    /// The same device computing its convolutions in `precision`. The executor must run
    /// tensor-core kernels for anything but FP32 (a GPU of compute capability 8.0 or newer,
    /// or the emulator): [`crate::device::open::run_on`] checks that.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }
    /// The arithmetic of its implicit-GEMM convolutions.
    pub fn precision(&self) -> Precision {
        self.precision
    }
    /// The 16-bit storage of its buffers (`--precision bf16|fp16`: every buffer it allocates
    /// or uploads, converted on the way in and out), `None` for f32.
    pub fn storage(&self) -> Option<Half> {
        self.precision.storage()
    }
    /// An error unless its buffers are f32: with 16-bit storage only the ops of G's forward
    /// pass run (inference).
    pub(crate) fn fp32_storage(&self, op: &'static str) -> Result<()> {
        match self.storage() {
            None => Ok(()),
            Some(_) => Err(crate::Error::Device(format!(
                "{op}: --precision {} stores activations in 16 bits and runs inference (G's forward ops) only",
                self.precision
            ))),
        }
    }
    /// [`Device::alloc_group`](crate::device::Device::alloc_group): one zeroed allocation,
    /// each part starting on a multiple of [`GROUP_ALIGN`], and views of it.
    pub(crate) fn group(
        &self,
        lens: &[usize],
        spans: &[std::ops::Range<usize>],
    ) -> Result<crate::device::Group<E::Buf>> {
        let mut starts = Vec::with_capacity(lens.len() + 1);
        let mut end = 0usize;
        for &n in lens {
            starts.push(end);
            end = (end + n)
                .checked_next_multiple_of(GROUP_ALIGN)
                .ok_or_else(|| crate::Error::Device("a buffer group is too large".into()))?;
        }
        starts.push(end);
        let whole = crate::device::Device::alloc_zeros(self, end)?;
        let parts = lens
            .iter()
            .zip(&starts)
            .map(|(&n, &s)| self.exec.view(&whole, s, n))
            .collect::<Result<Vec<_>>>()?;
        let spans = spans
            .iter()
            .map(|r| {
                if r.start > r.end || r.end > lens.len() {
                    return Err(crate::Error::Device(format!(
                        "span {r:?} of a group of {} buffers",
                        lens.len()
                    )));
                }
                // Up to the end of the last part, not of its padding.
                let stop = if r.is_empty() {
                    starts[r.start]
                } else {
                    starts[r.end - 1] + lens[r.end - 1]
                };
                self.exec
                    .view(&whole, starts[r.start], stop - starts[r.start])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::device::Group {
            parts,
            spans: Some(spans),
        })
    }
    /// An error naming `what` while a launch graph is being recorded: a graph holds
    /// launches only, so host copies and allocations belong before or after it.
    pub(crate) fn host_side(&self, what: &str) -> Result<()> {
        if self.recording.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::Error::Device(format!(
                "{what} while a launch graph is being recorded (a graph holds launches only)"
            )));
        }
        Ok(())
    }
    /// The kernel variants it runs.
    pub fn variants(&self) -> &Variants {
        &self.variants
    }
    /// The executor.
    pub fn exec(&self) -> &E {
        &self.exec
    }
}

#[cfg(test)]
mod tests {
    use super::{check_args, Arg, Elem};
    use crate::kernels::{MAX_POOL2D_FORWARD, MAX_POOL2D_FORWARD_H16, REDUCE_PARTIALS};

    /// `max_pool2d_forward(x, y, planes, h, wd)` with the arguments in `order`.
    fn pool_args<'a>(x: &'a (), y: &'a mut (), order: [&'static str; 3]) -> Vec<Arg<'a, ()>> {
        let mut args = vec![Arg::In("x", x), Arg::Out("y", y)];
        args.extend(order.iter().map(|&n| Arg::I32(n, 1)));
        args
    }

    #[test]
    fn names_in_signature_order_pass() {
        let (x, mut y) = ((), ());
        let args = pool_args(&x, &mut y, ["planes", "h", "wd"]);
        check_args(&MAX_POOL2D_FORWARD, &args, |_| Elem::F32).unwrap();
    }

    #[test]
    fn swapped_ints_of_the_right_kind_are_refused_by_name() {
        let (x, mut y) = ((), ());
        let args = pool_args(&x, &mut y, ["planes", "wd", "h"]);
        let msg = check_args(&MAX_POOL2D_FORWARD, &args, |_| Elem::F32)
            .expect_err("h and wd swapped")
            .to_string();
        for needle in ["max_pool2d_forward", "argument 3", "'wd'", "'h'"] {
            assert!(msg.contains(needle), "error lacks {needle}: {msg}");
        }
    }

    #[test]
    fn kinds_and_count_are_still_checked() {
        let (p, mut out) = ((), ());
        let args = [
            Arg::In("partials", &p),
            Arg::Out("out", &mut out),
            Arg::F32("count", 1.0),
            Arg::I32("accumulate", 0),
        ];
        let msg = check_args(&REDUCE_PARTIALS, &args, |_| Elem::F32)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("argument 2") && msg.contains("'count'"),
            "{msg}"
        );
        let msg = check_args(&REDUCE_PARTIALS, &args[..2], |_| Elem::F32)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("2 arguments"), "{msg}");
    }

    #[test]
    fn a_buffer_of_the_wrong_element_type_is_refused() {
        // max_pool2d_forward takes f32; its 16-bit instance takes 16-bit buffers.
        let (x, mut y) = ((), ());
        let args = pool_args(&x, &mut y, ["planes", "h", "wd"]);
        let msg = check_args(&MAX_POOL2D_FORWARD, &args, |_| Elem::U16)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("argument 0 ('x')"), "{msg}");
        let mut args = pool_args(&x, &mut y, ["planes", "h", "wd"]);
        args.push(Arg::I32("fmt", 1));
        check_args(&MAX_POOL2D_FORWARD_H16, &args, |_| Elem::U16).unwrap();
        let msg = check_args(&MAX_POOL2D_FORWARD_H16, &args, |_| Elem::F32)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("ConstU16Ptr"), "{msg}");
    }

    #[test]
    fn the_table_records_parameter_names() {
        let names: Vec<&str> = MAX_POOL2D_FORWARD.params.iter().map(|p| p.name).collect();
        assert_eq!(names, ["x", "y", "planes", "h", "wd"]);
    }
}
