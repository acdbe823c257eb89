//! Checkpoints: safetensors files with the spec's tensor names (those of the PyTorch
//! reference modules' `state_dict`, so `load_state_dict(strict=True)` works), float32, and
//! `__metadata__` `format` = `satcolor/2`, `config`, `normalization`, `bands` (JSON) and
//! `step`. `satcolor/1` files (the write-up's network, no `head` key in their config) load
//! as the raw head. Optimizer state, when saved, is `opt.<tensor name>.<slot>` with PyTorch's slot
//! names (`momentum_buffer` for SGD; `exp_avg`, `exp_avg_sq` for Adam).
//!
//! [`Checkpoint::save`] writes atomically: a temporary file in the same directory, fsync,
//! rename over the target, fsync of the directory; a crash at any moment leaves either the
//! old file or the new one. [`Checkpoint::load`] checks everything (header, dtypes, every
//! name and shape against the config) and explains what does not fit.

use super::config::ModelConfig;
use super::error::{ModelError, ModelResult};
use super::normalization::{Bands, Normalization};
use super::param::{HostTensor, ParamSpec};
use super::{discriminator, generator, head};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `format` metadata value of this version.
pub const FORMAT: &str = "satcolor/2";
/// Older formats this version reads: v1 files mean the raw head.
pub const READS_FORMATS: &[&str] = &["satcolor/1", FORMAT];
/// Optimizer slot names, PyTorch's: SGD's momentum buffer, Adam's two moments.
pub const OPT_SLOTS: &[&str] = &["momentum_buffer", "exp_avg", "exp_avg_sq"];

/// A checkpoint in memory: the model's tensors (and optional optimizer state) on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The networks' hyperparameters.
    pub config: ModelConfig,
    /// How band values were normalized.
    pub normalization: Normalization,
    /// Band names.
    pub bands: Bands,
    /// Training steps (iterations) done.
    pub step: u64,
    /// Every tensor by name: `g.*`, `d.*` and optionally `opt.*`.
    pub tensors: BTreeMap<String, HostTensor>,
}

/// Every trained parameter tensor of the model `cfg` describes, G's then D's (the
/// consistent head's fitted tensors, which are not trained, are [`head::tensor_specs`]).
pub fn model_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    let mut specs = generator::param_specs(cfg);
    specs.extend(discriminator::param_specs(cfg));
    specs
}

/// The name of optimizer slot `slot` of tensor `name`.
pub fn opt_name(name: &str, slot: &str) -> String {
    format!("opt.{name}.{slot}")
}

impl Checkpoint {
    /// Checks that the tensors are exactly the model's (names, shapes, lengths; the head's
    /// finite), plus optimizer tensors `opt.<name>.<slot>` of known slots and matching
    /// shapes, the same slots for every trained parameter; and that the metadata fits the
    /// config.
    pub fn validate(&self) -> ModelResult<()> {
        let cfg = &self.config;
        cfg.validate()?;
        self.normalization.validate(cfg)?;
        self.bands.validate(cfg)?;
        let specs = model_specs(cfg);
        let bad = |reason: String| ModelError::Config(reason);
        for (name, t) in &self.tensors {
            if t.data.len() != t.shape.iter().product::<usize>() {
                return Err(bad(format!("tensor {name}: data does not match its shape")));
            }
        }
        for spec in &specs {
            super::param::find_tensor(&self.tensors, &spec.name, &spec.shape)?;
        }
        let head_specs = head::tensor_specs(cfg);
        if !head_specs.is_empty() {
            head::HeadTensors::from_tensors(&self.tensors, cfg)?;
        }
        let slots = self.optimizer_slots();
        for spec in &specs {
            for slot in &slots {
                super::param::find_tensor(&self.tensors, &opt_name(&spec.name, slot), &spec.shape)?;
            }
        }
        let expected = specs.len() * (1 + slots.len()) + head_specs.len();
        if self.tensors.len() != expected {
            let unknown: Vec<_> = self
                .tensors
                .keys()
                .filter(|n| {
                    !head_specs.iter().any(|(h, _)| n == h)
                        && !specs.iter().any(|s| {
                            **n == s.name || slots.iter().any(|sl| **n == opt_name(&s.name, sl))
                        })
                })
                .collect();
            return Err(bad(format!("tensors the model does not have: {unknown:?}")));
        }
        Ok(())
    }

    /// The optimizer slots present (judged from `opt.g.lift.weight.*`), in [`OPT_SLOTS`]
    /// order; empty when no optimizer state was saved.
    pub fn optimizer_slots(&self) -> Vec<String> {
        OPT_SLOTS
            .iter()
            .filter(|slot| {
                self.tensors
                    .keys()
                    .any(|n| n.starts_with("opt.") && n.ends_with(&format!(".{slot}")))
            })
            .map(|s| s.to_string())
            .collect()
    }

    /// The safetensors bytes of the checkpoint (after [`validate`](Self::validate)).
    pub fn to_bytes(&self) -> ModelResult<Vec<u8>> {
        self.validate()?;
        let meta: HashMap<String, String> = [
            ("format", FORMAT.to_string()),
            ("config", self.config.to_json()),
            ("normalization", to_json(&self.normalization)),
            ("bands", to_json(&self.bands)),
            ("step", self.step.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let bytes: Vec<(&String, Vec<u8>, &[usize])> = self
            .tensors
            .iter()
            .map(|(name, t)| {
                let b = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, b, t.shape.as_slice())
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, b, shape)| {
                TensorView::new(Dtype::F32, shape.to_vec(), b).map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ModelError::Config(format!("cannot serialize: {e}")))?;
        safetensors::serialize(views, Some(meta))
            .map_err(|e| ModelError::Config(format!("cannot serialize: {e}")))
    }

    /// Parses and validates safetensors bytes.
    pub fn from_bytes(bytes: &[u8]) -> ModelResult<Self> {
        let bad = |reason: String| ModelError::Config(reason);
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| bad("no __metadata__: not a satcolor checkpoint".into()))?;
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| bad(format!("metadata has no '{key}'")))
        };
        let format = get("format")?;
        if !READS_FORMATS.contains(&format.as_str()) {
            return Err(bad(format!(
                "format is '{format}', this program reads {}",
                READS_FORMATS.join(" and ")
            )));
        }
        let config = ModelConfig::from_json(get("config")?)?;
        // Every tensor the config implies must be in the header before anything is sized
        // from the config (the shapes are checked again, with the data, by `validate`).
        for spec in model_specs(&config) {
            match st.tensor(&spec.name) {
                Ok(view) if view.shape() == spec.shape.as_slice() => {}
                Ok(view) => {
                    return Err(bad(format!(
                        "tensor {} has shape {:?}, the config says {:?}",
                        spec.name,
                        view.shape(),
                        spec.shape
                    )))
                }
                Err(_) => {
                    return Err(bad(format!(
                        "tensor {} of the configured model is missing",
                        spec.name
                    )))
                }
            }
        }
        if format != FORMAT && config.head != super::Head::Raw {
            return Err(bad(format!(
                "a {format} file has the raw head, but its config says '{}'",
                config.head.name()
            )));
        }
        let normalization = serde_json::from_str(get("normalization")?)
            .map_err(|e| bad(format!("bad normalization JSON: {e}")))?;
        let bands =
            serde_json::from_str(get("bands")?).map_err(|e| bad(format!("bad bands JSON: {e}")))?;
        let step = get("step")?
            .parse()
            .map_err(|e| bad(format!("bad step: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!(
                    "tensor {name} is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "tensor {name} holds a value that is not finite ({} at index {i}): a \
                     diverged or corrupt model",
                    data[i]
                )));
            }
            tensors.insert(
                name,
                HostTensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        let ckpt = Checkpoint {
            config,
            normalization,
            bands,
            step,
            tensors,
        };
        ckpt.validate()?;
        Ok(ckpt)
    }

    /// Writes the checkpoint to `path` atomically (see the module docs).
    pub fn save(&self, path: &Path) -> ModelResult<()> {
        let bytes = self.to_bytes().map_err(|e| in_file(path, e))?;
        write_atomic(path, &bytes)
    }

    /// Reads and validates the checkpoint at `path`; every failure names the file.
    pub fn load(path: &Path) -> ModelResult<Self> {
        let bytes = read_file(path)?;
        Self::from_bytes(&bytes).map_err(|e| in_file(path, e))
    }
}

/// The bytes of the checkpoint file `path`, after checking that it is a regular file whose
/// size (held twice while loading: the bytes and the tensors) fits the memory budget.
pub fn read_file(path: &Path) -> ModelResult<Vec<u8>> {
    let bad = |reason: String| ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if !meta.is_file() {
        return Err(bad(if meta.is_dir() {
            "is a directory, not a checkpoint file".into()
        } else {
            "is not a regular file".into()
        }));
    }
    crate::memory::check("loading the checkpoint", meta.len().saturating_mul(2))
        .map_err(|e| bad(e.to_string()))?;
    std::fs::read(path).map_err(|e| io_err(path, e))
}

/// A metadata value as JSON.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("metadata always serializes")
}

/// Turns an error about a checkpoint's content into one that names its file.
fn in_file(path: &Path, e: ModelError) -> ModelError {
    match e {
        ModelError::Config(reason) => ModelError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    }
}

fn io_err(path: &Path, error: std::io::Error) -> ModelError {
    ModelError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory (see
/// [`crate::output`]): write, fsync, rename, fsync the directory. On failure the temporary
/// file is removed and `path` is untouched. A `path` that exists and is not a regular file
/// (a device, a FIFO, a directory) is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> ModelResult<()> {
    crate::output::check_output(path, false)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = crate::output::temporary_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(path, e))?;
        f.write_all(bytes).map_err(|e| io_err(path, e))?;
        f.sync_all().map_err(|e| io_err(path, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable.
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(&dir, e))
}
