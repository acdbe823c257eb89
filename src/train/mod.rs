//! Training: one iteration of the GAN ([`step::Trainer`]), the optimizers on the device
//! ([`optim`]), gradient clipping ([`clip`]), launch graphs checked against op-by-op launches
//! ([`graphs`]), the schedule of the generator's MSE weight
//! ([`schedule`]), the training windows ([`data`]), and a whole training run in a run
//! directory ([`run`]) with its log ([`log`]), loss plot (`plot`, feature `plots`) and sample grids
//! ([`samples`]).

pub mod clip;
pub mod data;
pub mod defaults;
pub mod graphs;
pub mod log;
pub mod optim;
#[cfg(feature = "plots")]
pub mod plot;
#[cfg(feature = "geo")]
pub mod run;
pub mod samples;
pub mod schedule;
pub mod step;
pub mod validate;

pub use clip::GradClip;
pub use log::{LogRecord, ValScores};
pub use optim::{Optimizer, OptimizerConfig};
#[cfg(feature = "plots")]
pub use plot::plot_losses;
pub use samples::write_sample_grid;
pub use schedule::lambda_g;
pub use step::{StepLosses, Trainer};
