//! A training run through the library (`satcolor::train::run::train`): the run directory's
//! files (latest checkpoint with the spec's metadata plus the training state, periodic
//! checkpoints pruned to the last few, log, loss plot, sample grids) and no device
//! allocation after the first step, with clipping, checkpoints and samples in the loop.
#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use safetensors::SafeTensors;
use satcolor::device::precision::Precision;
use satcolor::device::DeviceSpec;
use satcolor::model::{Checkpoint, LossConfig, ModelConfig, Normalization};
use satcolor::train::run::{
    log_path, model_path, read_log, read_run, train, RunSpec, Schedule, Silent, TrainSettings,
    KEEP_CHECKPOINTS, TRAINING_KEY,
};
use std::path::Path;
use train_support::{scratch, tiny_data};

fn tiny() -> ModelConfig {
    ModelConfig {
        window: 32,
        filters: 4,
        kernel: 3,
        disc_widths: vec![4, 4, 8, 8, 8],
        ..ModelConfig::small()
    }
}

fn spec(dir: &Path, data: &Path, device: DeviceSpec, steps: u64) -> RunSpec {
    RunSpec {
        dir: dir.to_path_buf(),
        device,
        precision: None,
        graphs: false,
        config: tiny(),
        settings: TrainSettings {
            data: vec![data.to_path_buf()],
            batch: 3,
            optimizer: "adam".into(),
            lr: 1e-3,
            loss: LossConfig::default(),
            seed: 9,
            max_grad_norm: Some(1.0),
            val_fraction: 0.1,
            max_nodata: 0.01,
            bands: None,
            d_lr: None,
            augment: true,
            val_data: Vec::new(),
        },
        schedule: Schedule {
            steps,
            checkpoint_every: 2,
            log_every: 3,
            sample_every: 3,
        },
        resume: None,
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_cpu_run_writes_its_directory_and_does_not_allocate_in_the_loop() {
    let dir = scratch("run_cpu");
    let data = tiny_data(&dir);
    let run = dir.join("run");
    let summary = train(spec(&run, &data, DeviceSpec::Cpu, 9), &mut Silent).unwrap();
    assert_eq!(summary.step, 9);
    assert!(summary.last.unwrap().is_finite());
    assert_eq!(
        summary.loop_allocations, 0,
        "the training loop allocated on the device"
    );

    assert_eq!(
        names(&run),
        [
            "checkpoints",
            "log.jsonl",
            "loss.png",
            "model.safetensors",
            "samples",
            "train.lock"
        ]
    );
    // Checkpoints at 2, 4, 6, 8 and the end (9); the last KEEP_CHECKPOINTS stay.
    assert_eq!(KEEP_CHECKPOINTS, 3);
    assert_eq!(
        names(&run.join("checkpoints")),
        [
            "step-6.safetensors",
            "step-8.safetensors",
            "step-9.safetensors"
        ]
    );
    assert_eq!(
        names(&run.join("samples")),
        ["step-3.png", "step-6.png", "step-9.png"]
    );
    // Records every 3 steps, and at each checkpoint (2, 4, 6, 8, 9) with the held-out
    // scores (the data holds out one scene).
    let log = read_log(&log_path(&run)).unwrap();
    let steps: Vec<u64> = log.iter().map(|r| r.step).collect();
    assert_eq!(steps, [2, 3, 4, 6, 8, 9]);
    for r in &log {
        let val = r.val.as_ref();
        assert_eq!(
            val.is_some(),
            r.step % 2 == 0 || r.step == 9,
            "step {}",
            r.step
        );
        if let Some(v) = val {
            assert!(v.psnr_db.is_finite() && v.linear_psnr_db.is_finite());
            assert!(v.gray_psnr_db.is_some() && v.real_colorfulness.unwrap() > 0.0);
        }
    }
    assert_eq!(
        std::fs::read(run.join("checkpoints/step-9.safetensors")).unwrap(),
        std::fs::read(model_path(&run)).unwrap()
    );

    // The spec's metadata as it is, plus the training state.
    let bytes = std::fs::read(model_path(&run)).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut keys: Vec<String> = header.metadata().clone().unwrap().into_keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bands",
            "config",
            "format",
            "normalization",
            "step",
            TRAINING_KEY
        ]
    );
    let ckpt = Checkpoint::load(&model_path(&run)).unwrap();
    assert_eq!((ckpt.step, &ckpt.config), (9, &tiny()));
    // The consistent head was fitted to the training data, whose gray is the luma of its
    // targets: the sensor model is the luma weights.
    let head = satcolor::model::HeadTensors::from_tensors(&ckpt.tensors, &ckpt.config).unwrap();
    for (got, want) in head.sensor_weight.iter().zip([0.299, 0.587, 0.114]) {
        assert!((got - want).abs() < 1e-4, "{:?}", head.sensor_weight);
    }
    assert!(head.sensor_bias[0].abs() < 1e-4);
    assert_eq!(ckpt.normalization, Normalization::byte(&tiny()));
    assert_eq!(ckpt.optimizer_slots(), ["exp_avg", "exp_avg_sq"]);
    let (_, state) = read_run(&run).unwrap();
    assert_eq!(state.sampler.batches, 9);
    assert_eq!(state.settings.max_grad_norm, Some(1.0));
}

#[cfg(feature = "emu")]
#[test]
fn an_emulated_run_trains_in_tf32_without_allocating_in_the_loop_and_logs_it() {
    let dir = scratch("run_emu");
    let data = tiny_data(&dir);
    let run = dir.join("run");
    let mut s = spec(&run, &data, DeviceSpec::Emu, 3);
    s.precision = Some(Precision::Tf32);
    let summary = train(s, &mut Silent).unwrap();
    assert_eq!(summary.step, 3);
    assert!(summary.device.contains("emu"), "{}", summary.device);
    assert_eq!(summary.loop_allocations, 0);
    assert_eq!(Checkpoint::load(&model_path(&run)).unwrap().step, 3);
    let log = read_log(&log_path(&run)).unwrap();
    assert!(!log.is_empty());
    assert!(log.iter().all(|r| r.precision == Some(Precision::Tf32)));
}

/// `--cuda-graphs` on the emulator: the same weights as op-by-op launches, bit for bit
/// (every iteration after the second is a replay of frozen launches), no allocation in the
/// loop, and the log says so; with clipping, or on the cpu device, it is refused before
/// anything is written.
#[cfg(feature = "emu")]
#[test]
fn an_emulated_run_with_launch_graphs_trains_the_same_weights() {
    let dir = scratch("run_emu_graphs");
    let data = tiny_data(&dir);
    let mut weights = Vec::new();
    for graphs in [false, true] {
        let run = dir.join(format!("run_{graphs}"));
        let mut s = spec(&run, &data, DeviceSpec::Emu, 5);
        s.settings.max_grad_norm = None;
        s.graphs = graphs;
        let summary = train(s, &mut Silent).unwrap();
        assert_eq!((summary.step, summary.loop_allocations), (5, 0));
        let log = read_log(&log_path(&run)).unwrap();
        assert!(!log.is_empty() && log.iter().all(|r| r.graphs == graphs));
        weights.push(Checkpoint::load(&model_path(&run)).unwrap().tensors);
    }
    assert!(weights[0] == weights[1], "graph replay changed the weights");
    for (device, clip, needle) in [
        (DeviceSpec::Emu, Some(1.0), "--max-grad-norm"),
        (DeviceSpec::Cpu, None, "need a GPU device"),
    ] {
        let run = dir.join("refused");
        let mut s = spec(&run, &data, device, 2);
        s.settings.max_grad_norm = clip;
        s.graphs = true;
        let e = format!("{:#}", train(s, &mut Silent).unwrap_err());
        assert!(e.contains(needle), "{e}");
        assert!(!model_path(&run).exists() && !log_path(&run).exists());
    }
}

#[test]
fn tensor_core_precisions_on_the_cpu_are_refused_before_anything_is_written() {
    let dir = scratch("run_cpu_tf32");
    let data = tiny_data(&dir);
    let run = dir.join("run");
    for p in [Precision::Tf32, Precision::Tf32x3] {
        let mut s = spec(&run, &data, DeviceSpec::Cpu, 2);
        s.precision = Some(p);
        let e = format!("{:#}", train(s, &mut Silent).unwrap_err());
        assert!(
            e.contains(&format!("--precision {p}")) && e.contains("cpu"),
            "{e}"
        );
        assert!(!model_path(&run).exists() && !log_path(&run).exists());
    }
}
