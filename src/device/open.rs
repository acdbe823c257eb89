//! Opening the device a user named, and running device-generic code on it.

use super::cpu::CpuDevice;
use super::precision::Precision;
use super::{Device, DeviceSpec};
use crate::Result;

/// Code that runs on any [`Device`]; [`run_on`] opens the device and calls it.
///
/// A trait rather than a closure because the code is generic over the device type.
pub trait DeviceVisitor {
    /// What the code returns.
    type Output;
    /// Runs on `dev`.
    fn visit<D: Device>(self, dev: &D) -> Result<Self::Output>;
}

/// Opens the device named by `spec`, computing its convolutions in `precision` (its
/// default when `None`: [`Precision::resolve`]), and runs `v` on it.
///
/// `auto` takes the first CUDA GPU that opens, else the CPU; the chosen device's
/// [`Device::name`] tells the caller which. The GPU executions run the kernel variants of
/// [`super::gpu::variants`], overridden by `SATCOLOR_KERNELS`. A precision the device
/// cannot run is an error before anything runs.
pub fn run_on<V: DeviceVisitor>(
    spec: &DeviceSpec,
    precision: Option<Precision>,
    v: V,
) -> Result<V::Output> {
    let cpu = |v: V| {
        Precision::resolve(precision, "the cpu device", false, false)?;
        v.visit(&CpuDevice::new())
    };
    match spec {
        DeviceSpec::Cpu => cpu(v),
        DeviceSpec::Auto => {
            #[cfg(feature = "cuda")]
            if let Ok(exec) = super::cuda::CudaExec::new(0) {
                return visit_cuda(exec, precision, v);
            }
            cpu(v)
        }
        DeviceSpec::Emu => {
            #[cfg(feature = "emu")]
            {
                let variants = super::gpu::Variants::from_env()?;
                let exec = super::emu::EmuExec::new(super::emu::EmuOptions::default())?;
                let p = Precision::resolve(precision, "emu", true, false)?;
                v.visit(&super::gpu::GpuDevice::with_variants(exec, variants).with_precision(p))
            }
            #[cfg(not(feature = "emu"))]
            Err(crate::Error::DeviceUnavailable {
                device: spec.to_string(),
                reason: "this build has no emulator (built without the `emu` feature)".into(),
            })
        }
        DeviceSpec::Cuda(n) => {
            #[cfg(feature = "cuda")]
            {
                let exec = super::cuda::CudaExec::new(*n)?;
                visit_cuda(exec, precision, v)
            }
            #[cfg(not(feature = "cuda"))]
            Err(crate::Error::DeviceUnavailable {
                device: format!("cuda:{n}"),
                reason: "this build has no CUDA support (built without the `cuda` feature)".into(),
            })
        }
    }
}

/// Runs `v` on a CUDA GPU: TF32 by default from compute capability 8.0 on.
#[cfg(feature = "cuda")]
fn visit_cuda<V: DeviceVisitor>(
    exec: super::cuda::CudaExec,
    precision: Option<Precision>,
    v: V,
) -> Result<V::Output> {
    let variants = super::gpu::Variants::from_env()?;
    let tensor_cores = exec.info().compute_capability.0 >= 8;
    let p = Precision::resolve(precision, &exec.info().name, tensor_cores, tensor_cores)?;
    v.visit(&super::gpu::GpuDevice::with_variants(exec, variants).with_precision(p))
}
