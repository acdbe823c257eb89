//! The two networks of the model specification (shared/spec/model.md): the generator
//! [`Generator`] and the discriminator [`Discriminator`], with hand-coded backward passes
//! over any [`Device`](crate::device::Device), their hyperparameters ([`ModelConfig`],
//! [`LossConfig`]), named parameter tensors ([`Params`]) and [`Checkpoint`]s.
//!
//! Every device buffer a network uses is allocated when it is built for a batch size;
//! forward and backward passes allocate nothing on the device.

pub mod checkpoint;
pub mod config;
pub mod discriminator;
pub mod error;
pub mod generator;
pub mod head;
pub mod init;
pub mod normalization;
pub mod outer;
pub mod param;
pub mod unet;

pub use checkpoint::Checkpoint;
pub use config::{AdvLoss, GeneratorKind, Head, LossConfig, ModelConfig};
pub use discriminator::{Discriminator, GradMode};
pub use error::{ModelError, ModelResult};
pub use generator::Generator;
pub use head::{HeadTensors, PixelStats};
pub use normalization::{Bands, Normalization};
pub use param::{HostTensor, ParamSpec, Params};
