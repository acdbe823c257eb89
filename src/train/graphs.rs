//! Launch graphs checked against op-by-op launches: what `satcolor selftest` runs on a GPU
//! device before `--cuda-graphs` is trusted there (and what the tests run on the emulator,
//! whose graphs replay frozen launches as a CUDA Graph replays its kernel nodes).
//!
//! Two trainers start from the same weights; one runs op by op, the other with
//! [`Trainer::set_graphs`] (one iteration op by op, the next recorded, the rest replayed).
//! Over the same batches, with λ_G(t) changing at every step and Adam's bias corrections
//! changing too, their losses, weights and optimizer state must be bit for bit the same:
//! a per-step value that reached a kernel as a recorded argument instead of through device
//! memory would freeze at its recorded value and tell them apart.

use super::{OptimizerConfig, Trainer};
use crate::device::Device;
use crate::model::error::ModelResult;
use crate::model::{GeneratorKind, Head, LossConfig, ModelConfig};
use rand::{Rng, SeedableRng};

/// The outcome of [`compare_graph_replay`] for one model.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphCheck {
    /// Which model (see [`graph_models`]).
    pub model: &'static str,
    /// Iterations each trainer ran.
    pub steps: usize,
    /// Iterations the graph trainer replayed (all but the warm-up one).
    pub replayed: usize,
    /// The largest absolute difference over every loss, weight and optimizer state value.
    pub max_diff: f64,
    /// Whether the graph trainer's state is bit for bit the op-by-op trainer's.
    pub identical: bool,
}

/// Small models of both generator kinds, at awkward sizes, that the check trains.
pub fn graph_models() -> Vec<(&'static str, ModelConfig)> {
    let outer = ModelConfig {
        window: 32,
        filters: 5,
        kernel: 3,
        stride: 2,
        outer_layers: 2,
        disc_widths: vec![3, 4, 5, 6, 7],
        head: Head::Consistent,
        ..ModelConfig::small()
    };
    let unet = ModelConfig {
        generator: GeneratorKind::Unet,
        unet_widths: vec![4, 6, 8],
        ..outer.clone()
    };
    vec![("outer layers", outer), ("u-net", unet)]
}

/// Trains `cfg` for `steps` iterations op by op and with a launch graph on `dev` (batches
/// of 3 windows, Adam, λ_G falling from 1000 with τ = 2) and compares the two.
pub fn compare_graph_replay<D: Device>(
    dev: &D,
    model: &'static str,
    cfg: &ModelConfig,
    steps: usize,
) -> ModelResult<GraphCheck> {
    let loss = LossConfig {
        lambda_start: 1e3,
        lambda_end: 1.0,
        tau: 2.0,
        ..LossConfig::default()
    };
    let (g_opt, d_opt) = (OptimizerConfig::adam(1e-3), OptimizerConfig::adam(2e-4));
    let new = || Trainer::new(dev, cfg, 3, 17, loss, g_opt, d_opt);
    let (mut direct, mut graph) = (new()?, new()?);
    graph.set_graphs(dev, true)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut max_diff = 0.0f64;
    let mut identical = true;
    let mut compare = |a: &[f32], b: &[f32]| {
        for (x, y) in a.iter().zip(b) {
            identical &= x.to_bits() == y.to_bits();
            max_diff = max_diff.max((f64::from(*x) - f64::from(*y)).abs());
        }
        identical &= a.len() == b.len();
        if a.len() != b.len() {
            max_diff = f64::INFINITY;
        }
    };
    let mut replayed = 0;
    for _ in 0..steps {
        let x: Vec<f32> = (0..direct.g.input_len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let y: Vec<f32> = (0..direct.g.output_len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let a = direct.train_step(dev, &x, &y)?;
        let b = graph.train_step(dev, &x, &y)?;
        replayed += usize::from(graph.graph_recorded());
        compare(
            &[a.d_loss, a.g_loss, a.mse, a.lambda_g],
            &[b.d_loss, b.g_loss, b.mse, b.lambda_g],
        );
    }
    for (a, b) in [
        (
            direct.g.params.download(dev)?,
            graph.g.params.download(dev)?,
        ),
        (
            direct.d.params.download(dev)?,
            graph.d.params.download(dev)?,
        ),
        (state(dev, &direct)?, state(dev, &graph)?),
    ] {
        for (name, t) in &a {
            match b.get(name) {
                Some(u) => compare(&t.data, &u.data),
                None => compare(&t.data, &[]),
            }
        }
    }
    Ok(GraphCheck {
        model,
        steps,
        replayed,
        max_diff,
        identical,
    })
}

/// Both optimizers' state of `t`, by tensor name.
fn state<D: Device>(
    dev: &D,
    t: &Trainer<D>,
) -> ModelResult<std::collections::BTreeMap<String, crate::model::HostTensor>> {
    let mut out = std::collections::BTreeMap::new();
    t.g_opt.export(dev, &t.g.params.specs, &mut out)?;
    t.d_opt.export(dev, &t.d.params.specs, &mut out)?;
    Ok(out)
}
