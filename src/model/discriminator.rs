//! The discriminator D: C_out bands → one logit per window (spec § Discriminator).
//!
//! ```text
//! for j = 0..4:  c_j = LeakyReLU(conv3×3_pad1(p_{j-1}) + bias);  p_j = maxpool2×2(c_j)
//! z = linear(flatten(p_4)) + bias          (p_{-1} = the input; flatten in C,H,W order)
//! ```
//!
//! Activations kept for the backward pass: c_j (pool argmax and LeakyReLU sign) and p_j
//! (the next layer's input). The backward pass has three [`GradMode`]s, so that one D
//! serves the D step (two batches, real and generated, whose gradients add up) and the
//! G step (only ∂L/∂input is wanted; D's parameter gradients are left untouched).

use super::config::ModelConfig;
use super::error::{config_err, ModelResult};
use super::init::Init;
use super::param::{pair_mut, ParamSpec, Params};
use crate::device::Device;
use crate::ops::{Act, Conv2dShape, LinearShape, Pool2dShape};

/// Number of convolution + pooling stages.
pub const STAGES: usize = 5;
/// Index of `d.fc.weight` (its bias follows).
const FC: usize = 2 * STAGES;

/// What a backward pass does with D's parameter gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradMode {
    /// Overwrite them.
    Overwrite,
    /// Add to them.
    Accumulate,
    /// Leave them untouched (only the input gradient is computed).
    Discard,
}

/// The discriminator's parameter tensors in checkpoint order.
pub fn param_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    let mut v = Vec::with_capacity(FC + 2);
    let mut c_prev = cfg.out_bands;
    for (j, &w) in cfg.disc_widths.iter().enumerate() {
        let init = Init::torch_default(c_prev * 9);
        v.push(ParamSpec::weight(
            format!("d.conv.{j}.weight"),
            vec![w, c_prev, 3, 3],
            init,
        ));
        v.push(ParamSpec::bias(format!("d.conv.{j}.bias"), vec![w], init));
        c_prev = w;
    }
    let init = Init::torch_default(cfg.fc_inputs());
    v.push(ParamSpec::weight(
        "d.fc.weight".into(),
        vec![1, cfg.fc_inputs()],
        init,
    ));
    v.push(ParamSpec::bias("d.fc.bias".into(), vec![1], init));
    v
}

/// The discriminator for a fixed batch size, with its parameters and every buffer its
/// passes use (allocated once, in [`Discriminator::new`]).
pub struct Discriminator<D: Device> {
    batch: usize,
    act: Act,
    convs: Vec<Conv2dShape>,
    pools: Vec<Pool2dShape>,
    fc: LinearShape,
    /// Parameters (values and gradients), in [`param_specs`] order.
    pub params: Params<D::Buf>,
    /// Gradients computed but not (or not yet) added to `params.grads`.
    scratch: Vec<D::Buf>,
    c: Vec<D::Buf>,
    p: Vec<D::Buf>,
    logits: D::Buf,
    dc: Vec<D::Buf>,
    dp: Vec<D::Buf>,
}

impl<D: Device> Discriminator<D> {
    /// Builds D for batches of `batch` windows, parameters drawn from `seed` (stream 1).
    pub fn new(dev: &D, cfg: &ModelConfig, batch: usize, seed: u64) -> ModelResult<Self> {
        cfg.validate()?;
        if batch == 0 {
            return Err(config_err("batch size must be at least 1"));
        }
        let mut convs = Vec::with_capacity(STAGES);
        let mut pools = Vec::with_capacity(STAGES);
        let (mut c_prev, mut side) = (cfg.out_bands, cfg.window);
        for &w in &cfg.disc_widths {
            convs.push(Conv2dShape {
                n: batch,
                c_in: c_prev,
                h: side,
                w: side,
                c_out: w,
                k: 3,
                stride: 1,
                pad: 1,
            });
            pools.push(Pool2dShape {
                n: batch,
                c: w,
                h: side,
                w: side,
            });
            c_prev = w;
            side /= 2;
        }
        let fc = LinearShape {
            n: batch,
            k: cfg.fc_inputs(),
            m: 1,
        };
        let params = Params::new(dev, param_specs(cfg), seed, 1)?;
        let bufs = |lens: Vec<usize>| -> crate::Result<Vec<D::Buf>> {
            lens.into_iter().map(|len| dev.alloc_zeros(len)).collect()
        };
        let c_lens: Vec<_> = pools.iter().map(|s| s.x_len()).collect();
        let p_lens: Vec<_> = pools.iter().map(|s| s.y_len()).collect();
        Ok(Discriminator {
            batch,
            act: Act::LeakyRelu(cfg.leaky_slope),
            scratch: bufs(params.specs.iter().map(|s| s.len()).collect())?,
            params,
            c: bufs(c_lens.clone())?,
            p: bufs(p_lens.clone())?,
            logits: dev.alloc_zeros(batch)?,
            dc: bufs(c_lens)?,
            dp: bufs(p_lens)?,
            convs,
            pools,
            fc,
        })
    }

    /// The batch size it was built for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Elements of an input batch, `n·C_out·W·W`.
    pub fn input_len(&self) -> usize {
        self.convs[0].x_len()
    }

    /// The `n` logits of the last [`forward`](Self::forward).
    pub fn logits(&self) -> &D::Buf {
        &self.logits
    }

    /// Computes the logits of a batch `x`, keeping the activations.
    pub fn forward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<()> {
        let vals = &self.params.values;
        for j in 0..STAGES {
            let input = if j == 0 { x } else { &self.p[j - 1] };
            dev.conv2d_forward(
                &self.convs[j],
                input,
                &vals[2 * j],
                Some(&vals[2 * j + 1]),
                self.act,
                &mut self.c[j],
            )?;
            dev.max_pool2d_forward(&self.pools[j], &self.c[j], &mut self.p[j])?;
        }
        dev.linear_forward(
            &self.fc,
            &self.p[STAGES - 1],
            &vals[FC],
            &vals[FC + 1],
            &mut self.logits,
        )?;
        Ok(())
    }

    /// Back-propagates `dz = ∂L/∂logits` through the last [`forward`](Self::forward) on the
    /// same `x`: parameter gradients as `mode` says, and ∂L/∂x into `dx` when given.
    pub fn backward(
        &mut self,
        dev: &D,
        x: &D::Buf,
        dz: &D::Buf,
        mode: GradMode,
        mut dx: Option<&mut D::Buf>,
    ) -> ModelResult<()> {
        let vals = &self.params.values;
        let target = match mode {
            GradMode::Overwrite => &mut self.params.grads,
            GradMode::Accumulate | GradMode::Discard => &mut self.scratch,
        };
        // The linear layer's kernel always produces dw and db; in Discard mode they go to
        // the scratch buffers and are dropped.
        let (dw, db) = pair_mut(target, FC);
        dev.linear_backward(
            &self.fc,
            &self.p[STAGES - 1],
            &vals[FC],
            dz,
            Some(&mut self.dp[STAGES - 1]),
            dw,
            db,
        )?;
        for j in (0..STAGES).rev() {
            // The pooling's and the activation's backward in one pass.
            dev.max_pool2d_backward(
                &self.pools[j],
                &self.c[j],
                &self.dp[j],
                self.act,
                &mut self.dc[j],
            )?;
            let input = if j == 0 { x } else { &self.p[j - 1] };
            if mode != GradMode::Discard {
                let (dw, db) = pair_mut(target, 2 * j);
                dev.conv2d_backward_weight(&self.convs[j], input, &self.dc[j], dw, Some(db))?;
            }
            if j > 0 {
                dev.conv2d_backward_input(
                    &self.convs[j],
                    &vals[2 * j],
                    &self.dc[j],
                    &mut self.dp[j - 1],
                )?;
            } else if let Some(dx) = dx.as_deref_mut() {
                dev.conv2d_backward_input(&self.convs[0], &vals[0], &self.dc[0], dx)?;
            }
        }
        if mode == GradMode::Accumulate {
            for (g, s) in self.params.grads.iter_mut().zip(&self.scratch) {
                dev.add_assign(g, s)?;
            }
        }
        Ok(())
    }
}
