//! ptxas resource checks: no kernel of kernels/*.cu may spill registers or use a stack
//! frame on any compiled arch, and every product kernel must have a row in the report for
//! every arch (so a kernel missing from `satcolor info` is caught). Also tests build.rs's
//! parsers (ptxas report, SATCOLOR_CUDA_ARCHS) on text captured from nvcc 13.0.88.

// The build script's module, included as is; this file uses its parsers only.
#[allow(dead_code)]
#[path = "../build/nvcc.rs"]
mod nvcc;

/// `kernel@arch: what` for every row with a stack frame or spills.
fn offenders<'a>(rows: impl Iterator<Item = (&'a str, &'a str, [u32; 3])>) -> Vec<String> {
    rows.filter(|(_, _, figs)| figs.iter().any(|&v| v > 0))
        .map(|(k, a, [stack, st, ld])| {
            format!("{k}@{a}: {stack} B stack frame, {st} B spill stores, {ld} B spill loads")
        })
        .collect()
}

#[cfg(feature = "cuda")]
mod built {
    use super::offenders;
    use satcolor::kernels::{CUDA_ARCHS, KERNELS, RESOURCES};

    #[test]
    fn no_kernel_spills_or_uses_a_stack_frame() {
        let bad = offenders(RESOURCES.iter().map(|r| {
            (
                r.kernel,
                r.arch,
                [r.stack_bytes, r.spill_stores, r.spill_loads],
            )
        }));
        assert!(
            bad.is_empty(),
            "kernels with stack frames or spills:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn every_kernel_has_one_resource_row_per_arch() {
        assert!(!CUDA_ARCHS.is_empty(), "the cuda build compiled no arch");
        let mut missing = Vec::new();
        for k in KERNELS {
            for arch in CUDA_ARCHS {
                let n = RESOURCES
                    .iter()
                    .filter(|r| r.kernel == k.name && r.arch == *arch)
                    .count();
                if n != 1 {
                    missing.push(format!("{}@{arch}: {n} rows", k.name));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "resource report incomplete:\n{}",
            missing.join("\n")
        );
        for r in RESOURCES {
            assert!(
                KERNELS.iter().any(|k| k.name == r.kernel),
                "row {}@{} is not a kernel of kernels/*.cu (a non-inlined device function \
                 with a stack frame or spills?)",
                r.kernel,
                r.arch
            );
            assert!(
                CUDA_ARCHS.contains(&r.arch),
                "row {}@{}: arch not compiled",
                r.kernel,
                r.arch
            );
            assert!(
                r.registers > 0 && r.registers <= 255,
                "{}@{}: {} registers",
                r.kernel,
                r.arch,
                r.registers
            );
        }
    }
}

/// `nvcc -fatbin -O3 -Xptxas -v` (13.0.88) on four test kernels for sm_80 and sm_90:
/// `plain` (elementwise), `shared_bar` (static + dynamic shared memory, `__syncthreads`),
/// `stacky` (a dynamically indexed local array) and `spilly` (register pressure under
/// `__launch_bounds__(1024, 2)`).
const CAPTURED: &str = "\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'spilly' for 'sm_80'
ptxas info    : Function properties for spilly
    2120 bytes stack frame, 4076 bytes spill stores, 4348 bytes spill loads
ptxas info    : Used 32 registers, used 0 barriers, 2120 bytes cumulative stack size, 372 bytes cmem[0]
ptxas info    : Compile time = 347.007 ms
ptxas info    : Compiling entry function 'stacky' for 'sm_80'
ptxas info    : Function properties for stacky
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 32 registers, used 0 barriers, 372 bytes cmem[0]
ptxas info    : Compile time = 12.125 ms
ptxas info    : Compiling entry function 'shared_bar' for 'sm_80'
ptxas info    : Function properties for shared_bar
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 12 registers, used 1 barriers, 1024 bytes smem, 372 bytes cmem[0]
ptxas info    : Compile time = 1.840 ms
ptxas info    : Compiling entry function 'plain' for 'sm_80'
ptxas info    : Function properties for plain
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers, 372 bytes cmem[0]
ptxas info    : Compile time = 1.404 ms
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'spilly' for 'sm_90'
ptxas info    : Function properties for spilly
    2160 bytes stack frame, 4148 bytes spill stores, 4356 bytes spill loads
ptxas info    : Used 32 registers, used 0 barriers, 2160 bytes cumulative stack size
ptxas info    : Compile time = 357.117 ms
ptxas info    : Compiling entry function 'stacky' for 'sm_90'
ptxas info    : Function properties for stacky
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 32 registers, used 0 barriers
ptxas info    : Compile time = 14.369 ms
ptxas info    : Compiling entry function 'shared_bar' for 'sm_90'
ptxas info    : Function properties for shared_bar
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 14 registers, used 1 barriers, 1024 bytes smem
ptxas info    : Compile time = 2.324 ms
ptxas info    : Compiling entry function 'plain' for 'sm_90'
ptxas info    : Function properties for plain
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers
ptxas info    : Compile time = 1.508 ms
";

/// A kernel calling a `__noinline__` helper that keeps a 32-float local array: ptxas
/// reports the helper's properties after the kernel's, and the kernel's cumulative stack.
const CAPTURED_NOINLINE: &str = "\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'caller' for 'sm_90'
ptxas info    : Function properties for caller
    128 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 40 registers, used 0 barriers, 128 bytes cumulative stack size
ptxas info    : Compile time = 8.764 ms
ptxas info    : Function properties for _Z6helperPKfi
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
";

fn row<'a>(rows: &'a [nvcc::Resource], kernel: &str, arch: &str) -> &'a nvcc::Resource {
    rows.iter()
        .find(|r| r.kernel == kernel && r.arch == arch)
        .unwrap_or_else(|| panic!("no row {kernel}@{arch}"))
}

fn figures(rows: &[nvcc::Resource]) -> Vec<String> {
    offenders(rows.iter().map(|r| {
        (
            r.kernel.as_str(),
            r.arch.as_str(),
            [r.stack_bytes, r.spill_stores, r.spill_loads],
        )
    }))
}

#[test]
fn ptxas_report_is_parsed_per_kernel_and_arch() {
    let rows = nvcc::parse_ptxas(CAPTURED);
    assert_eq!(rows.len(), 8);
    let p = row(&rows, "plain", "sm_90");
    assert_eq!(
        (p.registers, p.shared_bytes, p.barriers, p.stack_bytes),
        (10, 0, 0, 0)
    );
    let s = row(&rows, "shared_bar", "sm_80");
    assert_eq!((s.registers, s.shared_bytes, s.barriers), (12, 1024, 1));
    assert_eq!(row(&rows, "shared_bar", "sm_90").registers, 14);
    let sp = row(&rows, "spilly", "sm_80");
    assert_eq!(
        (sp.stack_bytes, sp.spill_stores, sp.spill_loads),
        (2120, 4076, 4348)
    );
    let sp = row(&rows, "spilly", "sm_90");
    assert_eq!(
        (sp.stack_bytes, sp.spill_stores, sp.spill_loads),
        (2160, 4148, 4356)
    );
}

#[test]
fn the_spill_check_fires_on_a_spilling_kernel() {
    let rows = nvcc::parse_ptxas(CAPTURED);
    let bad = figures(&rows);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad.iter().all(|b| b.starts_with("spilly@")), "{bad:?}");
    let clean: Vec<nvcc::Resource> = rows.into_iter().filter(|r| r.kernel != "spilly").collect();
    assert!(figures(&clean).is_empty());
}

#[test]
fn a_callee_reported_after_its_kernel_does_not_overwrite_the_kernel_row() {
    let rows = nvcc::parse_ptxas(CAPTURED_NOINLINE);
    assert_eq!(
        rows.len(),
        1,
        "a helper without stack or spills gets no row"
    );
    let c = row(&rows, "caller", "sm_90");
    assert_eq!((c.registers, c.stack_bytes), (40, 128));
    assert_eq!(figures(&rows).len(), 1, "the stack frame is flagged");
}

#[test]
fn a_spilling_callee_gets_a_row_of_its_own() {
    let text = CAPTURED_NOINLINE.replace(
        "_Z6helperPKfi\n    0 bytes stack frame, 0 bytes spill stores",
        "_Z6helperPKfi\n    8 bytes stack frame, 8 bytes spill stores",
    );
    let rows = nvcc::parse_ptxas(&text);
    let h = row(&rows, "_Z6helperPKfi", "sm_90");
    assert_eq!((h.stack_bytes, h.spill_stores, h.spill_loads), (8, 8, 0));
    assert_eq!(row(&rows, "caller", "sm_90").stack_bytes, 128);
}

#[test]
fn arch_list_defaults_and_is_sorted() {
    assert_eq!(nvcc::parse_archs(None).unwrap(), nvcc::DEFAULT_ARCHS);
    assert_eq!(nvcc::parse_archs(Some("  ")).unwrap(), nvcc::DEFAULT_ARCHS);
    assert_eq!(
        nvcc::parse_archs(Some("sm_90, sm_80")).unwrap(),
        ["sm_80", "sm_90"]
    );
    assert_eq!(
        nvcc::parse_archs(Some("sm_100,sm_90")).unwrap(),
        ["sm_90", "sm_100"]
    );
}

#[test]
fn bad_arch_lists_are_errors() {
    for bad in [
        "sm90",
        "compute_90",
        "sm_80,,sm_90",
        "sm_70",
        "sm_80,sm_80",
        "sm_8x",
    ] {
        let e = nvcc::parse_archs(Some(bad)).expect_err(bad);
        assert!(e.contains('\''), "{bad}: {e}");
    }
}

/// The product kernels, by name: a kernel added, renamed or dropped must be met here and in
/// docs/kernels.md, so the documented set and the built set cannot drift apart.
const PRODUCT_KERNELS: &[&str] = &[
    "act_backward",
    "adam_step",
    "add_assign",
    "add_assign_h16",
    "add_scaled",
    "bce_with_logits",
    "channel_sum",
    "concat_channels",
    "concat_channels_h16",
    "conv2d_forward",
    "conv2d_forward_v2",
    "conv2d_weight_grad",
    "conv_igemm_128x64",
    "conv_igemm_128x64_3xtf32",
    "conv_igemm_128x64_h16",
    "conv_igemm_128x64_tf32",
    "conv_igemm_256x16",
    "conv_igemm_256x16_3xtf32",
    "conv_igemm_256x16_h16",
    "conv_igemm_256x16_tf32",
    "conv_igemm_256x32",
    "conv_igemm_256x32_3xtf32",
    "conv_igemm_256x32_h16",
    "conv_igemm_256x32_tf32",
    "conv_igemm_256x4",
    "conv_igemm_256x4_h16",
    "conv_patch_3x16_3xtf32",
    "conv_patch_3x16_h16",
    "conv_patch_3x16_tf32",
    "conv_patch_3x32_3xtf32",
    "conv_patch_3x32_h16",
    "conv_patch_3x32_tf32",
    "conv_patch_3x64_3xtf32",
    "conv_patch_3x64_h16",
    "conv_patch_3x64_tf32",
    "conv_patch_9x32_3xtf32",
    "conv_patch_9x32_h16",
    "conv_patch_9x32_tf32",
    "conv_patch_9x8_3xtf32",
    "conv_patch_9x8_h16",
    "conv_patch_9x8_tf32",
    "conv_transpose2d_forward",
    "conv_wgrad_igemm_128x128_tf32",
    "conv_wgrad_igemm_32x128",
    "conv_wgrad_igemm_32x128_3xtf32",
    "conv_wgrad_igemm_32x128_tf32",
    "conv_wgrad_igemm_32x64_3xtf32",
    "conv_wgrad_igemm_32x64_tf32",
    "conv_wgrad_igemm_64x128",
    "conv_wgrad_igemm_64x64",
    "conv_wgrad_igemm_64x64_3xtf32",
    "conv_wgrad_igemm_64x64_tf32",
    "conv_wgrad_patch_9_3xtf32",
    "conv_wgrad_patch_9_tf32",
    "convex_skip_backward",
    "convex_skip_forward",
    "convex_skip_forward_h16",
    "l2_penalty",
    "linear_backward",
    "linear_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "max_pool2d_forward_h16",
    "mse",
    "reduce_partials",
    "scale_in_place",
    "sgd_step",
    "split_channels",
    "sum_partials",
    "sum_slices",
    "sum_slices_batch",
    "sum_slices_h16",
    "sum_slices_pair",
    "sum_slices_pool",
    "sum_squares_partials",
];

#[test]
fn the_kernel_table_holds_exactly_the_documented_kernels() {
    let mut built: Vec<&str> = satcolor::kernels::KERNELS.iter().map(|k| k.name).collect();
    built.sort_unstable();
    assert_eq!(built, PRODUCT_KERNELS, "kernels/*.cu and this list differ");
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/kernels.md"))
        .expect("docs/kernels.md is readable");
    for k in PRODUCT_KERNELS {
        assert!(
            docs.contains(&format!("`{k}`")),
            "docs/kernels.md does not describe `{k}`"
        );
    }
}

/// Every kernel module and header, and every op of the registry, has its place in
/// docs/kernels.md's table of modules and ops.
#[test]
fn every_module_and_op_is_in_the_docs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/kernels.md")).unwrap();
    let table_start = docs
        .find("## Modules and ops")
        .expect("the modules section");
    let table = &docs[table_start..];
    let table = &table[..table[3..].find("\n## ").map_or(table.len(), |e| e + 3)];
    let mut files = 0;
    for entry in std::fs::read_dir(root.join("kernels")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".cu") || name.ends_with(".cuh") {
            files += 1;
            assert!(
                table.contains(&format!("`kernels/{name}`")),
                "docs/kernels.md's modules section does not name kernels/{name}"
            );
        }
    }
    assert!(files >= 10, "{files} kernel files");
    for op in satcolor::ops::registry::OPS {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `kernels/{}.cu` |", op.family)))
            .unwrap_or_else(|| panic!("no row for kernels/{}.cu", op.family));
        assert!(
            row.contains(&format!("`{}`", op.name)),
            "docs/kernels.md: op `{}` is not in the row of kernels/{}.cu",
            op.name,
            op.family
        );
    }
}
