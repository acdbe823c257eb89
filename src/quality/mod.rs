//! The real-imagery benchmark: reproducible tasks built from the Sentinel-2 scene and the
//! sample raster ([`tasks`]), trained and scored end to end against the gray and linear
//! baselines ([`mod@bench`]); `satcolor quality` and `satcolor demo` run it.

pub mod bench;
pub mod sweep;
pub mod tasks;

pub use bench::{check_flags, run_task, table, TaskResult};
pub use tasks::Task;
