//! Optimizers on the device: SGD with momentum and Adam (PyTorch's update formulas, see
//! [`SgdParams`] and [`AdamParams`]), one state buffer per slot and parameter tensor,
//! allocated once.

use crate::device::Device;
use crate::model::checkpoint::opt_name;
use crate::model::error::{config_err, ModelResult};
use crate::model::param::{alloc_params, find_tensor, HostTensor, ParamSpec, Params};
use crate::ops::{AdamParams, SgdParams};
use std::collections::BTreeMap;

/// Which optimizer, with its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerConfig {
    /// SGD with momentum.
    Sgd(SgdParams),
    /// Adam.
    Adam(AdamParams),
}

impl OptimizerConfig {
    /// SGD with the spec's momentum μ = 0.9 and no weight decay.
    pub fn sgd(lr: f32) -> Self {
        OptimizerConfig::Sgd(SgdParams {
            lr,
            momentum: 0.9,
            weight_decay: 0.0,
        })
    }

    /// Adam with the spec's β1 = 0.5, β2 = 0.999, ε = 1e-8 and no weight decay.
    pub fn adam(lr: f32) -> Self {
        OptimizerConfig::Adam(AdamParams {
            lr,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        })
    }

    /// `sgd` or `adam` with the spec's defaults and learning rate `lr`.
    pub fn from_name(name: &str, lr: f32) -> ModelResult<Self> {
        let cfg = match name {
            "sgd" => Self::sgd(lr),
            "adam" => Self::adam(lr),
            _ => {
                return Err(config_err(format!(
                    "unknown optimizer '{name}': expected sgd or adam"
                )))
            }
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the learning rate is positive and finite (zero is allowed: no update).
    pub fn validate(&self) -> ModelResult<()> {
        let lr = match self {
            OptimizerConfig::Sgd(p) => p.lr,
            OptimizerConfig::Adam(p) => p.lr,
        };
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(config_err(format!(
                "learning rate must be finite and non-negative, got {lr}"
            )));
        }
        Ok(())
    }

    /// The state slots per parameter tensor, with PyTorch's names.
    pub fn slots(&self) -> &'static [&'static str] {
        match self {
            OptimizerConfig::Sgd(_) => &["momentum_buffer"],
            OptimizerConfig::Adam(_) => &["exp_avg", "exp_avg_sq"],
        }
    }
}

/// An optimizer's state for one network.
///
/// Each slot's state is allocated as one group in the layout of the network's parameters
/// ([`alloc_params`]), so that where the device keeps groups in one allocation
/// ([`Params::spans`]) one launch updates the whole network.
pub struct Optimizer<D: Device> {
    cfg: OptimizerConfig,
    /// Steps taken (Adam's bias corrections use `t = steps + 1` for the next one).
    steps: u64,
    /// `state[i][slot]` for parameter tensor i.
    state: Vec<Vec<D::Buf>>,
    /// `spans[slot]`: the slot's state of every tensor, where the device has spans.
    spans: Option<Vec<D::Buf>>,
    /// Adam's scalars of the next step ([`AdamParams::step_scalars`]), written by
    /// [`prepare`](Self::prepare); empty for SGD.
    bias: D::Buf,
}

impl<D: Device> Optimizer<D> {
    /// Zeroed state for the tensors of `specs`.
    pub fn new(dev: &D, cfg: OptimizerConfig, specs: &[ParamSpec]) -> ModelResult<Self> {
        cfg.validate()?;
        let mut state: Vec<Vec<D::Buf>> = specs.iter().map(|_| Vec::new()).collect();
        let mut spans = Some(Vec::new());
        for _ in cfg.slots() {
            let (parts, slot_spans) = alloc_params(dev, specs)?;
            for (st, part) in state.iter_mut().zip(parts) {
                st.push(part);
            }
            spans = match (spans, slot_spans) {
                (Some(mut v), Some([all, _weights])) => {
                    v.push(all);
                    Some(v)
                }
                _ => None,
            };
        }
        let bias = dev.alloc_zeros(match cfg {
            OptimizerConfig::Sgd(_) => 0,
            OptimizerConfig::Adam(_) => 2,
        })?;
        Ok(Optimizer {
            cfg,
            steps: 0,
            state,
            spans,
            bias,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Updates every tensor of `params` from its gradient: [`prepare`](Self::prepare),
    /// [`launch`](Self::launch) and [`finish`](Self::finish).
    pub fn step(&mut self, dev: &D, params: &mut Params<D::Buf>) -> ModelResult<()> {
        self.prepare(dev)?;
        self.launch(dev, params)?;
        self.finish();
        Ok(())
    }

    /// Writes the scalars of the next step (number `steps + 1`) to the device, where
    /// [`launch`](Self::launch) reads them: the host's part of a step, done before an
    /// iteration's launches (or its graph's replay).
    pub fn prepare(&mut self, dev: &D) -> ModelResult<()> {
        if let OptimizerConfig::Adam(hp) = &self.cfg {
            dev.write(&mut self.bias, &hp.step_scalars(self.steps + 1)?)?;
        }
        Ok(())
    }

    /// The step's launches, with the scalars [`prepare`](Self::prepare) wrote: one launch
    /// over the spans where the device has them, else one per tensor. The same launches,
    /// arguments included, at every step.
    pub fn launch(&mut self, dev: &D, params: &mut Params<D::Buf>) -> ModelResult<()> {
        match (&mut params.spans, &mut self.spans) {
            (Some(ps), Some(st)) => {
                Self::update(dev, &self.cfg, &self.bias, &mut ps.values, &ps.grads, st)?
            }
            _ => {
                for ((p, g), st) in params
                    .values
                    .iter_mut()
                    .zip(&params.grads)
                    .zip(&mut self.state)
                {
                    Self::update(dev, &self.cfg, &self.bias, p, g, st)?;
                }
            }
        }
        Ok(())
    }

    /// Counts the step whose launches ran.
    pub fn finish(&mut self) {
        self.steps += 1;
    }

    /// One step of `cfg` on `p` with gradient `g` and state `st` (one buffer per slot).
    fn update(
        dev: &D,
        cfg: &OptimizerConfig,
        bias: &D::Buf,
        p: &mut D::Buf,
        g: &D::Buf,
        st: &mut [D::Buf],
    ) -> ModelResult<()> {
        match (cfg, st) {
            (OptimizerConfig::Sgd(hp), [mom]) => dev.sgd_step(hp, p, g, mom)?,
            (OptimizerConfig::Adam(hp), [m, v]) => dev.adam_step(hp, bias, p, g, m, v)?,
            _ => unreachable!("state has one buffer per slot"),
        }
        Ok(())
    }

    /// Adds the state to `out` as `opt.<name>.<slot>` tensors.
    pub fn export(
        &self,
        dev: &D,
        specs: &[ParamSpec],
        out: &mut BTreeMap<String, HostTensor>,
    ) -> ModelResult<()> {
        for (spec, st) in specs.iter().zip(&self.state) {
            for (slot, buf) in self.cfg.slots().iter().zip(st) {
                out.insert(
                    opt_name(&spec.name, slot),
                    HostTensor {
                        shape: spec.shape.clone(),
                        data: dev.download(buf)?,
                    },
                );
            }
        }
        Ok(())
    }

    /// Restores the state saved by [`export`](Self::export), `steps` steps into training.
    pub fn import(
        &mut self,
        dev: &D,
        specs: &[ParamSpec],
        tensors: &BTreeMap<String, HostTensor>,
        steps: u64,
    ) -> ModelResult<()> {
        for (spec, st) in specs.iter().zip(&mut self.state) {
            for (slot, buf) in self.cfg.slots().iter().zip(st) {
                let t = find_tensor(tensors, &opt_name(&spec.name, slot), &spec.shape)?;
                dev.write(buf, &t.data)?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}
