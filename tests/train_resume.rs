//! `satcolor train --resume`: 2N steps in one run and N steps + resume + N steps give
//! bit-identical checkpoints (weights and optimizer state) on the CPU, with SGD (and the
//! raw head) and Adam (with held-out rasters, D's own learning rate and no augmentation);
//! the resumed log is cut back to the checkpoint and continues without gaps.
#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use satcolor::train::run::{log_path, model_path, read_log};
use std::io::Write;
use train_support::{s, scratch, tensor_bits, tiny_data, train_ok, TINY};

fn resume_is_bit_exact(name: &str, optimizer: &str, extra: &[&str]) {
    let dir = scratch(&format!("resume_{name}"));
    let data = tiny_data(&dir);
    let val = dir.join("val");
    satcolor::synth::write_scenes(
        &val,
        &satcolor::synth::SynthOptions {
            scenes: 1,
            size: 64,
            seed: 70,
        },
    )
    .unwrap();
    let extra: Vec<String> = extra
        .iter()
        .map(|&e| if e == "VAL" { s(&val) } else { e }.to_string())
        .collect();
    let (whole, halves) = (dir.join("whole"), dir.join("halves"));
    let common = |out: &std::path::Path, steps: &'static str| {
        // TINY's flag and value pairs, but for those the extra flags set.
        let mut a: Vec<String> = TINY
            .chunks(2)
            .filter(|pair| !extra.contains(&pair[0].to_string()))
            .flatten()
            .map(|v| v.to_string())
            .collect();
        a.extend(
            [
                "--data",
                s(&data),
                "--out",
                s(out),
                "--optimizer",
                optimizer,
                "--lr",
                "0.01",
                "--max-grad-norm",
                "5",
                "--checkpoint-every",
                "4",
                "--steps",
                steps,
            ]
            .map(String::from),
        );
        a.extend(extra.iter().cloned());
        a
    };
    train_ok(&common(&whole, "8"));
    train_ok(&common(&halves, "4"));
    let (step, half) = tensor_bits(&model_path(&halves));
    assert_eq!(step, 4);
    // What a kill after logging but before the next checkpoint leaves: a record past the
    // checkpoint and a torn line. Both must go.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(log_path(&halves))
        .unwrap();
    write!(log, "{{\"step\":5,\"d_loss\":9,\"g_loss\":9,\"mse\":9,\"lambda_g\":9,\"samples_per_s\":1}}\n{{\"step\":6,\"d_lo").unwrap();
    drop(log);
    train_ok(&["--resume", s(&halves), "--steps", "8", "--device", "cpu"]);

    let (step_a, a) = tensor_bits(&model_path(&whole));
    let (step_b, b) = tensor_bits(&model_path(&halves));
    assert_eq!((step_a, step_b), (8, 8));
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().any(|(n, _)| n.starts_with("opt.")),
        "no optimizer state saved"
    );
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(va == vb, "{optimizer}: tensor {na} differs after resume");
    }
    // Training moved the weights, so equality above is not trivial.
    let moved = half
        .iter()
        .zip(&a)
        .filter(|((n, _), _)| !n.starts_with("opt."))
        .any(|((_, h), (_, w))| h != w);
    assert!(moved, "steps 5..8 changed no weight");

    let (la, lb) = (
        read_log(&log_path(&whole)).unwrap(),
        read_log(&log_path(&halves)).unwrap(),
    );
    let steps: Vec<u64> = lb.iter().map(|r| r.step).collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>());
    for (ra, rb) in la.iter().zip(&lb) {
        let key = |r: &satcolor::train::LogRecord| {
            [r.d_loss, r.g_loss, r.mse, r.lambda_g].map(f32::to_bits)
        };
        assert_eq!(key(ra), key(rb), "log records of step {} differ", ra.step);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sgd_resume_is_bit_exact() {
    resume_is_bit_exact("sgd", "sgd", &["--head", "raw"]);
}

#[test]
fn unet_resume_is_bit_exact() {
    resume_is_bit_exact(
        "unet",
        "adam",
        &["--preset", "unet", "--unet-widths", "3,4,5"],
    );
}

#[test]
fn adam_resume_is_bit_exact() {
    resume_is_bit_exact(
        "adam",
        "adam",
        &["--d-lr", "0.02", "--augment", "false", "--val-data", "VAL"],
    );
}
