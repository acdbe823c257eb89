//! The kernels of kernels/*.cu as build.rs found them: one [`Kernel`] constant per
//! `extern "C" __global__` function (module, name, parameter names and kinds), the
//! integer constants the kernels define ([`consts`]: tile sizes, activation codes, block
//! limits, each `#define SC_<NAME> <int>` of kernels/*.cu and kernels/*.cuh), the
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

// build.rs's reader of the constants, included as is for its unit tests.
#[cfg(test)]
#[path = "../build/kernel_consts.rs"]
mod build_kernel_consts;

#[cfg(test)]
mod tests {
    use super::{build_kernel_consts, consts};
    use crate::ops::Act;
    use std::path::Path;

    #[test]
    fn exported_constants_are_the_kernels_defines() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let defs = build_kernel_consts::read_dir(root, &root.join("kernels")).unwrap();
        let value = |name: &str| defs.iter().find(|d| d.name == name).map(|d| d.value);
        let exported = [
            ("SC_CONV_TILE", consts::SC_CONV_TILE),
            ("SC_CONV_COB", consts::SC_CONV_COB),
            ("SC_CT_TILE", consts::SC_CT_TILE),
            ("SC_CT_COB", consts::SC_CT_COB),
            ("SC_ACT_IDENTITY", consts::SC_ACT_IDENTITY),
            ("SC_ACT_RELU", consts::SC_ACT_RELU),
            ("SC_ACT_LEAKY", consts::SC_ACT_LEAKY),
            ("SC_WARP_SIZE", consts::SC_WARP_SIZE),
            ("SC_BLOCK_SUM_MAX_WARPS", consts::SC_BLOCK_SUM_MAX_WARPS),
        ];
        for (name, v) in exported {
            assert_eq!(value(name), Some(v), "{name}");
        }
        assert_eq!(
            defs.len(),
            exported.len(),
            "a new SC_ constant: list it here"
        );
        // A hardware fact the shuffle trees rely on.
        assert_eq!(consts::SC_WARP_SIZE, 32);
    }

    #[test]
    fn act_codes_are_the_kernels_codes() {
        assert_eq!(Act::Identity.code(), (consts::SC_ACT_IDENTITY, 0.0));
        assert_eq!(Act::Relu.code(), (consts::SC_ACT_RELU, 0.0));
        assert_eq!(Act::LeakyRelu(0.2).code(), (consts::SC_ACT_LEAKY, 0.2));
        let mut codes = [
            consts::SC_ACT_IDENTITY,
            consts::SC_ACT_RELU,
            consts::SC_ACT_LEAKY,
        ];
        codes.sort_unstable();
        codes
            .windows(2)
            .for_each(|w| assert_ne!(w[0], w[1], "two activations share a code"));
    }
}
