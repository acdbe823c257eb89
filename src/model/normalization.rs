//! How raw band values map to the [0, 1] the networks see, and the bands' names: the
//! checkpoint's `normalization` and `bands` metadata (spec § Normalization).

use super::config::ModelConfig;
use super::error::{config_err, ModelResult};
use serde::{Deserialize, Serialize};

/// Sample data type of a band, with GDAL's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SampleType {
    /// 8-bit unsigned.
    Byte,
    /// 16-bit unsigned.
    UInt16,
    /// 16-bit signed.
    Int16,
    /// 32-bit float.
    Float32,
}

/// The mapping of one band: `clamp((v − lo) / (hi − lo), 0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandNorm {
    /// Raw value mapped to 0.
    pub lo: f64,
    /// Raw value mapped to 1.
    pub hi: f64,
    /// The band's sample type.
    pub dtype: SampleType,
}

impl BandNorm {
    /// A Byte band: v / 255.
    pub fn byte() -> Self {
        BandNorm {
            lo: 0.0,
            hi: 255.0,
            dtype: SampleType::Byte,
        }
    }
}

/// The mappings of every input and output band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// One per input band.
    pub input: Vec<BandNorm>,
    /// One per output band.
    pub output: Vec<BandNorm>,
}

impl Normalization {
    /// Byte bands throughout (v / 255).
    pub fn byte(cfg: &ModelConfig) -> Self {
        Normalization {
            input: vec![BandNorm::byte(); cfg.in_bands],
            output: vec![BandNorm::byte(); cfg.out_bands],
        }
    }

    /// Checks the band counts against `cfg` and that every `hi > lo`.
    pub fn validate(&self, cfg: &ModelConfig) -> ModelResult<()> {
        check_count("normalization.input", self.input.len(), cfg.in_bands)?;
        check_count("normalization.output", self.output.len(), cfg.out_bands)?;
        for b in self.input.iter().chain(&self.output) {
            if !(b.lo.is_finite() && b.hi.is_finite() && b.hi > b.lo) {
                return Err(config_err(format!(
                    "normalization range [{}, {}] is empty or not finite",
                    b.lo, b.hi
                )));
            }
        }
        Ok(())
    }
}

/// Names of the input and output bands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// One per input band.
    pub input: Vec<String>,
    /// One per output band.
    pub output: Vec<String>,
}

impl Bands {
    /// `gray` for one input band, `red`, `green`, `blue` for three output bands,
    /// `band1`, `band2`, … otherwise.
    pub fn default_for(cfg: &ModelConfig) -> Self {
        let numbered = |n: usize| (1..=n).map(|i| format!("band{i}")).collect::<Vec<_>>();
        Bands {
            input: if cfg.in_bands == 1 {
                vec!["gray".into()]
            } else {
                numbered(cfg.in_bands)
            },
            output: if cfg.out_bands == 3 {
                vec!["red".into(), "green".into(), "blue".into()]
            } else {
                numbered(cfg.out_bands)
            },
        }
    }

    /// Checks the band counts against `cfg`.
    pub fn validate(&self, cfg: &ModelConfig) -> ModelResult<()> {
        check_count("bands.input", self.input.len(), cfg.in_bands)?;
        check_count("bands.output", self.output.len(), cfg.out_bands)
    }
}

fn check_count(what: &str, got: usize, want: usize) -> ModelResult<()> {
    if got != want {
        return Err(config_err(format!(
            "{what} lists {got} bands, the model has {want}"
        )));
    }
    Ok(())
}
