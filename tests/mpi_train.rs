//! Data-parallel training through `mpirun -np N satcolor train` on the cpu device (Open
//! MPI, as CI installs it): two ranks train as one process does at the same global batch
//! over the same windows, runs resume across rank counts, rank 0 alone writes the run
//! directory, a rank that fails ends every rank with its message instead of a hang, and so
//! does a rank that hangs, after the collective timeout.

#![cfg(all(feature = "cli", feature = "geo", feature = "mpi"))]

use satcolor::model::Checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DATA: &str = "tests/data/s2-rgb-20m.tif";

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("mpi-train")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `satcolor train` with a small U-Net on the Sentinel-2 sample, batch 4, on the cpu.
fn train_args(out: &[&str], steps: u64) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--data",
        DATA,
        "--device",
        "cpu",
        "--preset",
        "unet",
        "--unet-widths",
        "8,16",
        "--window",
        "32",
        "--disc-widths",
        "4,8,8,8,8",
        "--batch",
        "4",
        "--checkpoint-every",
        "3",
        "--log-every",
        "1",
        "--steps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(steps.to_string());
    args.extend(out.iter().map(|s| s.to_string()));
    args
}

/// Runs a command to the end, killing it (and failing) after `limit`.
fn run_with_limit(mut cmd: Command, limit: Duration) -> Output {
    // No standard input (as in CI): mpirun would otherwise forward ours to rank 0.
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun (Open MPI's openmpi-bin) is installed by scripts/setup.sh");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("{cmd:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `mpirun -np N satcolor ARGS` (as root and with more ranks than cores where need be).
fn mpirun(ranks: usize, args: &[String]) -> Output {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_satcolor"))
        .args(args);
    run_with_limit(cmd, Duration::from_secs(300))
}

fn single(args: &[String]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_satcolor"));
    cmd.args(args).env("RAYON_NUM_THREADS", "2");
    run_with_limit(cmd, Duration::from_secs(300))
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The largest relative difference per tensor, ‖a − b‖ / ‖b‖, between two runs' weights
/// (G's and D's parameters) and between their optimizer states (Adam's moments, whose
/// squares double the relative rounding of a gradient).
fn runs_differ(a: &Path, b: &Path) -> (f64, f64) {
    let (a, b) = (
        Checkpoint::load(&a.join("model.safetensors")).unwrap(),
        Checkpoint::load(&b.join("model.safetensors")).unwrap(),
    );
    assert_eq!(a.step, b.step);
    assert_eq!(a.tensors.len(), b.tensors.len());
    let (mut weights, mut state) = (0f64, 0f64);
    for (name, ta) in &a.tensors {
        let tb = &b.tensors[name];
        let (mut diff, mut norm) = (0f64, 0f64);
        for (x, y) in ta.data.iter().zip(&tb.data) {
            diff += (f64::from(*x) - f64::from(*y)).powi(2);
            norm += f64::from(*y).powi(2);
        }
        let rel = if norm > 0.0 {
            (diff / norm).sqrt()
        } else {
            diff.sqrt()
        };
        let worst = if name.starts_with("opt.") {
            &mut state
        } else {
            &mut weights
        };
        *worst = worst.max(rel);
    }
    (weights, state)
}

/// Checks that two runs' weights agree within 1e-6 and their optimizer states within 1e-5.
fn assert_close(a: &Path, b: &Path, what: &str) {
    let (weights, state) = runs_differ(a, b);
    eprintln!("{what}: weights {weights:.2e}, optimizer state {state:.2e}");
    assert!(weights <= 1e-6, "{what}: weights differ by {weights:e}");
    assert!(
        state <= 1e-5,
        "{what}: optimizer states differ by {state:e}"
    );
}

#[test]
fn two_ranks_train_like_one_process_and_resume_across_rank_counts() {
    let dir = scratch("parity");
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    ok(single(&train_args(&["--out", &path("one")], 5)));
    let said = ok(mpirun(2, &train_args(&["--out", &path("two")], 5)));
    // Rank 0 alone reports and writes the log: one line per step.
    assert_eq!(said.matches("trained ").count(), 1, "{said}");
    let log = std::fs::read_to_string(dir.join("two").join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 5, "{log}");
    assert_close(
        &dir.join("two"),
        &dir.join("one"),
        "2 ranks vs 1 process, 5 steps",
    );

    // Resumed on the other rank count: 2 ranks → 1 process, and 1 process → 2 ranks, from
    // the step-3 checkpoint, both to step 6, against one process straight to 6.
    ok(single(&train_args(&["--out", &path("straight")], 6)));
    ok(mpirun(2, &train_args(&["--out", &path("two-one")], 3)));
    ok(single(&[
        "train".into(),
        "--resume".into(),
        path("two-one"),
        "--steps".into(),
        "6".into(),
    ]));
    ok(single(&train_args(&["--out", &path("one-two")], 3)));
    ok(mpirun(
        2,
        &[
            "train".into(),
            "--resume".into(),
            path("one-two"),
            "--steps".into(),
            "6".into(),
        ],
    ));
    for run in ["two-one", "one-two"] {
        assert_close(&dir.join(run), &dir.join("straight"), run);
    }
}

#[test]
fn a_failing_rank_ends_every_rank_and_bad_batches_are_refused() {
    let dir = scratch("failing");
    let out = dir.join("run").to_str().unwrap().to_string();
    // Rank 1 alone gets a memory budget too small to train: it fails at its start while
    // rank 0 goes on to its first collective, which rank 1 will never join.
    let args = train_args(&["--out", &out], 50);
    let mut cmd = Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-np", "1"])
        .arg(env!("CARGO_BIN_EXE_satcolor"))
        .args(&args)
        .args([":", "-np", "1", "-x", "SATCOLOR_MEMORY_BUDGET=1K"])
        .arg(env!("CARGO_BIN_EXE_satcolor"))
        .args(&args);
    let o = run_with_limit(cmd, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("error: rank 1:") && err.contains("memory"),
        "{err}"
    );

    // A global batch the ranks cannot share.
    let mut bad = train_args(&["--out", dir.join("odd").to_str().unwrap()], 5);
    let b = bad.iter().position(|a| a == "--batch").unwrap();
    bad[b + 1] = "3".into();
    let o = mpirun(2, &bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("multiple of 2"), "{err}");
}

#[test]
fn a_hanging_rank_ends_the_run_after_the_collective_timeout() {
    let dir = scratch("hanging");
    // Rank 1 reads its data from a named pipe nobody writes to: it hangs in open() (as on a
    // stalled file system) while rank 0 waits for it in its first collective.
    let fifo = dir.join("stalled.tif");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = dir.join("run").to_str().unwrap().to_string();
    let mut args = train_args(&["--out", &out, "--collective-timeout", "3"], 50);
    let mut cmd = Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-np", "1"])
        .arg(env!("CARGO_BIN_EXE_satcolor"))
        .args(&args)
        .args([":", "-np", "1"]);
    let data = args.iter().position(|a| a == "--data").unwrap();
    args[data + 1] = fifo.to_str().unwrap().into();
    cmd.arg(env!("CARGO_BIN_EXE_satcolor")).args(&args);
    let start = Instant::now();
    let o = run_with_limit(cmd, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("error: rank 0: no reply from the other ranks for 3 s"),
        "{err}"
    );
    // Not before the timeout.
    assert!(start.elapsed() >= Duration::from_secs(3));
}

#[test]
fn emu_ranks_average_their_gradient_spans_like_one_process() {
    // The GPU devices keep each network's gradients in one span and average it through
    // Device::mean_over_ranks (through the host on emu, as on cuda without NCCL).
    let dir = scratch("emu");
    let args = |run: &str| {
        let mut a = train_args(&["--out", dir.join(run).to_str().unwrap()], 3);
        let d = a.iter().position(|x| x == "--device").unwrap();
        a[d + 1] = "emu".into();
        a
    };
    ok(single(&args("one")));
    ok(mpirun(2, &args("two")));
    assert_close(
        &dir.join("two"),
        &dir.join("one"),
        "emu: 2 ranks vs 1 process",
    );
}
