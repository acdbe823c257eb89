//! The emulator executor: kernels/*.cu compiled as host C++ against emu/cuda_emu.h (by
//! build/emu.rs) and run on the CPU by emu/runtime.cpp, one fiber per CUDA thread.
//!
//! [`EmuExec`] implements [`KernelExec`], so the same launch code that drives a GPU drives
//! the emulator: a wrong grid, block, shared-memory size or argument order fails here too.
//! The runtime rejects what a GPU rejects (block and grid limits, shared memory above what
//! a block can have), turns a barrier that not all threads reach into an error, and
//! runs threads between barriers and blocks in a chosen [`Order`]. Buffers are allocated by
//! the C++ runtime: they end at a guard page in the normal build, and are heap blocks that
//! AddressSanitizer watches in the `emu-asan` build.

use super::gpu::{
    check_args, Arg, ArgValue, Elem, KernelExec, LaunchConfig, DEFAULT_DYNAMIC_SHARED,
};
use crate::kernels::Kernel;
use crate::{Error, Result};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An order in which the emulator runs threads between barriers, or blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Ascending linear index.
    #[default]
    Forward,
    /// Descending linear index.
    Reverse,
    /// A seeded random permutation (for threads: a new one after every barrier).
    Shuffle(u64),
}

impl Order {
    fn code(self) -> (c_int, u64) {
        match self {
            Order::Forward => (0, 0),
            Order::Reverse => (1, 0),
            Order::Shuffle(seed) => (2, seed),
        }
    }
}

/// How the emulator schedules a launch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmuOptions {
    /// Order of the threads of a block between two barriers.
    pub thread_order: Order,
    /// Order of the blocks of the grid.
    pub block_order: Order,
    /// In the `emu-counters` build, run only this many blocks of each launch, evenly spaced
    /// over the grid (0: all), and let [`Counters::scaled`] scale the counts to the grid:
    /// a whole training iteration is traced in seconds. The launches' results are then
    /// wrong; use it for counting only. Ignored by the other builds.
    pub sample_blocks: u32,
}

/// What the `emu-counters` build measured in one launch (the runtime's
/// `SatcolorEmuCounters`). A request is one warp's k-th execution of one memory
/// instruction between two barriers (or warp intrinsics); a sector is 32 bytes of global
/// memory; a wavefront is one pass of shared memory (a request with an n-way bank conflict
/// takes n; a broadcast, 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Blocks traced.
    pub blocks_run: u64,
    /// Blocks of the grid.
    pub blocks_total: u64,
    /// Global load requests and the sectors they touch.
    pub global_load_requests: u64,
    /// See `global_load_requests`.
    pub global_load_sectors: u64,
    /// Global store requests and the sectors they touch.
    pub global_store_requests: u64,
    /// See `global_store_requests`.
    pub global_store_sectors: u64,
    /// Shared-memory load requests and their wavefronts.
    pub shared_load_requests: u64,
    /// See `shared_load_requests`.
    pub shared_load_wavefronts: u64,
    /// Shared-memory store requests and their wavefronts.
    pub shared_store_requests: u64,
    /// See `shared_store_requests`.
    pub shared_store_wavefronts: u64,
    /// Active lanes summed over all requests.
    pub request_lanes: u64,
    /// Block-wide barriers completed (one per block and barrier).
    pub barriers: u64,
    /// Warp intrinsics (shuffles, votes, `__syncwarp`) completed, one per warp.
    pub warp_ops: u64,
    /// Threads run.
    pub threads: u64,
    /// Threads that stored to global memory: the others had no output (idle lanes of the
    /// launch's thread mapping, such as a 16×16 tile over a 4×4 map).
    pub storing_threads: u64,
}

impl Counters {
    /// The counts of the traced blocks scaled to the whole grid (`blocks_total /
    /// blocks_run`, rounded); unchanged when every block ran.
    pub fn scaled(&self) -> Counters {
        if self.blocks_run == 0 || self.blocks_run == self.blocks_total {
            return *self;
        }
        let k = |v: u64| {
            ((v as f64) * self.blocks_total as f64 / self.blocks_run as f64).round() as u64
        };
        Counters {
            blocks_run: self.blocks_total,
            blocks_total: self.blocks_total,
            global_load_requests: k(self.global_load_requests),
            global_load_sectors: k(self.global_load_sectors),
            global_store_requests: k(self.global_store_requests),
            global_store_sectors: k(self.global_store_sectors),
            shared_load_requests: k(self.shared_load_requests),
            shared_load_wavefronts: k(self.shared_load_wavefronts),
            shared_store_requests: k(self.shared_store_requests),
            shared_store_wavefronts: k(self.shared_store_wavefronts),
            request_lanes: k(self.request_lanes),
            barriers: k(self.barriers),
            warp_ops: k(self.warp_ops),
            threads: k(self.threads),
            storing_threads: k(self.storing_threads),
        }
    }

    /// The share of threads run that stored to global memory.
    pub fn storing_ratio(&self) -> f64 {
        self.storing_threads as f64 / self.threads.max(1) as f64
    }

    /// Mean active lanes of a request over 32 (1 when every lane of every request takes
    /// part).
    pub fn active_lane_ratio(&self) -> f64 {
        let requests = self.global_load_requests
            + self.global_store_requests
            + self.shared_load_requests
            + self.shared_store_requests;
        self.request_lanes as f64 / (32.0 * requests.max(1) as f64)
    }
}

/// The counts of one memory instruction of a kernel in one launch (the runtime's
/// `SatcolorEmuSite`), for finding which access conflicts or scatters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiteCounters {
    /// The instruction's address in this process (see [`SiteCounters::source_line`]).
    pub site: u64,
    /// 0 global, 1 shared memory.
    pub space: u32,
    /// 0 load, 1 store.
    pub write: u32,
    /// Warp-level requests.
    pub requests: u64,
    /// Their sectors (global) or wavefronts (shared).
    pub units: u64,
    /// Their active lanes.
    pub lanes: u64,
}

impl SiteCounters {
    /// Sectors or wavefronts per request.
    pub fn per_request(&self) -> f64 {
        self.units as f64 / self.requests.max(1) as f64
    }

    /// `file:line` of the instruction in its kernel source, found with binutils'
    /// `addr2line` in this executable's debug information (the counters build compiles the
    /// kernels with it); `None` when that cannot be done. For many sites at once,
    /// [`source_lines`] runs `addr2line` once.
    pub fn source_line(&self) -> Option<String> {
        source_lines(&[self.site]).pop().flatten()
    }
}

/// `file:line` (file name without its directory) of each instruction address of this
/// process, as [`SiteCounters::source_line`], with one run of `addr2line`; `None` for an
/// address that cannot be resolved, all `None` when `addr2line` cannot be run.
pub fn source_lines(sites: &[u64]) -> Vec<Option<String>> {
    let none = || vec![None; sites.len()];
    // The executable's offsets: each return address is just after the hook's call, so
    // step back one byte into the call.
    let offsets: Vec<Option<u64>> = sites
        .iter()
        .map(|&site| {
            // SAFETY: dladdr only reads the loader's tables for an address of this process.
            let base = unsafe {
                let mut info: libc::Dl_info = std::mem::zeroed();
                if libc::dladdr(site as *const c_void, &mut info) == 0 {
                    return None;
                }
                info.dli_fbase as u64
            };
            site.checked_sub(base)?.checked_sub(1)
        })
        .collect();
    let asked: Vec<String> = offsets
        .iter()
        .flatten()
        .map(|o| format!("{o:#x}"))
        .collect();
    if asked.is_empty() {
        return none();
    }
    let Ok(exe) = std::env::current_exe() else {
        return none();
    };
    let Ok(out) = std::process::Command::new("addr2line")
        .arg("-e")
        .arg(exe)
        .args(&asked)
        .output()
    else {
        return none();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut answers = text.lines().map(|line| {
        // `path/file.cu:41 (discriminator 1)` → `file.cu:41`.
        let line = line.trim().split(" (").next().unwrap_or_default();
        let short = line.rsplit('/').next().unwrap_or(line).to_string();
        (!short.starts_with("??")).then_some(short)
    });
    offsets
        .iter()
        .map(|o| o.and_then(|_| answers.next().flatten()))
        .collect()
}

/// One launch and its [`Counters`] (see [`EmuExec::take_counters`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchCounters {
    /// The kernel.
    pub kernel: &'static str,
    /// Its launch configuration.
    pub cfg: LaunchConfig,
    /// What it did.
    pub counters: Counters,
    /// The same per memory instruction (traced blocks only, not scaled).
    pub sites: Vec<SiteCounters>,
    /// The launch's arguments by parameter name (buffers by their length), from which a
    /// model knows the launch's shapes (`perf::work`).
    pub args: Vec<(&'static str, ArgValue)>,
}

type Body = unsafe extern "C" fn(*mut *mut c_void);

#[repr(C)]
struct KernelEntry {
    name: *const c_char,
    body: Option<Body>,
}

#[repr(C)]
struct LaunchDesc {
    grid: [u32; 3],
    block: [u32; 3],
    dynamic_shared: u32,
    static_shared: u32,
    max_dynamic_shared: u32,
    thread_order: c_int,
    block_order: c_int,
    thread_seed: u64,
    block_seed: u64,
    sample_blocks: u32,
}

extern "C" {
    static satcolor_emu_kernels: KernelEntry;
    static satcolor_emu_kernel_count: std::ffi::c_ulong;
    fn satcolor_emu_launch(
        body: Body,
        cfg: *const LaunchDesc,
        args: *mut *mut c_void,
        err: *mut c_char,
        err_cap: usize,
        counters: *mut Counters,
        sites: *mut SiteCounters,
        sites_cap: usize,
        sites_len: *mut usize,
    ) -> c_int;
    fn satcolor_emu_alloc(bytes: usize) -> *mut c_void;
    fn satcolor_emu_free(ptr: *mut c_void, bytes: usize);
    fn satcolor_emu_poison(ptr: *mut c_void, bytes: usize, poison: c_int);
    fn satcolor_emu_asan() -> c_int;
    fn satcolor_emu_has_counters() -> c_int;
}

/// Most memory instructions of one kernel whose counts a launch reports.
const MAX_SITES: usize = 4096;

/// Largest shared memory of one block with the opt-in attribute (sm_90: 227 KiB).
const SHARED_OPTIN_MAX: u32 = 227 * 1024;

/// The opted-in maximum of dynamic shared memory a launch of `kernel` asking for `bytes`
/// runs with (0: not opted in, at most [`DEFAULT_DYNAMIC_SHARED`]), as the CUDA executor
/// opts in before such a launch; an error above what a block can have.
fn opt_in_shared(kernel: &'static Kernel, bytes: u32) -> Result<u32> {
    if bytes <= DEFAULT_DYNAMIC_SHARED {
        return Ok(0);
    }
    let stat = static_shared_bytes(kernel);
    if u64::from(bytes) + u64::from(stat) > u64::from(SHARED_OPTIN_MAX) {
        return Err(kernel_error(
            kernel,
            format!(
                "cannot opt in to {bytes} dynamic bytes of shared memory: with {stat} static \
                 bytes that is above the 227 KiB of a block"
            ),
        ));
    }
    Ok(bytes)
}

/// One allocation of emulated global memory, freed when its last [`EmuBuf`] goes.
struct EmuAlloc {
    ptr: *mut c_void,
    bytes: usize,
}

impl Drop for EmuAlloc {
    fn drop(&mut self) {
        // SAFETY: ptr came from satcolor_emu_alloc with this byte size.
        unsafe { satcolor_emu_free(self.ptr, self.bytes) }
    }
}

/// A buffer of f32 (or 16-bit values) in emulated global memory: a whole allocation, or a
/// view of part of one ([`KernelExec::view`]).
pub struct EmuBuf {
    mem: Arc<EmuAlloc>,
    /// Its first element within the allocation.
    offset: usize,
    len: usize,
    elem: Elem,
}

// SAFETY: an allocation is plain memory reached only through its EmuBufs (and the frozen
// launches of a graph, which hold it alive): a buffer's elements are touched by host
// copies through `&mut EmuBuf` and by kernels during a launch, which borrows the buffer
// through `Arg` (a graph's replay through `&EmuExec`, one launch at a time behind the
// runtime's mutex). Views of one allocation alias only as the group they belong to allows
// (disjoint parts, or a span that no launch passes beside one of its parts: checked at
// launch).
unsafe impl Send for EmuAlloc {}
// SAFETY: as above; shared references only read it or pass it as `const float*`.
unsafe impl Sync for EmuAlloc {}

impl EmuBuf {
    /// Its first element's address.
    fn ptr(&self) -> *mut c_void {
        // SAFETY: offset..offset + len lies within the allocation (KernelExec::view).
        unsafe {
            self.mem
                .ptr
                .cast::<u8>()
                .add(self.offset * self.elem.bytes())
                .cast()
        }
    }
    /// Its byte range within the address space.
    fn byte_range(&self) -> std::ops::Range<usize> {
        let start = self.ptr() as usize;
        start..start + self.len * self.elem.bytes()
    }
    /// Its elements as `T`, which must be its element type (f32 or u16).
    fn as_slice<T: EmuElem>(&self) -> Result<&[T]> {
        self.check::<T>()?;
        if self.len == 0 {
            return Ok(&[]);
        }
        // SAFETY: ptr holds len initialised elements of T (checked above) owned by self.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr().cast::<T>(), self.len) })
    }
    fn as_mut_slice<T: EmuElem>(&mut self) -> Result<&mut [T]> {
        self.check::<T>()?;
        if self.len == 0 {
            return Ok(&mut []);
        }
        // SAFETY: as above, and &mut self makes the access exclusive.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr().cast::<T>(), self.len) })
    }
    fn check<T: EmuElem>(&self) -> Result<()> {
        if self.elem != T::ELEM {
            return Err(Error::Device(format!(
                "emu: a buffer of {:?} accessed as {:?}",
                self.elem,
                T::ELEM
            )));
        }
        Ok(())
    }
    /// Host copies of elements of `T`, checking the length.
    fn copy_from<T: EmuElem>(&mut self, host: &[T]) -> Result<()> {
        if self.len != host.len() {
            return Err(Error::Shape {
                op: "write",
                reason: format!(
                    "host data has {} elements, the buffer {}",
                    host.len(),
                    self.len
                ),
            });
        }
        self.as_mut_slice()?.copy_from_slice(host);
        Ok(())
    }
}

/// A host element type of emulator buffers.
trait EmuElem: Copy {
    const ELEM: Elem;
}
impl EmuElem for f32 {
    const ELEM: Elem = Elem::F32;
}
impl EmuElem for u16 {
    const ELEM: Elem = Elem::U16;
}

/// The emulator executor. `Send + Sync`: launches serialize behind one mutex in the C++
/// runtime (static shared memory is global), and its own state is behind a mutex/atomic.
pub struct EmuExec {
    opts: EmuOptions,
    bodies: HashMap<&'static str, Body>,
    allocs: AtomicU64,
    /// The launches and their counters since the last [`EmuExec::take_counters`] (the
    /// `emu-counters` build only).
    counted: Mutex<Vec<LaunchCounters>>,
    /// The launches captured so far while a graph capture is under way.
    capture: Mutex<Option<Vec<Frozen>>>,
}

/// ptxas's static shared-memory figure of `kernel` for the newest compiled arch, 0 when
/// unknown (built without `cuda`, or an emulator-only test kernel).
fn static_shared_bytes(kernel: &Kernel) -> u32 {
    let arch_num = |a: &str| a.trim_start_matches("sm_").parse::<u32>().unwrap_or(0);
    crate::kernels::RESOURCES
        .iter()
        .filter(|r| r.kernel == kernel.name)
        .max_by_key(|r| arch_num(r.arch))
        .map_or(0, |r| r.shared_bytes)
}

fn kernel_error(kernel: &Kernel, reason: impl Into<String>) -> Error {
    Error::Kernel {
        kernel: kernel.name.to_string(),
        reason: reason.into(),
    }
}

impl EmuExec {
    /// Opens the emulator with the given scheduling options.
    pub fn new(opts: EmuOptions) -> Result<EmuExec> {
        // SAFETY: the generated table holds `count` entries followed by a null sentinel;
        // names are static NUL-terminated strings.
        let entries = unsafe {
            std::slice::from_raw_parts(
                std::ptr::addr_of!(satcolor_emu_kernels),
                satcolor_emu_kernel_count as usize,
            )
        };
        let mut bodies = HashMap::with_capacity(entries.len());
        for e in entries {
            // SAFETY: see above.
            let name = unsafe { CStr::from_ptr(e.name) }.to_str().map_err(|_| {
                Error::Device("emulator kernel table holds a non-UTF-8 name".into())
            })?;
            if let Some(body) = e.body {
                bodies.insert(name, body);
            }
        }
        Ok(EmuExec {
            opts,
            bodies,
            allocs: AtomicU64::new(0),
            counted: Mutex::new(Vec::new()),
            capture: Mutex::new(None),
        })
    }

    /// The scheduling options.
    pub fn options(&self) -> EmuOptions {
        self.opts
    }

    /// Whether this build runs the kernels under AddressSanitizer (`emu-asan`).
    pub fn asan() -> bool {
        // SAFETY: a plain function of the runtime.
        unsafe { satcolor_emu_asan() != 0 }
    }

    /// Whether this build counts memory traffic (`emu-counters`).
    pub fn has_counters() -> bool {
        // SAFETY: a plain function of the runtime.
        unsafe { satcolor_emu_has_counters() != 0 }
    }

    /// The launches since the last call, each with its [`Counters`], in launch order; empty
    /// unless built with `emu-counters`.
    pub fn take_counters(&self) -> Vec<LaunchCounters> {
        self.counted
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    fn alloc_bytes(&self, len: usize, elem: Elem) -> Result<EmuBuf> {
        if self.capture.lock().map(|c| c.is_some()).unwrap_or(false) {
            return Err(Error::Device(
                "emu: an allocation during a graph capture (a steady-state iteration allocates nothing)".into(),
            ));
        }
        let bytes = len
            .checked_mul(elem.bytes())
            .ok_or_else(|| Error::Device(format!("emu: buffer of {len} {elem:?} is too large")))?;
        // SAFETY: plain allocation; memory comes back zeroed.
        let ptr = unsafe { satcolor_emu_alloc(bytes) };
        if ptr.is_null() && len > 0 {
            return Err(Error::Device(format!(
                "emu: out of memory allocating {bytes} bytes"
            )));
        }
        self.allocs.fetch_add(1, Ordering::Relaxed);
        Ok(EmuBuf {
            mem: Arc::new(EmuAlloc { ptr, bytes }),
            offset: 0,
            len,
            elem,
        })
    }
}

/// Checks the buffers of a launch that are views of one allocation (the parts and spans
/// of a group): none may overlap another that the kernel writes (the kernels' parameters
/// are `__restrict__`). Under AddressSanitizer it then poisons, for the launch, every byte
/// of their allocations outside the buffers passed, so that a kernel reading past its
/// part into a neighbour is reported as if the part were an allocation of its own; it
/// returns the poisoned ranges, which the caller unpoisons after the launch.
fn fence_views(kernel: &Kernel, args: &[Arg<'_, EmuBuf>]) -> Result<Vec<std::ops::Range<usize>>> {
    let bufs: Vec<(&EmuBuf, bool)> = args
        .iter()
        .filter_map(|a| match a {
            Arg::In(_, b) => Some((&**b, false)),
            Arg::Out(_, b) => Some((&**b, true)),
            _ => None,
        })
        .collect();
    let same_alloc = |a: &EmuBuf, b: &EmuBuf| Arc::ptr_eq(&a.mem, &b.mem);
    for (i, &(a, wa)) in bufs.iter().enumerate() {
        for &(b, wb) in &bufs[i + 1..] {
            let (ra, rb) = (a.byte_range(), b.byte_range());
            if (wa || wb) && same_alloc(a, b) && ra.start < rb.end && rb.start < ra.end {
                return Err(kernel_error(
                    kernel,
                    "two buffers of the launch overlap and one is written (views of one group)",
                ));
            }
        }
    }
    let mut poisoned = Vec::new();
    if !EmuExec::asan() {
        return Ok(poisoned);
    }
    for (i, &(a, _)) in bufs.iter().enumerate() {
        let whole = a.offset == 0 && a.len * a.elem.bytes() == a.mem.bytes;
        if whole || bufs[..i].iter().any(|&(b, _)| same_alloc(a, b)) {
            continue;
        }
        let mut covered: Vec<std::ops::Range<usize>> = bufs
            .iter()
            .filter(|&&(b, _)| same_alloc(a, b))
            .map(|&(b, _)| b.byte_range())
            .collect();
        covered.sort_by_key(|r| r.start);
        let base = a.mem.ptr as usize;
        let mut at = base;
        for r in covered
            .into_iter()
            .chain(std::iter::once(base + a.mem.bytes..usize::MAX))
        {
            if r.start > at {
                poisoned.push(at..r.start);
            }
            at = at.max(r.end);
        }
    }
    for r in &poisoned {
        // SAFETY: the range lies within a live allocation of this launch's buffers.
        unsafe { satcolor_emu_poison(r.start as *mut c_void, r.len(), 1) };
    }
    Ok(poisoned)
}

impl EmuExec {
    /// Checks a launch and freezes it: the kernel's trampoline, its configuration and its
    /// argument values (buffers as addresses, whose allocations it keeps alive), as a
    /// graph records it.
    fn freeze(
        &self,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        args: &[Arg<'_, EmuBuf>],
    ) -> Result<Frozen> {
        check_args(kernel, args, |b| b.elem)?;
        let body = *self
            .bodies
            .get(kernel.name)
            .ok_or_else(|| kernel_error(kernel, "not compiled into the emulator"))?;
        let fenced = fence_views(kernel, args)?;
        // Argument values, each in an 8-byte slot (little-endian: an i32/u32/f32 is read
        // from the slot's first bytes).
        let values: Vec<u64> = args
            .iter()
            .map(|a| match a {
                Arg::In(_, b) => b.ptr() as u64,
                Arg::Out(_, b) => b.ptr() as u64,
                Arg::I32(_, v) => u64::from(*v as u32),
                Arg::F32(_, v) => u64::from(v.to_bits()),
            })
            .collect();
        let _keep = args
            .iter()
            .filter_map(|a| match a {
                Arg::In(_, b) => Some(Arc::clone(&b.mem)),
                Arg::Out(_, b) => Some(Arc::clone(&b.mem)),
                _ => None,
            })
            .collect();
        let max_dyn = opt_in_shared(kernel, cfg.shared_bytes)?;
        let (thread_order, thread_seed) = self.opts.thread_order.code();
        let (block_order, block_seed) = self.opts.block_order.code();
        let desc = LaunchDesc {
            grid: [cfg.grid.0, cfg.grid.1, cfg.grid.2],
            block: [cfg.block.0, cfg.block.1, cfg.block.2],
            dynamic_shared: cfg.shared_bytes,
            static_shared: static_shared_bytes(kernel),
            max_dynamic_shared: max_dyn,
            thread_order,
            block_order,
            thread_seed,
            block_seed,
            sample_blocks: self.opts.sample_blocks,
        };
        Ok(Frozen {
            kernel,
            cfg,
            body,
            desc,
            values,
            fenced,
            _keep,
            args: args
                .iter()
                .map(|a| (a.name(), a.value(|b| (b.len, b.elem))))
                .collect(),
        })
    }

    /// Runs a frozen launch (ASan's fences around it), recording its counters in the
    /// `emu-counters` build.
    fn run(&self, l: &Frozen) -> Result<()> {
        let mut values = l.values.clone();
        let mut ptrs: Vec<*mut c_void> = values
            .iter_mut()
            .map(|v| (v as *mut u64).cast::<c_void>())
            .collect();
        for r in &l.fenced {
            // SAFETY: the range lies within an allocation that `l` keeps alive.
            unsafe { satcolor_emu_poison(r.start as *mut c_void, r.len(), 1) };
        }
        let mut err = vec![0 as c_char; 1024];
        let mut counters = Counters::default();
        let counting = Self::has_counters();
        let mut sites = vec![SiteCounters::default(); if counting { MAX_SITES } else { 0 }];
        let mut sites_len = 0usize;
        // SAFETY: `body` is the trampoline of this kernel, whose parameters check_args
        // matched against the arguments frozen in `values`; the buffers they point to are
        // kept alive by `l`; `counters` and `sites` are repr(C) mirrors of the runtime's
        // structs, `sites` holds its length.
        let rc = unsafe {
            satcolor_emu_launch(
                l.body,
                &l.desc,
                ptrs.as_mut_ptr(),
                err.as_mut_ptr(),
                err.len(),
                &mut counters,
                sites.as_mut_ptr(),
                sites.len(),
                &mut sites_len,
            )
        };
        for r in &l.fenced {
            // SAFETY: as above; poisoned just before the launch.
            unsafe { satcolor_emu_poison(r.start as *mut c_void, r.len(), 0) };
        }
        if counting && rc == 0 {
            sites.truncate(sites_len);
            if let Ok(mut v) = self.counted.lock() {
                v.push(LaunchCounters {
                    kernel: l.kernel.name,
                    cfg: l.cfg,
                    counters,
                    sites,
                    args: l.args.clone(),
                });
            }
        }
        if rc != 0 {
            // SAFETY: the runtime wrote a NUL-terminated message.
            let msg = unsafe { CStr::from_ptr(err.as_ptr()) }
                .to_string_lossy()
                .into_owned();
            return Err(kernel_error(l.kernel, msg));
        }
        Ok(())
    }
}

/// A launch as a graph keeps it: checked, its arguments fixed.
struct Frozen {
    kernel: &'static Kernel,
    cfg: LaunchConfig,
    body: Body,
    desc: LaunchDesc,
    /// The argument values, one 8-byte slot each.
    values: Vec<u64>,
    /// What ASan poisons around the launch ([`fence_views`]).
    fenced: Vec<std::ops::Range<usize>>,
    /// The allocations its buffers point into, kept alive as long as it may run.
    _keep: Vec<Arc<EmuAlloc>>,
    /// Argument names and values for the counters.
    args: Vec<(&'static str, ArgValue)>,
}

/// The emulator's launch graph ([`KernelExec::begin_capture`]): the frozen launches,
/// replayed in order with the arguments they were captured with, as a CUDA Graph
/// replays its kernel nodes. A per-step value passed as a scalar argument stays at its
/// captured value, so replay against direct launches tells whether an iteration reads
/// every per-step value from device memory.
pub struct EmuGraph {
    launches: Vec<Frozen>,
}

impl EmuGraph {
    /// Launches recorded.
    pub fn len(&self) -> usize {
        self.launches.len()
    }
    /// Whether it recorded none.
    pub fn is_empty(&self) -> bool {
        self.launches.is_empty()
    }
}

impl KernelExec for EmuExec {
    type Buf = EmuBuf;
    type Graph = EmuGraph;

    fn name(&self) -> String {
        let o = self.opts;
        let asan = if Self::asan() {
            ", AddressSanitizer"
        } else {
            ""
        };
        format!(
            "emu (CPU emulator of the CUDA kernels; threads {:?}, blocks {:?}{asan})",
            o.thread_order, o.block_order
        )
    }

    fn alloc(&self, len: usize, elem: Elem) -> Result<EmuBuf> {
        self.alloc_bytes(len, elem)
    }

    fn upload(&self, host: &[f32]) -> Result<EmuBuf> {
        let mut b = self.alloc_bytes(host.len(), Elem::F32)?;
        b.copy_from(host)?;
        Ok(b)
    }

    fn view(&self, buf: &EmuBuf, offset: usize, len: usize) -> Result<EmuBuf> {
        crate::device::gpu::check_view(buf.len, offset, len)?;
        Ok(EmuBuf {
            mem: Arc::clone(&buf.mem),
            offset: buf.offset + offset,
            len,
            elem: buf.elem,
        })
    }

    fn write(&self, buf: &mut EmuBuf, host: &[f32]) -> Result<()> {
        buf.copy_from(host)
    }

    fn download(&self, buf: &EmuBuf) -> Result<Vec<f32>> {
        Ok(buf.as_slice::<f32>()?.to_vec())
    }

    fn write_u16(&self, buf: &mut EmuBuf, host: &[u16]) -> Result<()> {
        buf.copy_from(host)
    }

    fn download_u16(&self, buf: &EmuBuf) -> Result<Vec<u16>> {
        Ok(buf.as_slice::<u16>()?.to_vec())
    }

    fn len(&self, buf: &EmuBuf) -> usize {
        buf.len
    }

    fn elem(&self, buf: &EmuBuf) -> Elem {
        buf.elem
    }

    fn alloc_count(&self) -> u64 {
        self.allocs.load(Ordering::Relaxed)
    }

    fn launch(
        &self,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        args: &mut [Arg<'_, EmuBuf>],
    ) -> Result<()> {
        let frozen = self.freeze(kernel, cfg, args)?;
        let mut capture = self
            .capture
            .lock()
            .map_err(|_| Error::Device("emu: capture poisoned".into()))?;
        match capture.as_mut() {
            Some(graph) => {
                graph.push(frozen);
                Ok(())
            }
            None => {
                drop(capture);
                self.run(&frozen)
            }
        }
    }

    fn begin_capture(&self) -> Result<()> {
        let mut capture = self
            .capture
            .lock()
            .map_err(|_| Error::Device("emu: capture poisoned".into()))?;
        if capture.is_some() {
            return Err(Error::Device(
                "emu: a graph capture is already under way".into(),
            ));
        }
        *capture = Some(Vec::new());
        Ok(())
    }

    fn end_capture(&self) -> Result<EmuGraph> {
        let launches = self
            .capture
            .lock()
            .map_err(|_| Error::Device("emu: capture poisoned".into()))?
            .take()
            .ok_or_else(|| Error::Device("emu: no graph capture is under way".into()))?;
        Ok(EmuGraph { launches })
    }

    fn replay(&self, graph: &EmuGraph) -> Result<()> {
        graph.launches.iter().try_for_each(|l| self.run(l))
    }
}
