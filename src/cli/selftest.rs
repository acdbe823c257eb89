//! `satcolor selftest --device D`: every op's parity check on a device against the f64
//! reference, printed as a table; fails (non-zero exit) if any check fails.

use crate::device::open::{run_on, DeviceVisitor};
use crate::device::precision::Precision;
use crate::device::{Device, DeviceSpec};
use crate::selftest::{format_table, results, run_suite, skipped_ops, CheckResult, Suite};

/// Runs the parity suite on one device and keeps its table.
struct Selftest {
    suite: Suite,
}

impl DeviceVisitor for Selftest {
    type Output = (String, Precision, Vec<CheckResult>, Vec<&'static str>);
    fn visit<D: Device>(self, dev: &D) -> crate::Result<Self::Output> {
        let runs = run_suite(dev, self.suite);
        let skipped = skipped_ops(self.suite, &runs);
        Ok((dev.name(), dev.precision(), results(&runs), skipped))
    }
}

/// Runs the selftest on `spec` with its convolutions in `precision` (the device's default
/// when `None`); `full` runs every case instead of the quick set. Returns an error (after
/// printing the table) when any check fails.
pub fn run(spec: &DeviceSpec, precision: Option<Precision>, full: bool) -> anyhow::Result<()> {
    let suite = if full { Suite::Full } else { Suite::Quick };
    let started = std::time::Instant::now();
    let (name, precision, checks, skipped) = run_on(spec, precision, Selftest { suite })?;
    crate::console::print(&format!(
        "satcolor selftest on {name} ({spec} requested), convolutions in {precision}\n"
    ))?;
    crate::console::print(&format_table(&checks))?;
    if !skipped.is_empty() {
        crate::console::print(&format!(
            "not run: {} (--precision {precision} stores activations in 16 bits and runs G's forward ops only; their inputs are rounded to it, the reference takes the same values)\n",
            skipped.join(", ")
        ))?;
    }
    crate::console::print(&format!("took {:.1} s\n", started.elapsed().as_secs_f64()))?;
    let failed = checks.iter().filter(|c| !c.pass).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} checks failed on {name}", checks.len());
    }
    Ok(())
}
