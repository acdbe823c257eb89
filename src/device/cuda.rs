//! The CUDA executor: runs the fatbins that build.rs compiled from kernels/*.cu on an
//! NVIDIA GPU through cudarc's driver API.
//!
//! cudarc loads libcuda at run time (`dynamic-loading`), so the binary starts on machines
//! without a driver; [`CudaExec::new`] checks that the library is present before touching
//! the driver (cudarc panics otherwise) and turns every failure into
//! [`Error::DeviceUnavailable`]. Modules are loaded on first use and functions are looked up
//! once, then cached. All work goes to the context's default stream, in order, so the
//! buffers need no per-launch event tracking.

use super::gpu::{check_args, Arg, Elem, KernelExec, LaunchConfig, DEFAULT_DYNAMIC_SHARED};
use super::nccl::Comm;
use crate::dist::Collective;
use crate::kernels::{module_image, Kernel};
use crate::{Error, Result};
use cudarc::driver::sys::{
    CUdevice_attribute, CUfunction_attribute, CUgraphInstantiate_flags, CUstreamCaptureMode,
};
use cudarc::driver::{
    result, CudaContext, CudaFunction, CudaGraph, CudaModule, CudaSlice, CudaStream, DevicePtr,
    DriverError, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A buffer of f32 (or of 16-bit values) in GPU memory: a whole allocation, or a view of
/// part of one ([`KernelExec::view`]).
///
/// Held as 32-bit words, two 16-bit values to a word, and at least one word so that even
/// an empty buffer is a valid allocation (`cuMemAlloc` rejects zero bytes); `len` is the
/// logical length in elements, from word `offset` of the allocation.
pub struct CudaBuf {
    data: Arc<CudaSlice<f32>>,
    offset: usize,
    len: usize,
    elem: Elem,
}

impl CudaBuf {
    /// Its 32-bit words that hold data.
    fn words(&self) -> usize {
        words(self.len, self.elem)
    }
    /// Its words within the allocation.
    fn word_range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.words()
    }
    /// The device address of its first element.
    fn device_ptr(&self, stream: &CudaStream) -> u64 {
        let (base, _record) = self.data.device_ptr(stream);
        base + (self.offset * std::mem::size_of::<f32>()) as u64
    }
    /// An error unless its elements are `elem`.
    fn check(&self, elem: Elem) -> Result<()> {
        if self.elem != elem {
            return Err(Error::Device(format!(
                "cuda: a buffer of {:?} accessed as {elem:?}",
                self.elem
            )));
        }
        Ok(())
    }
}

/// 32-bit words that hold `len` elements of `elem`.
fn words(len: usize, elem: Elem) -> usize {
    (len * elem.bytes()).div_ceil(4)
}

/// The length error of a host copy of `host` elements into a buffer of `len`.
fn length_err(host: usize, len: usize) -> Error {
    Error::Shape {
        op: "write",
        reason: format!("host data has {host} elements, the buffer {len}"),
    }
}

/// One CUDA GPU as the driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuInfo {
    /// Device ordinal (the `N` of `cuda:N`).
    pub ordinal: usize,
    /// Marketing name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Compute capability (major, minor).
    pub compute_capability: (u32, u32),
    /// Total device memory in bytes.
    pub total_mem_bytes: usize,
}

/// The CUDA driver found on this machine and its GPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaDevices {
    /// The driver's CUDA version as `cuDriverGetVersion` encodes it (13000 = 13.0).
    pub driver_version: i32,
    /// Every GPU the driver lists, by ordinal.
    pub gpus: Vec<GpuInfo>,
}

/// The CUDA executor of one GPU.
pub struct CudaExec {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    info: GpuInfo,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
    allocs: AtomicU64,
    /// While a stream capture is under way: the allocations its launches use, which the
    /// graph keeps alive.
    capture: Mutex<Option<Vec<Arc<CudaSlice<f32>>>>>,
    /// The NCCL communicator of a data-parallel run's ranks, once
    /// [`KernelExec::connect_ranks`] made it.
    nccl: Mutex<Option<Comm>>,
}

/// A CUDA Graph of captured launches ([`KernelExec::begin_capture`]), instantiated, with
/// the allocations its kernel nodes point into.
pub struct CudaLaunchGraph {
    graph: CudaGraph,
    _keep: Vec<Arc<CudaSlice<f32>>>,
}

// SAFETY: a CUDA graph and its executable instance are driver objects not tied to the
// thread that made them (the driver API takes them from any thread with their context
// current, which cudarc's launch sets); cudarc leaves `CudaGraph` !Send only because it
// holds raw handles. The graph is owned by one colorizer and replayed through `&mut`, never
// from two threads at once (no `Sync`).
unsafe impl Send for CudaLaunchGraph {}

/// `cuda` or `cuda:N`, as a user names the device in errors.
fn device_label(ordinal: Option<usize>) -> String {
    ordinal.map_or_else(|| "cuda".to_string(), |n| format!("cuda:{n}"))
}

/// The driver's name and description of an error, e.g.
/// `CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)`.
fn describe(e: DriverError) -> String {
    match e.error_string() {
        Ok(s) => format!("{:?} ({})", e.0, s.to_string_lossy()),
        Err(_) => format!("{:?}", e.0),
    }
}

/// A driver failure outside any kernel.
fn device_err(what: &str, e: DriverError) -> Error {
    Error::Device(format!("CUDA {what} failed: {}", describe(e)))
}

/// A driver failure attributable to one kernel.
fn kernel_err(kernel: &Kernel, what: &str, e: DriverError) -> Error {
    Error::Kernel {
        kernel: kernel.name.to_string(),
        reason: format!("{what}: {}", describe(e)),
    }
}

/// Initializes the driver, or says why CUDA cannot be used at all.
fn init_driver(ordinal: Option<usize>) -> Result<()> {
    let unavailable = |reason: String| Error::DeviceUnavailable {
        device: device_label(ordinal),
        reason,
    };
    // SAFETY: only tries to dlopen libcuda; no driver function is called.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(unavailable(
            "no CUDA driver: libcuda.so could not be loaded (no NVIDIA driver installed)".into(),
        ));
    }
    result::init().map_err(|e| {
        let reason = match e.0 {
            cudarc::driver::sys::CUresult::CUDA_ERROR_NO_DEVICE => {
                "the CUDA driver is installed but finds no GPU".to_string()
            }
            _ => format!("the CUDA driver failed to initialize: {}", describe(e)),
        };
        unavailable(reason)
    })
}

/// Queries one GPU without creating a context on it.
fn gpu_info(ordinal: usize) -> std::result::Result<GpuInfo, DriverError> {
    let dev = result::device::get(ordinal as i32)?;
    let attr = |a| {
        // SAFETY: `dev` was returned by cuDeviceGet.
        unsafe { result::device::get_attribute(dev, a) }
    };
    let major = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    Ok(GpuInfo {
        ordinal,
        name: result::device::get_name(dev)?,
        compute_capability: (major.max(0) as u32, minor.max(0) as u32),
        // SAFETY: as above.
        total_mem_bytes: unsafe { result::device::total_mem(dev) }?,
    })
}

/// Lists the CUDA driver's GPUs, or says why there are none to use
/// ([`Error::DeviceUnavailable`]: no driver, driver without GPUs, driver failure).
pub fn probe() -> Result<CudaDevices> {
    init_driver(None)?;
    let unavailable = |reason: String| Error::DeviceUnavailable {
        device: device_label(None),
        reason,
    };
    let mut version = 0;
    // SAFETY: cuDriverGetVersion writes one int; the driver is initialized.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(|e| unavailable(format!("cuDriverGetVersion failed: {}", describe(e))))?;
    let count = result::device::get_count()
        .map_err(|e| unavailable(format!("cuDeviceGetCount failed: {}", describe(e))))?;
    if count <= 0 {
        return Err(unavailable(
            "the CUDA driver is installed but finds no GPU".into(),
        ));
    }
    let gpus = (0..count as usize)
        .map(|i| gpu_info(i).map_err(|e| unavailable(format!("querying GPU {i}: {}", describe(e)))))
        .collect::<Result<Vec<_>>>()?;
    Ok(CudaDevices {
        driver_version: version,
        gpus,
    })
}

/// Which image of the fatbins a GPU of compute capability `cc` runs: SASS of an arch in
/// `archs` with the same major version and a minor version not above the GPU's (the newest
/// such), else the PTX of the last arch JIT-compiled by the driver if the GPU is at least
/// that arch, else nothing. `archs` are `sm_NN` names as in
/// [`CUDA_ARCHS`](crate::kernels::CUDA_ARCHS).
pub fn image_for(cc: (u32, u32), archs: &[&str]) -> Option<String> {
    let parse = |a: &str| -> Option<(u32, u32)> {
        let n: u32 = a.strip_prefix("sm_")?.parse().ok()?;
        Some((n / 10, n % 10))
    };
    let sass = archs
        .iter()
        .filter_map(|a| parse(a).map(|v| (v, *a)))
        .filter(|((maj, min), _)| *maj == cc.0 && *min <= cc.1)
        .max_by_key(|(v, _)| *v);
    if let Some((_, a)) = sass {
        return Some(format!("SASS {a}"));
    }
    let last = archs.last()?;
    let ptx = parse(last)?;
    (ptx <= cc).then(|| format!("PTX compute_{} (JIT)", last.trim_start_matches("sm_")))
}

impl CudaExec {
    /// The GPU it runs on.
    pub fn info(&self) -> &GpuInfo {
        &self.info
    }
    /// Opens GPU `ordinal`: a clean [`Error::DeviceUnavailable`] when there is no driver, no
    /// GPU, or no GPU with that ordinal; never panics.
    pub fn new(ordinal: usize) -> Result<CudaExec> {
        init_driver(Some(ordinal))?;
        let unavailable = |reason: String| Error::DeviceUnavailable {
            device: device_label(Some(ordinal)),
            reason,
        };
        let count = result::device::get_count()
            .map_err(|e| unavailable(format!("cuDeviceGetCount failed: {}", describe(e))))?;
        if count <= 0 {
            return Err(unavailable(
                "the CUDA driver is installed but finds no GPU".into(),
            ));
        }
        if ordinal >= count as usize {
            return Err(unavailable(format!(
                "ordinal {ordinal} out of range: {count} GPU(s) found (cuda:0..cuda:{})",
                count - 1
            )));
        }
        let info = gpu_info(ordinal)
            .map_err(|e| unavailable(format!("querying the GPU: {}", describe(e))))?;
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| unavailable(format!("creating a context: {}", describe(e))))?;
        // SAFETY: every buffer and launch of this executor uses its one stream, so stream
        // order alone makes each use follow the previous ones; the events cudarc would
        // record per buffer are not needed.
        unsafe { ctx.disable_event_tracking() };
        // A stream of its own rather than the legacy default stream, which cannot be
        // captured into a CUDA Graph.
        let stream = ctx
            .new_stream()
            .map_err(|e| unavailable(format!("creating a stream: {}", describe(e))))?;
        Ok(CudaExec {
            ctx,
            stream,
            info,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
            allocs: AtomicU64::new(0),
            capture: Mutex::new(None),
            nccl: Mutex::new(None),
        })
    }

    /// The GPU this executor runs on.
    pub fn gpu(&self) -> &GpuInfo {
        &self.info
    }

    /// The module holding `kernel`, loaded from its fatbin on first use.
    fn module(&self, kernel: &'static Kernel) -> Result<Arc<CudaModule>> {
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(kernel.module) {
            return Ok(m.clone());
        }
        let image = module_image(kernel.module).ok_or_else(|| Error::Kernel {
            kernel: kernel.name.to_string(),
            reason: format!(
                "module '{}' was not compiled into this binary",
                kernel.module
            ),
        })?;
        // Copied into a fresh allocation: the driver wants the image suitably aligned,
        // which include_bytes! does not promise.
        let module = self
            .ctx
            .load_module(Ptx::from_binary(image.to_vec()))
            .map_err(|e| {
                let (maj, min) = self.info.compute_capability;
                kernel_err(
                    kernel,
                    &format!(
                    "loading module '{}' on a compute capability {maj}.{min} GPU (built for {})",
                    kernel.module,
                    crate::kernels::CUDA_ARCHS.join(", ")
                ),
                    e,
                )
            })?;
        modules.insert(kernel.module, module.clone());
        Ok(module)
    }

    /// The function of `kernel`, looked up once.
    fn function(&self, kernel: &'static Kernel) -> Result<CudaFunction> {
        if let Some(f) = self
            .functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(kernel.name)
        {
            return Ok(f.clone());
        }
        let f = self
            .module(kernel)?
            .load_function(kernel.name)
            .map_err(|e| kernel_err(kernel, "looking up the function", e))?;
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kernel.name, f.clone());
        Ok(f)
    }

    /// Copies the words `host` into `buf` (f32 values, or 16-bit ones packed in pairs).
    fn copy_htod(&self, buf: &CudaBuf, host: &[f32]) -> Result<()> {
        if host.is_empty() {
            return Ok(());
        }
        debug_assert_eq!(host.len(), buf.words());
        let dst = buf.device_ptr(&self.stream);
        self.stream
            .context()
            .bind_to_thread()
            .map_err(|e| device_err("binding the context", e))?;
        // SAFETY: dst..dst + 4·host.len() lies within buf's allocation (word_range), which
        // buf keeps alive; the copy is ordered on the allocation's stream, and a copy from
        // pageable host memory has read `host` when the call returns.
        unsafe { result::memcpy_htod_async(dst, host, self.stream.cu_stream()) }
            .map_err(|e| device_err("host-to-device copy", e))
    }

    /// Allocates `len` elements of `elem` (at least one word) without initializing them.
    fn alloc_raw(&self, len: usize, elem: Elem) -> Result<CudaBuf> {
        if self.capture.lock().map(|c| c.is_some()).unwrap_or(false) {
            return Err(Error::Device(
                "cuda: an allocation during a graph capture (a steady-state iteration allocates nothing)".into(),
            ));
        }
        // SAFETY: every caller overwrites the first `len` elements (zeroes or host data)
        // before the buffer is used; the padding element of an empty buffer is never read.
        let data = unsafe { self.stream.alloc::<f32>(words(len, elem).max(1)) }
            .map_err(|e| device_err(&format!("allocation of {len} {elem:?} elements"), e))?;
        self.allocs.fetch_add(1, Ordering::Relaxed);
        Ok(CudaBuf {
            data: Arc::new(data),
            offset: 0,
            len,
            elem,
        })
    }
}

impl KernelExec for CudaExec {
    type Buf = CudaBuf;
    type Graph = CudaLaunchGraph;

    fn name(&self) -> String {
        let (maj, min) = self.info.compute_capability;
        format!(
            "cuda:{} ({}, sm_{maj}{min})",
            self.info.ordinal, self.info.name
        )
    }

    fn alloc(&self, len: usize, elem: Elem) -> Result<CudaBuf> {
        let mut buf = self.alloc_raw(len, elem)?;
        let data = Arc::get_mut(&mut buf.data).expect("a new allocation has no views");
        self.stream
            .memset_zeros(data)
            .map_err(|e| device_err("memset", e))?;
        Ok(buf)
    }

    fn view(&self, buf: &CudaBuf, offset: usize, len: usize) -> Result<CudaBuf> {
        crate::device::gpu::check_view(buf.len, offset, len)?;
        // GROUP_ALIGN is even, so a 16-bit view starts on a word.
        Ok(CudaBuf {
            data: Arc::clone(&buf.data),
            offset: buf.offset + words(offset, buf.elem),
            len,
            elem: buf.elem,
        })
    }

    fn upload(&self, host: &[f32]) -> Result<CudaBuf> {
        let mut buf = self.alloc_raw(host.len(), Elem::F32)?;
        self.write(&mut buf, host)?;
        Ok(buf)
    }

    fn write(&self, buf: &mut CudaBuf, host: &[f32]) -> Result<()> {
        buf.check(Elem::F32)?;
        if host.len() != buf.len {
            return Err(length_err(host.len(), buf.len));
        }
        self.copy_htod(buf, host)
    }

    fn download(&self, buf: &CudaBuf) -> Result<Vec<f32>> {
        buf.check(Elem::F32)?;
        if buf.len == 0 {
            return Ok(Vec::new());
        }
        let host = self
            .stream
            .clone_dtoh(&buf.data.slice(buf.word_range()))
            .map_err(|e| device_err("device-to-host copy (or an earlier kernel)", e))?;
        self.stream
            .synchronize()
            .map_err(|e| device_err("stream synchronization (or an earlier kernel)", e))?;
        Ok(host)
    }

    fn write_u16(&self, buf: &mut CudaBuf, host: &[u16]) -> Result<()> {
        buf.check(Elem::U16)?;
        if host.len() != buf.len {
            return Err(length_err(host.len(), buf.len));
        }
        if host.is_empty() {
            return Ok(());
        }
        // Two values to a word, a last odd one with a zero beside it.
        let mut packed = vec![0f32; buf.words()];
        bytemuck::cast_slice_mut::<f32, u16>(&mut packed)[..host.len()].copy_from_slice(host);
        self.copy_htod(buf, &packed)
    }

    fn download_u16(&self, buf: &CudaBuf) -> Result<Vec<u16>> {
        buf.check(Elem::U16)?;
        if buf.len == 0 {
            return Ok(Vec::new());
        }
        let words = self
            .stream
            .clone_dtoh(&buf.data.slice(buf.word_range()))
            .map_err(|e| device_err("device-to-host copy (or an earlier kernel)", e))?;
        self.stream
            .synchronize()
            .map_err(|e| device_err("stream synchronization (or an earlier kernel)", e))?;
        Ok(bytemuck::cast_slice::<f32, u16>(&words)[..buf.len].to_vec())
    }

    fn len(&self, buf: &CudaBuf) -> usize {
        buf.len
    }

    fn elem(&self, buf: &CudaBuf) -> Elem {
        buf.elem
    }

    fn alloc_count(&self) -> u64 {
        self.allocs.load(Ordering::Relaxed)
    }

    fn launch(
        &self,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        args: &mut [Arg<'_, CudaBuf>],
    ) -> Result<()> {
        check_args(kernel, args, |b| b.elem)?;
        let f = self.function(kernel)?;
        if cfg.shared_bytes > DEFAULT_DYNAMIC_SHARED {
            opt_in_shared(kernel, &f, cfg.shared_bytes)?;
        }
        // Buffers go as their device addresses (a view's is inside its allocation).
        let ptrs: Vec<u64> = args
            .iter()
            .map(|a| match a {
                Arg::In(_, b) => b.device_ptr(&self.stream),
                Arg::Out(_, b) => b.device_ptr(&self.stream),
                _ => 0,
            })
            .collect();
        if let Some(keep) = self
            .capture
            .lock()
            .map_err(|_| Error::Device("cuda: capture state poisoned".into()))?
            .as_mut()
        {
            keep.extend(args.iter().filter_map(|a| match a {
                Arg::In(_, b) => Some(Arc::clone(&b.data)),
                Arg::Out(_, b) => Some(Arc::clone(&b.data)),
                _ => None,
            }));
        }
        let mut builder = self.stream.launch_builder(&f);
        for (a, ptr) in args.iter().zip(&ptrs) {
            match a {
                Arg::In(..) | Arg::Out(..) => builder.arg(ptr),
                Arg::I32(_, v) => builder.arg(v),
                Arg::F32(_, v) => builder.arg(v),
            };
        }
        let launch_cfg = cudarc::driver::LaunchConfig {
            grid_dim: cfg.grid,
            block_dim: cfg.block,
            shared_mem_bytes: cfg.shared_bytes,
        };
        // SAFETY: check_args matched every argument to the kernel's parameter kinds as
        // build.rs read them from its source (f32 buffers as device pointers, scalars by
        // value, in order); the buffers outlive the launch because they are dropped on the
        // same stream after it.
        unsafe { builder.launch(launch_cfg) }.map_err(|e| {
            kernel_err(
                kernel,
                &format!(
                    "launch with grid {:?}, block {:?}, {} bytes of dynamic shared memory",
                    cfg.grid, cfg.block, cfg.shared_bytes
                ),
                e,
            )
        })?;
        Ok(())
    }

    fn begin_capture(&self) -> Result<()> {
        let mut keep = self
            .capture
            .lock()
            .map_err(|_| Error::Device("cuda: capture state poisoned".into()))?;
        if keep.is_some() {
            return Err(Error::Device(
                "cuda: a graph capture is already under way".into(),
            ));
        }
        // Thread-local mode: a call of this thread that a capture cannot hold (an
        // allocation, a synchronizing copy) fails instead of breaking the graph.
        self.stream
            .begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(|e| device_err("beginning a stream capture", e))?;
        *keep = Some(Vec::new());
        Ok(())
    }

    fn end_capture(&self) -> Result<CudaLaunchGraph> {
        let keep = self
            .capture
            .lock()
            .map_err(|_| Error::Device("cuda: capture state poisoned".into()))?
            .take()
            .ok_or_else(|| Error::Device("cuda: no graph capture is under way".into()))?;
        let graph = self
            .stream
            .end_capture(CUgraphInstantiate_flags(0))
            .map_err(|e| device_err("ending a stream capture", e))?
            .ok_or_else(|| Error::Device("cuda: the stream capture recorded nothing".into()))?;
        Ok(CudaLaunchGraph { graph, _keep: keep })
    }

    fn replay(&self, graph: &CudaLaunchGraph) -> Result<()> {
        graph
            .graph
            .launch()
            .map_err(|e| device_err("launching a CUDA Graph", e))
    }

    fn connect_ranks(&self, ranks: &dyn Collective) -> Result<bool> {
        // Every rank says whether it can; all use NCCL only if all can.
        if ranks.any(!Comm::available())? {
            if ranks.rank() == 0 {
                crate::console::note(
                    "note: NCCL (libnccl.so, 2.10 or newer) is missing on some rank, or some \
                     rank has no GPU: the ranks average their gradients through the host (MPI)",
                );
            }
            return Ok(false);
        }
        self.bind()?;
        let comm = Comm::join(ranks)?;
        *self.lock_nccl()? = Some(comm);
        Ok(true)
    }

    fn mean_over_ranks(&self, buf: &mut CudaBuf, ranks: &dyn Collective) -> Result<bool> {
        buf.check(Elem::F32)?;
        let nccl = self.lock_nccl()?;
        let Some(comm) = nccl.as_ref() else {
            return Ok(false);
        };
        self.bind()?;
        let _watch = ranks.watch("NCCL all-reduce of the gradients");
        // SAFETY: the buffer's `len` f32 lie within its allocation, which `buf` keeps alive
        // past the synchronization below; the stream is this GPU's.
        unsafe {
            comm.mean_in_place(
                buf.device_ptr(&self.stream),
                buf.len,
                self.stream.cu_stream(),
            )
        }?;
        // Waited for here, under the watch: a rank that never joins is a timeout, not a
        // hang in the next download.
        self.stream
            .synchronize()
            .map_err(|e| device_err("the NCCL all-reduce", e))?;
        Ok(true)
    }
}

/// Opts `kernel` (its function `f`) in to `bytes` of dynamic shared memory, as a launch
/// asking for more than [`DEFAULT_DYNAMIC_SHARED`] needs; the driver refuses more than the
/// GPU's blocks can have.
fn opt_in_shared(kernel: &'static Kernel, f: &CudaFunction, bytes: u32) -> Result<()> {
    let value = i32::try_from(bytes).map_err(|_| Error::Kernel {
        kernel: kernel.name.to_string(),
        reason: format!("{bytes} bytes of dynamic shared memory is out of range"),
    })?;
    f.set_attribute(
        CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
        value,
    )
    .map_err(|e| {
        kernel_err(
            kernel,
            &format!("opting in to {bytes} bytes of dynamic shared memory"),
            e,
        )
    })
}

/// What [`check_nccl`] found: NCCL's average over `gpus` GPUs of `len` values each.
#[derive(Clone, Debug)]
pub struct NcclCheck {
    /// GPUs in the clique (one: the communicator's wiring only, the mean of one rank).
    pub gpus: usize,
    /// Values averaged on each GPU.
    pub len: usize,
    /// The largest difference from the mean computed in f64, relative to the largest
    /// magnitude.
    pub max_rel_err: f64,
    /// Whether every GPU holds the same bits afterwards (what keeps ranks' weights equal).
    pub identical: bool,
}

/// Averages an awkward-length buffer (a view at an offset into a larger allocation, as a
/// network's gradient span is) over the GPUs of `ordinals` with NCCL, driven from this
/// thread as one group, and compares it with the mean in f64: the in-GPU averaging of
/// data-parallel training without MPI ([`crate::device::nccl`]).
pub fn check_nccl(ordinals: &[usize]) -> Result<NcclCheck> {
    const LEN: usize = 1_000_003;
    let value = |rank: usize, i: usize| ((i * 7 + rank * 13) % 101) as f32 * 0.37 - 11.0;
    let execs = ordinals
        .iter()
        .map(|&o| CudaExec::new(o))
        .collect::<Result<Vec<_>>>()?;
    let mut bufs = Vec::new();
    for (rank, exec) in execs.iter().enumerate() {
        let whole = exec.alloc(LEN + 2 * super::gpu::GROUP_ALIGN, Elem::F32)?;
        let mut view = exec.view(&whole, super::gpu::GROUP_ALIGN, LEN)?;
        let host: Vec<f32> = (0..LEN).map(|i| value(rank, i)).collect();
        exec.write(&mut view, &host)?;
        exec.stream
            .synchronize()
            .map_err(|e| device_err("stream synchronization", e))?;
        bufs.push(view);
    }
    let comms = Comm::all_in_process(ordinals)?;
    super::nccl::group(|| {
        for ((exec, comm), buf) in execs.iter().zip(&comms).zip(&bufs) {
            exec.bind()?;
            // SAFETY: the view's LEN f32 lie in its allocation, kept alive by `bufs` until
            // the downloads below have synchronized every stream.
            unsafe {
                comm.mean_in_place(buf.device_ptr(&exec.stream), LEN, exec.stream.cu_stream())
            }?;
        }
        Ok(())
    })?;
    let results = execs
        .iter()
        .zip(&bufs)
        .map(|(exec, buf)| exec.download(buf))
        .collect::<Result<Vec<_>>>()?;
    let n = ordinals.len();
    let (mut worst, mut scale) = (0f64, 0f64);
    for (i, &got) in results[0].iter().enumerate() {
        let mean = (0..n).map(|r| f64::from(value(r, i))).sum::<f64>() / n as f64;
        worst = worst.max((f64::from(got) - mean).abs());
        scale = scale.max(mean.abs());
    }
    Ok(NcclCheck {
        gpus: n,
        len: LEN,
        max_rel_err: worst / scale.max(f64::MIN_POSITIVE),
        identical: results.iter().all(|r| r == &results[0]),
    })
}

impl CudaExec {
    /// Makes this executor's context current on the calling thread (NCCL's calls use the
    /// current device).
    fn bind(&self) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| device_err("binding the context", e))
    }

    /// The NCCL communicator slot.
    fn lock_nccl(&self) -> Result<std::sync::MutexGuard<'_, Option<Comm>>> {
        self.nccl
            .lock()
            .map_err(|_| Error::Device("cuda: NCCL state poisoned".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_is_a_clean_error_without_a_gpu_and_works_with_one() {
        match CudaExec::new(0) {
            Ok(exec) => {
                // A GPU is present: the executor round-trips data.
                let buf = exec.upload(&[1.0, -2.5, 3.25]).unwrap();
                assert_eq!(exec.download(&buf).unwrap(), vec![1.0, -2.5, 3.25]);
                assert_eq!(exec.alloc_count(), 1);
            }
            Err(Error::DeviceUnavailable { device, reason }) => {
                assert_eq!(device, "cuda:0");
                assert!(!reason.is_empty());
                // And probing agrees that there is nothing to use.
                assert!(matches!(probe(), Err(Error::DeviceUnavailable { .. })));
            }
            Err(e) => panic!("expected DeviceUnavailable, got {e}"),
        }
    }

    #[test]
    fn an_ordinal_past_the_last_gpu_is_unavailable() {
        let err = CudaExec::new(4096).err().expect("no machine has 4097 GPUs");
        assert!(
            matches!(err, Error::DeviceUnavailable { ref device, .. } if device == "cuda:4096")
        );
    }

    #[test]
    fn image_choice_follows_cuda_compatibility_rules() {
        let archs = ["sm_80", "sm_86", "sm_89", "sm_90"];
        assert_eq!(image_for((8, 0), &archs).as_deref(), Some("SASS sm_80"));
        assert_eq!(image_for((8, 7), &archs).as_deref(), Some("SASS sm_86"));
        assert_eq!(image_for((9, 0), &archs).as_deref(), Some("SASS sm_90"));
        assert_eq!(
            image_for((10, 0), &archs).as_deref(),
            Some("PTX compute_90 (JIT)")
        );
        assert_eq!(image_for((7, 5), &archs), None);
        assert_eq!(image_for((9, 0), &[]), None);
    }
}
