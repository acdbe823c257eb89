//! Checkpoints: round trip, the spec's names and metadata, atomic writes, and clear errors
//! for files that are truncated, corrupt or do not fit.

use satcolor::device::cpu::CpuDevice;
use satcolor::model::checkpoint::{model_specs, FORMAT};
use satcolor::model::{Bands, Checkpoint, Head, LossConfig, ModelConfig, Normalization};
use satcolor::train::{OptimizerConfig, Trainer};
use std::path::PathBuf;

fn cfg() -> ModelConfig {
    ModelConfig {
        in_bands: 1,
        out_bands: 3,
        window: 32,
        filters: 2,
        kernel: 3,
        stride: 2,
        outer_layers: 2,
        disc_widths: vec![2, 2, 3, 3, 4],
        leaky_slope: 0.2,
        head: Head::Consistent,
        ..ModelConfig::small()
    }
}

/// A checkpoint of a model after one Adam iteration, with optimizer state.
fn sample() -> Checkpoint {
    let dev = CpuDevice::new();
    let cfg = cfg();
    let opt = OptimizerConfig::adam(1e-3);
    let mut t = Trainer::new(&dev, &cfg, 1, 3, LossConfig::default(), opt, opt).unwrap();
    let x = vec![0.5; t.g.input_len()];
    let y = vec![0.25; t.g.output_len()];
    t.train_step(&dev, &x, &y).unwrap();
    t.checkpoint(
        &dev,
        Normalization::byte(&cfg),
        Bands::default_for(&cfg),
        true,
    )
    .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("satcolor-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn round_trip_keeps_everything_and_uses_the_spec_names() {
    let ckpt = sample();
    let dir = temp_dir("ckpt-rt");
    let path = dir.join("model.safetensors");
    ckpt.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back, ckpt);
    assert_eq!(back.step, 1);
    // Names and shapes from the spec's table.
    let shape = |n: &str| back.tensors[n].shape.clone();
    assert_eq!(shape("g.lift.weight"), [3, 1, 1, 1]);
    assert_eq!(shape("g.outer.1.theta"), [1]);
    assert_eq!(shape("g.outer.1.conv1.weight"), [2, 3, 3, 3]);
    assert_eq!(shape("g.outer.0.conv2.weight"), [2, 2, 3, 3]);
    assert_eq!(shape("g.outer.0.deconv.weight"), [2, 3, 3, 3]);
    assert_eq!(shape("g.outer.0.deconv.bias"), [3]);
    assert_eq!(shape("d.conv.0.weight"), [2, 3, 3, 3]);
    assert_eq!(shape("d.conv.4.weight"), [4, 3, 3, 3]);
    assert_eq!(shape("d.fc.weight"), [1, 4]);
    assert_eq!(shape("opt.d.fc.weight.exp_avg_sq"), [1, 4]);
    assert_eq!(back.optimizer_slots(), ["exp_avg", "exp_avg_sq"]);
    // The consistent head's fitted tensors, which have no optimizer state.
    assert_eq!(shape("g.head.base_weight"), [3, 1]);
    assert_eq!(shape("g.head.base_bias"), [3]);
    assert_eq!(shape("g.head.sensor_weight"), [1, 3]);
    assert_eq!(shape("g.head.sensor_bias"), [1]);
    assert!(!back.tensors.contains_key("opt.g.head.base_weight.exp_avg"));
    assert_eq!(back.tensors.len(), 3 * model_specs(&back.config).len() + 4);
    // Metadata, read with the plain safetensors crate.
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], FORMAT);
    assert_eq!(meta["step"], "1");
    assert_eq!(ModelConfig::from_json(&meta["config"]).unwrap(), cfg());
    let norm: serde_json::Value = serde_json::from_str(&meta["normalization"]).unwrap();
    assert_eq!(norm["output"][2]["hi"], 255.0);
    assert_eq!(norm["input"][0]["dtype"], "Byte");
    let bands: serde_json::Value = serde_json::from_str(&meta["bands"]).unwrap();
    assert_eq!(bands["output"], serde_json::json!(["red", "green", "blue"]));
    // Only the target is left in the directory: the temporary file was renamed.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["model.safetensors"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_and_corrupt_files_are_clear_errors() {
    let bytes = sample().to_bytes().unwrap();
    let dir = temp_dir("ckpt-bad");
    let path = dir.join("bad.safetensors");
    for cut in [0, 3, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let msg = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(msg.contains("bad.safetensors"), "{msg}");
        assert!(msg.contains("not a valid safetensors"), "cut {cut}: {msg}");
    }
    let mut junk = bytes.clone();
    junk[9] = b'#';
    std::fs::write(&path, &junk).unwrap();
    assert!(Checkpoint::load(&path).is_err());
    let missing = Checkpoint::load(&dir.join("nope.safetensors")).unwrap_err();
    assert!(
        missing.to_string().contains("nope.safetensors"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoints_that_do_not_fit_are_rejected() {
    let good = sample();
    let expect = |c: &Checkpoint, what: &str| {
        let msg = match c.to_bytes() {
            Err(e) => e.to_string(),
            Ok(b) => Checkpoint::from_bytes(&b).unwrap_err().to_string(),
        };
        assert!(msg.contains(what), "expected '{what}' in: {msg}");
    };
    let mut c = good.clone();
    c.tensors.remove("d.fc.bias");
    expect(&c, "d.fc.bias is missing");
    let mut c = good.clone();
    c.tensors.get_mut("g.outer.0.conv1.weight").unwrap().shape = vec![3, 2, 3, 3];
    expect(&c, "g.outer.0.conv1.weight has shape");
    let mut c = good.clone();
    c.config.filters = 4;
    expect(&c, "the model needs");
    let mut c = good.clone();
    let extra = c.tensors["g.lift.bias"].clone();
    c.tensors.insert("g.extra".into(), extra);
    expect(&c, "g.extra");
    let mut c = good.clone();
    c.tensors.remove("opt.d.fc.bias.exp_avg");
    expect(&c, "opt.d.fc.bias.exp_avg is missing");
    let mut c = good.clone();
    c.tensors.remove("g.head.sensor_bias");
    expect(&c, "g.head.sensor_bias is missing");
    let mut c = good.clone();
    c.tensors.get_mut("g.head.base_weight").unwrap().data[1] = f32::NAN;
    expect(&c, "g.head.base_weight holds non-finite values");
    let mut c = good.clone();
    c.config.head = Head::Raw;
    expect(&c, "g.head.base_weight");
    let mut c = good.clone();
    c.bands.output.pop();
    expect(&c, "bands.output");
    let mut c = good.clone();
    c.normalization.input[0].hi = 0.0;
    expect(&c, "normalization");
    // Metadata written by someone else.
    let rewrite = |key: &str, value: &str| {
        let bytes = good.to_bytes().unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let mut meta = header.metadata().clone().unwrap();
        meta.insert(key.into(), value.into());
        let out = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
        Checkpoint::from_bytes(&out).unwrap_err().to_string()
    };
    assert!(rewrite("format", "satcolor/0").contains("satcolor/2"));
    // A v1 file is the raw head; one that claims another is not a v1 file.
    assert!(rewrite("format", "satcolor/1").contains("raw head"));
    assert!(rewrite("config", "{}").contains("config"));
    assert!(rewrite("step", "-1").contains("step"));
    assert!(rewrite("bands", "[]").contains("bands"));
    // A non-F32 tensor.
    let bytes = good.to_bytes().unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut tensors = st.tensors();
    let data = vec![0u8; 6];
    let i = tensors
        .iter()
        .position(|(n, _)| n == "g.lift.bias")
        .unwrap();
    tensors[i].1 =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![3], &data).unwrap();
    let out = safetensors::serialize(tensors, header.metadata().clone()).unwrap();
    let msg = Checkpoint::from_bytes(&out).unwrap_err().to_string();
    assert!(msg.contains("F16"), "{msg}");
}

#[test]
fn a_failed_save_leaves_the_old_checkpoint() {
    let good = sample();
    let dir = temp_dir("ckpt-keep");
    let path = dir.join("model.safetensors");
    good.save(&path).unwrap();
    let mut bad = good.clone();
    bad.tensors.remove("g.lift.weight");
    assert!(bad.save(&path).is_err());
    assert_eq!(Checkpoint::load(&path).unwrap(), good);
    // Saving into a missing directory is an error naming the path, not a panic.
    let err = good
        .save(&dir.join("missing/model.safetensors"))
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `satcolor/1` file (the PyTorch goldens' init, written before the head existed) loads
/// as the raw head, and saving it again writes `satcolor/2` with `"head": "raw"`.
#[test]
fn v1_checkpoints_load_as_the_raw_head() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/model/raw");
    let bytes = std::fs::read(dir.join("init.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], "satcolor/1");
    assert!(!meta["config"].contains("head"));
    let v1 = Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(v1.config.head, Head::Raw);
    assert!(v1.tensors.keys().all(|n| !n.starts_with("g.head.")));
    let again = v1.to_bytes().unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&again).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], FORMAT);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&meta["config"]).unwrap()["head"],
        "raw"
    );
    assert_eq!(Checkpoint::from_bytes(&again).unwrap(), v1);
}

/// The `unet` preset's checkpoint: the spec's tensor names and shapes for the U-Net, the
/// head's fitted tensors, 481 779 trained parameters in G (the "483 k" rounds the
/// same count), and a round trip.
#[test]
fn unet_checkpoints_use_the_spec_names() {
    let dev = CpuDevice::new();
    let cfg = ModelConfig::unet();
    let opt = OptimizerConfig::adam(1e-3);
    let t = Trainer::new(&dev, &cfg, 1, 3, LossConfig::default(), opt, opt).unwrap();
    let ckpt = t
        .checkpoint(
            &dev,
            Normalization::byte(&cfg),
            Bands::default_for(&cfg),
            false,
        )
        .unwrap();
    let shape = |n: &str| {
        ckpt.tensors
            .get(n)
            .unwrap_or_else(|| panic!("no {n}"))
            .shape
            .clone()
    };
    let w = [16, 32, 64, 128];
    for l in 0..4 {
        let c_in = if l == 0 { 1 } else { w[l - 1] };
        assert_eq!(
            shape(&format!("g.enc.{l}.conv1.weight")),
            [w[l], c_in, 3, 3]
        );
        assert_eq!(shape(&format!("g.enc.{l}.conv1.bias")), [w[l]]);
        assert_eq!(
            shape(&format!("g.enc.{l}.conv2.weight")),
            [w[l], w[l], 3, 3]
        );
    }
    for l in 0..3 {
        assert_eq!(shape(&format!("g.up.{l}.weight")), [w[l + 1], w[l], 2, 2]);
        assert_eq!(shape(&format!("g.up.{l}.bias")), [w[l]]);
        assert_eq!(
            shape(&format!("g.dec.{l}.conv1.weight")),
            [w[l], 2 * w[l], 3, 3]
        );
        assert_eq!(
            shape(&format!("g.dec.{l}.conv2.weight")),
            [w[l], w[l], 3, 3]
        );
    }
    assert!(!ckpt.tensors.contains_key("g.up.3.weight"));
    assert_eq!(shape("g.out.weight"), [3, 16, 1, 1]);
    assert_eq!(shape("g.head.sensor_weight"), [1, 3]);
    // The output convolution starts at zero: a new U-Net is the projected linear baseline.
    assert!(ckpt.tensors["g.out.weight"].data.iter().all(|&v| v == 0.0));
    let g_params: usize = t.g.params.specs.iter().map(|s| s.len()).sum();
    assert_eq!(g_params, 481_779);
    assert!(ckpt.tensors.keys().all(|n| !n.starts_with("g.outer.")));
    assert_eq!(
        Checkpoint::from_bytes(&ckpt.to_bytes().unwrap()).unwrap(),
        ckpt
    );
}
