//! Support shared by the tests that run the binary (`satcolor train`, `colorize`, `eval`):
//! tiny synthetic data, the tiny model's flags, running the built binary, and reading
//! checkpoints bit for bit.

use satcolor::model::Checkpoint;
use satcolor::synth::{write_scenes, SynthOptions};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Flags of a tiny model and run: the write-up's generator with few filters, 32×32
/// windows, batch 2, on the CPU.
pub const TINY: &[&str] = &[
    "--device",
    "cpu",
    "--preset",
    "small",
    "--batch",
    "2",
    "--window",
    "32",
    "--filters",
    "4",
    "--kernel",
    "3",
    "--disc-widths",
    "4,4,8,8,8",
    "--log-every",
    "1",
];

/// A fresh, empty directory for test `name` under Cargo's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Three synthetic 64×64 scenes (two to train on, one held out) in `dir/data`.
pub fn tiny_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    write_scenes(
        &data,
        &SynthOptions {
            scenes: 3,
            size: 64,
            seed: 7,
        },
    )
    .unwrap();
    data
}

/// `satcolor ARGS` (RAYON_NUM_THREADS=2, so that timings do not depend on the host).
pub fn satcolor_cmd<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_satcolor"));
    cmd.args(args).env("RAYON_NUM_THREADS", "2");
    cmd
}

/// Runs `satcolor ARGS` to the end.
pub fn satcolor<S: AsRef<OsStr>>(args: &[S]) -> Output {
    satcolor_cmd(args).output().unwrap()
}

/// `satcolor train ARGS`.
pub fn train_cmd<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = satcolor_cmd(&["train"]);
    cmd.args(args);
    cmd
}

/// Runs `satcolor train ARGS` to the end.
pub fn train<S: AsRef<OsStr>>(args: &[S]) -> Output {
    train_cmd(args).output().unwrap()
}

/// Runs `satcolor train ARGS` and fails the test unless it succeeds.
pub fn train_ok<S: AsRef<OsStr>>(args: &[S]) {
    let out = train(args);
    let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(
        out.status.success(),
        "satcolor train {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every tensor of a checkpoint as raw f32 bits, by name, and its step.
pub fn tensor_bits(path: &Path) -> (u64, Vec<(String, Vec<u32>)>) {
    let ckpt = Checkpoint::load(path).unwrap();
    let bits = ckpt
        .tensors
        .iter()
        .map(|(name, t)| (name.clone(), t.data.iter().map(|v| v.to_bits()).collect()))
        .collect();
    (ckpt.step, bits)
}

/// A path as the &str the command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
