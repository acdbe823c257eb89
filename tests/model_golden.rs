//! One full training iteration (D step, then G step) of every backend against PyTorch.
//!
//! tests/golden/model/ holds (all committed; CI never needs torch):
//! - `batch.safetensors`: the fixed batch `x` [2,1,32,32] and `y` [2,3,32,32], uniform
//!   draws in [0, 1) from ChaCha8 seed 9 (x first);
//! - `raw/` and `consistent/` (the write-up's G with each output head) and `unet/` (the
//!   U-Net generator, widths 3, 4, 5), each with
//!   - `init.safetensors`: a satcolor checkpoint of the model (window 32, 3 filters, kernel
//!     5, stride 2, disc widths [3,4,5,6,7]). `raw/init` is a `satcolor/1` file, written
//!     before the head existed (so the v1 format and the raw head are checked together);
//!     `consistent/init` and `unet/init` are written by the ignored test
//!     [`write_golden_inits`] below, with a non-zero residual layer and a hand-chosen head
//!     whose projection is active;
//!   - `sgd.safetensors`, `adam.safetensors`: written by scripts/make_model_goldens.py,
//!     which loads `init` into torch modules with `load_state_dict(strict=True)`, runs one
//!     iteration in float64 and stores the losses (`loss.*`), D's gradients of the D step
//!     and G's of the G step (`grad.<name>`) and every tensor after the update
//!     (`value.<name>`, the head's fitted tensors included); the metadata `optimizer` and
//!     `loss` give the hyperparameters used (the SGD run uses the default losses, the Adam
//!     run the saturating G loss and other λs, so both variants of every term are covered).
//!
//! A backend passes when every tensor and loss has a max-norm relative error
//! `max|d − g| / max|g|` of at most 1e-4; the worst seen on cpu and emu is about 1e-6.
//! The whole iteration is not a smooth function of its inputs (ReLU, max pooling): a
//! batch where f32 rounding flips a near-tie of a max-pool window or a ReLU near zero
//! gives errors of ~1e-4 in the G gradients of the Adam run (the first batch tried,
//! seed 7, did so); the committed batch (seed 9) has no such flip. The f64 run of the
//! same model code ([`f64_reference_matches_torch`]) agrees with torch to ~1e-7, so the
//! goldens and the model share one semantics.

mod model_support;

use safetensors::{Dtype, SafeTensors};
use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::model::{
    AdvLoss, Bands, Checkpoint, GeneratorKind, Head, LossConfig, ModelConfig, Normalization,
};
use satcolor::train::{OptimizerConfig, Trainer};
use std::collections::HashMap;
use std::path::PathBuf;

/// Largest accepted max-norm relative error.
const TOLERANCE: f64 = 1e-4;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/model")
}

/// The tensors of a safetensors file under [`dir`] as f64 (F32 or F64 on disk), and its
/// metadata.
fn read(name: &str) -> (HashMap<String, Vec<f64>>, HashMap<String, String>) {
    let bytes = std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let data = match v.dtype() {
                Dtype::F32 => v
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                    .collect(),
                Dtype::F64 => v
                    .data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
                other => panic!("{name}: {n} is {other:?}"),
            };
            (n, data)
        })
        .collect();
    (tensors, header.metadata().clone().unwrap_or_default())
}

fn max_rel_err(device: &[f32], golden: &[f64]) -> f64 {
    assert_eq!(device.len(), golden.len());
    let scale = golden.iter().fold(1e-30f64, |m, g| m.max(g.abs()));
    let worst = device
        .iter()
        .zip(golden)
        .fold(0.0f64, |m, (&d, g)| m.max((d as f64 - g).abs()));
    if device.iter().any(|d| !d.is_finite()) {
        return f64::INFINITY;
    }
    worst / scale
}

/// The hyperparameters a golden file was made with (its metadata).
fn setup(meta: &HashMap<String, String>) -> (LossConfig, OptimizerConfig) {
    let loss: serde_json::Value = serde_json::from_str(&meta["loss"]).unwrap();
    let opt: serde_json::Value = serde_json::from_str(&meta["optimizer"]).unwrap();
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap() as f32;
    let loss = LossConfig {
        lambda_d: f(&loss, "lambda_d"),
        lambda_start: f(&loss, "lambda_start"),
        lambda_end: f(&loss, "lambda_end"),
        tau: f(&loss, "tau"),
        adv: loss["adv"].as_str().unwrap().parse::<AdvLoss>().unwrap(),
    };
    let lr = f(&opt, "lr");
    // The golden run used the spec's fixed hyperparameters; check they are ours.
    let opt = match (
        opt["name"].as_str().unwrap(),
        OptimizerConfig::sgd(lr),
        OptimizerConfig::adam(lr),
    ) {
        ("sgd", o @ OptimizerConfig::Sgd(p), _) => {
            assert_eq!(p.momentum, f(&opt, "momentum"));
            o
        }
        ("adam", _, o @ OptimizerConfig::Adam(p)) => {
            assert_eq!(
                (p.beta1, p.beta2, p.eps),
                (f(&opt, "beta1"), f(&opt, "beta2"), f(&opt, "eps"))
            );
            o
        }
        (other, _, _) => panic!("unknown optimizer {other}"),
    };
    (loss, opt)
}

/// Runs the iteration of golden file `model/file` on `dev` and compares everything.
fn check<D: Device>(dev: &D, model: &str, file: &str, tolerance: f64) {
    let init = Checkpoint::load(&dir().join(model).join("init.safetensors"))
        .expect("init checkpoint loads");
    let cfg = &init.config;
    let want = match model {
        "raw" => (GeneratorKind::Outer, Head::Raw),
        "consistent" => (GeneratorKind::Outer, Head::Consistent),
        _ => (GeneratorKind::Unet, Head::Consistent),
    };
    assert_eq!((cfg.generator, cfg.head), want, "{model}/init");
    let (batch, _) = read("batch.safetensors");
    let file = format!("{model}/{file}");
    let (golden, meta) = read(&file);
    let (loss, opt) = setup(&meta);
    let n = init.config.window;
    let n = batch["x"].len() / (init.config.in_bands * n * n);
    let mut t = Trainer::from_checkpoint(dev, &init, n, loss, opt, opt).unwrap();
    let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
    let losses = t
        .train_step(dev, &f32s(&batch["x"]), &f32s(&batch["y"]))
        .unwrap();
    let mut worst = (0.0f64, String::new());
    let mut compare = |name: String, got: &[f32]| {
        let g = golden
            .get(&name)
            .unwrap_or_else(|| panic!("{file}: no {name}"));
        let err = max_rel_err(got, g);
        assert!(
            err <= tolerance,
            "{} {file}: {name} differs from torch by {err:e}",
            dev.name()
        );
        if err >= worst.0 {
            worst = (err, name);
        }
    };
    compare("loss.d_loss".into(), &[losses.d_loss]);
    compare("loss.g_loss".into(), &[losses.g_loss]);
    compare("loss.mse".into(), &[losses.mse]);
    compare("loss.lambda_g".into(), &[losses.lambda_g]);
    let mut count = 0;
    for params in [&t.g.params, &t.d.params] {
        for (name, tensor) in params.download(dev).unwrap() {
            compare(format!("value.{name}"), &tensor.data);
            count += 1;
        }
        for (name, tensor) in params.download_grads(dev).unwrap() {
            compare(format!("grad.{name}"), &tensor.data);
        }
    }
    // The head's fitted tensors: loaded by torch as buffers, left unchanged by the update.
    let mut fitted = 0;
    for (name, tensor) in t
        .checkpoint(dev, init.normalization.clone(), init.bands.clone(), false)
        .unwrap()
        .tensors
        .into_iter()
        .filter(|(n, _)| n.starts_with("g.head."))
    {
        compare(format!("value.{name}"), &tensor.data);
        fitted += 1;
    }
    assert_eq!(fitted, if init.config.head == Head::Raw { 0 } else { 4 });
    assert_eq!(
        2 * count + fitted + 4,
        golden.len(),
        "{file}: tensors not compared"
    );
    println!(
        "{} {file}: {count} tensors, worst error {:.1e} ({})",
        dev.name(),
        worst.0,
        worst.1
    );
}

/// The model code in f64 (reference ops): agrees with torch's float64 run up to the f32
/// rounding of the stored results, which shows that the goldens encode the same
/// semantics and that the backends' differences are their own f32 rounding. With the
/// consistent head one more f32 rounding is ours: the head's matrices Q, K, c, which every
/// device runs as f32 (torch solves the projection in f64); the 6e-8 relative error of
/// those matrices reaches 3e-6 in the U-Net's `dec.0.conv2.bias` gradient, a sum over
/// pixels whose terms cancel (7e-7 in `out.bias`, at most 2.3e-7 for the write-up's G).
#[test]
fn f64_reference_matches_torch() {
    let dev = model_support::F64Device::default();
    for model in MODELS {
        let tolerance = if model == "raw" { 1e-6 } else { 1e-5 };
        check(&dev, model, "sgd.safetensors", tolerance);
        check(&dev, model, "adam.safetensors", tolerance);
    }
}

/// The golden folders: the write-up's G with each output head, and the U-Net.
const MODELS: [&str; 3] = ["raw", "consistent", "unet"];

#[test]
fn cpu_matches_torch_sgd() {
    for model in MODELS {
        check(&CpuDevice::new(), model, "sgd.safetensors", TOLERANCE);
    }
}

#[test]
fn cpu_matches_torch_adam() {
    for model in MODELS {
        check(&CpuDevice::new(), model, "adam.safetensors", TOLERANCE);
    }
}

#[cfg(feature = "emu")]
fn emu() -> satcolor::device::gpu::GpuDevice<satcolor::device::emu::EmuExec> {
    use satcolor::device::emu::{EmuExec, EmuOptions};
    satcolor::device::gpu::GpuDevice::new(EmuExec::new(EmuOptions::default()).expect("emu opens"))
}

#[cfg(feature = "emu")]
#[test]
fn emu_matches_torch_sgd() {
    for model in MODELS {
        check(&emu(), model, "sgd.safetensors", TOLERANCE);
    }
}

#[cfg(feature = "emu")]
#[test]
fn emu_matches_torch_adam() {
    for model in MODELS {
        check(&emu(), model, "adam.safetensors", TOLERANCE);
    }
}

#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs a CUDA GPU: scripts/test.sh runs it where nvidia-smi lists one"]
fn cuda_matches_torch() {
    use satcolor::device::cuda::CudaExec;
    let exec = CudaExec::new(0).expect("a CUDA GPU (run with --ignored)");
    let dev = satcolor::device::gpu::GpuDevice::new(exec);
    for model in MODELS {
        check(&dev, model, "sgd.safetensors", TOLERANCE);
        check(&dev, model, "adam.safetensors", TOLERANCE);
    }
}

/// The golden model's configuration, with the consistent head (`raw/init` holds the same
/// model with the raw head, as a `satcolor/1` file).
fn golden_config() -> ModelConfig {
    ModelConfig {
        in_bands: 1,
        out_bands: 3,
        window: 32,
        filters: 3,
        kernel: 5,
        stride: 2,
        outer_layers: 3,
        disc_widths: vec![3, 4, 5, 6, 7],
        leaky_slope: 0.2,
        head: Head::Consistent,
        ..ModelConfig::small()
    }
}

/// A fresh model of `cfg` with the consistent head, made to exercise every path: the
/// hand-chosen head below (an active projection: a sensor model near the luma weights,
/// offsets ≠ 0), and random values in `tensors` (the residual's last layer, which starts at
/// zero and would pass no gradient back); `theta` sets the outer layers' θ ≠ 0, so that
/// the skips mix two different tensors.
fn lively_init(cfg: &ModelConfig, tensors: &[&str], theta: &[f32]) -> Checkpoint {
    use rand::{Rng, SeedableRng};
    let dev = CpuDevice::new();
    let mut t = Trainer::new(
        &dev,
        cfg,
        2,
        20240611,
        LossConfig::default(),
        OptimizerConfig::sgd(0.0),
        OptimizerConfig::sgd(0.0),
    )
    .unwrap();
    let head = satcolor::model::HeadTensors {
        in_bands: 1,
        out_bands: 3,
        base_weight: vec![0.9, 1.05, 1.2],
        base_bias: vec![0.04, -0.02, -0.08],
        sensor_weight: vec![0.31, 0.57, 0.12],
        sensor_bias: vec![0.015],
    };
    t.g.set_head(&dev, &head).unwrap();
    let mut ckpt = t
        .checkpoint(
            &dev,
            Normalization::byte(cfg),
            Bands::default_for(cfg),
            false,
        )
        .unwrap();
    for (i, &v) in theta.iter().enumerate() {
        ckpt.tensors
            .get_mut(&format!("g.outer.{i}.theta"))
            .unwrap()
            .data = vec![v];
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    for name in tensors {
        let t = ckpt.tensors.get_mut(*name).unwrap();
        t.data
            .iter_mut()
            .for_each(|v| *v = rng.random_range(-0.2..0.2));
    }
    ckpt
}

/// Writes `consistent/init.safetensors` and `unet/init.safetensors` (run by hand, before
/// scripts/make_model_goldens.py: `cargo test --test model_golden -- --ignored`): the model
/// of `raw/init` with the consistent head, and a three-level U-Net (widths 3, 4, 5) with
/// the same D, each from [`lively_init`].
#[test]
#[ignore = "writes the golden inputs: run by hand before scripts/make_model_goldens.py"]
fn write_golden_inits() {
    let outer = lively_init(
        &golden_config(),
        &["g.outer.2.deconv.weight", "g.outer.2.deconv.bias"],
        &[0.3, -0.7, 1.1],
    );
    let unet_cfg = ModelConfig {
        generator: GeneratorKind::Unet,
        unet_widths: vec![3, 4, 5],
        ..golden_config()
    };
    let unet = lively_init(&unet_cfg, &["g.out.weight", "g.out.bias"], &[]);
    for (folder, ckpt) in [("consistent", outer), ("unet", unet)] {
        let dir = dir().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        ckpt.save(&dir.join("init.safetensors")).unwrap();
    }
}
