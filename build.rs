//! Build script: reads the kernel signatures of kernels/*.cu (the product kernels) and
//! tests/kernels/*.cu (kernels that exist only to test the emulator) and the integer
//! constants (`#define SC_<NAME> <integer>`) of kernels/*.cu and kernels/*.cuh, writes the
//! Rust kernel table (with `consts`, the constants) into OUT_DIR, and, per feature:
//! - `cuda`: compiles kernels/*.cu with nvcc into fatbins in OUT_DIR (never into src/),
//!   records ptxas's resource report, and, when cuobjdump and nvdisasm are there, counts
//!   every kernel's instructions per loop from its SASS (build/sass.rs);
//! - `emu`: compiles kernels/*.cu and tests/kernels/*.cu as host C++ against emu/ into a
//!   static library linked into the crate.

#[path = "build/emu.rs"]
mod emu;
#[path = "build/kernel_consts.rs"]
mod kernel_consts;
#[path = "build/kernel_sigs.rs"]
mod kernel_sigs;
#[path = "build/nvcc.rs"]
mod nvcc;
#[path = "build/sass.rs"]
mod sass;

use kernel_sigs::KernelSig;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn cu_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "cu"));
    v.sort();
    v
}

fn rerun_for_dir(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension()
                .is_some_and(|x| x == "cu" || x == "cuh" || x == "h" || x == "cpp")
            {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
}

fn parse_all(files: &[PathBuf]) -> Vec<KernelSig> {
    let mut sigs = Vec::new();
    for f in files {
        match kernel_sigs::parse_file(f) {
            Ok(s) => sigs.extend(s),
            Err(e) => fail(&e),
        }
    }
    sigs
}

fn fail(msg: &str) -> ! {
    for line in msg.lines() {
        println!("cargo:warning={line}");
    }
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn write_kernel_consts(out: &mut String, sigs: &[KernelSig]) {
    for s in sigs {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| {
                format!(
                    "Param {{ name: {:?}, kind: ParamKind::{} }}",
                    p.name,
                    p.kind.rust_name()
                )
            })
            .collect();
        writeln!(
            out,
            "/// Kernel `{name}` of `{module}.cu`.\npub static {upper}: Kernel = Kernel {{ module: \"{module}\", name: \"{name}\", params: &[{params}] }};",
            name = s.name,
            module = s.module,
            upper = s.name.to_uppercase(),
            params = params.join(", ")
        )
        .unwrap();
    }
}

/// The SASS analyses of every function of every module for every arch, sorted by function
/// (then arch, oldest first); empty, with a warning, when the disassembler is missing.
/// Output that cannot be parsed fails the build.
fn disassemble(
    nvcc: &Path,
    modules: &[(String, PathBuf)],
    archs: &[String],
    out_dir: &Path,
) -> Vec<(String, sass::Analysis)> {
    let tools = match sass::find_tools(nvcc) {
        Ok(t) => t,
        Err(e) => {
            println!(
                "cargo:warning={e}: satcolor::kernels::SASS stays empty; \
                 run `bash scripts/install-nvcc.sh` to install cuobjdump and nvdisasm"
            );
            return Vec::new();
        }
    };
    let t0 = std::time::Instant::now();
    let mut rows = Vec::new();
    for (m, fatbin) in modules {
        let work = out_dir.join("sass").join(m);
        match sass::disassemble_module(&tools, m, fatbin, &work, archs) {
            Ok(per_arch) => {
                for (arch, fs) in per_arch {
                    rows.extend(fs.into_iter().map(|a| (arch.clone(), a)));
                }
            }
            Err(e) => fail(&e),
        }
    }
    let arch_index = |a: &str| archs.iter().position(|x| x == a);
    rows.sort_by(|(a1, k1), (a2, k2)| {
        (&k1.kernel, arch_index(a1)).cmp(&(&k2.kernel, arch_index(a2)))
    });
    // In the build script's stderr file (target/*/build/satcolor-*/stderr).
    eprintln!(
        "sass: {} (function, arch) rows from {} modules in {:.2} s",
        rows.len(),
        modules.len(),
        t0.elapsed().as_secs_f64()
    );
    rows
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let kernels_dir = root.join("kernels");
    let test_kernels_dir = root.join("tests/kernels");
    // Set below where the SASS table has rows (tests/sass.rs checks them only then).
    println!("cargo:rustc-check-cfg=cfg(satcolor_sass)");
    for d in [&kernels_dir, &test_kernels_dir, &root.join("emu")] {
        rerun_for_dir(d);
    }
    for v in [
        "NVCC",
        "CUDA_HOME",
        "CUDA_PATH",
        "PATH",
        "SATCOLOR_CUDA_ARCHS",
        "CXX",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    let product = cu_files(&kernels_dir);
    let tests = cu_files(&test_kernels_dir);
    let sigs = parse_all(&product);
    let test_sigs = parse_all(&tests);

    let mut table = String::new();
    write_kernel_consts(&mut table, &sigs);
    let all: Vec<String> = sigs
        .iter()
        .map(|s| format!("&{}", s.name.to_uppercase()))
        .collect();
    writeln!(
        table,
        "/// Every product kernel of kernels/*.cu.\npub static KERNELS: &[&Kernel] = &[{}];",
        all.join(", ")
    )
    .unwrap();
    table.push_str("/// Kernels of tests/kernels/*.cu: compiled for the emulator only, to test it.\npub mod testing {\n    #[allow(unused_imports)]\n    use super::{Kernel, Param, ParamKind};\n");
    let mut t = String::new();
    write_kernel_consts(&mut t, &test_sigs);
    for line in t.lines() {
        writeln!(table, "    {line}").unwrap();
    }
    table.push_str("}\n");
    match kernel_consts::read_dir(&root, &kernels_dir) {
        Ok(consts) => table.push_str(&kernel_consts::render(&consts)),
        Err(e) => fail(&e),
    }

    let cuda = std::env::var_os("CARGO_FEATURE_CUDA").is_some();
    let mut archs: Vec<String> = Vec::new();
    let mut nvcc_version = String::new();
    let mut resources: Vec<nvcc::Resource> = Vec::new();
    let mut images = String::new();
    let mut sass_rows: Vec<(String, sass::Analysis)> = Vec::new();
    if cuda {
        let Some(nvcc_path) = nvcc::find_nvcc(&root) else {
            fail(
                "nvcc not found (looked at NVCC, CUDA_HOME, CUDA_PATH, .tools/cuda and PATH). \
                  Install it with `bash scripts/install-nvcc.sh`, or build the CPU-only crate \
                  with `cargo build --no-default-features`.",
            );
        };
        match nvcc::build(&nvcc_path, &product, &kernels_dir, &out_dir) {
            Ok(b) => {
                archs = b.archs;
                nvcc_version = b.nvcc_version;
                resources = b.resources;
                for (m, p) in &b.modules {
                    writeln!(
                        images,
                        "        \"{m}\" => Some(include_bytes!({:?})),",
                        p.display().to_string()
                    )
                    .unwrap();
                }
                sass_rows = disassemble(&nvcc_path, &b.modules, &archs, &out_dir);
                if !sass_rows.is_empty() {
                    // The tests of the table's rows run only where there are rows.
                    println!("cargo:rustc-cfg=satcolor_sass");
                }
            }
            Err(e) => fail(&e),
        }
    }
    let archs_lit: Vec<String> = archs.iter().map(|a| format!("{a:?}")).collect();
    writeln!(table, "/// SASS archs the fatbins hold (PTX of the last one is included too); empty without the `cuda` feature.\npub const CUDA_ARCHS: &[&str] = &[{}];", archs_lit.join(", ")).unwrap();
    writeln!(table, "/// nvcc's release line, or empty without the `cuda` feature.\npub const NVCC_VERSION: &str = {nvcc_version:?};").unwrap();
    table.push_str("/// ptxas's resource report, one row per kernel and arch.\npub static RESOURCES: &[KernelResources] = &[\n");
    for r in &resources {
        writeln!(
            table,
            "    KernelResources {{ kernel: {:?}, arch: {:?}, registers: {}, shared_bytes: {}, stack_bytes: {}, spill_stores: {}, spill_loads: {}, barriers: {} }},",
            r.kernel, r.arch, r.registers, r.shared_bytes, r.stack_bytes, r.spill_stores, r.spill_loads, r.barriers
        )
        .unwrap();
    }
    table.push_str("];\n");
    table.push_str(&sass::render(&sass_rows));
    if cuda {
        writeln!(table, "/// The fatbin of a CUDA module (a .cu file's stem).\n#[cfg(feature = \"cuda\")]\npub fn module_image(module: &str) -> Option<&'static [u8]> {{\n    match module {{\n{images}        _ => None,\n    }}\n}}").unwrap();
    }
    std::fs::write(out_dir.join("kernel_table.rs"), table).unwrap();

    if std::env::var_os("CARGO_FEATURE_EMU").is_some() {
        let asan = std::env::var_os("CARGO_FEATURE_EMU_ASAN").is_some();
        let counters = std::env::var_os("CARGO_FEATURE_EMU_COUNTERS").is_some();
        let mut all_sigs = sigs.clone();
        all_sigs.extend(test_sigs);
        let mut files = product.clone();
        files.extend(tests);
        if let Err(e) = emu::build(&root, &out_dir, &files, &all_sigs, asan, counters) {
            fail(&e);
        }
    }
}
