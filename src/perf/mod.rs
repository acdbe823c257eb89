//! What the kernels would do on a GPU, from what can be known without one. These are
//! predictions; only a GPU measures time.
//!
//! - [`occupancy`]: blocks per SM from ptxas's figures and the CUDA occupancy rules;
//! - [`work`]: the useful FLOPs and bytes of a launch, from its named arguments;
//! - [`record`]: an executor wrapper that keeps the launches of a GPU or the emulator;
//! - [`gpu`]: the published figures of the GPUs predicted for;
//! - with the emulator (`emu`): [`trace`] runs a training iteration or an inference batch
//!   on the counting emulator (`emu-counters` build: sectors, wavefronts, barriers),
//!   [`sass`] reads the SASS loop figures build.rs took, [`model`] predicts each launch's
//!   time, and [`report`] gathers them as `satcolor perfmodel` prints them.

pub mod gpu;
#[cfg(feature = "emu")]
pub mod model;
pub mod occupancy;
pub mod record;
#[cfg(feature = "emu")]
pub mod report;
#[cfg(feature = "emu")]
pub mod sass;
#[cfg(feature = "emu")]
pub mod trace;
pub mod work;
