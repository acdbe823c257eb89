//! Hyperparameters of the two networks ([`ModelConfig`], stored as the checkpoint's
//! `config` JSON) and of the losses ([`LossConfig`]), with the presets and defaults of the
//! model specification (shared/spec/model.md).

use super::error::{config_err, ModelResult};
use serde::{Deserialize, Serialize};

/// The names of the presets [`ModelConfig::preset`] knows.
pub const PRESETS: &[&str] = &["seed", "small", "unet"];
/// Most levels of a U-Net generator.
pub const MAX_UNET_LEVELS: usize = 8;
/// Most input or output bands.
pub const MAX_BANDS: usize = 256;
/// Largest window side.
pub const MAX_WINDOW: usize = 4096;
/// Most filters of any layer.
pub const MAX_WIDTH: usize = 16384;
/// Largest kernel side.
pub const MAX_KERNEL: usize = 63;
/// Most outer layers of the generator.
pub const MAX_OUTER_LAYERS: usize = 64;

/// Hyperparameters of G and D; serialized with exactly the spec's keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// C_in: bands of the input (1 = grayscale / panchromatic).
    pub in_bands: usize,
    /// C_out: bands produced (3 = RGB).
    pub out_bands: usize,
    /// W: side of the square windows, a multiple of 32.
    pub window: usize,
    /// F: filters of the generator's inner convolutions.
    pub filters: usize,
    /// k: odd kernel side of the generator's convolutions.
    pub kernel: usize,
    /// s ∈ {1, 2}: stride of conv2 and of the transposed convolution.
    pub stride: usize,
    /// L: number of outer layers of the generator.
    pub outer_layers: usize,
    /// Filters of the discriminator's five convolutions.
    pub disc_widths: Vec<usize>,
    /// Negative slope of the discriminator's LeakyReLUs.
    pub leaky_slope: f32,
    /// G's output head; a config without the key (a v1 checkpoint) means [`Head::Raw`].
    #[serde(default = "Head::v1")]
    pub head: Head,
    /// G's architecture; a config without the key means the write-up's.
    #[serde(default)]
    pub generator: GeneratorKind,
    /// Widths w_0 … w_{L−1} of the U-Net's levels (the `unet` generator only; empty
    /// otherwise). The `filters`, `kernel`, `stride` and `outer_layers` keys do not apply to
    /// it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unet_widths: Vec<usize>,
}

/// G's architecture (spec § Generator G and § Generator `unet`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorKind {
    /// The write-up's: outer layers of two convolutions and a transposed convolution,
    /// mixed by convex skips.
    #[default]
    Outer,
    /// The pix2pix-family U-Net: encoder blocks, max pooling, transposed convolutions up and
    /// skip connections by channel concatenation.
    Unet,
}

impl GeneratorKind {
    /// The name used in the config JSON.
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::Outer => "outer",
            GeneratorKind::Unet => "unet",
        }
    }
}

/// G's output head (spec § Output head).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// The v2 default: the last outer layer's output (no final ReLU) is a residual added to
    /// the linear base map `A·x + b`, and the sum is projected so that the fitted sensor
    /// model maps it back exactly onto the input (`M·G(x) + m = x`).
    Consistent,
    /// The write-up's network: G(x) is the last outer layer's output after its ReLU.
    Raw,
}

impl Head {
    /// What a config without a `head` key (a v1 checkpoint) means.
    pub fn v1() -> Self {
        Head::Raw
    }

    /// The name used in the config JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Head::Consistent => "consistent",
            Head::Raw => "raw",
        }
    }
}

impl std::str::FromStr for Head {
    type Err = super::error::ModelError;
    fn from_str(s: &str) -> ModelResult<Self> {
        match s {
            "consistent" => Ok(Head::Consistent),
            "raw" => Ok(Head::Raw),
            _ => Err(config_err(format!(
                "unknown head '{s}': expected consistent or raw"
            ))),
        }
    }
}

impl ModelConfig {
    /// The `seed` preset: the write-up's network (9×9 kernels, 32 filters, stride 1).
    pub fn seed() -> Self {
        ModelConfig {
            in_bands: 1,
            out_bands: 3,
            window: 64,
            filters: 32,
            kernel: 9,
            stride: 1,
            outer_layers: 3,
            disc_widths: vec![64, 128, 256, 512, 1024],
            leaky_slope: 0.2,
            head: Head::Consistent,
            generator: GeneratorKind::Outer,
            unet_widths: Vec::new(),
        }
    }

    /// The `small` preset, for CPU demos and tests.
    pub fn small() -> Self {
        ModelConfig {
            in_bands: 1,
            out_bands: 3,
            window: 64,
            filters: 16,
            kernel: 5,
            stride: 2,
            outer_layers: 3,
            disc_widths: vec![16, 32, 64, 128, 256],
            leaky_slope: 0.2,
            head: Head::Consistent,
            generator: GeneratorKind::Outer,
            unet_widths: Vec::new(),
        }
    }

    /// The `unet` preset: the U-Net generator of widths 16, 32, 64, 128 with the `small`
    /// preset's D at window 64 (the outer-layer keys keep `small`'s values, unused).
    pub fn unet() -> Self {
        ModelConfig {
            generator: GeneratorKind::Unet,
            unet_widths: vec![16, 32, 64, 128],
            ..Self::small()
        }
    }

    /// The preset called `name` (one of [`PRESETS`]).
    pub fn preset(name: &str) -> ModelResult<Self> {
        match name {
            "seed" => Ok(Self::seed()),
            "small" => Ok(Self::small()),
            "unet" => Ok(Self::unet()),
            _ => Err(config_err(format!(
                "unknown preset '{name}': expected one of {}",
                PRESETS.join(", ")
            ))),
        }
    }

    /// Checks every hyperparameter; the error names the first bad one.
    pub fn validate(&self) -> ModelResult<()> {
        let positive = [
            ("in_bands", self.in_bands),
            ("out_bands", self.out_bands),
            ("window", self.window),
            ("filters", self.filters),
            ("kernel", self.kernel),
            ("outer_layers", self.outer_layers),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(config_err(format!("{key} must be at least 1")));
            }
        }
        // Far beyond any useful model, and small enough that nothing sized from them can
        // overflow or exhaust memory before the tensors are checked against them.
        let limits = [
            ("in_bands", self.in_bands, MAX_BANDS),
            ("out_bands", self.out_bands, MAX_BANDS),
            ("window", self.window, MAX_WINDOW),
            ("filters", self.filters, MAX_WIDTH),
            ("kernel", self.kernel, MAX_KERNEL),
            ("outer_layers", self.outer_layers, MAX_OUTER_LAYERS),
        ];
        let widths = self.disc_widths.iter().chain(&self.unet_widths);
        let limits = limits
            .into_iter()
            .chain(widths.map(|&w| ("a width in disc_widths or unet_widths", w, MAX_WIDTH)));
        for (key, v, max) in limits {
            if v > max {
                return Err(config_err(format!("{key} must be at most {max}, got {v}")));
            }
        }
        if self.window % 32 != 0 {
            return Err(config_err(format!(
                "window must be a multiple of 32 (D pools five times), got {}",
                self.window
            )));
        }
        if self.kernel % 2 == 0 {
            return Err(config_err(format!(
                "kernel must be odd, got {}",
                self.kernel
            )));
        }
        if self.kernel > self.window {
            return Err(config_err(format!(
                "kernel {} is larger than the window {}",
                self.kernel, self.window
            )));
        }
        if self.stride != 1 && self.stride != 2 {
            return Err(config_err(format!(
                "stride must be 1 or 2, got {}",
                self.stride
            )));
        }
        if self.disc_widths.len() != 5 {
            return Err(config_err(format!(
                "disc_widths must list 5 widths (one per D convolution), got {}",
                self.disc_widths.len()
            )));
        }
        if self.disc_widths.contains(&0) {
            return Err(config_err("disc_widths must all be at least 1"));
        }
        if !(self.leaky_slope.is_finite() && self.leaky_slope > 0.0) {
            return Err(config_err(format!(
                "leaky_slope must be a positive number, got {}",
                self.leaky_slope
            )));
        }
        match self.generator {
            GeneratorKind::Outer if !self.unet_widths.is_empty() => Err(config_err(
                "unet_widths apply to the unet generator only (preset unet)",
            )),
            GeneratorKind::Outer => Ok(()),
            GeneratorKind::Unet => self.validate_unet(),
        }
    }

    /// The U-Net's own checks: levels, widths, window and head.
    fn validate_unet(&self) -> ModelResult<()> {
        let levels = self.unet_widths.len();
        if levels == 0 || levels > MAX_UNET_LEVELS {
            return Err(config_err(format!(
                "unet_widths must list 1 to {MAX_UNET_LEVELS} widths, got {levels}"
            )));
        }
        if self.unet_widths.contains(&0) {
            return Err(config_err("unet_widths must all be at least 1"));
        }
        let scale = 1usize << (levels - 1);
        if self.window % scale != 0 {
            return Err(config_err(format!(
                "window {} must be a multiple of 2^(levels − 1) = {scale} for {levels} U-Net \
                 levels",
                self.window
            )));
        }
        if self.head != Head::Consistent {
            return Err(config_err("the unet generator needs the consistent head"));
        }
        Ok(())
    }

    /// The config as the checkpoint's `config` JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a ModelConfig always serializes")
    }

    /// Parses and validates a `config` JSON.
    pub fn from_json(json: &str) -> ModelResult<Self> {
        let cfg: ModelConfig =
            serde_json::from_str(json).map_err(|e| config_err(format!("bad config JSON: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Zero padding of the generator's convolutions, `(k − 1) / 2`.
    pub fn pad(&self) -> usize {
        (self.kernel - 1) / 2
    }

    /// Side of the feature maps between conv2 and the transposed convolution, `W / s`.
    pub fn inner_side(&self) -> usize {
        self.window / self.stride
    }

    /// Inputs of D's final linear layer, `disc_widths[4] · (W/32)²`.
    pub fn fc_inputs(&self) -> usize {
        let side = self.window / 32;
        self.disc_widths[4] * side * side
    }
}

/// The generator's adversarial loss `adv(z)` on D's logit z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvLoss {
    /// `softplus(−z)` (default).
    #[default]
    NonSaturating,
    /// `−softplus(z)`: minimizes `log(1 − σ(z))`, as in the write-up.
    Saturating,
}

impl std::str::FromStr for AdvLoss {
    type Err = super::error::ModelError;
    fn from_str(s: &str) -> ModelResult<Self> {
        match s {
            "nonsaturating" => Ok(AdvLoss::NonSaturating),
            "saturating" => Ok(AdvLoss::Saturating),
            _ => Err(config_err(format!(
                "unknown generator loss '{s}': expected nonsaturating or saturating"
            ))),
        }
    }
}

/// Loss hyperparameters. `Default` is the training default
/// ([`crate::train::defaults::LOSS`], the setting measured best on real imagery);
/// [`LossConfig::write_up`] holds the write-up's values (λ_D = 1e-4, λ_start = 100,
/// λ_end = 1, τ = 20000).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossConfig {
    /// λ_D: weight of the L2 penalty on D's weights (not its biases).
    pub lambda_d: f32,
    /// λ_start: weight of G's MSE term at step 0.
    pub lambda_start: f32,
    /// λ_end: the value the MSE weight decays to.
    pub lambda_end: f32,
    /// τ: decay time of the MSE weight, in steps.
    pub tau: f32,
    /// G's adversarial loss.
    pub adv: AdvLoss,
}

impl Default for LossConfig {
    fn default() -> Self {
        crate::train::defaults::LOSS
    }
}

impl LossConfig {
    /// The write-up's values: λ_D = 1e-4, λ_start = 100, λ_end = 1, τ = 20000 steps,
    /// non-saturating G loss.
    pub fn write_up() -> Self {
        LossConfig {
            lambda_d: 1e-4,
            lambda_start: 100.0,
            lambda_end: 1.0,
            tau: 20000.0,
            adv: AdvLoss::NonSaturating,
        }
    }

    /// Checks that the weights are finite and non-negative and τ is positive.
    pub fn validate(&self) -> ModelResult<()> {
        for (key, v) in [
            ("lambda_d", self.lambda_d),
            ("lambda_start", self.lambda_start),
            ("lambda_end", self.lambda_end),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(config_err(format!(
                    "{key} must be finite and non-negative, got {v}"
                )));
            }
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(config_err(format!(
                "tau must be positive, got {}",
                self.tau
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_round_trip_through_json() {
        for name in PRESETS {
            let cfg = ModelConfig::preset(name).unwrap();
            cfg.validate().unwrap();
            assert_eq!(ModelConfig::from_json(&cfg.to_json()).unwrap(), cfg);
        }
        assert!(ModelConfig::preset("huge").is_err());
    }

    #[test]
    fn json_uses_the_spec_keys() {
        let v: serde_json::Value = serde_json::from_str(&ModelConfig::small().to_json()).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "disc_widths",
                "filters",
                "generator",
                "head",
                "in_bands",
                "kernel",
                "leaky_slope",
                "out_bands",
                "outer_layers",
                "stride",
                "window"
            ]
        );
        assert_eq!(v["disc_widths"], serde_json::json!([16, 32, 64, 128, 256]));
        assert_eq!(v["head"], "consistent");
    }

    #[test]
    fn unet_configs_are_checked() {
        let u = ModelConfig::unet();
        u.validate().unwrap();
        let v: serde_json::Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(v["generator"], "unet");
        assert_eq!(v["unet_widths"], serde_json::json!([16, 32, 64, 128]));
        let bad: Vec<(Spoil, &str)> = vec![
            (|c| c.unet_widths.clear(), "1 to 8 widths"),
            (|c| c.unet_widths = vec![4; 9], "1 to 8 widths"),
            (|c| c.unet_widths[1] = 0, "at least 1"),
            (|c| c.head = Head::Raw, "consistent head"),
            (
                |c| {
                    c.unet_widths = vec![4; 7];
                    c.window = 96;
                },
                "multiple of 2^(levels − 1) = 64",
            ),
        ];
        for (spoil, needle) in bad {
            let mut cfg = ModelConfig::unet();
            spoil(&mut cfg);
            let msg = cfg.validate().unwrap_err().to_string();
            assert!(msg.contains(needle), "{msg} should say {needle}");
        }
        // A config without the key is the write-up's generator.
        let mut v: serde_json::Value =
            serde_json::from_str(&ModelConfig::small().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("generator");
        let cfg = ModelConfig::from_json(&v.to_string()).unwrap();
        assert_eq!(cfg.generator, GeneratorKind::Outer);
    }

    #[test]
    fn a_config_without_head_is_a_v1_raw_head() {
        let mut v: serde_json::Value =
            serde_json::from_str(&ModelConfig::small().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("head");
        let cfg = ModelConfig::from_json(&v.to_string()).unwrap();
        assert_eq!(cfg.head, Head::Raw);
        assert_eq!("raw".parse::<Head>().unwrap(), Head::Raw);
        assert_eq!("consistent".parse::<Head>().unwrap(), Head::Consistent);
        assert!("relu".parse::<Head>().is_err());
        v["head"] = "relu".into();
        assert!(ModelConfig::from_json(&v.to_string()).is_err());
    }

    /// Spoils one hyperparameter of a config.
    type Spoil = fn(&mut ModelConfig);

    #[test]
    fn bad_configs_are_rejected_with_the_key_named() {
        let bad: Vec<(Spoil, &str)> = vec![
            (|c| c.window = 48, "window"),
            (|c| c.window = 0, "window"),
            (|c| c.kernel = 4, "kernel"),
            (|c| c.kernel = 65, "kernel"),
            (|c| c.stride = 3, "stride"),
            (
                |c| {
                    c.disc_widths.pop();
                },
                "disc_widths",
            ),
            (|c| c.disc_widths[2] = 0, "disc_widths"),
            (|c| c.leaky_slope = f32::NAN, "leaky_slope"),
            (|c| c.in_bands = 0, "in_bands"),
            (|c| c.outer_layers = 0, "outer_layers"),
            (|c| c.unet_widths = vec![8], "unet_widths apply"),
        ];
        for (spoil, key) in bad {
            let mut cfg = ModelConfig::small();
            spoil(&mut cfg);
            let msg = cfg.validate().unwrap_err().to_string();
            assert!(msg.contains(key), "{msg} should name {key}");
        }
        let msg = ModelConfig::from_json(r#"{"window": 64}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing field"), "{msg}");
        let mut v: serde_json::Value =
            serde_json::from_str(&ModelConfig::seed().to_json()).unwrap();
        v["extra"] = 1.into();
        assert!(ModelConfig::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn loss_defaults_follow_the_spec() {
        let l = LossConfig::write_up();
        assert_eq!(
            (l.lambda_d, l.lambda_start, l.lambda_end, l.tau),
            (1e-4, 100.0, 1.0, 20000.0)
        );
        assert_eq!(LossConfig::default(), crate::train::defaults::LOSS);
        LossConfig::default().validate().unwrap();
        assert_eq!(l.adv, AdvLoss::NonSaturating);
        l.validate().unwrap();
        assert!(LossConfig { tau: 0.0, ..l }.validate().is_err());
        assert!(LossConfig {
            lambda_d: -1.0,
            ..l
        }
        .validate()
        .is_err());
        assert_eq!(
            "saturating".parse::<AdvLoss>().unwrap(),
            AdvLoss::Saturating
        );
        assert!("other".parse::<AdvLoss>().is_err());
    }
}
