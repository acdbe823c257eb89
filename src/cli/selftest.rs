//! `satcolor selftest --device D`: every op's parity check on a device against the f64
//! reference, printed as a table, and on GPU devices launch-graph replay against op-by-op
//! launches ([`crate::train::graphs`]); fails (non-zero exit) if any check fails.

use crate::device::open::{run_on, DeviceVisitor};
use crate::device::precision::Precision;
use crate::device::{Device, DeviceSpec};
use crate::selftest::{cases, format_table, results, run_suite, skipped_ops, CheckResult, Suite};
use crate::train::graphs::{compare_graph_replay, graph_models, GraphCheck};

/// Runs the parity suite on one device and keeps its table.
struct Selftest {
    suite: Suite,
}

/// What the selftest found on one device.
struct Report {
    name: String,
    precision: Precision,
    checks: Vec<CheckResult>,
    skipped: Vec<&'static str>,
    /// The launch-graph checks, or why they did not run.
    graphs: Result<Vec<GraphCheck>, String>,
}

impl DeviceVisitor for Selftest {
    type Output = Report;
    fn visit<D: Device>(self, dev: &D) -> crate::Result<Self::Output> {
        let runs = run_suite(dev, self.suite);
        let skipped = skipped_ops(&cases(self.suite), &runs);
        let graphs = if !dev.has_graphs() {
            Err("not run: the device runs ops directly (no launch graphs)".into())
        } else if dev.precision().check_training().is_err() {
            Err(format!(
                "not run: --precision {} does not train",
                dev.precision()
            ))
        } else {
            graph_models()
                .into_iter()
                .map(|(name, cfg)| compare_graph_replay(dev, name, &cfg, GRAPH_STEPS))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("failed: {e}"))
        };
        Ok(Report {
            name: dev.name(),
            precision: dev.precision(),
            checks: results(&runs),
            skipped,
            graphs,
        })
    }
}

/// Iterations of each launch-graph check (one op by op, one recorded, the rest replayed).
const GRAPH_STEPS: usize = 5;

/// Runs the selftest on `spec` with its convolutions in `precision` (the device's default
/// when `None`); `full` runs every case instead of the quick set. Returns an error (after
/// printing the table) when any check fails.
pub fn run(spec: &DeviceSpec, precision: Option<Precision>, full: bool) -> anyhow::Result<()> {
    let suite = if full { Suite::Full } else { Suite::Quick };
    let started = std::time::Instant::now();
    let Report {
        name,
        precision,
        checks,
        skipped,
        graphs,
    } = run_on(spec, precision, Selftest { suite })?;
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
    let mut graph_failures = 0;
    match &graphs {
        Ok(list) => {
            for c in list {
                let verdict = if c.identical {
                    "identical, bit for bit".to_string()
                } else {
                    graph_failures += 1;
                    format!("DIFFERENT (largest difference {:.3e})", c.max_diff)
                };
                crate::console::print(&format!(
                    "launch graphs, {} model: {} iterations, {} replayed, against op-by-op launches: {verdict}\n",
                    c.model, c.steps, c.replayed
                ))?;
            }
        }
        Err(why) => {
            if why.starts_with("failed") {
                graph_failures += 1;
            }
            crate::console::print(&format!("launch graphs: {why}\n"))?;
        }
    }
    // The data-parallel ranks' averaging in GPU memory, on the GPUs of this machine.
    let (nccl_checks, nccl_failures) = if name.starts_with("cuda") {
        nccl_report()?
    } else {
        (0, 0)
    };
    crate::console::print(&format!("took {:.1} s\n", started.elapsed().as_secs_f64()))?;
    let failed = checks.iter().filter(|c| !c.pass).count() + graph_failures + nccl_failures;
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} checks failed on {name}",
            checks.len() + graphs.as_ref().map_or(0, |g| g.len()) + nccl_checks
        );
    }
    Ok(())
}

/// Averages a buffer over this machine's GPUs (up to 8) with NCCL, as data-parallel cuda
/// ranks do ([`crate::device::cuda::check_nccl`]), and prints the result. Returns the
/// number of checks run and failed.
#[cfg(feature = "cuda")]
fn nccl_report() -> anyhow::Result<(usize, usize)> {
    use crate::device::cuda;
    if !crate::device::nccl::Comm::available() {
        crate::console::print(
            "NCCL: not run: libnccl.so (2.10 or newer) not found; data-parallel cuda ranks \
             would average their gradients through the host\n",
        )?;
        return Ok((0, 0));
    }
    let gpus = cuda::probe()?.gpus.len().min(8);
    let ordinals: Vec<usize> = (0..gpus).collect();
    let (line, failed) =
        match cuda::check_nccl(&ordinals) {
            Ok(c) => {
                let pass = c.identical && c.max_rel_err <= 1e-6;
                (
                    format!(
                    "NCCL all-reduce (ncclAvg) over {} GPU(s), {} values each: largest relative \
                     error {:.2e} (limit 1e-6), {} on every GPU: {}{}",
                    c.gpus,
                    c.len,
                    c.max_rel_err,
                    if c.identical { "the same bits" } else { "DIFFERENT bits" },
                    if pass { "pass" } else { "FAIL" },
                    if c.gpus == 1 {
                        " (one GPU: the wiring only; ranks need two)"
                    } else {
                        ""
                    }
                ),
                    usize::from(!pass),
                )
            }
            Err(e) => (format!("NCCL all-reduce over {gpus} GPU(s): FAIL: {e}"), 1),
        };
    crate::console::print(&format!("{line}\n"))?;
    Ok((1, failed))
}

/// Without the `cuda` feature there is no cuda device to check.
#[cfg(not(feature = "cuda"))]
fn nccl_report() -> anyhow::Result<(usize, usize)> {
    Ok((0, 0))
}
