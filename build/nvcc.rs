//! Compiles kernels/*.cu with nvcc into OUT_DIR: one fatbin per module with SASS for every
//! arch in the list and PTX for the newest as a fallback for later GPUs, and collects
//! ptxas's resource report (`-Xptxas -v`) of every kernel for every arch. Compiled with
//! `-lineinfo`, which leaves the code and the report as they are and lets nvdisasm name the
//! source line of every instruction.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Archs compiled when SATCOLOR_CUDA_ARCHS is not set.
pub const DEFAULT_ARCHS: &[&str] = &["sm_80", "sm_86", "sm_89", "sm_90"];

/// ptxas's report of one kernel for one arch.
#[derive(Clone, Debug, Default)]
pub struct Resource {
    pub kernel: String,
    pub arch: String,
    pub registers: u32,
    pub shared_bytes: u32,
    pub stack_bytes: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    pub barriers: u32,
}

/// What the CUDA build produced.
pub struct CudaBuild {
    /// `nvcc --version`'s release line.
    pub nvcc_version: String,
    /// The SASS archs compiled (PTX is added for the last one).
    pub archs: Vec<String>,
    /// (module, fatbin path) per .cu file.
    pub modules: Vec<(String, PathBuf)>,
    /// ptxas figures per kernel and arch.
    pub resources: Vec<Resource>,
}

/// Finds nvcc: NVCC, then CUDA_HOME / CUDA_PATH, then the project-local install of
/// scripts/install-nvcc.sh, then PATH.
pub fn find_nvcc(root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NVCC") {
        return Some(PathBuf::from(p));
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(home) = std::env::var_os(var) {
            let p = Path::new(&home).join("bin").join("nvcc");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let local = root.join(".tools/cuda/nvidia/cu13/bin/nvcc");
    if local.is_file() {
        // A later removal of the local install must rerun this script.
        println!("cargo:rerun-if-changed={}", local.display());
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nvcc"))
            .find(|p| p.is_file())
    })
}

/// Oldest arch nvcc 13 compiles for.
pub const OLDEST_ARCH: u32 = 75;

/// The arch list: SATCOLOR_CUDA_ARCHS (comma separated, e.g. `sm_80,sm_90`) or the default.
pub fn archs() -> Result<Vec<String>, String> {
    parse_archs(std::env::var("SATCOLOR_CUDA_ARCHS").ok().as_deref())
        .map_err(|e| format!("SATCOLOR_CUDA_ARCHS: {e}"))
}

/// Parses an arch list such as `sm_90, sm_80`: [`DEFAULT_ARCHS`] when absent or blank,
/// else every entry must be `sm_NN` with NN ≥ [`OLDEST_ARCH`], without repeats. The result
/// is sorted oldest first, so the PTX fallback goes with the newest arch.
pub fn parse_archs(spec: Option<&str>) -> Result<Vec<String>, String> {
    let Some(spec) = spec.filter(|s| !s.trim().is_empty()) else {
        return Ok(DEFAULT_ARCHS.iter().map(|a| a.to_string()).collect());
    };
    let mut nums: Vec<u32> = Vec::new();
    for a in spec.split(',').map(str::trim) {
        let n = a
            .strip_prefix("sm_")
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| format!("'{a}' is not of the form sm_NN (e.g. sm_90)"))?;
        if n < OLDEST_ARCH {
            return Err(format!(
                "'{a}' is older than sm_{OLDEST_ARCH}, the oldest arch nvcc 13 supports"
            ));
        }
        if nums.contains(&n) {
            return Err(format!("'{a}' is listed twice"));
        }
        nums.push(n);
    }
    nums.sort_unstable();
    Ok(nums.iter().map(|n| format!("sm_{n}")).collect())
}

/// Parses ptxas -v output (stderr of nvcc) into resource records: one per kernel and arch,
/// plus one for any non-inlined device function that has a stack frame or spills (its
/// figures count against the kernels that call it, and its name is its mangled one).
///
/// A kernel's `stack_bytes` is the larger of its own frame and its cumulative stack size
/// (which includes the frames of the functions it calls).
pub fn parse_ptxas(text: &str) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    let num_before = |line: &str, unit: &str| -> u32 {
        line.find(unit)
            .and_then(|p| line[..p].split_whitespace().last()?.parse().ok())
            .unwrap_or(0)
    };
    // The arch of the entry function being compiled, and whose properties come next.
    let mut arch = String::new();
    let mut properties_of = String::new();
    for line in text.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let mut parts = rest.split('\'');
            let kernel = parts.next().unwrap_or_default().to_string();
            arch = parts.nth(1).unwrap_or_default().to_string();
            out.push(Resource {
                kernel,
                arch: arch.clone(),
                ..Default::default()
            });
        } else if let Some(name) = line.split("Function properties for ").nth(1) {
            properties_of = name.trim().to_string();
        } else if line.contains("bytes stack frame") {
            let stack = num_before(line, "bytes stack frame");
            let stores = num_before(line, "bytes spill stores");
            let loads = num_before(line, "bytes spill loads");
            match out.last_mut() {
                Some(r) if r.kernel == properties_of => {
                    r.stack_bytes = r.stack_bytes.max(stack);
                    r.spill_stores = stores;
                    r.spill_loads = loads;
                }
                _ if stack + stores + loads > 0 => out.push(Resource {
                    kernel: properties_of.clone(),
                    arch: arch.clone(),
                    stack_bytes: stack,
                    spill_stores: stores,
                    spill_loads: loads,
                    ..Default::default()
                }),
                _ => {}
            }
        } else if line.contains("Used") && line.contains("registers") {
            if let Some(r) = out.last_mut() {
                r.registers = num_before(line, "registers");
                r.barriers = num_before(line, "barriers");
                r.shared_bytes = num_before(line, "bytes smem");
                r.stack_bytes = r
                    .stack_bytes
                    .max(num_before(line, "bytes cumulative stack size"));
            }
        }
    }
    out
}

/// Compiles every file into `out_dir/<stem>.fatbin`.
pub fn build(
    nvcc: &Path,
    files: &[PathBuf],
    include: &Path,
    out_dir: &Path,
) -> Result<CudaBuild, String> {
    let archs = archs()?;
    let version = Command::new(nvcc).arg("--version").output().map_err(|e| {
        format!(
            "cannot run {}: {e} (install nvcc with `bash scripts/install-nvcc.sh`, \
                 or point NVCC at one)",
            nvcc.display()
        )
    })?;
    let nvcc_version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find(|l| l.contains("release"))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(archs.len()));
    let mut modules = Vec::new();
    let mut resources = Vec::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let out = out_dir.join(format!("{stem}.fatbin"));
        let mut cmd = Command::new(nvcc);
        // One ptxas per arch, run in parallel on the machine's cores.
        cmd.arg("--threads")
            .arg(threads.to_string())
            .arg("-fatbin")
            .arg("-O3")
            .arg("-std=c++17")
            .arg("-Xptxas")
            .arg("-v")
            // Source lines for nvdisasm (build/sass.rs); the code generated is the same.
            .arg("-lineinfo");
        cmd.arg("-I").arg(include);
        for (i, a) in archs.iter().enumerate() {
            let cc = a.trim_start_matches("sm_");
            let code = if i + 1 == archs.len() {
                format!("[sm_{cc},compute_{cc}]")
            } else {
                format!("sm_{cc}")
            };
            cmd.arg("-gencode")
                .arg(format!("arch=compute_{cc},code={code}"));
        }
        cmd.arg("-o").arg(&out).arg(file);
        let res = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", nvcc.display()))?;
        let stderr = String::from_utf8_lossy(&res.stderr);
        if !res.status.success() {
            return Err(format!("nvcc failed on {}:\n{stderr}", file.display()));
        }
        resources.extend(parse_ptxas(&stderr));
        modules.push((stem, out));
    }
    Ok(CudaBuild {
        nvcc_version,
        archs,
        modules,
        resources,
    })
}
