//! What the kernels would do on a GPU, from what can be known without one: occupancy from
//! ptxas's resource figures and the CUDA occupancy rules ([`occupancy`]), and memory traffic
//! from the emulator's counters (`device::emu::Counters`, the `emu-counters` build). These
//! are predictions; only a GPU measures time.

pub mod occupancy;
