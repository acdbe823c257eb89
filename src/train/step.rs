//! One training iteration: a D step, then a G step, on the same batch (spec § Losses).
//!
//! ```text
//! L_D = mean_n[ softplus(−D(y)) + softplus(D(G(x))) ] + λ_D · Σ_{D weights} ‖W‖²
//! L_G = mean_n[ adv(D(G(x))) ] + λ_G(t) · mean((G(x) − y)²)
//! ```
//!
//! Order of work, as in PyTorch's DCGAN loop (`fake = G(x)`; D step on `fake.detach()`;
//! `optD.step()`; G step on `D(fake)`):
//! 1. G(x) is computed once; its activations serve the G step's backward. G's weights do
//!    not change during the D step, so this *is* G(x) at the G step too.
//! 2. D step: D on y and G(x) as one batch of 2n (one pass, whose parameter gradients are
//!    those of both halves added up), L2 penalty on D's weights, D's optimizer step.
//! 3. G step: D — **already updated** by step 2 — runs again on G(x); the backward goes
//!    through D to G(x) with D's parameter gradients discarded ([`GradMode::Discard`]), so
//!    D's weights, optimizer state and the D step's gradients stay as they were; then
//!    G's backward and G's optimizer step.
//!
//! With [`Trainer::set_max_grad_norm`], each network's gradients are clipped to a global
//! norm ([`GradClip`]) just before its optimizer step (D's including the L2 penalty's).
//!
//! The reported `d_loss` is L_D before D's update (the loss its gradients belong to);
//! `g_loss` is L_G with the updated D; `mse` is `mean((G(x) − y)²)`; `lambda_g` is
//! λ_G(t) with t the number of iterations done before this one.

use super::clip::GradClip;
use super::optim::{Optimizer, OptimizerConfig};
use super::schedule::lambda_g;
use crate::device::graph::LaunchGraph;
use crate::device::Device;
use crate::dist::Collective;
use crate::model::error::{config_err, ModelResult};
use crate::model::{
    AdvLoss, Bands, Checkpoint, Discriminator, Generator, GradMode, LossConfig, ModelConfig,
    Normalization, Params,
};
use std::rc::Rc;

/// The losses of one iteration (see the module docs for when each is measured).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLosses {
    /// L_D, before D's update.
    pub d_loss: f32,
    /// L_G, with the updated D.
    pub g_loss: f32,
    /// `mean((G(x) − y)²)`.
    pub mse: f32,
    /// λ_G(t) used in L_G.
    pub lambda_g: f32,
}

impl StepLosses {
    /// Whether every loss is finite.
    pub fn is_finite(&self) -> bool {
        self.d_loss.is_finite() && self.g_loss.is_finite() && self.mse.is_finite()
    }
}

/// G, D, their optimizers and every buffer one iteration needs, for a fixed batch size.
pub struct Trainer<D: Device> {
    /// The generator.
    pub g: Generator<D>,
    /// The discriminator.
    pub d: Discriminator<D>,
    /// G's optimizer.
    pub g_opt: Optimizer<D>,
    /// D's optimizer.
    pub d_opt: Optimizer<D>,
    loss: LossConfig,
    step: u64,
    /// The batch: inputs `[n, C_in, W, W]` and targets `[n, C_out, W, W]`.
    x: D::Buf,
    y: D::Buf,
    /// ∂L/∂logits of the G step, and of the D step's real and generated windows.
    dz: D::Buf,
    dz_pair: D::Buf,
    /// One-element loss accumulators.
    d_loss: D::Buf,
    g_loss: D::Buf,
    mse: D::Buf,
    /// λ_G(t) of the coming iteration (one element), written before its launches.
    lambda: D::Buf,
    /// ∂mse/∂G(x), before λ_G(t) scales it into G's output gradient.
    dgx_mse: D::Buf,
    /// Gradient clipping of G and of D before their optimizer steps, when enabled.
    clip: Option<[GradClip<D>; 2]>,
    /// Whether iterations run as a replayed launch graph, and the graph once recorded.
    graph: LaunchGraph<D::Graph>,
    /// The ranks of a data-parallel run, whose gradients and losses are averaged.
    collective: Option<Rc<dyn Collective>>,
}

/// The memory a [`Trainer`] of `cfg` with these optimizers holds, in bytes: `(fixed,
/// per_window)` for batches of `fixed + batch·per_window`, measured by building it for
/// batches of one and two windows on a [`CpuDevice`](crate::device::cpu::CpuDevice), which counts
/// what it allocates.
pub fn memory_use(
    cfg: &ModelConfig,
    loss: LossConfig,
    g_opt: OptimizerConfig,
    d_opt: OptimizerConfig,
) -> ModelResult<(u64, u64)> {
    let floats = |batch: usize| -> ModelResult<u64> {
        let dev = crate::device::cpu::CpuDevice::new();
        Trainer::new(&dev, cfg, batch, 0, loss, g_opt, d_opt)?;
        Ok(dev.allocated_floats())
    };
    let (one, two) = (floats(1)?, floats(2)?);
    Ok((4 * (2 * one - two), 4 * (two - one)))
}

impl<D: Device> Trainer<D> {
    /// Fresh networks (parameters drawn from `seed`) and optimizers, for batches of
    /// `batch` windows.
    pub fn new(
        dev: &D,
        cfg: &ModelConfig,
        batch: usize,
        seed: u64,
        loss: LossConfig,
        g_opt: OptimizerConfig,
        d_opt: OptimizerConfig,
    ) -> ModelResult<Self> {
        loss.validate()?;
        let g = Generator::new(dev, cfg, batch, seed)?;
        let d = Discriminator::new(dev, cfg, batch, seed)?;
        let g_opt = Optimizer::new(dev, g_opt, &g.params.specs)?;
        let d_opt = Optimizer::new(dev, d_opt, &d.params.specs)?;
        Ok(Trainer {
            x: dev.alloc_zeros(g.input_len())?,
            y: dev.alloc_zeros(g.output_len())?,
            dz: dev.alloc_zeros(batch)?,
            dz_pair: dev.alloc_zeros(2 * batch)?,
            d_loss: dev.alloc_zeros(1)?,
            g_loss: dev.alloc_zeros(1)?,
            mse: dev.alloc_zeros(1)?,
            lambda: dev.alloc_zeros(1)?,
            dgx_mse: dev.alloc_zeros(g.output_len())?,
            g,
            d,
            g_opt,
            d_opt,
            loss,
            step: 0,
            clip: None,
            collective: None,
            graph: LaunchGraph::Off,
        })
    }

    /// Networks restored from `ckpt`, training resumed at its step. Optimizer state is
    /// restored when the checkpoint has some; it must then be the requested optimizer's.
    pub fn from_checkpoint(
        dev: &D,
        ckpt: &Checkpoint,
        batch: usize,
        loss: LossConfig,
        g_opt: OptimizerConfig,
        d_opt: OptimizerConfig,
    ) -> ModelResult<Self> {
        ckpt.validate()?;
        let mut t = Self::new(dev, &ckpt.config, batch, 0, loss, g_opt, d_opt)?;
        t.g.upload(dev, &ckpt.tensors)?;
        t.d.params.upload(dev, &ckpt.tensors)?;
        let saved = ckpt.optimizer_slots();
        if !saved.is_empty() {
            for opt in [&g_opt, &d_opt] {
                if saved != opt.slots() {
                    return Err(config_err(format!(
                        "the checkpoint holds optimizer state {saved:?}, the chosen optimizer \
                         needs {:?}",
                        opt.slots()
                    )));
                }
            }
            t.g_opt
                .import(dev, &t.g.params.specs, &ckpt.tensors, ckpt.step)?;
            t.d_opt
                .import(dev, &t.d.params.specs, &ckpt.tensors, ckpt.step)?;
        }
        t.step = ckpt.step;
        Ok(t)
    }

    /// Clips the global gradient norm of each network (G and D separately) to `max_norm`
    /// before its optimizer step (see [`GradClip`]); `None` turns clipping off.
    pub fn set_max_grad_norm(&mut self, dev: &D, max_norm: Option<f32>) -> ModelResult<()> {
        if max_norm.is_some() && !matches!(self.graph, LaunchGraph::Off) {
            return Err(graphs_and_clipping());
        }
        self.clip = match max_norm {
            Some(m) => Some([GradClip::new(dev, m)?, GradClip::new(dev, m)?]),
            None => None,
        };
        Ok(())
    }

    /// Averages each network's gradients over the ranks of `collective` before its
    /// optimizer step (and clipping), and the reported losses, so that every rank, having
    /// computed gradients on its share of the global batch, takes the global batch's step
    /// (see [`crate::dist`]). A collective call, made by every rank: the ranks agree
    /// whether their devices average in device memory ([`Device::connect_ranks`], NCCL on
    /// cuda) or through the host. Not with launch graphs: the averaging runs between the
    /// recorded launches.
    pub fn set_collective(&mut self, dev: &D, collective: Rc<dyn Collective>) -> ModelResult<()> {
        if !matches!(self.graph, LaunchGraph::Off) {
            return Err(graphs_and_ranks());
        }
        dev.connect_ranks(collective.as_ref())?;
        self.collective = Some(collective);
        Ok(())
    }

    /// Runs each iteration's launches as one recorded launch graph (`--cuda-graphs`; see
    /// [`Device::begin_graph`]): the next iteration runs op by op, the one after is
    /// recorded, and every later one replays the recording. Every per-step value (λ_G(t),
    /// Adam's bias corrections) is read from device memory, written before the replay, so
    /// replay computes what op-by-op launches compute. Not with gradient clipping, whose
    /// norm the host reads mid-iteration.
    pub fn set_graphs(&mut self, dev: &D, on: bool) -> ModelResult<()> {
        if on && self.clip.is_some() {
            return Err(graphs_and_clipping());
        }
        if on && self.collective.is_some() {
            return Err(graphs_and_ranks());
        }
        if on && !dev.has_graphs() {
            return Err(config_err(format!(
                "launch graphs (--cuda-graphs) need a GPU device (cuda, or emu to check one); {} runs ops directly",
                dev.name()
            )));
        }
        self.graph = LaunchGraph::new(on);
        Ok(())
    }

    /// Whether iterations replay a recorded launch graph (after
    /// [`set_graphs`](Self::set_graphs) and two iterations).
    pub fn graph_recorded(&self) -> bool {
        self.graph.is_recorded()
    }

    /// Iterations done.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// The loss hyperparameters.
    pub fn loss_config(&self) -> &LossConfig {
        &self.loss
    }

    /// Copies a batch to the device: `x` of `n·C_in·W·W` and `y` of `n·C_out·W·W`
    /// normalized values.
    pub fn set_batch(&mut self, dev: &D, x: &[f32], y: &[f32]) -> ModelResult<()> {
        for (what, got, want) in [
            ("input", x.len(), self.g.input_len()),
            ("target", y.len(), self.g.output_len()),
        ] {
            if got != want {
                return Err(config_err(format!(
                    "{what} batch has {got} values, the trainer needs {want}"
                )));
            }
        }
        dev.write(&mut self.x, x)?;
        dev.write(&mut self.y, y)?;
        Ok(())
    }

    /// [`set_batch`](Self::set_batch) then [`step`](Self::step).
    pub fn train_step(&mut self, dev: &D, x: &[f32], y: &[f32]) -> ModelResult<StepLosses> {
        self.set_batch(dev, x, y)?;
        self.step(dev)
    }

    /// One iteration on the current batch (see the module docs): the host writes the
    /// iteration's scalars, the launches run (op by op, or as a replayed graph), and the
    /// losses come back.
    pub fn step(&mut self, dev: &D) -> ModelResult<StepLosses> {
        let lambda = self.prepare(dev)?;
        let mut graph = std::mem::replace(&mut self.graph, LaunchGraph::Off);
        let launched = graph.run(dev, || self.launch(dev));
        self.graph = graph;
        launched?;
        self.g_opt.finish();
        self.d_opt.finish();
        self.step += 1;
        let scalar = |b: &D::Buf| -> ModelResult<f32> { Ok(dev.download(b)?[0]) };
        let mut losses = [
            scalar(&self.d_loss)?,
            scalar(&self.g_loss)?,
            scalar(&self.mse)?,
        ];
        if let Some(c) = &self.collective {
            c.mean(&mut losses)?;
        }
        Ok(StepLosses {
            d_loss: losses[0],
            g_loss: losses[1],
            mse: losses[2],
            lambda_g: lambda,
        })
    }

    /// The host's part of an iteration, before its launches: zeroed loss accumulators,
    /// λ_G(t) and the optimizers' step scalars in device memory. Returns λ_G(t).
    fn prepare(&mut self, dev: &D) -> ModelResult<f32> {
        let lambda = lambda_g(&self.loss, self.step);
        for buf in [&mut self.d_loss, &mut self.g_loss, &mut self.mse] {
            dev.write(buf, &[0.0])?;
        }
        dev.write(&mut self.lambda, &[lambda])?;
        self.d_opt.prepare(dev)?;
        self.g_opt.prepare(dev)?;
        Ok(lambda)
    }

    /// Every launch of an iteration, in order: the same launches with the same arguments
    /// at every iteration (what a recorded graph replays).
    fn launch(&mut self, dev: &D) -> ModelResult<()> {
        let n = self.g.batch() as f32;
        self.g.forward(dev, &self.x)?;

        // D step: softplus(−D(y)) = BCE(D(y), 1); softplus(D(G(x))) = BCE(D(G(x)), 0), the
        // real and the generated windows as one batch of 2n.
        let d = &mut self.d;
        let gx = self.g.output();
        d.forward_pair(dev, &self.y, gx)?;
        let batch = d.batch();
        dev.bce_with_logits(
            d.pair_logits(),
            1.0,
            batch,
            1.0 / n,
            &mut self.d_loss,
            &mut self.dz_pair,
        )?;
        // Weight gradients finished together at the end of each backward pass (on the GPU
        // devices one launch per 8 split-K sums rather than one or two per layer).
        dev.begin_weight_grads()?;
        d.backward_pair(dev, &self.dz_pair)?;
        dev.end_weight_grads()?;
        let params = &mut d.params;
        match &mut params.spans {
            // All the weights in one launch.
            Some(sp) => dev.l2_penalty(
                &sp.weight_values,
                self.loss.lambda_d,
                &mut self.d_loss,
                &mut sp.weight_grads,
            )?,
            None => {
                for i in 0..params.specs.len() {
                    if params.specs[i].weight {
                        dev.l2_penalty(
                            &params.values[i],
                            self.loss.lambda_d,
                            &mut self.d_loss,
                            &mut params.grads[i],
                        )?;
                    }
                }
            }
        }
        if let Some(c) = &self.collective {
            average_grads(dev, c.as_ref(), &mut d.params)?;
        }
        if let Some([_, d_clip]) = &mut self.clip {
            d_clip.clip(dev, &mut d.params)?;
        }
        self.d_opt.launch(dev, &mut d.params)?;

        // G step, through the updated D.
        let numel = self.g.output_len() as f32;
        let (gx, dgx) = self.g.output_and_grad();
        d.forward(dev, gx)?;
        match self.loss.adv {
            // softplus(−z) = BCE(z, 1).
            AdvLoss::NonSaturating => dev.bce_with_logits(
                d.logits(),
                1.0,
                batch,
                1.0 / n,
                &mut self.g_loss,
                &mut self.dz,
            )?,
            // −softplus(z) = −BCE(z, 0).
            AdvLoss::Saturating => dev.bce_with_logits(
                d.logits(),
                0.0,
                batch,
                -1.0 / n,
                &mut self.g_loss,
                &mut self.dz,
            )?,
        }
        // ∂(adversarial loss)/∂G(x) straight into G's output gradient.
        d.backward(dev, gx, &self.dz, GradMode::Discard, Some(dgx))?;
        // The plain MSE (reported) and its gradient; λ_G(t) from device memory scales both
        // into L_G and G's output gradient.
        dev.mse(gx, &self.y, 1.0 / numel, &mut self.mse, &mut self.dgx_mse)?;
        dev.add_scaled(&mut self.g_loss, &self.mse, &self.lambda)?;
        dev.add_scaled(dgx, &self.dgx_mse, &self.lambda)?;
        dev.begin_weight_grads()?;
        self.g.backward(dev, &self.x)?;
        dev.end_weight_grads()?;
        if let Some(c) = &self.collective {
            average_grads(dev, c.as_ref(), &mut self.g.params)?;
        }
        if let Some([g_clip, _]) = &mut self.clip {
            g_clip.clip(dev, &mut self.g.params)?;
        }
        self.g_opt.launch(dev, &mut self.g.params)?;
        Ok(())
    }

    /// The current state as a checkpoint, with the optimizers' state when
    /// `with_optimizer`.
    pub fn checkpoint(
        &self,
        dev: &D,
        normalization: Normalization,
        bands: Bands,
        with_optimizer: bool,
    ) -> ModelResult<Checkpoint> {
        let mut tensors = self.g.params.download(dev)?;
        if let Some(head) = self.g.head() {
            head.insert_into(&mut tensors);
        }
        tensors.extend(self.d.params.download(dev)?);
        if with_optimizer {
            self.g_opt.export(dev, &self.g.params.specs, &mut tensors)?;
            self.d_opt.export(dev, &self.d.params.specs, &mut tensors)?;
        }
        let ckpt = Checkpoint {
            config: self.g.config().clone(),
            normalization,
            bands,
            step: self.step,
            tensors,
        };
        ckpt.validate()?;
        Ok(ckpt)
    }
}

/// Replaces a network's gradients by their mean over the ranks of `c`: one reduction over
/// the whole flat gradient (the span where the device keeps one, else the tensors one after
/// the other, through the host).
fn average_grads<D: Device>(
    dev: &D,
    c: &dyn Collective,
    params: &mut Params<D::Buf>,
) -> ModelResult<()> {
    match &mut params.spans {
        Some(spans) => dev.mean_over_ranks(&mut spans.grads, c)?,
        None => {
            let mut host = Vec::new();
            for g in &params.grads {
                host.extend(dev.download(g)?);
            }
            c.mean(&mut host)?;
            let mut at = 0;
            for g in &mut params.grads {
                let n = dev.len(g);
                dev.write(g, &host[at..at + n])?;
                at += n;
            }
        }
    }
    Ok(())
}

/// The refusal of launch graphs in a data-parallel run.
fn graphs_and_ranks() -> crate::model::ModelError {
    config_err(
        "launch graphs (--cuda-graphs) cannot be used by the ranks of a data-parallel run: \
         the gradients are averaged between the recorded launches",
    )
}

/// The refusal of launch graphs together with gradient clipping.
fn graphs_and_clipping() -> crate::model::ModelError {
    config_err(
        "launch graphs (--cuda-graphs) cannot be combined with gradient clipping \
         (--max-grad-norm): the clipping norm is read on the host mid-iteration"
            .to_string(),
    )
}
