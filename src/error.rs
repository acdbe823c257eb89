//! The crate's error type: every failure a user can cause or meet (bad input, no GPU,
//! a kernel launch the hardware would reject) is an `Error`, never a panic.
//!
//! The model and data layers have error types of their own
//! ([`ModelError`](crate::model::ModelError), [`DataError`](crate::train::data::DataError),
//! `geo::RasterError`); each says whether it is bad input, and [`is_bad_input`] asks the
//! whole chain of an error, which is how the command line picks its exit code.

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
    /// Input the user gave that cannot be used (command-line settings that contradict each
    /// other or a run directory, and the like); the message says what to fix.
    #[error("{0}")]
    Input(String),
}

impl Error {
    /// Whether the error comes from the user's input (a device name, a device that does not
    /// work, a bad setting) rather than from a failure while working.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::UnknownDevice(_) | Error::DeviceUnavailable { .. } | Error::Input(_)
        )
    }
}

/// Whether any error in the chain of `e` is bad input (see [`Error::is_bad_input`], `geo::RasterError::is_bad_input`,
/// [`ModelError::is_bad_input`](crate::model::ModelError::is_bad_input),
/// [`DataError::is_bad_input`](crate::train::data::DataError::is_bad_input),
/// [`output::is_bad_path`](crate::output::is_bad_path) for OS errors). The command
/// line exits with code 2 for these and 1 for other failures.
pub fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let engine = cause
            .downcast_ref::<Error>()
            .is_some_and(Error::is_bad_input);
        let model = cause
            .downcast_ref::<crate::model::ModelError>()
            .is_some_and(crate::model::ModelError::is_bad_input);
        let data = cause
            .downcast_ref::<crate::train::data::DataError>()
            .is_some_and(crate::train::data::DataError::is_bad_input);
        #[cfg(feature = "geo")]
        let raster = cause
            .downcast_ref::<crate::geo::RasterError>()
            .is_some_and(crate::geo::RasterError::is_bad_input);
        #[cfg(not(feature = "geo"))]
        let raster = false;
        let path = cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(crate::output::is_bad_path);
        engine || model || data || raster || path
    })
}

/// Result type of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
