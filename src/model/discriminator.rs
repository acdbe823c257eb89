//! The discriminator D: C_out bands → one logit per window (spec § Discriminator).
//!
//! ```text
//! for j = 0..4:  c_j = LeakyReLU(conv3×3_pad1(p_{j-1}) + bias);  p_j = maxpool2×2(c_j)
//! z = linear(flatten(p_4)) + bias          (p_{-1} = the input; flatten in C,H,W order)
//! ```
//!
//! Activations kept for the backward pass: c_j (pool argmax and LeakyReLU sign) and p_j
//! (the next layer's input), for two batch sizes: the D step runs the real and the
//! generated windows as one batch of 2n ([`Discriminator::forward_pair`]), whose backward
//! pass gives the sum of both batches' parameter gradients; the G step runs n windows and
//! wants only ∂L/∂input ([`GradMode::Discard`] leaves D's parameter gradients untouched).

use super::config::ModelConfig;
use super::error::{config_err, ModelResult};
use super::init::Init;
use super::param::{pair_mut, ParamSpec, Params};
use crate::device::Device;
use crate::ops::{Act, ConcatShape, Conv2dShape, LinearShape, Pool2dShape, Unpool};

/// Number of convolution + pooling stages.
pub const STAGES: usize = 5;
/// Index of `d.fc.weight` (its bias follows).
const FC: usize = 2 * STAGES;

/// What a backward pass does with D's parameter gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradMode {
    /// Overwrite them.
    Overwrite,
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

/// Shapes and activation buffers of D's passes at one batch size.
struct Pass<B> {
    batch: usize,
    convs: Vec<Conv2dShape>,
    pools: Vec<Pool2dShape>,
    fc: LinearShape,
    c: Vec<B>,
    p: Vec<B>,
    logits: B,
    dc: Vec<B>,
    dp: Vec<B>,
}

impl<B> Pass<B> {
    /// The shapes of D on batches of `batch` windows of `cfg`, and zeroed buffers.
    fn new<D: Device<Buf = B>>(dev: &D, cfg: &ModelConfig, batch: usize) -> crate::Result<Self> {
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
        let bufs = |lens: Vec<usize>| -> crate::Result<Vec<B>> {
            lens.into_iter().map(|len| dev.alloc_zeros(len)).collect()
        };
        let c_lens: Vec<_> = pools.iter().map(|s| s.x_len()).collect();
        let p_lens: Vec<_> = pools.iter().map(|s| s.y_len()).collect();
        Ok(Pass {
            batch,
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
}

/// The discriminator for a fixed batch size n, with its parameters and every buffer its
/// passes use (allocated once, in [`Discriminator::new`]): those of batches of n (the G
/// step) and of 2n (the D step's real and generated windows in one pass).
pub struct Discriminator<D: Device> {
    act: Act,
    /// Parameters (values and gradients), in [`param_specs`] order.
    pub params: Params<D::Buf>,
    /// The linear layer's gradients of a [`GradMode::Discard`] pass, dropped.
    scratch: Vec<D::Buf>,
    one: Pass<D::Buf>,
    pair: Pass<D::Buf>,
    /// The input of the pair pass: the real windows, then the generated ones.
    pair_input: D::Buf,
}

impl<D: Device> Discriminator<D> {
    /// Builds D for batches of `batch` windows (and pairs of them), parameters drawn from
    /// `seed` (stream 1).
    pub fn new(dev: &D, cfg: &ModelConfig, batch: usize, seed: u64) -> ModelResult<Self> {
        cfg.validate()?;
        if batch == 0 {
            return Err(config_err("batch size must be at least 1"));
        }
        let params = Params::new(dev, param_specs(cfg), seed, 1)?;
        let one = Pass::new(dev, cfg, batch)?;
        let pair = Pass::new(dev, cfg, 2 * batch)?;
        Ok(Discriminator {
            act: Act::LeakyRelu(cfg.leaky_slope),
            scratch: vec![
                dev.alloc_zeros(params.specs[FC].len())?,
                dev.alloc_zeros(params.specs[FC + 1].len())?,
            ],
            params,
            pair_input: dev.alloc_zeros(pair.convs[0].x_len())?,
            one,
            pair,
        })
    }

    /// The batch size it was built for.
    pub fn batch(&self) -> usize {
        self.one.batch
    }

    /// Elements of an input batch, `n·C_out·W·W`.
    pub fn input_len(&self) -> usize {
        self.one.convs[0].x_len()
    }

    /// The `n` logits of the last [`forward`](Self::forward).
    pub fn logits(&self) -> &D::Buf {
        &self.one.logits
    }

    /// The `2n` logits of the last [`forward_pair`](Self::forward_pair): the real windows'
    /// then the generated ones'.
    pub fn pair_logits(&self) -> &D::Buf {
        &self.pair.logits
    }

    /// Computes the logits of a batch `x`, keeping the activations.
    pub fn forward(&mut self, dev: &D, x: &D::Buf) -> ModelResult<()> {
        forward(dev, &self.params, self.act, &mut self.one, x)
    }

    /// Computes the logits of the real batch `real` and the generated batch `fake` as one
    /// batch of 2n (fewer, fuller launches than two passes), keeping the activations.
    pub fn forward_pair(&mut self, dev: &D, real: &D::Buf, fake: &D::Buf) -> ModelResult<()> {
        // As [1, 2n·C, W·W], the two batches are a channel concatenation.
        let s = &self.one.convs[0];
        let cat = ConcatShape {
            n: 1,
            c_a: s.n * s.c_in,
            c_b: s.n * s.c_in,
            plane: s.h * s.w,
        };
        dev.concat_channels(&cat, real, fake, &mut self.pair_input)?;
        forward(
            dev,
            &self.params,
            self.act,
            &mut self.pair,
            &self.pair_input,
        )
    }

    /// Back-propagates `dz = ∂L/∂logits` through the last [`forward`](Self::forward) on the
    /// same `x`: parameter gradients as `mode` says, and ∂L/∂x into `dx` when given.
    pub fn backward(
        &mut self,
        dev: &D,
        x: &D::Buf,
        dz: &D::Buf,
        mode: GradMode,
        dx: Option<&mut D::Buf>,
    ) -> ModelResult<()> {
        let grads = match mode {
            GradMode::Overwrite => &mut self.params.grads,
            GradMode::Discard => &mut self.scratch,
        };
        backward(
            dev,
            &self.params.values,
            self.act,
            &mut self.one,
            x,
            dz,
            mode,
            grads,
            dx,
        )
    }

    /// Back-propagates `dz` (2n values) through the last
    /// [`forward_pair`](Self::forward_pair), overwriting D's parameter gradients with those
    /// of both batches.
    pub fn backward_pair(&mut self, dev: &D, dz: &D::Buf) -> ModelResult<()> {
        backward(
            dev,
            &self.params.values,
            self.act,
            &mut self.pair,
            &self.pair_input,
            dz,
            GradMode::Overwrite,
            &mut self.params.grads,
            None,
        )
    }
}

/// D's forward pass on `pass`'s batch `x` with parameters `params`.
fn forward<D: Device>(
    dev: &D,
    params: &Params<D::Buf>,
    act: Act,
    pass: &mut Pass<D::Buf>,
    x: &D::Buf,
) -> ModelResult<()> {
    let vals = &params.values;
    for j in 0..STAGES {
        // The convolution and its pooling in one call (one launch where the kernel pools).
        let (done, rest) = pass.p.split_at_mut(j);
        let input = if j == 0 { x } else { &done[j - 1] };
        dev.conv2d_forward_pooled(
            &pass.convs[j],
            input,
            &vals[2 * j],
            Some(&vals[2 * j + 1]),
            act,
            &mut pass.c[j],
            &mut rest[0],
        )?;
    }
    dev.linear_forward(
        &pass.fc,
        &pass.p[STAGES - 1],
        &vals[FC],
        &vals[FC + 1],
        &mut pass.logits,
    )?;
    Ok(())
}

/// D's backward pass through `pass`'s last forward on `x`: with [`GradMode::Overwrite`]
/// every parameter gradient into `grads` ([`param_specs`] order); with
/// [`GradMode::Discard`] only the linear layer's, which its kernel always produces, into
/// `grads` = two scratch buffers. ∂L/∂x into `dx` when given.
#[allow(clippy::too_many_arguments)]
fn backward<D: Device>(
    dev: &D,
    vals: &[D::Buf],
    act: Act,
    pass: &mut Pass<D::Buf>,
    x: &D::Buf,
    dz: &D::Buf,
    mode: GradMode,
    grads: &mut [D::Buf],
    mut dx: Option<&mut D::Buf>,
) -> ModelResult<()> {
    let fc = if mode == GradMode::Overwrite { FC } else { 0 };
    let (dw, db) = pair_mut(grads, fc);
    dev.linear_backward(
        &pass.fc,
        &pass.p[STAGES - 1],
        &vals[FC],
        dz,
        Some(&mut pass.dp[STAGES - 1]),
        dw,
        db,
    )?;
    // The last pooling's and activation's backward in one pass; the others' come with
    // the input gradient of the convolution that reads their pooled map.
    let last = STAGES - 1;
    dev.max_pool2d_backward(
        &pass.pools[last],
        &pass.c[last],
        &pass.dp[last],
        act,
        &mut pass.dc[last],
    )?;
    for j in (0..STAGES).rev() {
        let input = if j == 0 { x } else { &pass.p[j - 1] };
        if mode == GradMode::Overwrite {
            let (dw, db) = pair_mut(grads, 2 * j);
            dev.conv2d_backward_weight(&pass.convs[j], input, &pass.dc[j], dw, Some(db))?;
        }
        if j > 0 {
            let (below, here) = pass.dc.split_at_mut(j);
            let unpool = Unpool {
                shape: &pass.pools[j - 1],
                x: &pass.c[j - 1],
                act,
                add: false,
            };
            dev.conv2d_backward_input_unpool(
                &pass.convs[j],
                &vals[2 * j],
                &here[0],
                unpool,
                &mut pass.dp[j - 1],
                &mut below[j - 1],
            )?;
        } else if let Some(dx) = dx.as_deref_mut() {
            dev.conv2d_backward_input(&pass.convs[0], &vals[0], &pass.dc[0], dx)?;
        }
    }
    Ok(())
}
