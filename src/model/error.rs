//! Errors of the model layer: bad hyperparameters, checkpoints that cannot be read or do
//! not fit, file-system failures, and any engine [`Error`](crate::Error) met on the way.

use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong when building, running, saving or loading the networks.
#[derive(Debug, Error)]
pub enum ModelError {
    /// Hyperparameters that do not describe a valid model or training setup.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// A checkpoint that is truncated, corrupt, or does not fit the model.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file (empty when read from memory).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file-system operation that failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error (in the message, not a second link of the chain).
        error: std::io::Error,
    },
    /// An engine error (device, kernel, shape).
    #[error(transparent)]
    Engine(#[from] crate::Error),
}

impl ModelError {
    /// Whether the error comes from the user's input: bad hyperparameters or settings, a
    /// checkpoint that cannot be read or does not fit, a path that cannot be used (see
    /// [`crate::output::is_bad_path`]), or an engine error that is bad input (see
    /// [`crate::Error::is_bad_input`]). Other file-system failures (a full disk) are not.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ModelError::Config(_) | ModelError::Checkpoint { .. } => true,
            ModelError::Io { error, .. } => crate::output::is_bad_path(error),
            ModelError::Engine(e) => e.is_bad_input(),
        }
    }
}

/// Result type of the model and training layers.
pub type ModelResult<T> = std::result::Result<T, ModelError>;

/// Builds a [`ModelError::Config`].
pub(crate) fn config_err(reason: impl Into<String>) -> ModelError {
    ModelError::Config(reason.into())
}
