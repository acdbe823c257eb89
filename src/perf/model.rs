//! The predicted time of a kernel launch on a named GPU, from what is known without one:
//! the launch's grid and block, its useful work ([`super::work`]), the emulator's counters
//! of its memory traffic (sampled blocks scaled to the grid), the instruction mix of its
//! SASS loops ([`KernelCode`]) and the occupancy rules ([`super::occupancy`]).
//!
//! The model (docs/perf.md, "Predicted GPU time", states it for people):
//! - executed warp instructions: the straight-line code once per warp, plus each loop's
//!   body (exclusive of the loops inside it) times the loop's iterations; a loop's
//!   iterations are the emulator's warp-level requests of a memory instruction's source
//!   line over the number of SASS memory instructions of that line in the loop's body
//!   (barriers and warp intrinsics count as lines of their own, [`BARRIER_LINE`] and
//!   [`WARP_OP_LINE`], less those of the straight-line code); a line found in several loops is shared by them in proportion to
//!   their copies of it (an unrolled loop and its remainder), barriers and warp intrinsics
//!   belong to the deepest loops holding them, a loop runs as often as the most frequent of
//!   its lines says, a loop none of whose lines ran (a path not taken) does not run, and a
//!   loop with no line runs as often as the loop around it;
//! - the blocks are spread over the SMs in waves of `SMs × blocks per SM`; a grid of few
//!   blocks keeps only some SMs busy;
//! - each SM issues 4 warp instructions per clock when it holds at least
//!   [`WARPS_FOR_FULL_ISSUE`] warps and proportionally fewer below ("latency"); FP32
//!   instructions go through `fp32_lanes` lanes per SM; the L1/shared-memory pipe serves one
//!   wavefront per clock (a global request takes at least one, and one per 4 sectors);
//!   tensor-core instructions (HMMA, each an `mma.sync` m16n8k8 TF32 of [`MMA_FLOPS`]) go
//!   through the tensor cores at the GPU's dense TF32 peak times its
//!   [`GpuSpec::mma_sync_share`];
//!   DRAM moves each buffer argument once at the published bandwidth, at most
//!   [`SM_BYTES_PER_CLOCK`] per busy SM;
//! - a launch takes the longest of those, and at least [`LAUNCH_SECONDS`].
//!
//! It is a prediction: it ignores caches beyond "each buffer once", instruction-cache and
//! dependency stalls other than through the warp count, clock throttling and overlap
//! between launches.

use super::gpu::GpuSpec;
use super::occupancy::{self, SmLimits};
use super::work::Work;
use crate::device::emu::Counters;
use crate::device::gpu::LaunchConfig;
use serde::Serialize;
use std::collections::HashMap;

/// The pseudo source line of block-wide barriers: a loop's BAR instructions count as its
/// memory instructions of this line, and the emulator's barriers (times the warps of a
/// block) as its requests, so that a loop of staging and barriers (no line of its own)
/// still has its iterations counted.
pub const BARRIER_LINE: &str = "<barrier>";
/// The same for warp intrinsics (SHFL; the emulator counts shuffles, votes and
/// `__syncwarp` per warp).
pub const WARP_OP_LINE: &str = "<warp op>";

/// Resident warps per SM from which the model lets an SM issue at its full rate.
pub const WARPS_FOR_FULL_ISSUE: f64 = 16.0;
/// Warp instructions an SM issues per clock (4 schedulers).
pub const ISSUE_PER_CLOCK: f64 = 4.0;
/// The shortest time of a kernel launch in a stream of launches, in seconds.
pub const LAUNCH_SECONDS: f64 = 2.5e-6;
/// Bytes per clock one SM moves from L2/DRAM at most.
pub const SM_BYTES_PER_CLOCK: f64 = 64.0;
/// Floating-point operations of one HMMA instruction: `mma.sync` m16n8k8 (16·8·8 FMAs).
pub const MMA_FLOPS: f64 = 2.0 * 16.0 * 8.0 * 8.0;

/// Instruction counts of one stretch of SASS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Mix {
    /// Every instruction.
    pub total: f64,
    /// FFMAs.
    pub ffma: f64,
    /// FP32 instructions other than FFMA (FADD, FMUL, FMNMX, …).
    pub fp32_other: f64,
    /// Tensor-core instructions (HMMA).
    pub mma: f64,
}

impl Mix {
    fn add_scaled(&mut self, other: &Mix, times: f64) {
        self.total += other.total * times;
        self.ffma += other.ffma * times;
        self.fp32_other += other.fp32_other * times;
        self.mma += other.mma * times;
    }
}

/// One loop of a kernel's SASS, as the model needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopCode {
    /// The loop's body without the loops inside it.
    pub mix: Mix,
    /// Memory instructions of that body per source line: (`file:line`, count).
    pub mem_lines: Vec<(String, u32)>,
    /// The index of the loop that contains it, if any.
    pub parent: Option<usize>,
}

/// A kernel's SASS for one arch, as the model needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelCode {
    /// The code outside every loop.
    pub straight: Mix,
    /// Its barriers and warp intrinsics, as pseudo lines ([`BARRIER_LINE`],
    /// [`WARP_OP_LINE`]) with their counts: once per warp, they are not loop iterations.
    pub straight_lines: Vec<(String, u32)>,
    /// Its loops, outer ones before the loops they contain.
    pub loops: Vec<LoopCode>,
}

/// What the model needs of one launch.
#[derive(Clone, Debug)]
pub struct LaunchInput<'a> {
    /// The kernel.
    pub kernel: &'static str,
    /// Its configuration.
    pub cfg: LaunchConfig,
    /// The emulator's counters, scaled to the whole grid.
    pub counters: Counters,
    /// Warp-level requests per source line (`file:line`), scaled to the whole grid.
    pub line_requests: &'a HashMap<String, f64>,
    /// Its useful work.
    pub work: Work,
    /// Registers per thread (ptxas).
    pub registers: u32,
    /// Static shared memory per block (ptxas), in bytes.
    pub static_shared: u32,
    /// Its SASS.
    pub code: &'a KernelCode,
}

/// What bounds a launch in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Issuing warp instructions (FP32 or integer), at 4 per clock per SM.
    Issue,
    /// The FP32 lanes.
    Fp32,
    /// The tensor cores.
    Tensor,
    /// Too few warps per SM to issue every clock.
    Latency,
    /// The L1/shared-memory pipe (shared wavefronts and global requests).
    Shared,
    /// DRAM bandwidth.
    Dram,
    /// The launch itself.
    Launch,
}

impl Bound {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Bound::Issue => "issue",
            Bound::Fp32 => "FP32",
            Bound::Tensor => "tensor",
            Bound::Latency => "latency",
            Bound::Shared => "shared",
            Bound::Dram => "DRAM",
            Bound::Launch => "launch",
        }
    }
}

/// The model's figures for one launch on one GPU.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// Blocks each SM holds at once.
    pub blocks_per_sm: u32,
    /// Occupancy: resident warps over the SM's maximum, when the SM is full.
    pub occupancy: f64,
    /// Waves of `SMs × blocks per SM` blocks.
    pub waves: u64,
    /// SMs busy on average.
    pub busy_sms: f64,
    /// Executed warp instructions.
    pub instructions: f64,
    /// Executed FP32 operations per useful one (a lane's FFMA counts 2, other FP32 1;
    /// idle lanes of an issued instruction count): 1 is no waste.
    pub executed_per_useful: Option<f64>,
    /// Seconds of each bound.
    pub seconds_issue: f64,
    /// FP32 lanes.
    pub seconds_fp32: f64,
    /// Tensor cores.
    pub seconds_tensor: f64,
    /// Issue with too few warps.
    pub seconds_latency: f64,
    /// L1/shared-memory pipe.
    pub seconds_shared: f64,
    /// DRAM.
    pub seconds_dram: f64,
    /// The predicted time: the longest bound, at least a launch.
    pub seconds: f64,
    /// Which one.
    pub bound: Bound,
    /// Loops whose iterations no memory line gave (taken as their parent's, or once per
    /// warp): the instruction count is rougher there.
    pub loops_estimated: usize,
}

/// Executed warp instructions of a launch: the straight-line code once per warp, each loop's
/// exclusive body times its iterations (see the module's doc); returns the mix and the
/// number of loops whose iterations had to be estimated.
pub fn executed(
    code: &KernelCode,
    warps: f64,
    line_requests: &HashMap<String, f64>,
) -> (Mix, usize) {
    // A memory line's requests are shared by the loops holding it in proportion to their
    // copies of it (as if each ran equally often: an unrolled loop and its remainder, a
    // peeled first pass); barriers and warp intrinsics belong to the deepest loops that
    // hold them (a tile loop rather than the loop around it).
    let depth = |mut i: usize| {
        let mut d = 0;
        while let Some(p) = code.loops[i].parent {
            d += 1;
            i = p;
        }
        d
    };
    let pseudo = |line: &str| line == BARRIER_LINE || line == WARP_OP_LINE;
    let mut copies: HashMap<&str, (u32, usize)> = HashMap::new();
    for (i, l) in code.loops.iter().enumerate() {
        let d = depth(i);
        for (line, count) in &l.mem_lines {
            let e = copies.entry(line.as_str()).or_insert((0, d));
            if !pseudo(line) || d == e.1 {
                e.0 += count;
            } else if d > e.1 {
                *e = (*count, d);
            }
        }
    }
    // The pseudo lines' requests less those of the straight-line code (each warp once).
    let mut line_requests = line_requests.clone();
    for (line, count) in &code.straight_lines {
        if let Some(r) = line_requests.get_mut(line) {
            *r = (*r - f64::from(*count) * warps).max(0.0);
        }
    }
    let mut mix = Mix::default();
    mix.add_scaled(&code.straight, warps);
    let mut iterations: Vec<f64> = Vec::with_capacity(code.loops.len());
    let mut estimated = 0;
    for (i, l) in code.loops.iter().enumerate() {
        let d = depth(i);
        // The loop's lines (a pseudo line only in the deepest loops holding it), each with
        // its requests per copy, if the emulator saw it run.
        let lines: Vec<Option<f64>> = l
            .mem_lines
            .iter()
            .filter_map(|(line, _)| {
                let (total, deepest) = copies[line.as_str()];
                if pseudo(line) && d != deepest {
                    return None;
                }
                Some(line_requests.get(line).map(|r| r / f64::from(total.max(1))))
            })
            .collect();
        let measured = lines.iter().flatten().fold(None, |a: Option<f64>, &r| {
            Some(a.map_or(r, |a: f64| a.max(r)))
        });
        let n = match measured {
            Some(n) => n,
            // Lines of its own, none of which ran while others of the launch did: a path
            // not taken (a fold the launch did not ask for, sum_slices' other width).
            None if !lines.is_empty() && !line_requests.is_empty() => 0.0,
            None => {
                estimated += 1;
                l.parent
                    .and_then(|p| iterations.get(p).copied())
                    .unwrap_or(warps)
            }
        };
        iterations.push(n);
        mix.add_scaled(&l.mix, n);
    }
    (mix, estimated)
}

/// The model's prediction for one launch on `gpu`, whose SM limits are `sm`.
pub fn predict(
    input: &LaunchInput<'_>,
    gpu: &GpuSpec,
    sm: &SmLimits,
) -> Result<Prediction, String> {
    let (bx, by, bz) = input.cfg.block;
    let threads = bx * by * bz;
    let warps_per_block = f64::from(threads.div_ceil(32));
    let occ = occupancy::occupancy(
        sm,
        threads,
        input.registers,
        input.static_shared + input.cfg.shared_bytes,
    );
    if occ.blocks_per_sm == 0 {
        return Err(format!(
            "{}: a block of {threads} threads does not fit on an SM of {}",
            input.kernel, sm.arch
        ));
    }
    let blocks = input.counters.blocks_total.max(1) as f64;
    let sms = f64::from(gpu.sms);
    let per_sm = f64::from(occ.blocks_per_sm);
    let waves = (blocks / (sms * per_sm)).ceil();
    let resident = per_sm.min((blocks / sms).ceil());
    let busy_sms = sms.min(blocks / (waves * resident));
    let warps_per_sm = resident * warps_per_block;
    let hz = gpu.hz();

    let (mix, loops_estimated) =
        executed(input.code, blocks * warps_per_block, input.line_requests);
    let seconds_issue = mix.total / (busy_sms * ISSUE_PER_CLOCK * hz);
    let seconds_latency = seconds_issue / (warps_per_sm / WARPS_FOR_FULL_ISSUE).min(1.0);
    let fp32_lane_ops = (mix.ffma + mix.fp32_other) * 32.0;
    let seconds_fp32 = fp32_lane_ops / (busy_sms * f64::from(gpu.fp32_lanes) * hz);
    let tensor_per_sm = gpu.tf32_tflops * 1e12 * gpu.mma_sync_share / f64::from(gpu.sms);
    let seconds_tensor = mix.mma * MMA_FLOPS / (busy_sms * tensor_per_sm);
    let c = &input.counters;
    let global_wavefronts =
        |requests: u64, sectors: u64| (requests as f64).max(sectors as f64 / 4.0);
    let l1 = (c.shared_load_wavefronts + c.shared_store_wavefronts) as f64
        + global_wavefronts(c.global_load_requests, c.global_load_sectors)
        + global_wavefronts(c.global_store_requests, c.global_store_sectors);
    let seconds_shared = l1 / (busy_sms * hz);
    let dram_rate = (gpu.dram_tbs * 1e12).min(busy_sms * SM_BYTES_PER_CLOCK * hz);
    let seconds_dram = input.work.bytes / dram_rate;
    let (bound, seconds) = [
        (Bound::Fp32, seconds_fp32),
        (Bound::Tensor, seconds_tensor),
        (Bound::Issue, seconds_issue),
        (Bound::Latency, seconds_latency),
        (Bound::Shared, seconds_shared),
        (Bound::Dram, seconds_dram),
        (Bound::Launch, LAUNCH_SECONDS),
    ]
    .into_iter()
    // The first of equal bounds: FP32 before issue (equal when every instruction is an
    // FFMA on 128 lanes), latency only when it adds to issue.
    .fold(
        (Bound::Launch, 0.0),
        |best, b| if b.1 > best.1 { b } else { best },
    );
    let executed_per_useful = (input.work.flops > 0.0 && input.work.matmul).then(|| {
        (mix.ffma * 64.0 + mix.fp32_other * 32.0 + mix.mma * MMA_FLOPS) / input.work.flops
    });
    Ok(Prediction {
        blocks_per_sm: occ.blocks_per_sm,
        occupancy: occ.fraction,
        waves: waves as u64,
        busy_sms,
        instructions: mix.total,
        executed_per_useful,
        seconds_issue,
        seconds_fp32,
        seconds_tensor,
        seconds_latency,
        seconds_shared,
        seconds_dram,
        seconds,
        bound,
        loops_estimated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::gpu::by_name;
    use crate::perf::occupancy::limits;

    fn mix(total: f64, ffma: f64) -> Mix {
        Mix {
            total,
            ffma,
            ..Mix::default()
        }
    }

    /// A kernel with 10 straight instructions and an outer loop (4 instructions, one load
    /// of a.cu:5) around an inner loop unrolled twice (2 loads of a.cu:9, 2 FFMAs, 6 in all)
    /// with a remainder loop (1 load of a.cu:9, 1 FFMA, 3 in all).
    fn code() -> KernelCode {
        KernelCode {
            straight: mix(10.0, 0.0),
            straight_lines: vec![],
            loops: vec![
                LoopCode {
                    mix: mix(4.0, 0.0),
                    mem_lines: vec![("a.cu:5".into(), 1)],
                    parent: None,
                },
                LoopCode {
                    mix: mix(6.0, 2.0),
                    mem_lines: vec![("a.cu:9".into(), 2)],
                    parent: Some(0),
                },
                LoopCode {
                    mix: mix(3.0, 1.0),
                    mem_lines: vec![("a.cu:9".into(), 1)],
                    parent: Some(0),
                },
            ],
        }
    }

    #[test]
    fn loop_iterations_come_from_the_requests_of_their_lines() {
        // 8 warps; the outer loop runs 3 times per warp (24 requests of a.cu:5); the inner
        // line was requested 480 times, shared by the unrolled loop (2 copies) and its
        // remainder (1): 160 iterations each, and one FFMA per request.
        let req: HashMap<String, f64> = [("a.cu:5".into(), 24.0), ("a.cu:9".into(), 480.0)].into();
        let (m, estimated) = executed(&code(), 8.0, &req);
        assert_eq!(estimated, 0);
        assert_eq!(m.total, 8.0 * 10.0 + 24.0 * 4.0 + 160.0 * 6.0 + 160.0 * 3.0);
        assert_eq!(m.ffma, 480.0);
        // The inner line never ran (a path not taken): the inner loops did not run.
        let req: HashMap<String, f64> = [("a.cu:5".into(), 24.0)].into();
        let (m, estimated) = executed(&code(), 8.0, &req);
        assert_eq!((m.total, estimated), (8.0 * 10.0 + 24.0 * 4.0, 0));
        // No requests at all (no line information): every loop runs once per warp.
        let (m, estimated) = executed(&code(), 8.0, &HashMap::new());
        assert_eq!((m.total, estimated), (8.0 * (10.0 + 4.0 + 6.0 + 3.0), 3));
    }

    #[test]
    fn barriers_belong_to_the_deepest_loop_and_a_loop_runs_as_its_most_frequent_line() {
        // An outer loop (one store of b.cu:3, 2 barriers) around a tile loop (2 barriers, a
        // load of b.cu:7 on each of two paths) around a loop with no line.
        let code = KernelCode {
            straight: mix(0.0, 0.0),
            straight_lines: vec![(BARRIER_LINE.into(), 3)],
            loops: vec![
                LoopCode {
                    mix: mix(100.0, 0.0),
                    mem_lines: vec![("b.cu:3".into(), 1), (BARRIER_LINE.into(), 2)],
                    parent: None,
                },
                LoopCode {
                    mix: mix(10.0, 0.0),
                    mem_lines: vec![("b.cu:7".into(), 2), (BARRIER_LINE.into(), 2)],
                    parent: Some(0),
                },
                LoopCode {
                    mix: mix(1.0, 1.0),
                    mem_lines: vec![],
                    parent: Some(1),
                },
            ],
        };
        // 4 warps, once through the outer loop, 16 tiles each: 4 stores of b.cu:3,
        // 4·16 loads of b.cu:7 (one path each) and 4·(2·16 + 2) barriers, plus the 3 of
        // the straight-line code (an epilogue's), which are no loop's.
        let req: HashMap<String, f64> = [
            ("b.cu:3".into(), 4.0),
            ("b.cu:7".into(), 64.0),
            (BARRIER_LINE.into(), 4.0 * (34.0 + 3.0)),
        ]
        .into();
        let (m, estimated) = executed(&code, 4.0, &req);
        assert_eq!(estimated, 1);
        // The outer loop: 4 (its store); the tile loop: 68 (its barriers beat the 32 of
        // its two-path load); the innermost: its parent's 68.
        assert_eq!(m.total, 4.0 * 100.0 + 68.0 * 10.0 + 68.0);
    }

    fn input<'a>(
        code: &'a KernelCode,
        req: &'a HashMap<String, f64>,
        blocks: u64,
        threads: u32,
        work: Work,
        counters: Counters,
    ) -> LaunchInput<'a> {
        LaunchInput {
            kernel: "k",
            cfg: LaunchConfig {
                grid: (blocks as u32, 1, 1),
                block: (threads, 1, 1),
                shared_bytes: 0,
            },
            counters: Counters {
                blocks_total: blocks,
                ..counters
            },
            line_requests: req,
            work,
            registers: 32,
            static_shared: 0,
            code,
        }
    }

    #[test]
    fn a_pure_ffma_loop_on_a_full_gpu_runs_at_the_fp32_peak() {
        // One loop of 64 FFMAs and nothing else, 1024 iterations per warp, 132·8 blocks of
        // 256 threads: every SM full, FP32 bound at exactly the peak.
        let code = KernelCode {
            straight: Mix::default(),
            straight_lines: vec![],
            loops: vec![LoopCode {
                mix: mix(64.0, 64.0),
                mem_lines: vec![("k.cu:1".into(), 1)],
                parent: None,
            }],
        };
        let h100 = by_name("h100").unwrap();
        let blocks = 132 * 8;
        let warps = (blocks * 8) as f64;
        let req: HashMap<String, f64> = [("k.cu:1".into(), warps * 1024.0)].into();
        let flops = warps * 1024.0 * 64.0 * 64.0;
        let work = Work {
            flops,
            bytes: 0.0,
            matmul: true,
        };
        let p = predict(
            &input(&code, &req, blocks, 256, work, Counters::default()),
            h100,
            limits("sm_90").unwrap(),
        )
        .unwrap();
        assert_eq!((p.bound, p.waves, p.blocks_per_sm), (Bound::Fp32, 1, 8));
        let at_peak = flops / (h100.fp32_tflops * 1e12);
        assert!(
            (p.seconds / at_peak - 1.0).abs() < 0.01,
            "{} vs {at_peak}",
            p.seconds
        );
        assert_eq!(p.executed_per_useful, Some(1.0));
        // The same work in 8 blocks: 8 SMs busy, each with 8 warps (below 16): latency.
        let p = predict(
            &input(&code, &req, 8, 256, work, Counters::default()),
            h100,
            limits("sm_90").unwrap(),
        )
        .unwrap();
        assert_eq!(p.bound, Bound::Latency);
        assert_eq!(p.busy_sms, 8.0);
        assert!((p.seconds_latency / p.seconds_issue - 2.0).abs() < 1e-12);
    }

    #[test]
    fn memory_bounds_from_counters_and_bytes() {
        let code = KernelCode {
            straight: mix(4.0, 0.0),
            straight_lines: vec![],
            loops: vec![],
        };
        let h200 = by_name("h200").unwrap();
        let sm = limits("sm_90").unwrap();
        let req = HashMap::new();
        // 1 GB moved by 4096 blocks of 256 threads, few instructions: DRAM at 4.8 TB/s.
        let work = Work {
            flops: 0.0,
            bytes: 1e9,
            matmul: false,
        };
        let p = predict(
            &input(&code, &req, 4096, 256, work, Counters::default()),
            h200,
            sm,
        )
        .unwrap();
        assert_eq!(p.bound, Bound::Dram);
        assert!((p.seconds - 1e9 / 4.8e12).abs() < 1e-12);
        // 1e9 shared wavefronts over 132 SMs at 1.98 GHz (4 full waves of 8 blocks per SM).
        let counters = Counters {
            shared_load_wavefronts: 1_000_000_000,
            ..Counters::default()
        };
        let p = predict(
            &input(&code, &req, 132 * 8 * 4, 256, Work::default(), counters),
            h200,
            sm,
        )
        .unwrap();
        assert_eq!(p.bound, Bound::Shared);
        assert!((p.seconds - 1e9 / (132.0 * 1.98e9)).abs() < 1e-9);
        // A tiny launch is a launch.
        let p = predict(
            &input(&code, &req, 1, 32, Work::default(), Counters::default()),
            h200,
            sm,
        )
        .unwrap();
        assert_eq!((p.bound, p.seconds), (Bound::Launch, LAUNCH_SECONDS));
        assert_eq!(p.executed_per_useful, None);
    }
}
