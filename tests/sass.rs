//! The SASS table (`satcolor::kernels::SASS`, built by build/sass.rs from nvdisasm's output):
//! present whenever the cuda build ran with the disassembler installed (build.rs then sets
//! `cfg(satcolor_sass)`; without it the checks of its rows are ignored), one row per kernel
//! and arch of the resource report, counts that add up and nest, and the loops of
//! `conv2d_forward` where they should be.

// The build script's nvcc lookup, to tell whether the disassembler is installed.
#[allow(dead_code)]
#[path = "../build/nvcc.rs"]
mod nvcc;

use satcolor::kernels::{SassKernel, CUDA_ARCHS, RESOURCES, SASS};
use std::path::Path;

/// Whether cuobjdump and nvdisasm are where build.rs looks: beside nvcc, or on PATH.
fn disassembler_installed() -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<_> = nvcc::find_nvcc(root)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .into_iter()
        .collect();
    if let Some(paths) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&paths));
    }
    ["cuobjdump", "nvdisasm"]
        .iter()
        .all(|t| dirs.iter().any(|d| d.join(t).is_file()))
}

/// An empty table is a failure where the cuda build ran and the disassembler is installed.
#[test]
fn the_table_is_built_where_it_can_be() {
    assert!(
        !SASS.is_empty() || CUDA_ARCHS.is_empty() || !disassembler_installed(),
        "the cuda build compiled {CUDA_ARCHS:?} and cuobjdump and nvdisasm are installed, \
         yet SASS is empty"
    );
}

fn rows(kernel: &str, arch: &str) -> Vec<&'static SassKernel> {
    SASS.iter()
        .filter(|s| s.kernel == kernel && s.arch == arch)
        .collect()
}

#[test]
#[cfg_attr(
    not(satcolor_sass),
    ignore = "no SASS table: needs the cuda feature and cuobjdump and nvdisasm (bash scripts/install-nvcc.sh)"
)]
fn every_resource_row_has_one_sass_row() {
    let missing: Vec<String> = RESOURCES
        .iter()
        .filter(|r| rows(r.kernel, r.arch).len() != 1)
        .map(|r| format!("{}@{}", r.kernel, r.arch))
        .collect();
    assert!(missing.is_empty(), "no single SASS row for {missing:?}");
    for s in SASS {
        assert!(CUDA_ARCHS.contains(&s.arch), "{}@{}", s.kernel, s.arch);
    }
}

#[test]
#[cfg_attr(
    not(satcolor_sass),
    ignore = "no SASS table: needs the cuda feature and cuobjdump and nvdisasm (bash scripts/install-nvcc.sh)"
)]
fn counts_add_up_and_loops_nest() {
    for s in SASS {
        let name = format!("{}@{}", s.kernel, s.arch);
        let in_loops: u32 = s.loops.iter().map(|l| l.mix.total()).sum();
        assert_eq!(s.straight.total() + in_loops, s.instructions, "{name}");
        assert!(s.straight.branch > 0, "{name}: no EXIT outside the loops");
        for (i, l) in s.loops.iter().enumerate() {
            assert!(l.start < l.end, "{name}: loop {i}");
            assert!(l.mix.branch > 0, "{name}: loop {i} without its back edge");
            // The loop just around it: the last one before it of one less depth.
            if l.depth > 1 {
                let outer = s.loops[..i]
                    .iter()
                    .rev()
                    .find(|o| o.depth == l.depth - 1)
                    .unwrap_or_else(|| panic!("{name}: loop {i} has no outer loop"));
                assert!(
                    outer.start <= l.start && l.end <= outer.end,
                    "{name}: loop {i} is not inside its outer loop"
                );
            } else {
                assert_eq!(l.depth, 1, "{name}: loop {i}");
            }
            let m = &l.mix;
            let mem: u32 = l.mem_lines.iter().map(|x| x.count).sum();
            assert_eq!(mem, m.lds + m.sts + m.ldg + m.stg, "{name}: loop {i}");
        }
    }
}

#[test]
#[cfg_attr(
    not(satcolor_sass),
    ignore = "no SASS table: needs the cuda feature and cuobjdump and nvdisasm (bash scripts/install-nvcc.sh)"
)]
fn conv2d_forward_innermost_loop_is_ffma_on_shared_memory() {
    let arch = if CUDA_ARCHS.contains(&"sm_90") {
        "sm_90"
    } else {
        CUDA_ARCHS.last().unwrap()
    };
    let k = rows("conv2d_forward", arch)[0];
    let deepest = k.loops.iter().map(|l| l.depth).max().expect("no loop");
    assert!(deepest >= 2, "the tap loop sits inside the channel loop");
    let inner: Vec<_> = k.loops.iter().filter(|l| l.depth == deepest).collect();
    let main = inner
        .iter()
        .max_by_key(|l| l.mix.ffma)
        .expect("an innermost loop");
    assert!(main.mix.ffma > 0, "{main:?}");
    assert!(main.mix.lds > 0, "{main:?}");
    assert_eq!(
        main.mix.ldg + main.mix.stg,
        0,
        "global memory in the FFMA loop"
    );
    assert!(!main.mem_lines.is_empty());
    for l in main.mem_lines {
        assert_eq!(l.file, "conv2d.cu", "{l:?}");
        assert!(l.line > 0, "{l:?}");
    }
}
