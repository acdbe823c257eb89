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
    /// Where the device keeps the values and the gradients in one allocation each: buffers
    /// spanning them, for one launch over the whole network.
    pub spans: Option<ParamSpans<B>>,
}

/// Buffers spanning all of a network's tensors ([`Params::spans`]): the device laid out
/// each set as a [`Group`](crate::device::Group) in [`storage_order`], weights first.
pub struct ParamSpans<B> {
    /// Every value.
    pub values: B,
    /// Every gradient, in the same layout as `values`.
    pub grads: B,
    /// The values of the weights (the tensors λ_D applies to).
    pub weight_values: B,
    /// Their gradients.
    pub weight_grads: B,
}

/// The order in which a network's tensors lie in a group: the weights, then the other
/// tensors, each in spec order; `order[k]` is the spec index of the k-th. The optimizer's
/// state uses the same layout, so that one launch updates a whole network.
pub fn storage_order(specs: &[ParamSpec]) -> Vec<usize> {
    let (weights, others): (Vec<usize>, Vec<usize>) =
        (0..specs.len()).partition(|&i| specs[i].weight);
    weights.into_iter().chain(others).collect()
}

/// A network's buffers in spec order, and the spans `[all, weights]` over them where the
/// device has them ([`alloc_params`]).
pub type PartsAndSpans<B> = (Vec<B>, Option<[B; 2]>);

/// Zeroed buffers for the tensors of `specs`, allocated as one group in [`storage_order`]
/// and returned in spec order, with the group's spans `[all, weights]` where the device
/// has them.
pub fn alloc_params<D: Device>(
    dev: &D,
    specs: &[ParamSpec],
) -> crate::Result<PartsAndSpans<D::Buf>> {
    let order = storage_order(specs);
    let lens: Vec<usize> = order.iter().map(|&i| specs[i].len()).collect();
    let weights = specs.iter().filter(|s| s.weight).count();
    let group = dev.alloc_group(&lens, &[0..lens.len(), 0..weights])?;
    let mut slots: Vec<Option<D::Buf>> = (0..specs.len()).map(|_| None).collect();
    for (&i, part) in order.iter().zip(group.parts) {
        slots[i] = Some(part);
    }
    let parts = slots
        .into_iter()
        .map(|b| b.expect("storage_order is a permutation"))
        .collect();
    let spans = group.spans.map(|v| {
        let [all, weights]: [D::Buf; 2] = v.try_into().ok().expect("two spans requested");
        [all, weights]
    });
    Ok((parts, spans))
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
        let (mut values, value_spans) = alloc_params(dev, &specs)?;
        for (buf, v) in values.iter_mut().zip(&host) {
            dev.write(buf, v)?;
        }
        let (grads, grad_spans) = alloc_params(dev, &specs)?;
        let spans = match (value_spans, grad_spans) {
            (Some([values, weight_values]), Some([grads, weight_grads])) => Some(ParamSpans {
                values,
                grads,
                weight_values,
                weight_grads,
            }),
            _ => None,
        };
        Ok(Params {
            specs,
            values,
            grads,
            spans,
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
