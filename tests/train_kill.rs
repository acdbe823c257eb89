//! Kill safety: `satcolor train --checkpoint-every 1` is killed (SIGKILL) at seeded random
//! moments; after each kill what is left loads (`model.safetensors` when it exists, the
//! run's resume point), and the run resumes. The run finished through kills and resumes ends
//! with the same checkpoint, bit for bit, as a run never killed, and a log without gaps.
#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use rand::{Rng, SeedableRng};
use satcolor::model::Checkpoint;
use satcolor::train::run::{log_path, model_path, read_log, read_run};
use std::path::Path;
use std::time::{Duration, Instant};

use train_support::{s, scratch, tensor_bits, tiny_data, train_cmd, train_ok, TINY};

const STEPS: u64 = 24;

/// Names of the files under `dir` that look like leftovers of atomic writes.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["", "checkpoints", "samples"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    out.push(format!("{sub}/{name}"));
                }
            }
        }
    }
    out
}

#[test]
fn killed_runs_leave_a_loadable_checkpoint_and_resume_exactly() {
    let dir = scratch("kill");
    let data = tiny_data(&dir);
    let (run, reference) = (dir.join("run"), dir.join("reference"));
    let steps = STEPS.to_string();
    let fresh = |out: &Path| {
        let mut a: Vec<String> = TINY.iter().map(|v| v.to_string()).collect();
        a.extend(
            [
                "--data",
                s(&data),
                "--out",
                s(out),
                "--optimizer",
                "adam",
                "--checkpoint-every",
                "1",
                "--steps",
                &steps,
            ]
            .map(String::from),
        );
        a
    };
    let resume: Vec<String> = ["--resume", s(&run), "--device", "cpu"]
        .map(String::from)
        .to_vec();
    let t = Instant::now();
    train_ok(&fresh(&reference));
    // Kill moments are drawn over the length of a whole run, however fast the machine is.
    let whole_run = t.elapsed();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let mut kills = 0;
    let mut seen_steps = Vec::new();
    for round in 0..30 {
        let args = if model_path(&run).exists() {
            resume.clone()
        } else {
            fresh(&run)
        };
        let mut child = train_cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let wait = whole_run.mul_f64(rng.random_range(0.02..0.35));
        let t = Instant::now();
        let mut finished = false;
        while t.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !finished {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        if model_path(&run).exists() {
            let ckpt = Checkpoint::load(&model_path(&run))
                .unwrap_or_else(|e| panic!("round {round} ({wait:?}): {e}"));
            let (resumable, _) = read_run(&run).unwrap();
            assert_eq!(resumable.step, ckpt.step);
            seen_steps.push(ckpt.step);
            if ckpt.step == STEPS || kills == 6 {
                break;
            }
        }
    }
    println!("{kills} kills; checkpoints found at steps {seen_steps:?}");
    assert!(
        kills >= 2,
        "the runs finished before being killed: no kill tested"
    );
    assert!(
        seen_steps.iter().any(|&s| s > 0 && s < STEPS),
        "no kill landed in the middle of training: {seen_steps:?}"
    );
    if !model_path(&run).exists() {
        train_ok(&fresh(&run));
    }
    train_ok(&resume);
    assert!(
        temporaries(&run).is_empty(),
        "left over: {:?}",
        temporaries(&run)
    );
    assert_eq!(
        tensor_bits(&model_path(&run)),
        tensor_bits(&model_path(&reference))
    );
    let steps: Vec<u64> = read_log(&log_path(&run))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect();
    assert_eq!(steps, (1..=STEPS).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}
