//! `satcolor perfmodel`'s report: the time model ([`super::model`]) over every launch of a
//! traced workload ([`super::trace`]), a row per launch kind (kernel, grid, block, shared
//! memory), and the totals against the FP32 and TF32 floors of each GPU.

use super::gpu::GpuSpec;
use super::model::{self, Bound, KernelCode, LaunchInput, BARRIER_LINE, WARP_OP_LINE};
use super::occupancy;
use super::work::{self, Work};
use crate::device::emu::{source_lines, LaunchCounters};
use crate::device::gpu::LaunchConfig;
use crate::kernels::RESOURCES;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Iterations of the write-up's training run per city, for the hours figure.
pub const RUN_ITERATIONS: f64 = 200_000.0;

/// One GPU's prediction for a row.
#[derive(Clone, Debug, Serialize)]
pub struct GpuTime {
    /// The GPU (`h100`, …).
    pub gpu: &'static str,
    /// Predicted microseconds of all the row's launches together.
    pub micros: f64,
    /// What bounds the row's first launch.
    pub bound: Bound,
}

/// The launches of one kind.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The kernel.
    pub kernel: &'static str,
    /// Grid (x, y, z).
    pub grid: (u32, u32, u32),
    /// Block (x, y, z).
    pub block: (u32, u32, u32),
    /// Dynamic shared memory per block in bytes.
    pub shared_bytes: u32,
    /// How many launches of this kind the workload makes.
    pub launches: usize,
    /// Blocks per SM at once.
    pub blocks_per_sm: u32,
    /// Waves of blocks over the GPU (of the first GPU).
    pub waves: u64,
    /// Resident warps over the SM's maximum, with the SM full.
    pub occupancy: f64,
    /// Useful GFLOP of all its launches.
    pub useful_gflop: f64,
    /// Executed FP32 operations per useful one, for convolutions and matrix products.
    pub executed_per_useful: Option<f64>,
    /// Global-memory sectors per warp-level request (loads and stores).
    pub sectors_per_request: Option<f64>,
    /// Shared-memory wavefronts per warp-level request (loads and stores).
    pub wavefronts_per_request: Option<f64>,
    /// Executed warp instructions of all its launches.
    pub instructions: f64,
    /// SASS loops whose trip counts were estimated rather than counted.
    pub loops_estimated: usize,
    /// The prediction on each GPU.
    pub times: Vec<GpuTime>,
}

/// One GPU's totals.
#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    /// The GPU.
    pub gpu: &'static str,
    /// Its product name.
    pub product: &'static str,
    /// Predicted milliseconds of the workload.
    pub predicted_ms: f64,
    /// The useful work at the FP32 peak, in milliseconds.
    pub fp32_floor_ms: f64,
    /// The useful work with convolutions and matrix products at the TF32 tensor-core peak
    /// (the rest at FP32), in milliseconds.
    pub tf32_floor_ms: f64,
    /// Predicted over the FP32 floor.
    pub over_fp32_floor: f64,
    /// Predicted over the TF32 floor.
    pub over_tf32_floor: f64,
    /// Predicted hours of [`RUN_ITERATIONS`] iterations (training workloads).
    pub hours_per_run: f64,
    /// Milliseconds per bound, summed over the launches it bounds.
    pub ms_by_bound: BTreeMap<&'static str, f64>,
}

/// The model over one workload.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The arch whose SASS and occupancy rules were used.
    pub arch: String,
    /// Launches in the workload.
    pub launches: usize,
    /// Useful GFLOP of the workload.
    pub useful_gflop: f64,
    /// A row per launch kind, in the order of their first launch.
    pub rows: Vec<Row>,
    /// Per GPU.
    pub totals: Vec<Totals>,
}

/// Builds the report of `launches` for `gpus` (all of arch `arch`), taking each kernel's
/// SASS from `code` (by kernel name) and its registers and static shared memory from
/// ptxas's report for `arch`.
pub fn report(
    launches: &[LaunchCounters],
    arch: &str,
    gpus: &[&'static GpuSpec],
    code: &dyn Fn(&str) -> Option<KernelCode>,
) -> Result<Report, String> {
    let sm = occupancy::limits(arch).ok_or_else(|| format!("no occupancy rules for {arch}"))?;
    // Source lines of every memory instruction, with one run of addr2line.
    let mut sites: Vec<u64> = launches
        .iter()
        .flat_map(|l| l.sites.iter().map(|s| s.site))
        .collect();
    sites.sort_unstable();
    sites.dedup();
    let lines: HashMap<u64, String> = sites
        .iter()
        .zip(source_lines(&sites))
        .filter_map(|(s, l)| Some((*s, l?)))
        .collect();
    if !sites.is_empty() && lines.is_empty() {
        return Err(
            "cannot find the kernels' source lines: addr2line (binutils) must be installed \
             and the binary keep its debug information (cargo's release profile strips it; \
             build with --profile perf)"
                .into(),
        );
    }
    let mut codes: HashMap<&str, KernelCode> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<(&str, LaunchConfig), usize> = HashMap::new();
    let mut totals: Vec<(f64, BTreeMap<&'static str, f64>)> =
        vec![(0.0, BTreeMap::new()); gpus.len()];
    let (mut flops, mut matmul_flops) = (0.0, 0.0);
    // Per row: global sectors and requests, shared wavefronts and requests, executed and
    // useful FP32 operations of its convolutions and matrix products.
    let mut acc: Vec<[f64; 6]> = Vec::new();
    for l in launches {
        let res = RESOURCES
            .iter()
            .find(|r| r.kernel == l.kernel && r.arch == arch)
            .ok_or_else(|| {
                format!(
                    "{}: no ptxas figures for {arch} (build with the cuda feature)",
                    l.kernel
                )
            })?;
        if !codes.contains_key(l.kernel) {
            let c = code(l.kernel).ok_or_else(|| {
                format!("{}: no SASS figures for {arch} (install the disassembler with scripts/install-nvcc.sh and rebuild)", l.kernel)
            })?;
            codes.insert(l.kernel, c);
        }
        let counters = l.counters.scaled();
        let scale = counters.blocks_total as f64 / l.counters.blocks_run.max(1) as f64;
        let mut line_requests: HashMap<String, f64> = HashMap::new();
        for s in &l.sites {
            if let Some(line) = lines.get(&s.site) {
                *line_requests.entry(line.clone()).or_default() += s.requests as f64 * scale;
            }
        }
        let (bx, by, bz) = l.cfg.block;
        let warps_per_block = f64::from((bx * by * bz).div_ceil(32));
        line_requests.insert(
            BARRIER_LINE.into(),
            counters.barriers as f64 * warps_per_block,
        );
        line_requests.insert(WARP_OP_LINE.into(), counters.warp_ops as f64);
        let w: Work = work::useful_work(l.kernel, &l.args)?;
        flops += w.flops;
        if w.matmul {
            matmul_flops += w.flops;
        }
        let input = LaunchInput {
            kernel: l.kernel,
            cfg: l.cfg,
            counters,
            line_requests: &line_requests,
            work: w,
            registers: res.registers,
            static_shared: res.shared_bytes,
            code: &codes[l.kernel],
        };
        let preds = gpus
            .iter()
            .map(|g| model::predict(&input, g, sm))
            .collect::<Result<Vec<_>, _>>()?;
        let key = (l.kernel, l.cfg);
        let i = *index.entry(key).or_insert_with(|| {
            rows.push(Row {
                kernel: l.kernel,
                grid: l.cfg.grid,
                block: l.cfg.block,
                shared_bytes: l.cfg.shared_bytes,
                launches: 0,
                blocks_per_sm: preds[0].blocks_per_sm,
                waves: preds[0].waves,
                occupancy: preds[0].occupancy,
                useful_gflop: 0.0,
                executed_per_useful: None,
                sectors_per_request: None,
                wavefronts_per_request: None,
                instructions: 0.0,
                loops_estimated: preds[0].loops_estimated,
                times: gpus
                    .iter()
                    .zip(&preds)
                    .map(|(g, p)| GpuTime {
                        gpu: g.name,
                        micros: 0.0,
                        bound: p.bound,
                    })
                    .collect(),
            });
            rows.len() - 1
        });
        if acc.len() < rows.len() {
            acc.push([0.0; 6]);
        }
        let r = &mut rows[i];
        r.launches += 1;
        r.useful_gflop += w.flops / 1e9;
        r.instructions += preds[0].instructions;
        let c = &counters;
        let a = &mut acc[i];
        a[0] += (c.global_load_sectors + c.global_store_sectors) as f64;
        a[1] += (c.global_load_requests + c.global_store_requests) as f64;
        a[2] += (c.shared_load_wavefronts + c.shared_store_wavefronts) as f64;
        a[3] += (c.shared_load_requests + c.shared_store_requests) as f64;
        if let Some(e) = preds[0].executed_per_useful {
            a[4] += e * w.flops;
            a[5] += w.flops;
        }
        for ((t, p), tot) in r.times.iter_mut().zip(&preds).zip(totals.iter_mut()) {
            t.micros += p.seconds * 1e6;
            tot.0 += p.seconds;
            *tot.1.entry(p.bound.label()).or_default() += p.seconds * 1e3;
        }
    }
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    for (r, a) in rows.iter_mut().zip(&acc) {
        r.sectors_per_request = ratio(a[0], a[1]);
        r.wavefronts_per_request = ratio(a[2], a[3]);
        r.executed_per_useful = ratio(a[4], a[5]);
    }
    let totals = gpus
        .iter()
        .zip(totals)
        .map(|(g, (seconds, by_bound))| {
            let fp32 = flops / (g.fp32_tflops * 1e12);
            let tf32 = matmul_flops / (g.tf32_tflops * 1e12)
                + (flops - matmul_flops) / (g.fp32_tflops * 1e12);
            Totals {
                gpu: g.name,
                product: g.product,
                predicted_ms: seconds * 1e3,
                fp32_floor_ms: fp32 * 1e3,
                tf32_floor_ms: tf32 * 1e3,
                over_fp32_floor: seconds / fp32,
                over_tf32_floor: seconds / tf32,
                hours_per_run: seconds * RUN_ITERATIONS / 3600.0,
                ms_by_bound: by_bound,
            }
        })
        .collect();
    Ok(Report {
        arch: arch.to_string(),
        launches: launches.len(),
        useful_gflop: flops / 1e9,
        rows,
        totals,
    })
}
