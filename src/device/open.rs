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

/// Code that takes ownership of any [`Device`]; [`open`] opens the device and hands it over
/// (the embedding API keeps it: [`crate::infer::Colorizer`]).
pub trait DeviceTaker {
    /// What the code returns.
    type Output;
    /// Takes `dev`.
    fn take<D>(self, dev: D) -> Result<Self::Output>
    where
        D: Device + Send + Sync + 'static,
        D::Buf: Send,
        D::Graph: Send;
}

/// Opens the device named by `spec`, computing its convolutions in `precision` (its
/// default when `None`: [`Precision::resolve`]), and runs `v` on it.
///
/// See [`open`] for how the device is chosen.
pub fn run_on<V: DeviceVisitor>(
    spec: &DeviceSpec,
    precision: Option<Precision>,
    v: V,
) -> Result<V::Output> {
    /// Lends the opened device to a visitor.
    struct Lend<V>(V);
    impl<V: DeviceVisitor> DeviceTaker for Lend<V> {
        type Output = V::Output;
        fn take<D: Device>(self, dev: D) -> Result<V::Output> {
            self.0.visit(&dev)
        }
    }
    open(spec, precision, Lend(v))
}

/// Opens the device named by `spec`, computing its convolutions in `precision` (its
/// default when `None`: [`Precision::resolve`]), and hands it to `t`.
///
/// `auto` takes the first CUDA GPU that opens, else the CPU; the chosen device's
/// [`Device::name`] tells the caller which. The GPU executions run the kernel variants of
/// [`super::gpu::variants`], overridden by `SATCOLOR_KERNELS`. A precision the device
/// cannot run is an error before anything runs.
pub fn open<T: DeviceTaker>(
    spec: &DeviceSpec,
    precision: Option<Precision>,
    v: T,
) -> Result<T::Output> {
    let cpu = |v: T| {
        Precision::resolve(precision, "the cpu device", false, false)?;
        v.take(CpuDevice::new())
    };
    match spec {
        DeviceSpec::Cpu => cpu(v),
        DeviceSpec::Auto => {
            #[cfg(feature = "cuda")]
            if let Ok(exec) = super::cuda::CudaExec::new(0) {
                return take_cuda(exec, precision, v);
            }
            cpu(v)
        }
        DeviceSpec::Emu => {
            #[cfg(feature = "emu")]
            {
                let variants = super::gpu::Variants::from_env()?;
                let exec = super::emu::EmuExec::new(super::emu::EmuOptions::default())?;
                let p = Precision::resolve(precision, "emu", true, false)?;
                v.take(super::gpu::GpuDevice::with_variants(exec, variants).with_precision(p))
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
                take_cuda(exec, precision, v)
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
fn take_cuda<T: DeviceTaker>(
    exec: super::cuda::CudaExec,
    precision: Option<Precision>,
    v: T,
) -> Result<T::Output> {
    let variants = super::gpu::Variants::from_env()?;
    let tensor_cores = exec.info().compute_capability.0 >= 8;
    let p = Precision::resolve(precision, &exec.info().name, tensor_cores, tensor_cores)?;
    v.take(super::gpu::GpuDevice::with_variants(exec, variants).with_precision(p))
}
