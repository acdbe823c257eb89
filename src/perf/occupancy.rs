//! Occupancy: how many blocks of a kernel fit on one streaming multiprocessor at once, by
//! the CUDA occupancy rules, for the archs satcolor compiles.
//!
//! A block's warps, registers and shared memory each limit the blocks an SM holds;
//! occupancy is the resident warps over the SM's maximum. Registers are allocated per warp,
//! in units of 256 (a thread's count times 32, rounded up); each block's shared memory is
//! rounded up to 128 bytes and takes 1 KiB more for the system. The SM's shared memory is
//! taken at its largest carveout. The per-arch figures are those of the CUDA C++
//! Programming Guide's table of technical specifications per compute capability. The
//! register file is treated as one pool: the split into four sub-partitions, which can cost
//! a block when a block's warps do not divide evenly, is not modelled.

/// The per-SM limits of one arch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmLimits {
    /// `sm_NN`.
    pub arch: &'static str,
    /// Resident warps per SM.
    pub max_warps: u32,
    /// Resident blocks per SM.
    pub max_blocks: u32,
    /// 32-bit registers per SM.
    pub registers: u32,
    /// Shared memory per SM at the largest carveout, in bytes.
    pub shared_bytes: u32,
}

/// Register allocation unit (registers, per warp).
const REGISTER_UNIT: u32 = 256;
/// Shared-memory allocation unit in bytes.
const SHARED_UNIT: u32 = 128;
/// Shared memory the system reserves per block (compute capability 8.0 and later).
const SHARED_RESERVED: u32 = 1024;

/// The archs satcolor compiles by default.
pub const ARCHS: &[SmLimits] = &[
    SmLimits {
        arch: "sm_80",
        max_warps: 64,
        max_blocks: 32,
        registers: 65536,
        shared_bytes: 164 * 1024,
    },
    SmLimits {
        arch: "sm_86",
        max_warps: 48,
        max_blocks: 16,
        registers: 65536,
        shared_bytes: 100 * 1024,
    },
    SmLimits {
        arch: "sm_89",
        max_warps: 48,
        max_blocks: 24,
        registers: 65536,
        shared_bytes: 100 * 1024,
    },
    SmLimits {
        arch: "sm_90",
        max_warps: 64,
        max_blocks: 32,
        registers: 65536,
        shared_bytes: 228 * 1024,
    },
];

/// The limits of `arch` (`sm_90`), if it is one of [`ARCHS`].
pub fn limits(arch: &str) -> Option<&'static SmLimits> {
    ARCHS.iter().find(|l| l.arch == arch)
}

/// What bounds the blocks per SM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limiter {
    /// The SM's block slots.
    Blocks,
    /// The SM's warp slots.
    Warps,
    /// The register file.
    Registers,
    /// Shared memory.
    Shared,
}

/// The occupancy of one kernel launch shape on one arch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occupancy {
    /// Resident blocks per SM (0: the block does not fit at all).
    pub blocks_per_sm: u32,
    /// Resident warps per SM.
    pub warps_per_sm: u32,
    /// `warps_per_sm` over the SM's maximum.
    pub fraction: f64,
    /// The tightest limit.
    pub limiter: Limiter,
}

/// The occupancy of blocks of `threads` threads using `registers` registers per thread and
/// `shared_bytes` of shared memory (static and dynamic) per block, on `sm`.
pub fn occupancy(sm: &SmLimits, threads: u32, registers: u32, shared_bytes: u32) -> Occupancy {
    let warps = threads.div_ceil(32).max(1);
    let by_blocks = sm.max_blocks;
    let by_warps = sm.max_warps / warps;
    let per_warp = (registers * 32).div_ceil(REGISTER_UNIT) * REGISTER_UNIT;
    let by_registers = match per_warp {
        0 => u32::MAX,
        r => (sm.registers / r) / warps,
    };
    let per_block = shared_bytes.div_ceil(SHARED_UNIT) * SHARED_UNIT + SHARED_RESERVED;
    let by_shared = sm.shared_bytes / per_block;
    let (blocks, limiter) = [
        (by_blocks, Limiter::Blocks),
        (by_warps, Limiter::Warps),
        (by_registers, Limiter::Registers),
        (by_shared, Limiter::Shared),
    ]
    .into_iter()
    .min_by_key(|&(b, _)| b)
    .expect("four limits");
    Occupancy {
        blocks_per_sm: blocks,
        warps_per_sm: blocks * warps,
        fraction: f64::from(blocks * warps) / f64::from(sm.max_warps),
        limiter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sm(arch: &str) -> &'static SmLimits {
        limits(arch).unwrap()
    }

    #[test]
    fn small_blocks_are_bound_by_block_slots() {
        // 64 threads = 2 warps, few registers: 32 blocks × 2 warps = 64 warps on sm_90.
        let o = occupancy(sm("sm_90"), 64, 32, 0);
        assert_eq!(
            (o.blocks_per_sm, o.warps_per_sm, o.limiter),
            (32, 64, Limiter::Blocks)
        );
        assert_eq!(o.fraction, 1.0);
        // sm_86 holds 16 blocks: 32 of its 48 warps.
        let o = occupancy(sm("sm_86"), 64, 32, 0);
        assert_eq!((o.blocks_per_sm, o.warps_per_sm), (16, 32));
        assert!((o.fraction - 32.0 / 48.0).abs() < 1e-12);
    }

    #[test]
    fn registers_are_allocated_per_warp_in_units_of_256() {
        // 64 registers × 32 = 2048 per warp; 65536 / 2048 = 32 warps = 4 blocks of 256.
        let o = occupancy(sm("sm_90"), 256, 64, 0);
        assert_eq!((o.blocks_per_sm, o.limiter), (4, Limiter::Registers));
        assert_eq!(o.fraction, 0.5);
        // 33 registers round up to 1280 per warp (5 units): 51 warps → 6 blocks of 8 warps.
        let o = occupancy(sm("sm_90"), 256, 33, 0);
        assert_eq!((o.blocks_per_sm, o.warps_per_sm), (6, 48));
        // 255 registers: 8160 → 8192 per warp, 8 warps per SM: one block of 256.
        let o = occupancy(sm("sm_80"), 256, 255, 0);
        assert_eq!((o.blocks_per_sm, o.warps_per_sm), (1, 8));
    }

    #[test]
    fn shared_memory_takes_a_reserved_kib_per_block() {
        // 48 KiB + 1 KiB per block: 4 blocks in sm_90's 228 KiB, 3 in sm_80's 164, 2 in 100.
        let bytes = 48 * 1024;
        assert_eq!(occupancy(sm("sm_90"), 128, 32, bytes).blocks_per_sm, 4);
        assert_eq!(occupancy(sm("sm_80"), 128, 32, bytes).blocks_per_sm, 3);
        let o = occupancy(sm("sm_89"), 128, 32, bytes);
        assert_eq!((o.blocks_per_sm, o.limiter), (2, Limiter::Shared));
        // 100 bytes round up to 128: (128 + 1024) per block, 32 blocks still fit.
        assert_eq!(occupancy(sm("sm_90"), 32, 16, 100).blocks_per_sm, 32);
    }

    #[test]
    fn big_blocks_are_bound_by_warp_slots() {
        // 1024 threads = 32 warps: 2 blocks on sm_80/90, 1 on sm_86/89.
        assert_eq!(occupancy(sm("sm_90"), 1024, 16, 0).blocks_per_sm, 2);
        let o = occupancy(sm("sm_86"), 1024, 16, 0);
        assert_eq!((o.blocks_per_sm, o.limiter), (1, Limiter::Warps));
        assert!((o.fraction - 32.0 / 48.0).abs() < 1e-12);
    }

    #[test]
    fn every_compiled_arch_has_limits() {
        for arch in crate::kernels::CUDA_ARCHS {
            assert!(limits(arch).is_some(), "no SM limits for {arch}");
        }
    }
}
