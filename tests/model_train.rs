//! Training iterations on real backends: no device allocation in steady state (cpu and
//! emu), exact resume from a checkpoint (bit-identical weights on cpu), D's state left
//! alone by the G step, and errors for bad batches.

use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::model::{
    Bands, Discriminator, GeneratorKind, GradMode, Head, LossConfig, ModelConfig, Normalization,
};
use satcolor::train::{OptimizerConfig, Trainer};

/// A tiny model (window 32) with the given stride.
fn tiny(stride: usize) -> ModelConfig {
    ModelConfig {
        in_bands: 1,
        out_bands: 3,
        window: 32,
        filters: 3,
        kernel: 3,
        stride,
        outer_layers: 2,
        disc_widths: vec![2, 3, 3, 4, 5],
        leaky_slope: 0.2,
        head: Head::Consistent,
        ..ModelConfig::small()
    }
}

/// A seeded batch for `t`: inputs and targets in [0, 1).
fn batch<D: Device>(t: &Trainer<D>, seed: u64) -> (Vec<f32>, Vec<f32>) {
    use rand::{Rng, SeedableRng};
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v = |n| {
        (0..n)
            .map(|_| r.random_range(0.0f32..1.0))
            .collect::<Vec<_>>()
    };
    (v(t.g.input_len()), v(t.g.output_len()))
}

/// A three-level U-Net at window 32.
fn tiny_unet() -> ModelConfig {
    ModelConfig {
        generator: GeneratorKind::Unet,
        unet_widths: vec![3, 4, 5],
        ..tiny(1)
    }
}

/// Runs iterations and checks that, after the first, none allocates on the device.
fn steady_state_allocates_nothing<D: Device>(dev: &D, opt: OptimizerConfig, cfg: &ModelConfig) {
    let mut t = Trainer::new(dev, cfg, 2, 1, LossConfig::default(), opt, opt).unwrap();
    let (x, y) = batch(&t, 3);
    t.train_step(dev, &x, &y).unwrap();
    let before = dev.alloc_count();
    for i in 0..3 {
        let (x, y) = batch(&t, 10 + i);
        let l = t.train_step(dev, &x, &y).unwrap();
        assert!(l.is_finite(), "{l:?}");
    }
    assert_eq!(
        dev.alloc_count(),
        before,
        "{}: training iterations allocated device buffers",
        dev.name()
    );
    assert!(before > 0, "the allocation counter counts nothing");
}

#[test]
fn cpu_iterations_allocate_nothing() {
    let dev = CpuDevice::new();
    steady_state_allocates_nothing(&dev, OptimizerConfig::adam(2e-4), &tiny(2));
    steady_state_allocates_nothing(&dev, OptimizerConfig::sgd(2e-4), &tiny(1));
    steady_state_allocates_nothing(&dev, OptimizerConfig::adam(2e-4), &tiny_unet());
}

#[cfg(feature = "emu")]
#[test]
fn emu_iterations_allocate_nothing() {
    use satcolor::device::emu::{EmuExec, EmuOptions};
    let dev = satcolor::device::gpu::GpuDevice::new(EmuExec::new(EmuOptions::default()).unwrap());
    steady_state_allocates_nothing(&dev, OptimizerConfig::adam(2e-4), &tiny(2));
    steady_state_allocates_nothing(&dev, OptimizerConfig::adam(2e-4), &tiny_unet());
}

/// The weights of every tensor, as bits.
fn weight_bits<D: Device>(dev: &D, t: &Trainer<D>) -> Vec<(String, Vec<u32>)> {
    let mut v = t.g.params.download(dev).unwrap();
    v.extend(t.d.params.download(dev).unwrap());
    v.into_iter()
        .map(|(n, t)| (n, t.data.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

#[test]
fn resume_from_checkpoint_is_bit_exact() {
    let dev = CpuDevice::new();
    let cfg = tiny(2);
    let dir = std::env::temp_dir().join(format!("satcolor-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for opt in [OptimizerConfig::adam(1e-3), OptimizerConfig::sgd(1e-3)] {
        let loss = LossConfig {
            tau: 3.0,
            ..LossConfig::default()
        };
        let new = || Trainer::new(&dev, &cfg, 2, 5, loss, opt, opt).unwrap();
        let mut straight = new();
        let mut first = new();
        for i in 0..4 {
            let (x, y) = batch(&straight, i);
            let a = straight.train_step(&dev, &x, &y).unwrap();
            if i < 2 {
                let b = first.train_step(&dev, &x, &y).unwrap();
                assert_eq!(a, b);
            }
        }
        let path = dir.join("resume.safetensors");
        first
            .checkpoint(
                &dev,
                Normalization::byte(&cfg),
                Bands::default_for(&cfg),
                true,
            )
            .unwrap()
            .save(&path)
            .unwrap();
        let ckpt = satcolor::model::Checkpoint::load(&path).unwrap();
        assert_eq!(ckpt.step, 2);
        let mut resumed = Trainer::from_checkpoint(&dev, &ckpt, 2, loss, opt, opt).unwrap();
        for i in 2..4 {
            let (x, y) = batch(&resumed, i);
            resumed.train_step(&dev, &x, &y).unwrap();
        }
        assert_eq!(resumed.steps_done(), 4);
        assert!(
            weight_bits(&dev, &straight) == weight_bits(&dev, &resumed),
            "{opt:?}: 2 + resume + 2 steps differ from 4 steps"
        );
        // Without optimizer state the resumed run differs (the state matters).
        let ckpt_no_opt = first
            .checkpoint(
                &dev,
                Normalization::byte(&cfg),
                Bands::default_for(&cfg),
                false,
            )
            .unwrap();
        let mut cold = Trainer::from_checkpoint(&dev, &ckpt_no_opt, 2, loss, opt, opt).unwrap();
        for i in 2..4 {
            let (x, y) = batch(&cold, i);
            cold.train_step(&dev, &x, &y).unwrap();
        }
        assert!(weight_bits(&dev, &straight) != weight_bits(&dev, &cold));
        // The other optimizer's state does not fit.
        let other = match opt {
            OptimizerConfig::Adam(_) => OptimizerConfig::sgd(1e-3),
            OptimizerConfig::Sgd(_) => OptimizerConfig::adam(1e-3),
        };
        let msg = Trainer::from_checkpoint(&dev, &ckpt, 2, loss, other, other)
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("optimizer state"), "{msg}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// D's pair pass (the D step's real and generated windows as one batch of 2n) gives the
/// logits of both batches and the sum of their parameter gradients; Discard leaves the
/// gradients untouched and still gives the same input gradient.
#[test]
fn discriminator_pair_pass_and_grad_modes() {
    let dev = CpuDevice::new();
    let cfg = tiny(1);
    let mut d = Discriminator::new(&dev, &cfg, 3, 4).unwrap();
    use rand::{Rng, SeedableRng};
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let mut v = |n: usize| {
        (0..n)
            .map(|_| r.random_range(-1.0f32..1.0))
            .collect::<Vec<_>>()
    };
    let (a, b, dz_a, dz_b) = (v(d.input_len()), v(d.input_len()), v(3), v(3));
    let grads_of = |d: &mut Discriminator<CpuDevice>,
                    x: &Vec<f32>,
                    dz: &Vec<f32>,
                    mode,
                    dx: Option<&mut Vec<f32>>| {
        d.forward(&dev, x).unwrap();
        let logits = d.logits().clone();
        d.backward(&dev, x, dz, mode, dx).unwrap();
        (logits, d.params.grads.clone())
    };
    let mut dx1 = vec![0.0; a.len()];
    let (za, ga) = grads_of(&mut d, &a, &dz_a, GradMode::Overwrite, Some(&mut dx1));
    let (zb, gb) = grads_of(&mut d, &b, &dz_b, GradMode::Overwrite, None);
    d.forward_pair(&dev, &a, &b).unwrap();
    let zab = d.pair_logits().clone();
    let close = |x: f32, y: f32| (x - y).abs() <= 1e-6 * (1.0 + x.abs());
    for (i, (&got, &want)) in zab.iter().zip(za.iter().chain(&zb)).enumerate() {
        assert!(close(got, want), "logit {i}: {got} against {want}");
    }
    let dz_ab: Vec<f32> = dz_a.iter().chain(&dz_b).copied().collect();
    d.backward_pair(&dev, &dz_ab).unwrap();
    let sum = d.params.grads.clone();
    for (t, ((s, a), b)) in sum.iter().zip(&ga).zip(&gb).enumerate() {
        for i in 0..s.len() {
            assert!(
                close(s[i], a[i] + b[i]),
                "tensor {t}[{i}]: {} against {}",
                s[i],
                a[i] + b[i]
            );
        }
    }
    let mut dx2 = vec![1.0; a.len()];
    let (_, kept) = grads_of(&mut d, &a, &dz_a, GradMode::Discard, Some(&mut dx2));
    assert_eq!(kept, sum, "Discard changed D's gradients");
    assert_eq!(dx1, dx2);
}

/// The G step leaves D exactly as the D step made it: replaying the D step by hand gives
/// D's weights after a full iteration.
#[test]
fn g_step_does_not_touch_d() {
    let dev = CpuDevice::new();
    let cfg = tiny(2);
    let opt = OptimizerConfig::adam(1e-3);
    let loss = LossConfig::default();
    let mut t = Trainer::new(&dev, &cfg, 2, 6, loss, opt, opt).unwrap();
    let (x, y) = batch(&t, 1);
    // D step by hand on a copy.
    let mut d_only = Trainer::new(&dev, &cfg, 2, 6, loss, opt, opt).unwrap();
    d_only.set_batch(&dev, &x, &y).unwrap();
    let xb = dev.upload(&x).unwrap();
    let yb = dev.upload(&y).unwrap();
    d_only.g.forward(&dev, &xb).unwrap();
    let gx = d_only.g.output().clone();
    let n = 2.0f32;
    let mut l = vec![0.0];
    let mut dz = vec![0.0; 4];
    let d = &mut d_only.d;
    d.forward_pair(&dev, &yb, &gx).unwrap();
    dev.bce_with_logits(d.pair_logits(), 1.0, 2, 1.0 / n, &mut l, &mut dz)
        .unwrap();
    d.backward_pair(&dev, &dz).unwrap();
    for i in 0..d.params.specs.len() {
        if d.params.specs[i].weight {
            let w = d.params.values[i].clone();
            dev.l2_penalty(&w, loss.lambda_d, &mut l, &mut d.params.grads[i])
                .unwrap();
        }
    }
    d_only.d_opt.step(&dev, &mut d_only.d.params).unwrap();

    t.train_step(&dev, &x, &y).unwrap();
    assert_eq!(t.d.params.values, d_only.d.params.values);
    assert_eq!(t.d.params.grads, d_only.d.params.grads);
    assert_eq!(t.d_opt.steps(), 1);
    // And G did change.
    assert_ne!(t.g.params.values, d_only.g.params.values);
}

#[test]
fn bad_batches_and_sizes_are_errors() {
    let dev = CpuDevice::new();
    let cfg = tiny(2);
    let opt = OptimizerConfig::sgd(1e-3);
    let err = Trainer::new(&dev, &cfg, 0, 1, LossConfig::default(), opt, opt)
        .err()
        .unwrap();
    assert!(err.to_string().contains("batch"), "{err}");
    let mut t = Trainer::new(&dev, &cfg, 2, 1, LossConfig::default(), opt, opt).unwrap();
    let (x, y) = batch(&t, 1);
    let err = t.train_step(&dev, &x[1..], &y).unwrap_err();
    assert!(err.to_string().contains("input batch"), "{err}");
    let err = t.train_step(&dev, &x, &y[..10]).unwrap_err();
    assert!(err.to_string().contains("target batch"), "{err}");
    let bad = ModelConfig {
        window: 40,
        ..cfg.clone()
    };
    assert!(Trainer::new(&dev, &bad, 2, 1, LossConfig::default(), opt, opt).is_err());
    assert!(OptimizerConfig::from_name("rmsprop", 1e-3).is_err());
    assert!(OptimizerConfig::from_name("adam", f32::NAN).is_err());
}
