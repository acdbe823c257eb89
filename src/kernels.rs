//! The kernels of kernels/*.cu as build.rs found them: one [`Kernel`] constant per
//! `extern "C" __global__` function (module, name, parameter names and kinds), the
//! integer constants the kernels define ([`consts`]: tile sizes, activation codes, block
//! limits, each `#define SC_<NAME> <int>` of kernels/*.cu and kernels/*.cuh), the
//! compiled CUDA modules, the ptxas resource report of every kernel for every compiled
//! arch, and instruction counts per loop read from every kernel's SASS ([`SASS`]).

/// Kind of one kernel parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `const float*`: a buffer the kernel reads.
    ConstF32Ptr,
    /// `float*`: a buffer the kernel writes (and may read).
    MutF32Ptr,
    /// `const unsigned short*`: a buffer of 16-bit values (bf16 or fp16) the kernel reads.
    ConstU16Ptr,
    /// `unsigned short*`: a buffer of 16-bit values the kernel writes (and may read).
    MutU16Ptr,
    /// `int*`: a buffer of 32-bit integers the kernel writes (and may read): counters
    /// such as the split-K fold's tickets.
    MutI32Ptr,
    /// `int`.
    I32,
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

/// Instruction counts of a stretch of SASS, by class.
///
/// Classes (build/sass.rs): `ffma` FFMA (and FFMA32I, FFMA2); `fp32_other` the other fp32
/// arithmetic (FADD, FMUL, FMNMX, FSETP, FSEL, MUFU, F2F, …); `int` integer arithmetic and
/// logic, vector or uniform (IMAD, IADD3, LEA, ISETP, LOP3, SHF, IABS, SEL, I2F, F2I, UIMAD,
/// …); `lds` LDS/LDSM; `sts` STS; `ldg` LDG and generic LD; `stg` STG and generic ST; `shfl`
/// SHFL; `bar` BAR; `branch` BRA, BSSY, BSYNC, EXIT, CALL, RET, …; `other` the rest (MOV,
/// LDC, S2R, NOP, fp16, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstrMix {
    /// Fused fp32 multiply-adds.
    pub ffma: u32,
    /// Other fp32 arithmetic.
    pub fp32_other: u32,
    /// Integer arithmetic and logic.
    pub int: u32,
    /// Shared-memory loads.
    pub lds: u32,
    /// Shared-memory stores.
    pub sts: u32,
    /// Global loads.
    pub ldg: u32,
    /// Global stores.
    pub stg: u32,
    /// Warp shuffles.
    pub shfl: u32,
    /// Barriers.
    pub bar: u32,
    /// Tensor-core matrix multiply-accumulates (HMMA: one `mma.sync` m16n8k8 TF32 each).
    pub mma: u32,
    /// Control flow.
    pub branch: u32,
    /// Everything else.
    pub other: u32,
}

impl InstrMix {
    /// All instructions.
    pub const fn total(&self) -> u32 {
        self.ffma
            + self.fp32_other
            + self.int
            + self.lds
            + self.sts
            + self.ldg
            + self.stg
            + self.shfl
            + self.bar
            + self.mma
            + self.branch
            + self.other
    }
}

/// Memory instructions (LDS, STS, LDG, STG) of one source line in a loop's own body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemLine {
    /// Source file name without directories (`conv2d.cu`, `common.cuh`); empty when the
    /// instruction has no line info.
    pub file: &'static str,
    /// Line number (0 without line info).
    pub line: u32,
    /// Memory instructions attributed to it.
    pub count: u32,
}

/// A loop of a kernel's SASS: a backward branch (BRA, predicated or not, whose target is
/// at or before it; not the branch-to-itself trap after the last EXIT) closes the loop
/// from its target to it. Branches back to the same target form one loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SassLoop {
    /// Nesting depth: 1 for an outermost loop, 2 for a loop inside it, ….
    pub depth: u8,
    /// Byte offset of its first instruction (the branch target).
    pub start: u32,
    /// Byte offset of its last instruction (the backward branch).
    pub end: u32,
    /// Its instructions exclusive of its inner loops' (which count in theirs): the
    /// instructions one iteration executes outside the inner loops, if every predicated
    /// one is counted.
    pub mix: InstrMix,
    /// Where `mix`'s memory instructions come from, by source line, sorted by file and line.
    pub mem_lines: &'static [MemLine],
}

/// Instruction counts of one kernel (or non-inlined device function) for one arch, from
/// `nvdisasm` of the cubin in its fatbin.
///
/// Executed instructions per thread ≈ `straight.total()` + Σ over loops of
/// `mix.total()` × the loop's iterations (its iterations counted over all the iterations of
/// the loops around it): every instruction is in exactly one of `straight` and the loops'
/// mixes, so `straight.total() + Σ loops[i].mix.total() == instructions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SassKernel {
    /// Function name (a kernel's unmangled name).
    pub kernel: &'static str,
    /// Target, e.g. `sm_90`.
    pub arch: &'static str,
    /// All its instructions, including the trap and alignment padding after the last EXIT.
    pub instructions: u32,
    /// Instructions outside every loop.
    pub straight: InstrMix,
    /// Its loops, by start offset: an outer loop comes before the loops inside it.
    pub loops: &'static [SassLoop],
}

include!(concat!(env!("OUT_DIR"), "/kernel_table.rs"));

// build.rs's reader of the constants, included as is for its unit tests.
#[cfg(test)]
#[path = "../build/kernel_consts.rs"]
mod build_kernel_consts;

// build.rs's SASS parser, included as is for its unit tests (its tool runner goes unused).
#[cfg(test)]
#[allow(dead_code)]
#[path = "../build/sass.rs"]
mod build_sass;

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
            ("SC_SHARED_BANKS", consts::SC_SHARED_BANKS),
            ("SC_CT_TILE", consts::SC_CT_TILE),
            ("SC_CT_COB", consts::SC_CT_COB),
            ("SC_ACT_IDENTITY", consts::SC_ACT_IDENTITY),
            ("SC_ACT_RELU", consts::SC_ACT_RELU),
            ("SC_ACT_LEAKY", consts::SC_ACT_LEAKY),
            ("SC_WARP_SIZE", consts::SC_WARP_SIZE),
            ("SC_BLOCK_SUM_MAX_WARPS", consts::SC_BLOCK_SUM_MAX_WARPS),
            ("SC_IG_BK", consts::SC_IG_BK),
            ("SC_IG_TN", consts::SC_IG_TN),
            ("SC_IG_THREADS", consts::SC_IG_THREADS),
            ("SC_IG_PAD", consts::SC_IG_PAD),
            ("SC_IG_MMA_PAD", consts::SC_IG_MMA_PAD),
            ("SC_PREC_FP32", consts::SC_PREC_FP32),
            ("SC_PREC_TF32", consts::SC_PREC_TF32),
            ("SC_PREC_3XTF32", consts::SC_PREC_3XTF32),
            ("SC_FMT_BF16", consts::SC_FMT_BF16),
            ("SC_FMT_FP16", consts::SC_FMT_FP16),
            ("SC_PATCH_TILE", consts::SC_PATCH_TILE),
            ("SC_PATCH_CK", consts::SC_PATCH_CK),
            ("SC_PATCH_MIN_BLOCKS_9X32", consts::SC_PATCH_MIN_BLOCKS_9X32),
            ("SC_PATCH_MIN_BLOCKS_9X8", consts::SC_PATCH_MIN_BLOCKS_9X8),
            ("SC_PATCH_MIN_BLOCKS_3X64", consts::SC_PATCH_MIN_BLOCKS_3X64),
            ("SC_PATCH_MIN_BLOCKS_3X32", consts::SC_PATCH_MIN_BLOCKS_3X32),
            ("SC_PATCH_MIN_BLOCKS_3X16", consts::SC_PATCH_MIN_BLOCKS_3X16),
            ("SC_IG_MIN_BLOCKS_128X64", consts::SC_IG_MIN_BLOCKS_128X64),
            ("SC_IG_MIN_BLOCKS_256X32", consts::SC_IG_MIN_BLOCKS_256X32),
            ("SC_IG_MIN_BLOCKS_256X16", consts::SC_IG_MIN_BLOCKS_256X16),
            ("SC_IG_MIN_BLOCKS_256X4", consts::SC_IG_MIN_BLOCKS_256X4),
            (
                "SC_IG_MIN_BLOCKS_WGRAD_64X64",
                consts::SC_IG_MIN_BLOCKS_WGRAD_64X64,
            ),
            (
                "SC_IG_MIN_BLOCKS_WGRAD_32X128",
                consts::SC_IG_MIN_BLOCKS_WGRAD_32X128,
            ),
            (
                "SC_IG_MIN_BLOCKS_WGRAD_32X128_3XTF32",
                consts::SC_IG_MIN_BLOCKS_WGRAD_32X128_3XTF32,
            ),
            (
                "SC_IG_MIN_BLOCKS_WGRAD_32X64",
                consts::SC_IG_MIN_BLOCKS_WGRAD_32X64,
            ),
            (
                "SC_IG_MIN_BLOCKS_WGRAD_64X128",
                consts::SC_IG_MIN_BLOCKS_WGRAD_64X128,
            ),
            (
                "SC_IG_MIN_BLOCKS_WGRAD_128X128",
                consts::SC_IG_MIN_BLOCKS_WGRAD_128X128,
            ),
            ("SC_WPATCH_TH", consts::SC_WPATCH_TH),
            ("SC_WPATCH_TW", consts::SC_WPATCH_TW),
            ("SC_WPATCH_BM", consts::SC_WPATCH_BM),
            (
                "SC_WPATCH_MIN_BLOCKS_TF32",
                consts::SC_WPATCH_MIN_BLOCKS_TF32,
            ),
            (
                "SC_WPATCH_MIN_BLOCKS_3XTF32",
                consts::SC_WPATCH_MIN_BLOCKS_3XTF32,
            ),
        ];
        for (name, v) in exported {
            assert_eq!(value(name), Some(v), "{name}");
        }
        assert_eq!(
            defs.len(),
            exported.len(),
            "a new SC_ constant: list it here"
        );
        // Hardware facts the shuffle trees and conv2d_forward_v2's pitch rely on.
        assert_eq!(consts::SC_WARP_SIZE, 32);
        assert_eq!(consts::SC_SHARED_BANKS, 32);
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
