//! The crate's error type: every failure a user can cause or meet (bad input, no GPU,
//! a kernel launch the hardware would reject) is an `Error`, never a panic.

use thiserror::Error;

/// Errors of the satcolor engine.
#[derive(Debug, Error)]
pub enum Error {
    /// A device string that is not `auto`, `cpu`, `emu` or `cuda[:N]`.
    #[error("unknown device '{0}': expected auto, cpu, emu or cuda[:N]")]
    UnknownDevice(String),
    /// The requested device cannot be opened (no driver, no GPU, feature not built).
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable {
        /// The device as the user named it.
        device: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A kernel launch that a real GPU would reject, or that failed while running.
    #[error("kernel {kernel}: {reason}")]
    Kernel {
        /// The kernel's name.
        kernel: String,
        /// What went wrong.
        reason: String,
    },
    /// Buffers whose sizes do not fit the op's shape.
    #[error("{op}: {reason}")]
    Shape {
        /// The op that was called.
        op: &'static str,
        /// Which buffer is wrong and how.
        reason: String,
    },
    /// Any other failure of a device runtime (CUDA driver errors and the like).
    #[error("{0}")]
    Device(String),
}

/// Result type of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
