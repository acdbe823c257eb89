//! Bad input to `satcolor train`: exit code 2, one line on stderr, no panic, and nothing
//! written (no run directory for a new run; a resumed run's directory unchanged). A loss
//! that turns NaN stops training with exit code 1 and keeps the last good checkpoint.
#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use satcolor::model::Checkpoint;
use satcolor::train::run::model_path;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use train_support::{s, scratch, tiny_data, train, train_ok, TINY};

/// Every file under `dir` with its bytes (empty when `dir` does not exist).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Runs `satcolor train ARGS`; checks exit code 2, a one-line `error: ` message containing
/// `expect`, and that `watched` is as before.
fn rejects(what: &str, args: &[String], expect: &str, watched: &Path) {
    let before = snapshot(watched);
    let out = train(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: exit status, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{what}: {stderr}");
    assert!(
        lines[0].contains(expect),
        "{what}: '{expect}' not in: {stderr}"
    );
    assert!(
        before == snapshot(watched),
        "{what}: {} changed",
        watched.display()
    );
}

/// Spoils the checkpoint file at a path.
type Spoil<'a> = Box<dyn Fn(&Path) + 'a>;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// `base` (flag, value pairs) with the flags of `extra` (pairs too) set to their values.
fn with(base: &[String], extra: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for pair in base.chunks(2) {
        if !extra.chunks(2).any(|e| e[0] == pair[0]) {
            out.extend_from_slice(pair);
        }
    }
    out.extend(strings(extra));
    out
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let dir = scratch("errors");
    let data = tiny_data(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dir.join("out");
    let mut base = strings(TINY);
    base.extend(strings(&[
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--steps",
        "2",
    ]));
    let new_run = |extra: &[&str]| with(&base, extra);
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "no data found",
            strings(&["--data", s(&empty), "--out", s(&out), "--device", "cpu"]),
            "no rasters",
        ),
        (
            "missing data",
            strings(&[
                "--data",
                "/no/such/dir",
                "--out",
                s(&out),
                "--device",
                "cpu",
            ]),
            "no such file",
        ),
        ("no --data", strings(&["--out", s(&out)]), "--data"),
        (
            "window larger than every raster",
            new_run(&["--window", "96"]),
            "larger than every raster",
        ),
        (
            "unknown device",
            new_run(&["--device", "tpu"]),
            "unknown device",
        ),
        (
            "GPU that does not work",
            new_run(&["--device", "cuda:4096"]),
            "not available",
        ),
        ("batch 0", new_run(&["--batch", "0"]), "batch"),
        ("steps 0", new_run(&["--steps", "0"]), "--steps"),
        (
            "window not a multiple of 32",
            new_run(&["--window", "40"]),
            "window",
        ),
        ("unknown preset", new_run(&["--preset", "huge"]), "preset"),
        (
            "U-Net widths for the write-up's generator",
            new_run(&["--preset", "small", "--unet-widths", "8,16"]),
            "unet_widths apply to the unet generator only",
        ),
        (
            "a U-Net too deep for the window",
            new_run(&["--preset", "unet", "--unet-widths", "2,2,2,2,2,2,2"]),
            "multiple of 2^(levels − 1) = 64",
        ),
        (
            "a U-Net with the raw head",
            new_run(&["--preset", "unet", "--head", "raw"]),
            "consistent head",
        ),
        (
            "unknown optimizer",
            new_run(&["--optimizer", "lbfgs"]),
            "optimizer",
        ),
        (
            "unknown g-loss",
            new_run(&["--g-loss", "hinge"]),
            "generator loss",
        ),
        ("NaN lr", new_run(&["--lr", "nan"]), "learning rate"),
        (
            "zero max grad norm",
            new_run(&["--max-grad-norm", "0"]),
            "max grad norm",
        ),
        (
            "zero checkpoint period",
            new_run(&["--checkpoint-every", "0"]),
            "checkpoint-every",
        ),
        (
            "eight output bands of RGB data",
            new_run(&["--out-bands", "8"]),
            "bands",
        ),
        (
            "unknown head",
            new_run(&["--head", "relu"]),
            "unknown head 'relu'",
        ),
        ("negative D lr", new_run(&["--d-lr=-0.1"]), "learning rate"),
        (
            "missing held-out rasters",
            new_run(&["--val-data", "/nonexistent/val.tif"]),
            "no such file",
        ),
    ];
    for (what, args, expect) in &cases {
        rejects(what, args, expect, &out);
        assert!(!out.exists(), "{what}: created {}", out.display());
    }
}

#[test]
fn bad_resume_exits_2_with_one_line_and_leaves_the_run_alone() {
    let dir = scratch("resume_errors");
    let data = tiny_data(&dir);
    let run = dir.join("run");
    let mut a = strings(TINY);
    a.extend(strings(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--steps",
        "2",
    ]));
    train_ok(&a);
    let resume_base = strings(&["--resume", s(&run), "--device", "cpu", "--steps", "4"]);
    let resume = |extra: &[&str]| with(&resume_base, extra);
    rejects("a new run over a run", &a, "already holds a run", &run);
    rejects(
        "different window",
        &resume(&["--window", "64"]),
        "model config",
        &run,
    );
    rejects(
        "different preset",
        &resume(&["--preset", "seed"]),
        "model config",
        &run,
    );
    rejects(
        "different optimizer",
        &resume(&["--optimizer", "sgd"]),
        "settings",
        &run,
    );
    rejects(
        "different batch",
        &resume(&["--batch", "3"]),
        "settings",
        &run,
    );
    rejects(
        "different head",
        &resume(&["--head", "raw"]),
        "model config",
        &run,
    );
    rejects("different D lr", &resume(&["--d-lr", "0.5"]), "d_lr", &run);
    rejects(
        "augmentation switched off",
        &resume(&["--augment", "false"]),
        "augment",
        &run,
    );
    rejects(
        "held-out rasters for a run split by rows",
        &resume(&["--val-data", s(&data)]),
        "keeps its split",
        &run,
    );
    rejects(
        "steps before the checkpoint",
        &resume(&["--steps", "1"]),
        "--steps",
        &run,
    );
    rejects("other --out", &resume(&["--out", s(&dir)]), "differ", &run);
    let missing = dir.join("missing");
    rejects(
        "missing run directory",
        &strings(&["--resume", s(&missing)]),
        "no such run directory",
        &dir,
    );
    let empty = dir.join("empty_run");
    std::fs::create_dir_all(&empty).unwrap();
    rejects(
        "no checkpoint",
        &strings(&["--resume", s(&empty)]),
        "no checkpoint",
        &empty,
    );

    // Spoiled checkpoints, each in a copy of the run.
    let bytes = std::fs::read(model_path(&run)).unwrap();
    let ckpt = Checkpoint::load(&model_path(&run)).unwrap();
    let spoiled: Vec<(&str, Spoil, &str)> = vec![
        (
            "truncated checkpoint",
            Box::new(|p: &Path| std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap()),
            "model.safetensors",
        ),
        (
            "not a checkpoint",
            Box::new(|p: &Path| std::fs::write(p, b"hello").unwrap()),
            "model.safetensors",
        ),
        (
            "no training state",
            Box::new(|p: &Path| ckpt.save(p).unwrap()),
            "no 'training' metadata",
        ),
    ];
    for (what, spoil, expect) in spoiled {
        let copy = dir.join(what.replace(' ', "_"));
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::copy(run.join("log.jsonl"), copy.join("log.jsonl")).unwrap();
        spoil(&model_path(&copy));
        rejects(what, &strings(&["--resume", s(&copy)]), expect, &copy);
    }
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let dir = scratch("diverge");
    let data = tiny_data(&dir);
    let run = dir.join("run");
    let mut a = strings(TINY);
    // A learning rate this large overflows the weights within a few steps.
    a.extend(strings(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--steps",
        "40",
        "--checkpoint-every",
        "1",
        "--optimizer",
        "sgd",
        "--lr",
        "1e5",
    ]));
    let out = train(&a);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let line = errors[0];
    assert!(!stderr.contains("panicked"), "{stderr}");
    // "... d_loss is NaN at step N; ... (step N-1)"
    let step: u64 = line
        .split(" at step ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step in: {line}"));
    assert!(
        ["d_loss", "g_loss", "mse"].iter().any(|l| line.contains(l)) && line.contains("NaN")
            || line.contains("inf"),
        "{line}"
    );
    let ckpt = Checkpoint::load(&model_path(&run)).unwrap();
    assert_eq!(ckpt.step, step - 1, "{line}");
    assert!(line.contains(&format!("(step {})", step - 1)), "{line}");
    assert!(
        ckpt.tensors
            .values()
            .all(|t| t.data.iter().all(|v| v.is_finite())),
        "the kept checkpoint has non-finite values"
    );
}

/// The device is what the flag parses to: `--device AUTO` is `auto` (reported as a choice),
/// not a device name compared as typed.
#[test]
fn the_device_is_read_as_parsed() {
    let dir = scratch("train-device-case");
    let data = tiny_data(&dir);
    let mut args = strings(TINY);
    let d = args.iter().position(|a| a == "--device").unwrap();
    args[d + 1] = "AUTO".into();
    args.extend(strings(&[
        "--data",
        s(&data),
        "--out",
        s(&dir.join("run")),
        "--steps",
        "1",
    ]));
    let out = train(&args);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("device auto: chose "), "{said}");
}
