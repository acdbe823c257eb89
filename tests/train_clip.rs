//! `--max-grad-norm`: global-norm gradient clipping against hand computations, on the CPU
//! device and the emulated kernels, and inside a training iteration (G and D clipped
//! separately, before their optimizer steps).

use rand::{Rng, SeedableRng};
use satcolor::device::cpu::CpuDevice;
use satcolor::device::Device;
use satcolor::model::init::Init;
use satcolor::model::{Head, LossConfig, ModelConfig, ParamSpec, Params};
use satcolor::train::{GradClip, OptimizerConfig, Trainer};

/// Clips gradients `tensors` to `max` on `dev` (the gradients of a parameter set, so the
/// emulator clips them as one group, the cpu device tensor by tensor); returns the reported
/// norm and the clipped values.
fn clip_on<D: Device>(dev: &D, tensors: &[Vec<f32>], max: f32) -> (f32, Vec<Vec<f32>>) {
    let specs = tensors
        .iter()
        .enumerate()
        .map(|(i, t)| ParamSpec::bias(format!("t{i}"), vec![t.len()], Init::Const(0.0)))
        .collect();
    let mut params = Params::new(dev, specs, 0, 0).unwrap();
    for (buf, t) in params.grads.iter_mut().zip(tensors) {
        dev.write(buf, t).unwrap();
    }
    let mut clip = GradClip::new(dev, max).unwrap();
    let norm = clip.clip(dev, &mut params).unwrap();
    (
        norm,
        params
            .grads
            .iter()
            .map(|b| dev.download(b).unwrap())
            .collect(),
    )
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-30)
}

/// 3-4-12: norm 13; clipped to 6.5 every value halves (up to PyTorch's 1e-6 guard).
fn pythagorean<D: Device>(dev: &D) {
    let (norm, out) = clip_on(dev, &[vec![3.0, 4.0], vec![12.0]], 6.5);
    assert_eq!(norm, 13.0);
    let factor = 6.5 / (13.0 + 1e-6);
    for (got, want) in out.concat().iter().zip([3.0, 4.0, 12.0]) {
        assert!(
            close(*got as f64, want * factor, 1e-6),
            "{got} vs {}",
            want * factor
        );
    }
    // Below the limit nothing changes, bit for bit.
    let (norm, out) = clip_on(dev, &[vec![3.0, 4.0], vec![12.0]], 13.5);
    assert_eq!((norm, out), (13.0, vec![vec![3.0, 4.0], vec![12.0]]));
}

/// Tensors of awkward lengths: the norm and every clipped value against f64.
fn awkward<D: Device>(dev: &D) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let tensors: Vec<Vec<f32>> = [1usize, 1000, 4097, 3]
        .iter()
        .map(|&n| (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect())
        .collect();
    let want_norm = tensors
        .iter()
        .flatten()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt();
    let max = 0.1 * want_norm as f32;
    let (norm, out) = clip_on(dev, &tensors, max);
    assert!(close(norm as f64, want_norm, 1e-6), "{norm} vs {want_norm}");
    let factor = max as f64 / (want_norm + 1e-6);
    for (t, o) in tensors.iter().zip(&out) {
        for (&v, &c) in t.iter().zip(o) {
            assert!(
                close(c as f64, v as f64 * factor, 1e-6),
                "{c} vs {}",
                v as f64 * factor
            );
        }
    }
    let clipped = out
        .iter()
        .flatten()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt();
    assert!(close(clipped, max as f64, 1e-5), "{clipped} vs {max}");
}

#[test]
fn cpu_clipping_matches_hand_computations() {
    let dev = CpuDevice::new();
    pythagorean(&dev);
    awkward(&dev);
}

#[cfg(feature = "emu")]
#[test]
fn emulated_kernels_clip_like_hand_computations() {
    use satcolor::device::emu::{EmuExec, EmuOptions};
    use satcolor::device::gpu::GpuDevice;
    let dev = GpuDevice::new(EmuExec::new(EmuOptions::default()).unwrap());
    pythagorean(&dev);
    awkward(&dev);
}

#[test]
fn bad_limits_are_errors() {
    let dev = CpuDevice::new();
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(GradClip::new(&dev, bad).is_err(), "{bad}");
    }
}

fn tiny() -> ModelConfig {
    ModelConfig {
        in_bands: 1,
        out_bands: 3,
        window: 32,
        filters: 3,
        kernel: 3,
        stride: 2,
        outer_layers: 2,
        disc_widths: vec![2, 3, 3, 4, 5],
        leaky_slope: 0.2,
        head: Head::Consistent,
        ..ModelConfig::small()
    }
}

/// All values of a map of tensors, in name order, in f64.
fn flat(t: &std::collections::BTreeMap<String, satcolor::model::HostTensor>) -> Vec<f64> {
    t.values()
        .flat_map(|t| t.data.iter().map(|&v| v as f64))
        .collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// One SGD iteration with and without clipping: D's clipped gradient is its unclipped one
/// (the same before any update) scaled by max / (‖g‖ + 1e-6); both networks' clipped
/// gradients have norm max; and the first SGD step moved each weight by −lr · the clipped
/// gradient.
#[test]
fn a_training_step_clips_g_and_d_separately_before_their_updates() {
    let dev = CpuDevice::new();
    let lr = 0.05;
    let opt = OptimizerConfig::sgd(lr);
    let new = || Trainer::new(&dev, &tiny(), 2, 5, LossConfig::default(), opt, opt).unwrap();
    let (mut plain, mut clipped) = (new(), new());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f32> = (0..plain.g.input_len()).map(|_| rng.random()).collect();
    let y: Vec<f32> = (0..plain.g.output_len()).map(|_| rng.random()).collect();

    plain.train_step(&dev, &x, &y).unwrap();
    let d_plain = flat(&plain.d.params.download_grads(&dev).unwrap());
    let g_plain = flat(&plain.g.params.download_grads(&dev).unwrap());
    let max = 0.5 * norm(&d_plain).min(norm(&g_plain));

    let d_before = flat(&clipped.d.params.download(&dev).unwrap());
    let g_before = flat(&clipped.g.params.download(&dev).unwrap());
    clipped.set_max_grad_norm(&dev, Some(max as f32)).unwrap();
    clipped.train_step(&dev, &x, &y).unwrap();
    let d_grads = flat(&clipped.d.params.download_grads(&dev).unwrap());
    let g_grads = flat(&clipped.g.params.download_grads(&dev).unwrap());

    let factor = max / (norm(&d_plain) + 1e-6);
    let scale = d_plain.iter().fold(0.0f64, |m, v| m.max(v.abs())) * factor;
    for (c, p) in d_grads.iter().zip(&d_plain) {
        assert!(
            (c - p * factor).abs() <= 1e-6 * scale,
            "{c} vs {}",
            p * factor
        );
    }
    assert!(
        close(norm(&d_grads), max, 1e-5),
        "D: {} vs {max}",
        norm(&d_grads)
    );
    assert!(
        close(norm(&g_grads), max, 1e-5),
        "G: {} vs {max}",
        norm(&g_grads)
    );

    let d_after = flat(&clipped.d.params.download(&dev).unwrap());
    let g_after = flat(&clipped.g.params.download(&dev).unwrap());
    for (before, after, grads) in [
        (&d_before, &d_after, &d_grads),
        (&g_before, &g_after, &g_grads),
    ] {
        for ((b, a), g) in before.iter().zip(after).zip(grads) {
            assert!(
                (a - (b - lr as f64 * g)).abs() <= 1e-6 * b.abs().max(1.0),
                "{a} vs {b} - lr·{g}"
            );
        }
    }
}
