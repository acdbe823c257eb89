//! Opening the device a user named, and running device-generic code on it.

use super::cpu::CpuDevice;
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

/// Opens the device named by `spec` and runs `v` on it.
///
/// `auto` takes the first CUDA GPU that opens, else the CPU; the chosen device's
/// [`Device::name`] tells the caller which. The GPU executions run the kernel variants of
/// [`super::gpu::variants`], overridden by `SATCOLOR_KERNELS`.
pub fn run_on<V: DeviceVisitor>(spec: &DeviceSpec, v: V) -> Result<V::Output> {
    match spec {
        DeviceSpec::Cpu => v.visit(&CpuDevice::new()),
        DeviceSpec::Auto => {
            #[cfg(feature = "cuda")]
            if let Ok(exec) = super::cuda::CudaExec::new(0) {
                let variants = super::gpu::Variants::from_env()?;
                return v.visit(&super::gpu::GpuDevice::with_variants(exec, variants));
            }
            v.visit(&CpuDevice::new())
        }
        DeviceSpec::Emu => {
            #[cfg(feature = "emu")]
            {
                let variants = super::gpu::Variants::from_env()?;
                let exec = super::emu::EmuExec::new(super::emu::EmuOptions::default())?;
                v.visit(&super::gpu::GpuDevice::with_variants(exec, variants))
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
                let variants = super::gpu::Variants::from_env()?;
                let exec = super::cuda::CudaExec::new(*n)?;
                v.visit(&super::gpu::GpuDevice::with_variants(exec, variants))
            }
            #[cfg(not(feature = "cuda"))]
            Err(crate::Error::DeviceUnavailable {
                device: format!("cuda:{n}"),
                reason: "this build has no CUDA support (built without the `cuda` feature)".into(),
            })
        }
    }
}
