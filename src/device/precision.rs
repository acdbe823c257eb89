//! The arithmetic of the convolutions on a GPU device (`--precision fp32|tf32|3xtf32`):
//! FP32 FMAs, TF32 tensor cores (each operand rounded to TF32's 10 fraction bits, FP32
//! accumulation), or 3xTF32 (each operand split into a TF32 high and low part, three
//! tensor-core products: about FP32's accuracy). Every other op computes in FP32.
//!
//! For inference alone (`colorize --precision bf16|fp16`), weights and activations can be
//! stored in 16 bits ([`Half`]): every value is rounded to bf16 or fp16 when it is stored,
//! and the convolutions multiply on TF32 tensor cores, which hold either format exactly, so
//! only the FP32 accumulation and the final store round. Half the memory and traffic.
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
    /// Inference only: weights and activations stored as bfloat16, TF32 tensor-core
    /// products (exact on bf16 values), FP32 accumulation.
    #[serde(rename = "bf16")]
    Bf16,
    /// Inference only: weights and activations stored as IEEE fp16, otherwise as
    /// [`Precision::Bf16`].
    #[serde(rename = "fp16")]
    Fp16,
}

/// A 16-bit storage format of reduced-precision inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Half {
    /// bfloat16: FP32's 8 exponent bits, 7 fraction bits.
    Bf16,
    /// IEEE 754 binary16: 5 exponent bits (largest finite 65504), 10 fraction bits.
    Fp16,
}

impl Half {
    /// The kernels' `fmt` code (kernels/half.cuh's `SC_FMT_*`).
    pub fn code(self) -> i32 {
        match self {
            Half::Bf16 => consts::SC_FMT_BF16,
            Half::Fp16 => consts::SC_FMT_FP16,
        }
    }
    /// The unit roundoff of a store: 2⁻⁸ (bf16's 8 significant bits), 2⁻¹¹ (fp16's 11).
    pub fn unit_roundoff(self) -> f64 {
        match self {
            Half::Bf16 => 1.0 / 256.0,
            Half::Fp16 => 1.0 / 2048.0,
        }
    }
    /// The bits of `v` rounded to the format, to nearest even (as kernels/half.cuh).
    pub fn encode(self, v: f32) -> u16 {
        match self {
            Half::Bf16 => half::bf16::from_f32(v).to_bits(),
            Half::Fp16 => half::f16::from_f32(v).to_bits(),
        }
    }
    /// The value of some bits of the format.
    pub fn decode(self, bits: u16) -> f32 {
        match self {
            Half::Bf16 => half::bf16::from_bits(bits).to_f32(),
            Half::Fp16 => half::f16::from_bits(bits).to_f32(),
        }
    }
    /// `v` rounded to the format and back.
    pub fn round(self, v: f32) -> f32 {
        self.decode(self.encode(v))
    }
}

/// TF32's unit roundoff: 10 fraction bits, rounded to nearest.
pub const TF32_UNIT_ROUNDOFF: f64 = 1.0 / 2048.0;

impl Precision {
    /// Every precision, FP32 first.
    pub const ALL: [Precision; 5] = [
        Precision::Fp32,
        Precision::Tf32,
        Precision::Tf32x3,
        Precision::Bf16,
        Precision::Fp16,
    ];
    /// The precisions that train (every op in FP32 storage).
    pub const TRAINING: [Precision; 3] = [Precision::Fp32, Precision::Tf32, Precision::Tf32x3];

    /// The name `--precision` takes.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Tf32 => "tf32",
            Precision::Tf32x3 => "3xtf32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }

    /// The 16-bit storage of the inference-only precisions, `None` for the others.
    pub fn storage(self) -> Option<Half> {
        match self {
            Precision::Bf16 => Some(Half::Bf16),
            Precision::Fp16 => Some(Half::Fp16),
            _ => None,
        }
    }

    /// The arithmetic of the products: TF32 for the 16-bit storages, else itself.
    pub fn math(self) -> Precision {
        if self.storage().is_some() {
            Precision::Tf32
        } else {
            self
        }
    }

    /// The kernels' code of its products (kernels/mma.cuh's `SC_PREC_*`).
    pub fn code(self) -> i32 {
        match self.math() {
            Precision::Fp32 => consts::SC_PREC_FP32,
            Precision::Tf32x3 => consts::SC_PREC_3XTF32,
            _ => consts::SC_PREC_TF32,
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
    /// bf16 and fp16 (u_s their unit roundoff), against the reference on the 16-bit values
    /// the device holds (every op's inputs and weights rounded as an upload rounds them):
    /// the products are exact on the tensor cores, so an output errs by its one rounding
    /// to the format (at most u_s of the largest output) plus FP32's accumulation: u_s +
    /// 1e-5 (3.9e-3 for bf16, 5.0e-4 for fp16).
    pub fn tolerance(self) -> f64 {
        match self {
            Precision::Fp32 | Precision::Tf32x3 => crate::selftest::TOLERANCE,
            Precision::Tf32 => 8.0 * TF32_UNIT_ROUNDOFF,
            Precision::Bf16 | Precision::Fp16 => {
                self.storage().map_or(0.0, Half::unit_roundoff) + crate::selftest::TOLERANCE
            }
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
            Some(p) if p.storage().is_some() => Err(Error::Input(format!(
                "--precision {p}: 16-bit inference multiplies on tensor cores, which {device} lacks (a GPU of compute capability 8.0 or newer, or --device emu); use --precision fp32"
            ))),
            Some(p) => Err(Error::Input(format!(
                "--precision {p}: {device} has no TF32 tensor cores (they need a GPU of compute capability 8.0 or newer, or --device emu); use --precision fp32"
            ))),
        }
    }

    /// An error unless it can train: the 16-bit storages run inference only.
    pub fn check_training(self) -> Result<()> {
        if self.storage().is_some() {
            return Err(Error::Input(format!(
                "--precision {self} stores activations in 16 bits and runs inference only (colorize); train with fp32, tf32 or 3xtf32"
            )));
        }
        Ok(())
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
            .ok_or_else(|| {
                Error::Input(format!(
                    "unknown precision `{s}` (fp32, tf32, 3xtf32, bf16 or fp16)"
                ))
            })
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
        assert_eq!(codes, [0, 1, 2, 1, 1]);
        let e = "fp8".parse::<Precision>().unwrap_err().to_string();
        assert!(e.contains("fp8") && e.contains("3xtf32"), "{e}");
        assert!(Precision::TRAINING
            .iter()
            .all(|p| p.check_training().is_ok()));
        for p in [Precision::Bf16, Precision::Fp16] {
            let e = p.check_training().unwrap_err().to_string();
            assert!(e.contains(p.name()) && e.contains("inference"), "{e}");
        }
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
        // 16-bit inference where tensor cores are: as asked; elsewhere (the cpu device) a
        // one-line error that says why.
        assert_eq!(
            r(Some(Precision::Bf16), true, false).unwrap(),
            Precision::Bf16
        );
        let e = r(Some(Precision::Fp16), false, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--precision fp16") && e.contains("16-bit") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn tf32_tolerance_follows_from_its_mantissa() {
        assert_eq!(Precision::Tf32.tolerance(), 8.0 / 2048.0);
        assert!(Precision::Tf32x3.tolerance() <= 1e-5);
        assert_eq!(Precision::Bf16.tolerance(), 1.0 / 256.0 + 1e-5);
        assert_eq!(Precision::Fp16.tolerance(), 1.0 / 2048.0 + 1e-5);
    }

    #[test]
    fn half_formats_round_to_nearest_even_by_hand() {
        // bf16: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to the even 1; 1 + 3·2^-8 is
        // halfway between 1 + 2^-7 and 1 + 2^-6: to the even 1 + 2^-6.
        let b = Half::Bf16;
        assert_eq!(b.round(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(b.round(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
        assert_eq!(b.encode(1.0), 0x3f80);
        assert_eq!(b.round(3.0e38), f32::from_bits(0x7f62_0000));
        // fp16: 65520 (halfway between 65504 and 2^16) overflows to infinity; 2^-24 is the
        // smallest subnormal; 1 + 2^-11 goes to the even 1.
        let h = Half::Fp16;
        assert_eq!(h.round(65504.0), 65504.0);
        assert!(h.round(65520.0).is_infinite());
        assert_eq!(h.round(2f32.powi(-24)), 2f32.powi(-24));
        assert_eq!(h.round(1.0 + 1.0 / 2048.0), 1.0);
        assert_eq!(h.encode(1.0), 0x3c00);
        for f in [Half::Bf16, Half::Fp16] {
            assert!(f.round(f32::NAN).is_nan());
            assert_eq!(f.decode(f.encode(-0.0)).to_bits(), (-0.0f32).to_bits());
            assert!((f.round(0.1) - 0.1).abs() <= 0.1 * f.unit_roundoff() as f32);
        }
    }
}
