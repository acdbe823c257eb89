//! `satcolor info`: the version, the CUDA build (nvcc, archs), the GPUs found or why there
//! are none, whether the emulator is built, the kernel variants in use, and ptxas's resource
//! report of every kernel.

use crate::kernels::{KernelResources, CUDA_ARCHS, NVCC_VERSION, RESOURCES};
use std::fmt::Write as _;

/// Prints the report to stdout.
pub fn run() -> anyhow::Result<()> {
    crate::console::print(&report())?;
    Ok(())
}

/// The whole report as plain aligned text.
pub fn report() -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: String| {
        writeln!(out, "{:<12} {value}", format!("{name}:")).unwrap();
    };
    field("satcolor", env!("CARGO_PKG_VERSION").to_string());
    field(
        "nvcc",
        if NVCC_VERSION.is_empty() {
            "none (built without the `cuda` feature)".into()
        } else {
            NVCC_VERSION.into()
        },
    );
    field("CUDA archs", archs_line());
    for (i, line) in cuda_lines().into_iter().enumerate() {
        field(if i == 0 { "GPUs" } else { "" }, line);
    }
    field("emulator", emulator_line());
    field("kernels", variants_line());
    out.push('\n');
    if RESOURCES.is_empty() {
        out.push_str("No kernel resource report (no CUDA build).\n");
    } else {
        out.push_str("Kernel resources (ptxas -v; shared = static shared memory per block):\n");
        out.push_str(&resource_table(RESOURCES));
    }
    out
}

/// `sm_80 sm_86 … (SASS) + compute_90 (PTX fallback)`, or why there are none.
fn archs_line() -> String {
    match CUDA_ARCHS.last() {
        None => "none (built without the `cuda` feature)".into(),
        Some(last) => format!(
            "{} (SASS) + compute_{} (PTX fallback, JIT-compiled by newer drivers)",
            CUDA_ARCHS.join(" "),
            last.trim_start_matches("sm_")
        ),
    }
}

/// The CUDA driver and one line per GPU, or the reason there is none to use.
#[cfg(feature = "cuda")]
fn cuda_lines() -> Vec<String> {
    use crate::device::cuda::{image_for, probe};
    match probe() {
        Err(crate::Error::DeviceUnavailable { reason, .. }) => vec![format!("none: {reason}")],
        Err(e) => vec![format!("none: {e}")],
        Ok(found) => {
            let v = found.driver_version;
            let mut lines = vec![format!("CUDA driver {}.{}", v / 1000, (v % 1000) / 10)];
            for g in &found.gpus {
                let (maj, min) = g.compute_capability;
                let runs = image_for(g.compute_capability, CUDA_ARCHS).map_or_else(
                    || "no compatible kernel image: unusable".to_string(),
                    |i| format!("runs {i}"),
                );
                lines.push(format!(
                    "cuda:{}  {}  compute {maj}.{min}  {:.1} GiB  {runs}",
                    g.ordinal,
                    g.name,
                    g.total_mem_bytes as f64 / (1u64 << 30) as f64
                ));
            }
            lines
        }
    }
}

/// Without the `cuda` feature there is nothing to probe.
#[cfg(not(feature = "cuda"))]
fn cuda_lines() -> Vec<String> {
    vec!["none: built without the `cuda` feature".into()]
}

/// The kernel variant of each slot the GPU devices would run, with the environment's
/// overrides (or why they are refused).
fn variants_line() -> String {
    use crate::device::gpu::variants::{Variants, ENV};
    match Variants::from_env() {
        Ok(v) => format!("{} ({ENV} overrides)", v.spec()),
        Err(e) => format!("{} (refused: {e})", Variants::chosen().spec()),
    }
}

/// Whether `--device emu` works in this build.
fn emulator_line() -> String {
    #[cfg(feature = "emu")]
    {
        use crate::device::gpu::KernelExec;
        match crate::device::emu::EmuExec::new(crate::device::emu::EmuOptions::default()) {
            Ok(exec) => format!("available: {} (--device emu)", exec.name()),
            Err(e) => format!("built but unusable: {e}"),
        }
    }
    #[cfg(not(feature = "emu"))]
    {
        "not built (enable the `emu` feature)".into()
    }
}

/// The resource rows as an aligned table, sorted by kernel, then arch.
pub fn resource_table(rows: &[KernelResources]) -> String {
    let arch_num = |a: &str| a.trim_start_matches("sm_").parse::<u32>().unwrap_or(0);
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| (a.kernel, arch_num(a.arch)).cmp(&(b.kernel, arch_num(b.arch))));
    let header = [
        "kernel",
        "arch",
        "registers",
        "shared B",
        "stack B",
        "spill st B",
        "spill ld B",
        "barriers",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.kernel.to_string(),
                r.arch.to_string(),
                r.registers.to_string(),
                r.shared_bytes.to_string(),
                r.stack_bytes.to_string(),
                r.spill_stores.to_string(),
                r.spill_loads.to_string(),
                r.barriers.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |row: &[String]| {
        let parts: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            // Names left-aligned, numbers right-aligned.
            .map(|(i, (c, w))| {
                if i < 2 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        writeln!(out, "  {}", parts.join("  ").trim_end()).unwrap();
    };
    line(&header.map(String::from));
    for row in &cells {
        line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_line_up() {
        let rows = [
            KernelResources {
                kernel: "a_long_kernel_name",
                arch: "sm_80",
                registers: 32,
                shared_bytes: 4096,
                stack_bytes: 0,
                spill_stores: 0,
                spill_loads: 0,
                barriers: 1,
            },
            KernelResources {
                kernel: "k",
                arch: "sm_90",
                registers: 128,
                shared_bytes: 0,
                stack_bytes: 16,
                spill_stores: 8,
                spill_loads: 4,
                barriers: 0,
            },
        ];
        let t = resource_table(&[rows[1], rows[0]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{t}");
        assert!(lines[1].starts_with("  a_long_kernel_name  sm_80"), "{t}");
        // Right-aligned numbers end where their header ends.
        let end = lines[0].find("registers").unwrap() + "registers".len();
        assert_eq!(&lines[2][end - 3..end], "128", "{t}");
    }

    #[test]
    fn report_names_version_archs_and_every_kernel() {
        let r = report();
        println!("{r}");
        assert!(r.contains(env!("CARGO_PKG_VERSION")));
        for a in CUDA_ARCHS {
            assert!(r.contains(a), "{a} missing from\n{r}");
        }
        // Every kernel has rows in the resource table of a CUDA build.
        if cfg!(feature = "cuda") {
            for k in crate::kernels::KERNELS {
                assert!(r.contains(k.name), "{} missing from\n{r}", k.name);
            }
        }
        assert!(r.contains("GPUs:"));
        assert!(r.contains("emulator:"));
        assert!(r.contains("kernels:") && r.contains("conv2d_forward=v"));
    }
}
