//! The time model's view of a kernel's SASS ([`KernelCode`]) from the figures build.rs took
//! from nvdisasm ([`crate::kernels::SASS`]): instruction totals, FFMAs and other FP32
//! instructions of the straight-line code and of each loop's own body, each loop's parent,
//! and its memory instructions per `file:line` (with its barriers and shuffles as the pseudo
//! lines [`BARRIER_LINE`] and [`WARP_OP_LINE`]).

use super::model::{KernelCode, LoopCode, Mix, BARRIER_LINE, WARP_OP_LINE};
use crate::kernels::{InstrMix, SassKernel, SASS};

fn mix(m: &InstrMix) -> Mix {
    Mix {
        total: f64::from(m.total()),
        ffma: f64::from(m.ffma),
        fp32_other: f64::from(m.fp32_other),
        mma: f64::from(m.mma),
    }
}

/// The model's view of one kernel's SASS figures.
pub fn code(k: &SassKernel) -> KernelCode {
    let loops = k
        .loops
        .iter()
        .enumerate()
        .map(|(i, l)| LoopCode {
            mix: mix(&l.mix),
            mem_lines: l
                .mem_lines
                .iter()
                .map(|m| (format!("{}:{}", m.file, m.line), m.count))
                .chain((l.mix.bar > 0).then(|| (BARRIER_LINE.to_string(), l.mix.bar)))
                .chain((l.mix.shfl > 0).then(|| (WARP_OP_LINE.to_string(), l.mix.shfl)))
                .collect(),
            // The innermost loop before it (loops are sorted by start) that contains it.
            parent: k.loops[..i]
                .iter()
                .rposition(|p| p.start <= l.start && l.end <= p.end && p.depth < l.depth),
        })
        .collect();
    let m = &k.straight;
    KernelCode {
        straight: mix(m),
        straight_lines: [(BARRIER_LINE, m.bar), (WARP_OP_LINE, m.shfl)]
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(line, n)| (line.to_string(), n))
            .collect(),
        loops,
    }
}

/// The model's view of `kernel`'s SASS for `arch`; `None` when build.rs had no
/// disassembler or did not compile that arch.
pub fn kernel_code(kernel: &str, arch: &str) -> Option<KernelCode> {
    SASS.iter()
        .find(|k| k.kernel == kernel && k.arch == arch)
        .map(code)
}
