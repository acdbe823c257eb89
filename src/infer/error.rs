//! [`InferError`]: the typed errors of the embedding API, which the C ABI turns into status
//! codes and the Python module into exceptions.

use thiserror::Error;

/// What can go wrong when opening or running a [`super::Colorizer`]. Each variant's message
/// is one line that says what to fix.
///
/// ```
/// use satcolor::infer::{Colorizer, InferError, Options};
///
/// match Colorizer::open("tests/data/pan-rgb-tiny.safetensors", &Options::new().device("cuda:7")) {
///     Ok(c) => println!("on {}", c.device()),
///     // No GPU 7 here, or a build without CUDA: fall back to the CPU.
///     Err(InferError::Device(msg)) => eprintln!("{msg}"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InferError {
    /// Arrays or settings that cannot be used: a wrong band count or data type, a buffer too
    /// short for its layout, a mask of the wrong size, an overlap not below the window, a
    /// precision the device cannot run.
    #[error("{0}")]
    Input(String),
    /// A checkpoint file that cannot be read (missing, unreadable, a directory).
    #[error("{0}")]
    Io(String),
    /// Bytes that are not a satcolor checkpoint, or a checkpoint that does not fit its model.
    #[error("{0}")]
    Checkpoint(String),
    /// A device that is not `auto`, `cpu`, `emu` or `cuda[:N]`, one that cannot be opened
    /// (no GPU, a build without it).
    #[error("{0}")]
    Device(String),
    /// A failure while running (out of device memory, a kernel error).
    #[error("{0}")]
    Failed(String),
}

impl InferError {
    /// Sorts an engine error by the first cause in its chain that says what it is; the
    /// message is the whole chain on one line.
    pub(crate) fn classify(e: anyhow::Error) -> Self {
        use crate::model::ModelError;
        let msg = format!("{e:#}");
        let engine = |err: &crate::Error, msg: String| match err {
            crate::Error::UnknownDevice(_) | crate::Error::DeviceUnavailable { .. } => {
                InferError::Device(msg)
            }
            crate::Error::Input(_) => InferError::Input(msg),
            _ => InferError::Failed(msg),
        };
        for cause in e.chain() {
            if let Some(err) = cause.downcast_ref::<crate::Error>() {
                return engine(err, msg);
            }
            if let Some(model) = cause.downcast_ref::<ModelError>() {
                return match model {
                    ModelError::Io { .. } => InferError::Io(msg),
                    ModelError::Config(_) | ModelError::Checkpoint { .. } => {
                        InferError::Checkpoint(msg)
                    }
                    ModelError::Engine(err) => engine(err, msg),
                };
            }
            if cause.downcast_ref::<std::io::Error>().is_some() {
                return InferError::Io(msg);
            }
        }
        InferError::Failed(msg)
    }
}
