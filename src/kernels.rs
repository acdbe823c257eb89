//! The kernels of kernels/*.cu as build.rs found them: one [`Kernel`] constant per
//! `extern "C" __global__` function (module, name, parameter names and kinds), the
//! integer constants the kernels define ([`consts`]: tile sizes, activation codes, block
//! limits, each `#define SC_<NAME> <integer>` of kernels/*.cu and kernels/*.cuh), the
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

/// One integer constant of the kernels (`#define SC_<NAME> <integer>` in kernels/*.cu or
/// kernels/*.cuh), as build.rs exported it; [`consts::ALL`] lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelConst {
    /// The macro's name, which is also the name of its constant in [`consts`].
    pub name: &'static str,
    /// Its value.
    pub value: i128,
    /// The files that define it, relative to the crate root (`kernels/conv2d.cu`).
    pub files: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/kernel_table.rs"));

// build.rs's reader of the constants, included as is for its unit tests.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../build/kernel_consts.rs"]
mod build_kernel_consts;

#[cfg(test)]
mod tests {
    use super::consts;
    use crate::ops::Act;
    use std::collections::BTreeMap;

    /// `SC_<NAME>` → (value, files) of every `#define SC_<NAME> <integer>` line of
    /// kernels/*.cu and kernels/*.cuh, read now from the sources with a reader of its own
    /// (decimal and hex literals; a literal it cannot read fails the test).
    fn defines_in_sources() -> BTreeMap<String, (i128, Vec<String>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels");
        let mut out: BTreeMap<String, (i128, Vec<String>)> = BTreeMap::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cu" || e == "cuh"))
            .collect();
        paths.sort();
        for p in paths {
            let file = format!("kernels/{}", p.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, line) in text.lines().enumerate() {
                let Some(rest) = line.trim().strip_prefix("#define SC_") else {
                    continue;
                };
                let mut words = rest.split_whitespace();
                let name = format!("SC_{}", words.next().unwrap());
                let Some(lit) = words.next() else { continue };
                if !lit.starts_with(|c: char| c.is_ascii_digit()) || name.contains('(') {
                    continue;
                }
                let value = match lit.strip_prefix("0x") {
                    Some(hex) => i128::from_str_radix(hex, 16),
                    None => lit.parse(),
                }
                .unwrap_or_else(|e| panic!("{file}:{}: `{lit}`: {e}", i + 1));
                let entry = out.entry(name).or_insert((value, Vec::new()));
                assert_eq!(entry.0, value, "{file}:{}", i + 1);
                if !entry.1.contains(&file) {
                    entry.1.push(file.clone());
                }
            }
        }
        out
    }

    #[test]
    fn exported_constants_match_the_kernel_sources() {
        let sources = defines_in_sources();
        let exported: BTreeMap<String, (i128, Vec<String>)> = consts::ALL
            .iter()
            .map(|c| {
                let files = c.files.iter().map(|f| f.to_string()).collect();
                (c.name.to_string(), (c.value, files))
            })
            .collect();
        assert_eq!(exported, sources);
        for name in [
            "SC_CONV_TILE",
            "SC_CONV_COB",
            "SC_CT_TILE",
            "SC_CT_COB",
            "SC_ACT_IDENTITY",
            "SC_ACT_RELU",
            "SC_ACT_LEAKY",
            "SC_WARP_SIZE",
            "SC_BLOCK_SUM_MAX_WARPS",
        ] {
            assert!(sources.contains_key(name), "{name} is no longer defined");
        }
        assert_eq!(consts::SC_CONV_TILE as i128, sources["SC_CONV_TILE"].0);
        assert_eq!(consts::SC_CT_COB as i128, sources["SC_CT_COB"].0);
    }

    #[test]
    fn act_codes_are_the_kernels_codes() {
        let sources = defines_in_sources();
        let code = |name: &str| i32::try_from(sources[name].0).unwrap();
        assert_eq!(Act::Identity.code(), (code("SC_ACT_IDENTITY"), 0.0));
        assert_eq!(Act::Relu.code(), (code("SC_ACT_RELU"), 0.0));
        assert_eq!(Act::LeakyRelu(0.2).code(), (code("SC_ACT_LEAKY"), 0.2));
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
