//! The subcommands of the `satcolor` command line, one module each.

pub mod info;
pub mod selftest;
#[cfg(feature = "geo")]
pub mod splitview;
#[cfg(feature = "geo")]
pub mod synth;
#[cfg(feature = "geo")]
pub mod train;
