//! Metrics of a colorization against the truth, on NCHW f32 batches of normalized values
//! (nominally in [0, 1]); sums are taken in f64.
//!
//! - [`mse`]: mean of the squared differences over every value of the batch.
//! - [`psnr`]: `10·log10(R² / MSE)` with `R` the data range (1 for normalized values),
//!   from the MSE of the whole batch (not an average of per-image PSNRs); +∞ when equal.
//! - [`colorfulness`]: Hasler and Süsstrunk (2003), "Measuring colourfulness in natural
//!   images", per image, then averaged over the batch:
//!   `rg = R − G`, `yb = (R + G)/2 − B`,
//!   `C = σ_rgyb + 0.3·μ_rgyb`, `σ_rgyb = √(σ_rg² + σ_yb²)`, `μ_rgyb = √(μ_rg² + μ_yb²)`,
//!   with means and population standard deviations (÷ N) over the image's pixels and
//!   **without absolute values**: μ_rg is the mean of R − G, not of |R − G| (some
//!   implementations take |R − G|; the paper's formula does not). Bands 0, 1, 2 are R, G,
//!   B. The value is reported **on the 0–255 scale** of the paper (normalized values are
//!   multiplied by 255 first; C scales linearly), so figures compare with its table:
//!   about 15 "slightly", 33 "moderately", 45 "averagely", 59 "quite", 82 "highly"
//!   colorful. A gray image (R = G = B) has C = 0.

/// Errors of the metrics: buffers that do not fit their shape.
#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    /// A buffer's length or a shape that does not fit.
    #[error("metrics: {0}")]
    Shape(String),
}

/// The shape of an NCHW batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nchw {
    /// Images in the batch.
    pub n: usize,
    /// Bands per image.
    pub c: usize,
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
}

impl Nchw {
    /// The shape `[n, c, h, w]`.
    pub fn new(n: usize, c: usize, h: usize, w: usize) -> Self {
        Self { n, c, h, w }
    }

    /// Number of values, `n·c·h·w` (saturating on overflow, which no buffer can match).
    pub fn len(&self) -> usize {
        [self.c, self.h, self.w]
            .iter()
            .fold(self.n, |acc, &d| acc.saturating_mul(d))
    }

    /// Whether the shape holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that the shape is not empty and that `data` (called `what` in the error) has
    /// exactly its number of values.
    pub fn check(&self, what: &str, data: &[f32]) -> Result<(), MetricError> {
        if self.is_empty() {
            return Err(MetricError::Shape(format!(
                "empty shape {}x{}x{}x{}",
                self.n, self.c, self.h, self.w
            )));
        }
        if data.len() != self.len() {
            return Err(MetricError::Shape(format!(
                "the {what} has {} values, the shape {}x{}x{}x{} needs {}",
                data.len(),
                self.n,
                self.c,
                self.h,
                self.w,
                self.len()
            )));
        }
        Ok(())
    }
}

/// Mean squared error between `pred` and `truth`, both of shape `shape`.
pub fn mse(pred: &[f32], truth: &[f32], shape: Nchw) -> Result<f64, MetricError> {
    shape.check("prediction", pred)?;
    shape.check("truth", truth)?;
    let sum: f64 = pred
        .iter()
        .zip(truth)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2))
        .sum();
    Ok(sum / pred.len() as f64)
}

/// Peak signal-to-noise ratio in dB of `pred` against `truth` over the data range
/// `data_range` (1 for normalized values): `10·log10(data_range² / MSE)`; +∞ when they are
/// equal. Errors also when `data_range` is not a positive number.
pub fn psnr(pred: &[f32], truth: &[f32], shape: Nchw, data_range: f64) -> Result<f64, MetricError> {
    if !(data_range.is_finite() && data_range > 0.0) {
        return Err(MetricError::Shape(format!(
            "the data range must be a positive number, got {data_range}"
        )));
    }
    let e = mse(pred, truth, shape)?;
    Ok(10.0 * (data_range * data_range / e).log10())
}

/// Mean Hasler–Süsstrunk colorfulness of the images of `rgb` (shape `shape`, at least 3
/// bands of which the first three are R, G, B), on the 0–255 scale (see the module docs).
pub fn colorfulness(rgb: &[f32], shape: Nchw) -> Result<f64, MetricError> {
    shape.check("image", rgb)?;
    if shape.c < 3 {
        return Err(MetricError::Shape(format!(
            "colorfulness needs R, G, B bands, the images have {}",
            shape.c
        )));
    }
    let plane = shape.h * shape.w;
    let count = plane as f64;
    let mut total = 0.0;
    for image in rgb.chunks_exact(shape.c * plane) {
        let (mut rg_sum, mut yb_sum, mut rg_sq, mut yb_sq) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..plane {
            let [r, g, b] = [0, 1, 2].map(|k| 255.0 * f64::from(image[k * plane + i]));
            let rg = r - g;
            let yb = 0.5 * (r + g) - b;
            rg_sum += rg;
            yb_sum += yb;
            rg_sq += rg * rg;
            yb_sq += yb * yb;
        }
        let (mu_rg, mu_yb) = (rg_sum / count, yb_sum / count);
        // Population variances; clamped at 0 against rounding.
        let var_rg = (rg_sq / count - mu_rg * mu_rg).max(0.0);
        let var_yb = (yb_sq / count - mu_yb * mu_yb).max(0.0);
        total += (var_rg + var_yb).sqrt() + 0.3 * (mu_rg * mu_rg + mu_yb * mu_yb).sqrt();
    }
    Ok(total / shape.n as f64)
}

/// The headline figures of a colorization (see [`Scores::of`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// [`mse`] against the truth.
    pub mse: f64,
    /// [`psnr`] against the truth, data range 1.
    pub psnr: f64,
    /// [`colorfulness`] of the colorization.
    pub colorfulness: f64,
}

impl Scores {
    /// MSE, PSNR (data range 1) and colorfulness of `pred` against `truth`, both normalized
    /// batches of shape `shape` with R, G, B as their first bands.
    pub fn of(pred: &[f32], truth: &[f32], shape: Nchw) -> Result<Self, MetricError> {
        let mse = mse(pred, truth, shape)?;
        Ok(Self {
            mse,
            psnr: 10.0 * (1.0 / mse).log10(),
            colorfulness: colorfulness(pred, shape)?,
        })
    }
}
