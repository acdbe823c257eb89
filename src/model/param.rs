//! Named parameter tensors: their spec (checkpoint name, shape, init, whether λ_D applies),
//! and a [`Params`] set holding each tensor's value and gradient on a device.

use super::error::{ModelError, ModelResult};
use super::init::{initial_values, Init};
use crate::device::Device;
use std::collections::BTreeMap;

/// One parameter tensor as the spec names it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Checkpoint / `state_dict` name, e.g. `g.outer.0.conv1.weight`.
    pub name: String,
    /// Shape, PyTorch layout.
    pub shape: Vec<usize>,
    /// How it starts.
    pub init: Init,
    /// A weight (true) or a bias / θ (false); the L2 penalty λ_D applies to D's weights.
    pub weight: bool,
}

impl ParamSpec {
    /// A weight tensor.
    pub fn weight(name: String, shape: Vec<usize>, init: Init) -> Self {
        ParamSpec {
            name,
            shape,
            init,
            weight: true,
        }
    }

    /// A bias (or any tensor that is not a weight).
    pub fn bias(name: String, shape: Vec<usize>, init: Init) -> Self {
        ParamSpec {
            name,
            shape,
            init,
            weight: false,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements (never for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A tensor on the host, as read from or written to a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// The parameters of one network: `values[i]` and `grads[i]` belong to `specs[i]`.
pub struct Params<B> {
    /// What each tensor is.
    pub specs: Vec<ParamSpec>,
    /// Current values.
    pub values: Vec<B>,
    /// Gradients of the last backward pass.
    pub grads: Vec<B>,
}

impl<B> Params<B> {
    /// Allocates the tensors of `specs` on `dev`, initialized from the ChaCha8 stream
    /// `stream` of `seed` (see [`initial_values`]); gradients start at zero.
    pub fn new<D: Device<Buf = B>>(
        dev: &D,
        specs: Vec<ParamSpec>,
        seed: u64,
        stream: u64,
    ) -> ModelResult<Self> {
        let inits: Vec<_> = specs.iter().map(|s| (s.len(), s.init)).collect();
        let host = initial_values(&inits, seed, stream);
        let values = host
            .iter()
            .map(|v| dev.upload(v))
            .collect::<crate::Result<Vec<_>>>()?;
        let grads = specs
            .iter()
            .map(|s| dev.alloc_zeros(s.len()))
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(Params {
            specs,
            values,
            grads,
        })
    }

    /// Index of the tensor called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }

    /// Copies every value to the host, keyed by name.
    pub fn download<D: Device<Buf = B>>(
        &self,
        dev: &D,
    ) -> ModelResult<BTreeMap<String, HostTensor>> {
        self.download_bufs(dev, &self.values)
    }

    /// Copies every gradient to the host, keyed by the tensor's name.
    pub fn download_grads<D: Device<Buf = B>>(
        &self,
        dev: &D,
    ) -> ModelResult<BTreeMap<String, HostTensor>> {
        self.download_bufs(dev, &self.grads)
    }

    fn download_bufs<D: Device<Buf = B>>(
        &self,
        dev: &D,
        bufs: &[B],
    ) -> ModelResult<BTreeMap<String, HostTensor>> {
        let mut out = BTreeMap::new();
        for (spec, buf) in self.specs.iter().zip(bufs) {
            let data = dev.download(buf)?;
            out.insert(
                spec.name.clone(),
                HostTensor {
                    shape: spec.shape.clone(),
                    data,
                },
            );
        }
        Ok(out)
    }

    /// Overwrites every value with the tensor of the same name in `tensors`; a missing
    /// tensor or a shape that differs is an error naming it.
    pub fn upload<D: Device<Buf = B>>(
        &mut self,
        dev: &D,
        tensors: &BTreeMap<String, HostTensor>,
    ) -> ModelResult<()> {
        for (spec, buf) in self.specs.iter().zip(&mut self.values) {
            let t = find_tensor(tensors, &spec.name, &spec.shape)?;
            dev.write(buf, &t.data)?;
        }
        Ok(())
    }
}

/// The tensor `name` of `tensors`, checked to have `shape`.
pub(crate) fn find_tensor<'a>(
    tensors: &'a BTreeMap<String, HostTensor>,
    name: &str,
    shape: &[usize],
) -> ModelResult<&'a HostTensor> {
    let t = tensors
        .get(name)
        .ok_or_else(|| ModelError::Config(format!("tensor {name} is missing")))?;
    if t.shape != shape || t.data.len() != shape.iter().product::<usize>() {
        return Err(ModelError::Config(format!(
            "tensor {name} has shape {:?}, the model needs {shape:?}",
            t.shape
        )));
    }
    Ok(t)
}

/// `(&mut v[i], &mut v[i + 1])`: the gradients of a weight and of the bias that follows it.
pub(crate) fn pair_mut<B>(v: &mut [B], i: usize) -> (&mut B, &mut B) {
    let (head, tail) = v.split_at_mut(i + 1);
    (&mut head[i], &mut tail[0])
}
