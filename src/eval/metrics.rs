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
//! - [`ssim`]: structural similarity (Wang et al. 2004) with an 11×11 Gaussian window
//!   (σ = 1.5), K1 = 0.01, K2 = 0.03 and the data range `L` as a parameter; per band, then
//!   averaged over bands and images. Only **valid** windows count (those wholly inside the
//!   image): no padding, so an image smaller than 11×11 is an error. This matches
//!   scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
//!   use_sample_covariance=False)`, which filters with padding and then drops the 5-pixel
//!   border whose windows would reach the padding.
//! - [`sam`]: spectral angle mapper in degrees, the mean over pixels of the angle between
//!   the predicted and true spectral vectors (the pixel's values across bands). Pixels
//!   where either vector is zero have no angle and are left out of the mean.
//! - [`ergas`]: ERGAS with resolution ratio 1,
//!   `100 · √(mean_b (RMSE_b / μ_b)²)` per image, averaged over images.
//! - [`per_band_rmse`]: the RMSE of each band over the whole batch.
//! - [`delta_e2000`]: the mean CIEDE2000 colour difference ΔE₀₀ per pixel, the values of
//!   bands 0, 1, 2 read as sRGB in [0, 1] (what the normalized, stretched bands look like on
//!   a screen) and converted to CIE L*a*b* under D65 ([`srgb_to_lab`], [`ciede2000`]).

/// Errors of the metrics: buffers that do not fit their shape.
#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    /// A buffer's length or a shape that does not fit.
    #[error("metrics: {0}")]
    Shape(String),
    /// A metric that has no value on the given data (a zero band mean for ERGAS, no pixel
    /// with a spectral angle for SAM) or a parameter out of its domain.
    #[error("metrics: {0}")]
    Undefined(String),
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
    Ok(psnr_of_mse(mse(pred, truth, shape)?, data_range))
}

/// PSNR in dB of a mean squared error over the data range `data_range`:
/// `10·log10(data_range² / mse)` (+∞ for 0). The one definition every PSNR in satcolor
/// (evaluation, comparison, held-out scores) goes through.
pub fn psnr_of_mse(mse: f64, data_range: f64) -> f64 {
    10.0 * (data_range * data_range / mse).log10()
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

/// Side of the SSIM window.
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of the SSIM window's Gaussian, in pixels.
pub const SSIM_SIGMA: f64 = 1.5;
/// SSIM's luminance constant factor: `C1 = (K1·L)²`.
pub const SSIM_K1: f64 = 0.01;
/// SSIM's contrast constant factor: `C2 = (K2·L)²`.
pub const SSIM_K2: f64 = 0.03;

/// Checks that `data_range` is a positive finite number.
fn check_range(data_range: f64) -> Result<(), MetricError> {
    if data_range.is_finite() && data_range > 0.0 {
        Ok(())
    } else {
        Err(MetricError::Undefined(format!(
            "the data range must be a positive number, got {data_range}"
        )))
    }
}

/// The 1-D SSIM weights `g_k ∝ exp(−(k − 5)² / (2σ²))`, k = 0..11, normalized to sum 1;
/// the 2-D window is their outer product (so it sums to 1 too).
fn ssim_weights() -> [f64; SSIM_WINDOW] {
    let half = (SSIM_WINDOW / 2) as f64;
    let mut g = [0.0; SSIM_WINDOW];
    for (k, v) in g.iter_mut().enumerate() {
        let d = k as f64 - half;
        *v = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.map(|v| v / sum)
}

/// Filters the `h × w` plane `f` with the separable window `g`, keeping only the valid
/// positions: an `(h − 10) × (w − 10)` plane, row-major.
fn valid_filter(f: &[f64], h: usize, w: usize, g: &[f64; SSIM_WINDOW]) -> Vec<f64> {
    let (oh, ow) = (h + 1 - SSIM_WINDOW, w + 1 - SSIM_WINDOW);
    let mut rows = Vec::with_capacity(h * ow);
    for r in 0..h {
        let line = &f[r * w..(r + 1) * w];
        rows.extend((0..ow).map(|c| g.iter().zip(&line[c..]).map(|(a, b)| a * b).sum::<f64>()));
    }
    let mut out = Vec::with_capacity(oh * ow);
    for r in 0..oh {
        out.extend((0..ow).map(|c| {
            (0..SSIM_WINDOW)
                .map(|k| g[k] * rows[(r + k) * ow + c])
                .sum::<f64>()
        }));
    }
    out
}

/// Mean structural similarity of `pred` against `truth` (shape `shape`) over the data range
/// `data_range` (1 for normalized values).
///
/// For every valid 11×11 window (wholly inside the image; no padding) of every band of
/// every image, with Gaussian weights `w` (σ = 1.5, summing to 1):
/// `μx = Σ w·x`, `σx² = Σ w·x² − μx²`, `σxy = Σ w·x·y − μx·μy` (weighted population
/// moments, like scikit-image with `use_sample_covariance=False`), and
/// `SSIM = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))` with
/// `C1 = (0.01·L)²`, `C2 = (0.03·L)²`. The result is the mean over windows per band, then
/// over bands and images (every band has the same number of windows, so this is also the
/// mean over all windows). 1 when the images are equal. Errors when the buffers do not fit
/// `shape`, the images are smaller than 11×11, or `data_range` is not a positive number.
pub fn ssim(pred: &[f32], truth: &[f32], shape: Nchw, data_range: f64) -> Result<f64, MetricError> {
    check_range(data_range)?;
    shape.check("prediction", pred)?;
    shape.check("truth", truth)?;
    if shape.h < SSIM_WINDOW || shape.w < SSIM_WINDOW {
        return Err(MetricError::Shape(format!(
            "SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {}x{}",
            shape.h, shape.w
        )));
    }
    let g = ssim_weights();
    let c1 = (SSIM_K1 * data_range).powi(2);
    let c2 = (SSIM_K2 * data_range).powi(2);
    let (h, w) = (shape.h, shape.w);
    let plane = h * w;
    let mut total = 0.0;
    let mut windows = 0usize;
    for (x, y) in pred.chunks_exact(plane).zip(truth.chunks_exact(plane)) {
        let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let y: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        let product =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(p, q)| p * q).collect() };
        let mx = valid_filter(&x, h, w, &g);
        let my = valid_filter(&y, h, w, &g);
        let mxx = valid_filter(&product(&x, &x), h, w, &g);
        let myy = valid_filter(&product(&y, &y), h, w, &g);
        let mxy = valid_filter(&product(&x, &y), h, w, &g);
        for i in 0..mx.len() {
            let (ux, uy) = (mx[i], my[i]);
            let vx = mxx[i] - ux * ux;
            let vy = myy[i] - uy * uy;
            let cxy = mxy[i] - ux * uy;
            total += (2.0 * ux * uy + c1) * (2.0 * cxy + c2)
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
        windows += mx.len();
    }
    Ok(total / windows as f64)
}

/// Mean spectral angle in degrees between `pred` and `truth` (shape `shape`).
///
/// Each pixel's spectral vector is its values across the `c` bands; its angle is
/// `arccos(p·t / (|p|·|t|))`, computed as `2·atan2(|p̂ − t̂|, |p̂ + t̂|)` on the unit vectors
/// (the same angle, accurate near 0° and 180°). The result is the mean over the pixels of
/// all images. A pixel where either vector is zero has no angle and is **left out** of the
/// mean; when no pixel is left the metric is undefined, an error. 0 when the images are
/// equal (or proportional, pixel by pixel, with positive factors).
pub fn sam(pred: &[f32], truth: &[f32], shape: Nchw) -> Result<f64, MetricError> {
    shape.check("prediction", pred)?;
    shape.check("truth", truth)?;
    let plane = shape.h * shape.w;
    let image = shape.c * plane;
    let mut total = 0.0;
    let mut counted = 0usize;
    for (p, t) in pred.chunks_exact(image).zip(truth.chunks_exact(image)) {
        for i in 0..plane {
            let band = |v: &[f32], b: usize| f64::from(v[b * plane + i]);
            let norm = |v: &[f32]| (0..shape.c).map(|b| band(v, b).powi(2)).sum::<f64>().sqrt();
            let (np, nt) = (norm(p), norm(t));
            if np == 0.0 || nt == 0.0 {
                continue;
            }
            let (mut diff, mut sum) = (0.0, 0.0);
            for b in 0..shape.c {
                let (up, ut) = (band(p, b) / np, band(t, b) / nt);
                diff += (up - ut).powi(2);
                sum += (up + ut).powi(2);
            }
            total += 2.0 * diff.sqrt().atan2(sum.sqrt());
            counted += 1;
        }
    }
    if counted == 0 {
        return Err(MetricError::Undefined(
            "SAM: every pixel has a zero spectral vector in the prediction or the truth".into(),
        ));
    }
    Ok((total / counted as f64).to_degrees())
}

/// ERGAS (relative dimensionless global error in synthesis) of `pred` against `truth`
/// (shape `shape`) with resolution ratio 1.
///
/// Per image: `100 · √(mean_b (RMSE_b / μ_b)²)`, with `RMSE_b` the root mean squared error
/// of band `b` over the image's pixels and `μ_b` the mean of the **truth's** band `b` over
/// them; then the mean over the images. 0 when the images are equal. Errors when the
/// buffers do not fit `shape` or some truth band has a zero mean (ERGAS is undefined there).
pub fn ergas(pred: &[f32], truth: &[f32], shape: Nchw) -> Result<f64, MetricError> {
    shape.check("prediction", pred)?;
    shape.check("truth", truth)?;
    let plane = shape.h * shape.w;
    let mut total = 0.0;
    for (n, (p, t)) in pred
        .chunks_exact(shape.c * plane)
        .zip(truth.chunks_exact(shape.c * plane))
        .enumerate()
    {
        let mut ratios = 0.0;
        for (b, (pb, tb)) in p.chunks_exact(plane).zip(t.chunks_exact(plane)).enumerate() {
            let mean = tb.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64;
            if mean == 0.0 {
                return Err(MetricError::Undefined(format!(
                    "ERGAS: band {b} of image {n} of the truth has a zero mean"
                )));
            }
            let mse = pb
                .iter()
                .zip(tb)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum::<f64>()
                / plane as f64;
            ratios += mse / (mean * mean);
        }
        total += 100.0 * (ratios / shape.c as f64).sqrt();
    }
    Ok(total / shape.n as f64)
}

/// Root mean squared error of each band of `pred` against `truth` (shape `shape`), over
/// the pixels of all images: element `b` is `√(mean_{n,y,x} (pred − truth)²)` on band `b`.
pub fn per_band_rmse(pred: &[f32], truth: &[f32], shape: Nchw) -> Result<Vec<f64>, MetricError> {
    shape.check("prediction", pred)?;
    shape.check("truth", truth)?;
    let plane = shape.h * shape.w;
    let mut sums = vec![0.0; shape.c];
    for (i, (p, t)) in pred
        .chunks_exact(plane)
        .zip(truth.chunks_exact(plane))
        .enumerate()
    {
        sums[i % shape.c] += p
            .iter()
            .zip(t)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>();
    }
    let count = (shape.n * plane) as f64;
    Ok(sums.into_iter().map(|s| (s / count).sqrt()).collect())
}

/// CIE L*a*b* (D65 white) of an sRGB colour with components in [0, 1] (clamped): the sRGB
/// transfer curve undone, the IEC 61966-2-1 matrix to XYZ, then CIE 1976 L*a*b* with white
/// point X 0.95047, Y 1, Z 1.08883.
pub fn srgb_to_lab([r, g, b]: [f64; 3]) -> [f64; 3] {
    let lin = |c: f64| {
        let c = c.clamp(0.0, 1.0);
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(r), lin(g), lin(b));
    let x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
    let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    let z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
    let f = |t: f64| {
        const D: f64 = 6.0 / 29.0;
        if t > D * D * D {
            t.cbrt()
        } else {
            t / (3.0 * D * D) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// The CIEDE2000 colour difference ΔE₀₀ of two L*a*b* colours (Sharma, Wu and Dalal 2005,
/// "The CIEDE2000 color-difference formula: implementation notes"), with k_L = k_C = k_H = 1.
pub fn ciede2000(lab1: [f64; 3], lab2: [f64; 3]) -> f64 {
    let [l1, a1, b1] = lab1;
    let [l2, a2, b2] = lab2;
    let c_bar = 0.5 * (a1.hypot(b1) + a2.hypot(b2));
    let c7 = c_bar.powi(7);
    let g = 0.5 * (1.0 - (c7 / (c7 + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = (a1p.hypot(b1), a2p.hypot(b2));
    let hue = |b: f64, a: f64| {
        if a == 0.0 && b == 0.0 {
            0.0
        } else {
            b.atan2(a).to_degrees().rem_euclid(360.0)
        }
    };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh_angle = if c1p * c2p == 0.0 {
        0.0
    } else {
        let d = h2p - h1p;
        if d > 180.0 {
            d - 360.0
        } else if d < -180.0 {
            d + 360.0
        } else {
            d
        }
    };
    let dh = 2.0 * (c1p * c2p).sqrt() * (dh_angle / 2.0).to_radians().sin();
    let l_bar = 0.5 * (l1 + l2);
    let cp_bar = 0.5 * (c1p + c2p);
    let hp_bar = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= 180.0 {
        0.5 * (h1p + h2p)
    } else if h1p + h2p < 360.0 {
        0.5 * (h1p + h2p + 360.0)
    } else {
        0.5 * (h1p + h2p - 360.0)
    };
    let t = 1.0 - 0.17 * (hp_bar - 30.0).to_radians().cos()
        + 0.24 * (2.0 * hp_bar).to_radians().cos()
        + 0.32 * (3.0 * hp_bar + 6.0).to_radians().cos()
        - 0.20 * (4.0 * hp_bar - 63.0).to_radians().cos();
    let d_theta = 30.0 * (-((hp_bar - 275.0) / 25.0).powi(2)).exp();
    let cp7 = cp_bar.powi(7);
    let r_c = 2.0 * (cp7 / (cp7 + 25f64.powi(7))).sqrt();
    let l50 = (l_bar - 50.0).powi(2);
    let s_l = 1.0 + 0.015 * l50 / (20.0 + l50).sqrt();
    let s_c = 1.0 + 0.045 * cp_bar;
    let s_h = 1.0 + 0.015 * cp_bar * t;
    let r_t = -(2.0 * d_theta).to_radians().sin() * r_c;
    let (tl, tc, th) = (dl / s_l, dc / s_c, dh / s_h);
    (tl * tl + tc * tc + th * th + r_t * tc * th).sqrt()
}

/// The mean CIEDE2000 difference over every pixel of every image between `pred` and
/// `truth` (shape `shape`, bands 0, 1, 2 read as sRGB R, G, B in [0, 1], clamped), each
/// converted with [`srgb_to_lab`]. Errors when the buffers do not fit `shape` or there are
/// fewer than three bands.
pub fn delta_e2000(pred: &[f32], truth: &[f32], shape: Nchw) -> Result<f64, MetricError> {
    shape.check("prediction", pred)?;
    shape.check("truth", truth)?;
    if shape.c < 3 {
        return Err(MetricError::Shape(format!(
            "ΔE needs R, G, B bands, the images have {}",
            shape.c
        )));
    }
    let plane = shape.h * shape.w;
    let lab =
        |image: &[f32], i: usize| srgb_to_lab([0, 1, 2].map(|k| f64::from(image[k * plane + i])));
    let mut sum = 0.0;
    for (p, t) in pred
        .chunks_exact(shape.c * plane)
        .zip(truth.chunks_exact(shape.c * plane))
    {
        sum += (0..plane)
            .map(|i| ciede2000(lab(p, i), lab(t, i)))
            .sum::<f64>();
    }
    Ok(sum / (shape.n * plane) as f64)
}
