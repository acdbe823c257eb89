//! The GPUs the time model predicts for, from their makers' published figures (NVIDIA's
//! H100 and H200 product briefs and datasheets, the A100 datasheet): what the model
//! needs of a GPU, and nothing measured.

/// One GPU's published figures.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct GpuSpec {
    /// Short name, as `--gpu` takes it.
    pub name: &'static str,
    /// The product, for people.
    pub product: &'static str,
    /// The SASS arch whose code and occupancy rules it runs.
    pub arch: &'static str,
    /// Streaming multiprocessors.
    pub sms: u32,
    /// The boost clock in GHz (the clock the published peaks assume).
    pub clock_ghz: f64,
    /// FP32 lanes per SM (FFMAs per clock): 128 on sm_90, 64 on sm_80.
    pub fp32_lanes: u32,
    /// Peak FP32 rate in TFLOP/s (SMs × lanes × 2 × clock).
    pub fp32_tflops: f64,
    /// Peak TF32 tensor-core rate, dense (without sparsity), in TFLOP/s.
    pub tf32_tflops: f64,
    /// The share of that peak the model lets warp-level `mma.sync` reach — an assumption,
    /// not a published figure: 1 on sm_80; 0.625 on sm_90, whose peak needs the warpgroup
    /// `wgmma` instructions (microbenchmarks of Hopper report legacy `mma.sync` well below
    /// it). To be replaced by a measurement (`cargo bench --bench kernels` on a GPU).
    pub mma_sync_share: f64,
    /// DRAM (HBM) bandwidth in TB/s.
    pub dram_tbs: f64,
}

impl GpuSpec {
    /// Clock cycles per second.
    pub fn hz(&self) -> f64 {
        self.clock_ghz * 1e9
    }
}

/// The GPUs of the model, newest arch first.
pub const GPUS: &[GpuSpec] = &[
    GpuSpec {
        name: "h100",
        product: "NVIDIA H100 SXM5 80 GB",
        arch: "sm_90",
        sms: 132,
        clock_ghz: 1.98,
        fp32_lanes: 128,
        fp32_tflops: 66.9,
        tf32_tflops: 494.7,
        mma_sync_share: 0.625,
        dram_tbs: 3.35,
    },
    GpuSpec {
        name: "h200",
        product: "NVIDIA H200 SXM 141 GB",
        arch: "sm_90",
        sms: 132,
        clock_ghz: 1.98,
        fp32_lanes: 128,
        fp32_tflops: 66.9,
        tf32_tflops: 494.7,
        mma_sync_share: 0.625,
        dram_tbs: 4.8,
    },
    GpuSpec {
        name: "a100",
        product: "NVIDIA A100 SXM4 80 GB",
        arch: "sm_80",
        sms: 108,
        clock_ghz: 1.41,
        fp32_lanes: 64,
        fp32_tflops: 19.5,
        tf32_tflops: 156.0,
        mma_sync_share: 1.0,
        dram_tbs: 2.039,
    },
];

/// The GPU named `name` (`h100`, `h200`, `a100`).
pub fn by_name(name: &str) -> Option<&'static GpuSpec> {
    GPUS.iter().find(|g| g.name.eq_ignore_ascii_case(name))
}

/// The GPUs of one arch.
pub fn for_arch(arch: &str) -> Vec<&'static GpuSpec> {
    GPUS.iter().filter(|g| g.arch == arch).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp32_peaks_follow_from_sms_lanes_and_clock() {
        for g in GPUS {
            let peak = f64::from(g.sms * g.fp32_lanes) * 2.0 * g.hz() / 1e12;
            assert!(
                (peak / g.fp32_tflops - 1.0).abs() < 0.01,
                "{}: {peak}",
                g.name
            );
        }
        assert_eq!(for_arch("sm_90").len(), 2);
        assert_eq!(by_name("H200").unwrap().dram_tbs, 4.8);
        assert!(by_name("v100").is_none());
    }
}
