//! What the kernels would do on a GPU, from what can be known without one: occupancy from
//! ptxas's resource figures and the CUDA occupancy rules ([`occupancy`]), memory traffic
//! from the emulator's counters (`device::emu::Counters`, the `emu-counters` build), the
//! useful work of each launch ([`work`]), and a time model over them ([`model`]) for the
//! GPUs of [`gpu`], with the SASS figures build.rs took ([`sass`]), over the launches of a
//! training iteration or an inference batch ([`trace`]), as `satcolor perfmodel` prints them
//! ([`report`]). These are predictions; only a GPU measures time.

pub mod gpu;
#[cfg(feature = "emu")]
pub mod model;
pub mod occupancy;
#[cfg(feature = "emu")]
pub mod report;
#[cfg(feature = "emu")]
pub mod sass;
#[cfg(feature = "emu")]
pub mod trace;
#[cfg(feature = "emu")]
pub mod work;
