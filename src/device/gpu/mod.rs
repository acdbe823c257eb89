//! The launch code shared by the `cuda` and `emu` executions: [`GpuDevice`] implements
//! every op of [`Device`](super::Device) by choosing grid, block, shared memory and arguments once, and
//! hands each launch to a [`KernelExec`], which either runs it on a GPU through cudarc or
//! runs the same kernel source on the CPU in the emulator. A launch-configuration bug
//! therefore shows up in the emulator too.

mod concat;
mod conv;
mod elementwise;
mod launch;
mod linear;
mod loss;
mod ops;
mod optim;
mod pool;

use crate::kernels::Kernel;
use crate::Result;
use std::sync::Mutex;

/// Grid, block and dynamic shared memory of one launch (CUDA's `<<<grid, block, shmem>>>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    /// Blocks in x, y, z.
    pub grid: (u32, u32, u32),
    /// Threads per block in x, y, z.
    pub block: (u32, u32, u32),
    /// Dynamic shared memory in bytes.
    pub shared_bytes: u32,
}

/// One kernel argument, in the order of the kernel's signature.
pub enum Arg<'a, B> {
    /// A buffer passed as `const float*`.
    In(&'a B),
    /// A buffer passed as `float*`.
    Out(&'a mut B),
    /// An `int`.
    I32(i32),
    /// An `unsigned int`.
    U32(u32),
    /// A `float`.
    F32(f32),
}

/// An executor of kernels/*.cu kernels: a CUDA GPU or the CPU emulator.
pub trait KernelExec {
    /// A buffer of f32 in the executor's memory.
    type Buf;
    /// A human-readable name of the executor and its device.
    fn name(&self) -> String;
    /// Allocates `len` zeroed f32.
    fn alloc_zeros(&self, len: usize) -> Result<Self::Buf>;
    /// Copies host data into a new buffer.
    fn upload(&self, host: &[f32]) -> Result<Self::Buf>;
    /// Copies host data into an existing buffer of the same length.
    fn write(&self, buf: &mut Self::Buf, host: &[f32]) -> Result<()>;
    /// Copies a buffer to the host, after all launched work finished.
    fn download(&self, buf: &Self::Buf) -> Result<Vec<f32>>;
    /// Number of f32 in a buffer.
    fn len(&self, buf: &Self::Buf) -> usize;
    /// Number of buffer allocations made so far.
    fn alloc_count(&self) -> u64;
    /// Opts a kernel in to more than 48 KiB of dynamic shared memory
    /// (`cudaFuncAttributeMaxDynamicSharedMemorySize`).
    fn set_max_dynamic_shared(&self, kernel: &'static Kernel, bytes: u32) -> Result<()>;
    /// Launches `kernel` with `cfg` and `args` (checked against the kernel's signature).
    fn launch(
        &self,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        args: &mut [Arg<'_, Self::Buf>],
    ) -> Result<()>;
}

/// Checks `args` against the kernel's parameter list: the same check on every executor,
/// so that a wrong argument order is an error, not undefined behaviour.
pub fn check_args<B>(kernel: &Kernel, args: &[Arg<'_, B>]) -> Result<()> {
    use crate::kernels::Param;
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
        let ok = matches!(
            (a, p),
            (Arg::In(_), Param::ConstF32Ptr)
                | (Arg::Out(_), Param::MutF32Ptr)
                | (Arg::I32(_), Param::I32)
                | (Arg::U32(_), Param::U32)
                | (Arg::F32(_), Param::F32)
        );
        if !ok {
            return Err(bad(format!(
                "argument {i} does not match parameter kind {p:?}"
            )));
        }
    }
    Ok(())
}

/// A [`Device`](crate::device::Device) whose ops launch kernels/*.cu on an executor.
pub struct GpuDevice<E: KernelExec> {
    exec: E,
    /// Per-block partial sums of the two-launch reductions: allocated on first use with a
    /// fixed size ([`launch::MAX_REDUCE_BLOCKS`]), so steady state never allocates.
    scratch: Mutex<Option<E::Buf>>,
}

impl<E: KernelExec> GpuDevice<E> {
    /// Wraps an executor.
    pub fn new(exec: E) -> Self {
        GpuDevice {
            exec,
            scratch: Mutex::new(None),
        }
    }
    /// The executor.
    pub fn exec(&self) -> &E {
        &self.exec
    }
}
