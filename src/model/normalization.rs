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

impl SampleType {
    /// GDAL's name of the type: `Byte`, `UInt16`, `Int16` or `Float32`.
    pub fn name(self) -> &'static str {
        match self {
            SampleType::Byte => "Byte",
            SampleType::UInt16 => "UInt16",
            SampleType::Int16 => "Int16",
            SampleType::Float32 => "Float32",
        }
    }

    /// The value of the type nearest to `v`: integer types round half away from zero and
    /// clamp to their range (Byte 0..=255, UInt16 0..=65535, Int16 −32768..=32767); Float32
    /// returns `v` unchanged. NaN stays NaN.
    pub fn quantize(self, v: f64) -> f64 {
        let (min, max) = match self {
            SampleType::Byte => (0.0, 255.0),
            SampleType::UInt16 => (0.0, 65535.0),
            SampleType::Int16 => (-32768.0, 32767.0),
            SampleType::Float32 => return v,
        };
        v.round().clamp(min, max)
    }

    /// `q` (a value of the type) kept off `nodata`, so that a valid value is never read as
    /// nodata: `q` itself unless it is the nodata value (for Float32, within the
    /// [`FLOAT_STEPS`] f32 steps GDAL takes for it), else a value near it the type holds
    /// (one step up, or down at the top of the range).
    pub fn keep_off(self, q: f64, nodata: f64) -> f64 {
        let hit = q == nodata || (self == SampleType::Float32 && q as f32 == nodata as f32);
        if !hit || nodata.is_nan() {
            return q;
        }
        match self {
            SampleType::Float32 => {
                let nd = nodata as f32;
                let bits = nd.to_bits();
                // Away from zero for positive values, towards it for negative ones: up.
                let next = if nd >= 0.0 {
                    bits + FLOAT_STEPS
                } else {
                    bits - FLOAT_STEPS
                };
                let up = f32::from_bits(next);
                f64::from(if up.is_finite() {
                    up
                } else {
                    f32::from_bits(bits - FLOAT_STEPS)
                })
            }
            _ => {
                if self.quantize(nodata + 1.0) == nodata + 1.0 {
                    nodata + 1.0
                } else {
                    nodata - 1.0
                }
            }
        }
    }
}

/// The common data type of bands of mappings `norms`: theirs when they agree, Float32 when
/// they differ (or when there are none).
pub fn common_type(norms: &[BandNorm]) -> SampleType {
    match norms.first() {
        Some(first) if norms.iter().all(|n| n.dtype == first.dtype) => first.dtype,
        _ => SampleType::Float32,
    }
}

/// How many f32 steps a Float32 value is kept off the nodata value
/// ([`SampleType::keep_off`]): GDAL counts values within 2 units in the last place of it as
/// nodata.
pub const FLOAT_STEPS: u32 = 8;

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

/// Lower percentile of the stretch of non-Byte bands (spec § Normalization).
pub const STRETCH_LOW: f64 = 0.005;
/// Upper percentile of the stretch of non-Byte bands.
pub const STRETCH_HIGH: f64 = 0.995;

impl BandNorm {
    /// A Byte band: v / 255.
    pub fn byte() -> Self {
        BandNorm {
            lo: 0.0,
            hi: 255.0,
            dtype: SampleType::Byte,
        }
    }

    /// The percentile stretch of a band of type `dtype` from its valid pixels `values`:
    /// `lo` and `hi` are the [`STRETCH_LOW`] and [`STRETCH_HIGH`] percentiles by nearest rank
    /// (rank `round((n − 1)·q)` of the `n` sorted finite values). Non-finite values are
    /// ignored; `values` is reordered. When every value is the same, `hi = lo + 1`. Errors
    /// when no finite value is left.
    pub fn stretch(dtype: SampleType, values: &mut [f32]) -> Result<Self, String> {
        let mut n = 0;
        for i in 0..values.len() {
            if values[i].is_finite() {
                values.swap(n, i);
                n += 1;
            }
        }
        let values = &mut values[..n];
        if values.is_empty() {
            return Err(format!(
                "cannot compute the percentile stretch of a {} band without valid pixels",
                dtype.name()
            ));
        }
        let rank = |q: f64| ((values.len() - 1) as f64 * q).round() as usize;
        let (a, b) = (rank(STRETCH_LOW), rank(STRETCH_HIGH));
        let lo = f64::from(*values.select_nth_unstable_by(a, f32::total_cmp).1);
        let hi = f64::from(*values.select_nth_unstable_by(b, f32::total_cmp).1);
        Ok(BandNorm {
            lo,
            hi: if hi > lo { hi } else { lo + 1.0 },
            dtype,
        })
    }

    /// The network's value of raw value `v`: `clamp((v − lo) / (hi − lo), 0, 1)` (NaN stays
    /// NaN).
    pub fn normalize(&self, v: f32) -> f32 {
        ((f64::from(v) - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0) as f32
    }

    /// The raw value of network value `x`: `lo + x·(hi − lo)`, not yet quantized to the
    /// band's type (see [`SampleType::quantize`]).
    pub fn denormalize(&self, x: f32) -> f64 {
        self.lo + f64::from(x) * (self.hi - self.lo)
    }

    /// The raw value written for network output `x`: `x` clamped to [0, 1] (the range of
    /// the normalized training targets: a value outside it is farther from every target than
    /// its clamp), mapped back and quantized to the band's type. The spec's "clamped to the
    /// target's range only when written to a raster".
    pub fn output(&self, x: f32) -> f64 {
        self.dtype.quantize(self.denormalize(x.clamp(0.0, 1.0)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_half_away_from_zero_and_clamps() {
        use SampleType::*;
        let cases = [
            (Byte, 2.5, 3.0),
            (Byte, 2.49, 2.0),
            (Byte, -0.6, 0.0),
            (Byte, 255.5, 255.0),
            (UInt16, 65534.5, 65535.0),
            (UInt16, 70000.0, 65535.0),
            (UInt16, -3.0, 0.0),
            (Int16, -2.5, -3.0),
            (Int16, -1.4, -1.0),
            (Int16, -40000.0, -32768.0),
            (Int16, 32767.4, 32767.0),
            (Float32, -2.75, -2.75),
            (Float32, 1e9, 1e9),
        ];
        for (t, v, want) in cases {
            assert_eq!(t.quantize(v), want, "{} {v}", t.name());
        }
        assert!(Byte.quantize(f64::NAN).is_nan());
    }

    #[test]
    fn outputs_are_clamped_to_the_stretch_then_quantized() {
        let n = BandNorm {
            lo: 40.0,
            hi: 1700.0,
            dtype: SampleType::UInt16,
        };
        assert_eq!(n.output(-0.3), 40.0);
        assert_eq!(n.output(1.2), 1700.0);
        assert_eq!(n.output(0.5), 870.0);
        assert_eq!(n.output(0.1003), 206.0); // 40 + 166.498
        let f = BandNorm {
            lo: -1.0,
            hi: 1.0,
            dtype: SampleType::Float32,
        };
        assert_eq!(f.output(0.25), -0.5);
        assert_eq!(BandNorm::byte().output(2.0), 255.0);
    }

    #[test]
    fn names_are_gdal_names_and_the_serde_names() {
        for t in [
            SampleType::Byte,
            SampleType::UInt16,
            SampleType::Int16,
            SampleType::Float32,
        ] {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.name())
            );
        }
    }

    #[test]
    fn stretch_takes_nearest_rank_percentiles_of_finite_values() {
        // 401 values 1000, 1001, ..., 1400 shuffled, plus NaN and infinities that are ignored:
        // ranks round(400·0.005) = 2 and round(400·0.995) = 398.
        let mut v: Vec<f32> = (0..401)
            .map(|i| 1000.0 + ((i * 151) % 401) as f32)
            .collect();
        v.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        let n = BandNorm::stretch(SampleType::UInt16, &mut v).unwrap();
        assert_eq!((n.lo, n.hi, n.dtype), (1002.0, 1398.0, SampleType::UInt16));
        let mut flat = vec![7.0f32; 5];
        let n = BandNorm::stretch(SampleType::Int16, &mut flat).unwrap();
        assert_eq!((n.lo, n.hi), (7.0, 8.0));
        let e = BandNorm::stretch(SampleType::Float32, &mut [f32::NAN]).unwrap_err();
        assert!(
            e.contains("Float32") && e.contains("without valid pixels"),
            "{e}"
        );
    }

    #[test]
    fn normalize_and_denormalize_by_hand() {
        let n = BandNorm {
            lo: 100.0,
            hi: 500.0,
            dtype: SampleType::UInt16,
        };
        assert_eq!(n.normalize(200.0), 0.25);
        assert_eq!(n.normalize(50.0), 0.0);
        assert_eq!(n.normalize(900.0), 1.0);
        assert_eq!(n.denormalize(0.25), 200.0);
        assert_eq!(n.denormalize(1.5), 700.0);
        assert_eq!(BandNorm::byte().normalize(51.0), 0.2);
    }

    #[test]
    fn band_norm_json_layout_is_unchanged() {
        let json = r#"{"lo":1.5,"hi":2047.0,"dtype":"UInt16"}"#;
        let n: BandNorm = serde_json::from_str(json).unwrap();
        assert_eq!(
            n,
            BandNorm {
                lo: 1.5,
                hi: 2047.0,
                dtype: SampleType::UInt16
            }
        );
        assert_eq!(serde_json::to_string(&n).unwrap(), json);
    }
}
