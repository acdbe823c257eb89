//! `satcolor perfmodel`: the predicted GPU time of one training iteration and of one
//! colorize inference batch, launch kind by launch kind, from the emulator's counters, the
//! SASS and the occupancy rules (`perf::model`). A prediction, printed as one; a GPU's
//! `cargo bench --bench kernels` is the measurement.

use crate::device::gpu::Variants;
use crate::device::precision::Precision;
use crate::model::ModelConfig;
use crate::perf::gpu::{self, GpuSpec};
use crate::perf::model::{
    ISSUE_PER_CLOCK, LAUNCH_SECONDS, SM_BYTES_PER_CLOCK, WARPS_FOR_FULL_ISSUE,
};
use crate::perf::report::{report, Report, RUN_ITERATIONS};
use crate::perf::sass::kernel_code;
use crate::perf::trace::{trace, Workload};
use crate::Error;
use serde::Serialize;
use std::fmt::Write;

/// `satcolor perfmodel`'s flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model preset: seed, small or unet.
    #[arg(long, default_value = "seed")]
    pub preset: String,
    /// Windows per training batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Tiles per inference batch [default: colorize's].
    #[arg(long)]
    pub infer_batch: Option<usize>,
    /// The SASS arch of the GPUs to predict for: sm_90 (H100 SXM, H200) or sm_80 (A100).
    #[arg(long, default_value = "sm_90")]
    pub arch: String,
    /// Arithmetic of the convolutions: fp32, tf32 (tensor cores) or 3xtf32; bf16 or fp16
    /// (16-bit storage) predict inference only.
    #[arg(long, default_value = "fp32")]
    pub precision: Precision,
    /// Blocks traced per launch, scaled to the grid (0: every block; slow).
    #[arg(long, default_value_t = 2)]
    pub sample_blocks: u32,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// The model's assumptions, printed with every report.
fn assumptions() -> Vec<String> {
    vec![
        "a prediction from the emulator's counters, the SASS and published GPU figures; no GPU was used".into(),
        format!("an SM issues {ISSUE_PER_CLOCK} warp instructions per clock with at least {WARPS_FOR_FULL_ISSUE} resident warps, proportionally fewer below"),
        "the L1/shared pipe serves one wavefront per clock per SM; a global request takes max(1, sectors/4)".into(),
        format!("DRAM moves every buffer argument once, at most {SM_BYTES_PER_CLOCK} B per clock per busy SM"),
        format!("a launch takes at least {:.1} µs; launches run one after another", LAUNCH_SECONDS * 1e6),
        "tensor-core instructions (HMMA, mma.sync m16n8k8) run at the dense TF32 peak times the GPU's assumed mma.sync share".into(),
        "loop trip counts from the emulator's requests per source line over the SASS memory instructions of that line".into(),
        "with sampled blocks, a convolution that adds its split K in the kernel (the last block of a tile) is counted as the sampled blocks ran it: --sample-blocks 0 counts it exactly".into(),
    ]
}

/// One workload's report with what it is.
#[derive(Serialize)]
struct Section {
    workload: &'static str,
    batch: usize,
    traced_seconds: f64,
    #[serde(flatten)]
    report: Report,
}

/// The whole output.
#[derive(Serialize)]
struct Output {
    preset: String,
    arch: String,
    /// The convolutions' arithmetic.
    precision: Precision,
    /// The kernel variants traced (`SATCOLOR_KERNELS` over the defaults).
    variants: String,
    sample_blocks: u32,
    gpus: Vec<GpuSpec>,
    assumptions: Vec<String>,
    /// None for the inference-only precisions (bf16, fp16).
    train: Option<Section>,
    infer: Section,
}

/// Runs the model and prints it.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let cfg = ModelConfig::preset(&args.preset)?;
    let gpus = gpu::for_arch(&args.arch);
    if gpus.is_empty() {
        return Err(Error::Input(format!(
            "--arch {}: no GPU of the model has it (sm_90: H100 SXM, H200; sm_80: A100)",
            args.arch
        ))
        .into());
    }
    if args.batch == 0 || args.infer_batch == Some(0) {
        return Err(Error::Input("a batch must hold at least one window".into()).into());
    }
    let arch = args.arch.as_str();
    let code = |k: &str| kernel_code(k, arch);
    let section = |workload: Workload, batch: usize| -> anyhow::Result<Section> {
        let t = trace(&cfg, batch, workload, args.sample_blocks, args.precision)?;
        let report = report(&t.launches, arch, &gpus, &code).map_err(Error::Device)?;
        Ok(Section {
            workload: match workload {
                Workload::Train => "train",
                Workload::Infer => "infer",
            },
            batch,
            traced_seconds: t.seconds,
            report,
        })
    };
    let out = Output {
        preset: args.preset.clone(),
        arch: args.arch.clone(),
        precision: args.precision,
        variants: Variants::from_env()?.spec(),
        sample_blocks: args.sample_blocks,
        gpus: gpus.iter().map(|g| **g).collect(),
        assumptions: assumptions(),
        train: match args.precision.storage() {
            None => Some(section(Workload::Train, args.batch)?),
            Some(_) => None,
        },
        infer: section(
            Workload::Infer,
            args.infer_batch.unwrap_or(crate::infer::DEFAULT_BATCH),
        )?,
    };
    let text = if args.json {
        serde_json::to_string_pretty(&out)? + "\n"
    } else {
        render(&out)
    };
    crate::console::print(&text)?;
    Ok(())
}

/// The tables of a report, for people.
fn render(out: &Output) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "satcolor perfmodel: preset {}, arch {}, kernels {}, {} convolutions — a PREDICTION, not a measurement",
        out.preset, out.arch, out.variants, out.precision
    );
    for a in &out.assumptions {
        let _ = writeln!(s, "  - {a}");
    }
    for g in &out.gpus {
        let _ = writeln!(
            s,
            "  {}: {}, {} SMs at {} GHz, FP32 {} TFLOP/s, TF32 {} TFLOP/s dense, DRAM {} TB/s",
            g.name, g.product, g.sms, g.clock_ghz, g.fp32_tflops, g.tf32_tflops, g.dram_tbs
        );
    }
    for sec in out.train.iter().chain([&out.infer]) {
        let r = &sec.report;
        let what = match sec.workload {
            "train" => format!("one training iteration at batch {}", sec.batch),
            _ => format!("one inference batch of {} tiles", sec.batch),
        };
        let _ =
            writeln!(
            s,
            "\n{what}: {} launches, {:.2} useful GFLOP (traced in {:.1} s, {} blocks per launch)",
            r.launches,
            r.useful_gflop,
            sec.traced_seconds,
            if out.sample_blocks == 0 { "all".to_string() } else { out.sample_blocks.to_string() }
        );
        let _ = write!(
            s,
            "{:<30} {:>16} {:>11} {:>4} {:>4} {:>5} {:>5} {:>8} {:>7} {:>6} {:>6}",
            "kernel",
            "grid",
            "block",
            "n",
            "b/SM",
            "waves",
            "occ",
            "GFLOP",
            "exec/u",
            "sec/rq",
            "wf/rq"
        );
        for g in &out.gpus {
            let _ = write!(s, " {:>10} {:>8}", format!("{} µs", g.name), "bound");
        }
        s.push('\n');
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        for row in &r.rows {
            let _ = write!(
                s,
                "{:<30} {:>16} {:>11} {:>4} {:>4} {:>5} {:>5.2} {:>8.3} {:>7} {:>6} {:>6}",
                row.kernel,
                format!("{}x{}x{}", row.grid.0, row.grid.1, row.grid.2),
                format!("{}x{}x{}", row.block.0, row.block.1, row.block.2),
                row.launches,
                row.blocks_per_sm,
                row.waves,
                row.occupancy,
                row.useful_gflop,
                opt(row.executed_per_useful),
                opt(row.sectors_per_request),
                opt(row.wavefronts_per_request),
            );
            for t in &row.times {
                let _ = write!(s, " {:>10.1} {:>8}", t.micros, t.bound.label());
            }
            s.push('\n');
        }
        for t in &r.totals {
            let _ = writeln!(
                s,
                "{}: predicted {:.2} ms; floors {:.3} ms FP32, {:.3} ms TF32: {:.0}× and {:.0}× off{}",
                t.gpu,
                t.predicted_ms,
                t.fp32_floor_ms,
                t.tf32_floor_ms,
                t.over_fp32_floor,
                t.over_tf32_floor,
                if sec.workload == "train" {
                    format!("; {:.0} iterations: {:.2} h", RUN_ITERATIONS, t.hours_per_run)
                } else {
                    String::new()
                }
            );
            let by: Vec<String> = t
                .ms_by_bound
                .iter()
                .map(|(b, ms)| format!("{b} {ms:.2} ms"))
                .collect();
            let _ = writeln!(s, "  by bound: {}", by.join(", "));
        }
    }
    s
}
