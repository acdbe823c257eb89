//! Training: one iteration of the GAN ([`step::Trainer`]), the optimizers on the device
//! ([`optim`]), the schedule of the generator's MSE weight ([`schedule`]) and the
//! training windows ([`data`]).

pub mod data;
pub mod optim;
pub mod schedule;
pub mod step;

pub use optim::{Optimizer, OptimizerConfig, DEFAULT_LR};
pub use schedule::lambda_g;
pub use step::{StepLosses, Trainer};
