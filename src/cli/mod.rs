//! The subcommands of the `satcolor` command line, one module each.

#[cfg(feature = "geo")]
pub mod colorize;
#[cfg(feature = "geo")]
pub mod demo;
#[cfg(feature = "geo")]
pub mod eval;
pub mod info;
#[cfg(feature = "geo")]
pub mod mosaic;
#[cfg(feature = "emu")]
pub mod perfmodel;
#[cfg(feature = "geo")]
pub mod quality;
pub mod selftest;
#[cfg(feature = "geo")]
pub mod splitview;
#[cfg(feature = "geo")]
pub mod synth;
#[cfg(feature = "geo")]
pub mod train;

/// The process's peak resident memory in bytes (Linux: `VmHWM` of /proc/self/status).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
