//! The arithmetic of the convolutions on a GPU device (`--precision fp32|tf32|3xtf32`):
//! FP32 FMAs, TF32 tensor cores (each operand rounded to TF32's 10 fraction bits, FP32
//! accumulation), or 3xTF32 (each operand split into a TF32 high and low part, three
//! tensor-core products: about FP32's accuracy). Every other op computes in FP32.
//!
//! The default follows PyTorch's for convolutions: TF32 on GPUs with tensor cores for it
//! (compute capability 8.0 and newer), FP32 elsewhere (the cpu device, the emulator, older
//! GPUs). The emulator runs every precision, with the tensor-core instructions emulated
//! (emu/cuda_emu.h); the cpu device runs FP32 only.

use crate::kernels::consts;
use crate::{Error, Result};

/// A precision of the convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// FP32 fused multiply-adds.
    #[serde(rename = "fp32")]
    Fp32,
    /// TF32 tensor cores with FP32 accumulation.
    #[serde(rename = "tf32")]
    Tf32,
    /// Three TF32 tensor-core products per product (high·high + high·low + low·high).
    #[serde(rename = "3xtf32")]
    Tf32x3,
}

/// TF32's unit roundoff: 10 fraction bits, rounded to nearest.
pub const TF32_UNIT_ROUNDOFF: f64 = 1.0 / 2048.0;

impl Precision {
    /// Every precision, FP32 first.
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Tf32, Precision::Tf32x3];

    /// The name `--precision` takes.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Tf32 => "tf32",
            Precision::Tf32x3 => "3xtf32",
        }
    }

    /// The kernels' code of it (kernels/mma.cuh's `SC_PREC_*`).
    pub fn code(self) -> i32 {
        match self {
            Precision::Fp32 => consts::SC_PREC_FP32,
            Precision::Tf32 => consts::SC_PREC_TF32,
            Precision::Tf32x3 => consts::SC_PREC_3XTF32,
        }
    }

    /// Whether it runs on tensor cores.
    pub fn tensor_cores(self) -> bool {
        self != Precision::Fp32
    }

    /// The largest max-norm relative error (crate::selftest) a convolution's output may
    /// have against the f64 reference. FP32 and 3xTF32 (whose products err by about 3u²,
    /// u = 2⁻¹¹, far below FP32's accumulation): 1e-5. TF32: both operands of every product
    /// are rounded, so a product errs by at most 2u; a sum errs by at most 2u·Σ|terms|,
    /// and the tolerance allows Σ|terms| up to 4× the largest output: 8u ≈ 3.9e-3.
    pub fn tolerance(self) -> f64 {
        match self {
            Precision::Fp32 | Precision::Tf32x3 => crate::selftest::TOLERANCE,
            Precision::Tf32 => 8.0 * TF32_UNIT_ROUNDOFF,
        }
    }

    /// The precision a device runs: `requested`, if the device can, else an error naming
    /// it; without a request, TF32 where tensor cores do it natively (`native_tf32`: a CUDA
    /// GPU of compute capability 8.0 or newer) and FP32 elsewhere. `tensor_cores` says
    /// whether the device can run the tensor-core kernels at all (a GPU of compute
    /// capability 8.0+, or the emulator).
    pub fn resolve(
        requested: Option<Precision>,
        device: &str,
        tensor_cores: bool,
        native_tf32: bool,
    ) -> Result<Precision> {
        match requested {
            None if native_tf32 => Ok(Precision::Tf32),
            None | Some(Precision::Fp32) => Ok(Precision::Fp32),
            Some(p) if tensor_cores => Ok(p),
            Some(p) => Err(Error::Input(format!(
                "--precision {p}: {device} has no TF32 tensor cores (they need a GPU of compute capability 8.0 or newer, or --device emu); use --precision fp32"
            ))),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        Precision::ALL
            .into_iter()
            .find(|p| p.name() == t)
            .ok_or_else(|| Error::Input(format!("unknown precision `{s}` (fp32, tf32 or 3xtf32)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_codes_match_the_kernels() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>().unwrap(), p);
            assert_eq!(
                p.to_string().to_uppercase().parse::<Precision>().unwrap(),
                p
            );
        }
        let codes: Vec<i32> = Precision::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(codes, [0, 1, 2]);
        let e = "bf16".parse::<Precision>().unwrap_err().to_string();
        assert!(e.contains("bf16") && e.contains("3xtf32"), "{e}");
    }

    #[test]
    fn the_default_is_tf32_only_where_tensor_cores_do_it_natively() {
        let r = |req, tc, native| Precision::resolve(req, "dev", tc, native);
        assert_eq!(r(None, true, true).unwrap(), Precision::Tf32);
        assert_eq!(r(None, true, false).unwrap(), Precision::Fp32);
        assert_eq!(r(None, false, false).unwrap(), Precision::Fp32);
        assert_eq!(
            r(Some(Precision::Fp32), true, true).unwrap(),
            Precision::Fp32
        );
        assert_eq!(
            r(Some(Precision::Tf32x3), true, false).unwrap(),
            Precision::Tf32x3
        );
        let e = r(Some(Precision::Tf32), false, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--precision tf32") && e.contains("dev"), "{e}");
    }

    #[test]
    fn tf32_tolerance_follows_from_its_mantissa() {
        assert_eq!(Precision::Tf32.tolerance(), 8.0 / 2048.0);
        assert!(Precision::Tf32x3.tolerance() <= 1e-5);
    }
}
