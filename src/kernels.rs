//! The kernels of kernels/*.cu as build.rs found them: one [`Kernel`] constant per
//! `extern "C" __global__` function (module, name, parameter names and kinds), the
//! compiled CUDA modules, and the ptxas resource report of every kernel for every compiled
//! arch.

/// Kind of one kernel parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `const float*`: a buffer the kernel reads.
    ConstF32Ptr,
    /// `float*`: a buffer the kernel writes (and may read).
    MutF32Ptr,
    /// `int`.
    I32,
    /// `unsigned int`.
    U32,
    /// `float`.
    F32,
}

/// One parameter of a kernel, as its .cu signature declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// The parameter's name in the signature (`c_in` of `int c_in`): the launch code names
    /// each argument, and the launch check compares the two.
    pub name: &'static str,
    /// Its kind.
    pub kind: ParamKind,
}

/// A kernel of kernels/*.cu.
#[derive(Debug)]
pub struct Kernel {
    /// The CUDA module: the .cu file's stem.
    pub module: &'static str,
    /// The kernel's unmangled name.
    pub name: &'static str,
    /// Its parameters, in order.
    pub params: &'static [Param],
}

/// ptxas's resource report of one kernel for one arch (`-Xptxas -v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelResources {
    /// Kernel name.
    pub kernel: &'static str,
    /// Target, e.g. `sm_90`.
    pub arch: &'static str,
    /// Registers per thread.
    pub registers: u32,
    /// Static shared memory in bytes.
    pub shared_bytes: u32,
    /// Stack frame in bytes.
    pub stack_bytes: u32,
    /// Bytes of spill stores.
    pub spill_stores: u32,
    /// Bytes of spill loads.
    pub spill_loads: u32,
    /// Named barriers used (`__syncthreads` uses barrier 0).
    pub barriers: u32,
}

include!(concat!(env!("OUT_DIR"), "/kernel_table.rs"));
