//! The evaluation metrics against values worked out by hand on tiny arrays, and against a
//! direct two-pass f64 evaluation of the formulas on awkward random batches.

use satcolor::eval::metrics::{
    ciede2000, delta_e2000, ergas, per_band_rmse, psnr_of_mse, sam, srgb_to_lab, ssim,
};
use satcolor::eval::{colorfulness, gray_replicated, mse, psnr, Nchw, Scores};

fn close(got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

// diffs 0.1, 0, 0.5, −0.25 → squares 0.01, 0, 0.25, 0.0625 → mean 0.3225 / 4.
const PRED: [f32; 4] = [0.1, 0.5, 1.0, 0.0];
const TRUTH: [f32; 4] = [0.0, 0.5, 0.5, 0.25];
const MSE: f64 = 0.080625;

#[test]
fn mse_by_hand() {
    close(
        mse(&PRED, &TRUTH, Nchw::new(1, 1, 2, 2)).unwrap(),
        MSE,
        1e-7,
    );
    // Same values as 2 images × 2 bands × 1 × 1: the shape does not change the mean.
    close(
        mse(&PRED, &TRUTH, Nchw::new(2, 2, 1, 1)).unwrap(),
        MSE,
        1e-7,
    );
    assert_eq!(mse(&PRED, &PRED, Nchw::new(1, 1, 1, 4)).unwrap(), 0.0);
}

#[test]
fn psnr_by_hand() {
    // 10·log10(1 / 0.080625) = 10·log10(12.4031007...) = 10.93530...
    let shape = Nchw::new(1, 1, 2, 2);
    close(psnr(&PRED, &TRUTH, shape, 1.0).unwrap(), 10.935_302, 1e-6);
    // Data range 2: + 20·log10(2) = + 6.0206 dB.
    close(psnr(&PRED, &TRUTH, shape, 2.0).unwrap(), 16.955_902, 1e-6);
    assert_eq!(psnr(&PRED, &PRED, shape, 1.0).unwrap(), f64::INFINITY);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(psnr(&PRED, &TRUTH, shape, bad).is_err(), "data range {bad}");
    }
    // The one formula every PSNR goes through: 10·log10(255² / 4) = 42.110 20...
    close(psnr_of_mse(4.0, 255.0), 42.110_203_7, 1e-8);
    close(psnr_of_mse(MSE, 1.0), 10.935_302, 1e-6);
}

/// Planes of one image with pixels `px` = [(R, G, B)] (1 row).
fn image(px: &[[f32; 3]]) -> Vec<f32> {
    (0..3).flat_map(|c| px.iter().map(move |p| p[c])).collect()
}

#[test]
fn colorfulness_by_hand() {
    // Red and black on the 0–255 scale: rg = 255, 0; yb = 127.5, 0.
    // μ_rg = 127.5, μ_yb = 63.75, σ_rg = 127.5, σ_yb = 63.75 (population)
    // σ_rgyb = μ_rgyb = 63.75·√5 = 142.54933; C = 1.3 · 142.54933 = 185.31413.
    let red_black = image(&[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    let shape = Nchw::new(1, 3, 1, 2);
    close(colorfulness(&red_black, shape).unwrap(), 185.314_13, 1e-6);

    // No absolute values: red-ish and green-ish pixels with rg = +255 and −255, yb = 0.
    // μ_rg = 0, σ_rg = 255 → C = 255 (with |rg| it would be 0.3 · 255 = 76.5).
    let opposed = image(&[[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]]);
    close(colorfulness(&opposed, shape).unwrap(), 255.0, 1e-9);

    // Uniform red: σ = 0, μ_rgyb = √(255² + 127.5²) = 285.09867 → C = 85.529602.
    let red = image(&[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
    close(colorfulness(&red, shape).unwrap(), 85.529_602, 1e-6);

    // Gray has none.
    let gray = image(&[[0.2, 0.2, 0.2], [0.9, 0.9, 0.9]]);
    assert_eq!(colorfulness(&gray, shape).unwrap(), 0.0);

    // A batch averages its images: (185.31413 + 255) / 2.
    let batch = [red_black, opposed].concat();
    close(
        colorfulness(&batch, Nchw::new(2, 3, 1, 2)).unwrap(),
        220.157_065,
        1e-6,
    );
}

#[test]
fn colorfulness_uses_the_first_three_bands() {
    // A 4th band (NIR, say) is ignored.
    let mut four = image(&[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    four.extend([0.7, 0.1]);
    close(
        colorfulness(&four, Nchw::new(1, 4, 2, 1)).unwrap(),
        185.314_13,
        1e-6,
    );
    assert!(colorfulness(&[0.5; 8], Nchw::new(2, 2, 1, 2)).is_err());
    assert!(colorfulness(&[0.5; 4], Nchw::new(4, 1, 1, 1)).is_err());
}

/// Deterministic values in [0, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// The formula evaluated directly: two-pass means and deviations, per image, averaged.
fn colorfulness_two_pass(v: &[f32], s: Nchw) -> f64 {
    let plane = s.h * s.w;
    let mut total = 0.0;
    for n in 0..s.n {
        let band = |c: usize, i: usize| 255.0 * f64::from(v[(n * s.c + c) * plane + i]);
        let rg: Vec<f64> = (0..plane).map(|i| band(0, i) - band(1, i)).collect();
        let yb: Vec<f64> = (0..plane)
            .map(|i| (band(0, i) + band(1, i)) / 2.0 - band(2, i))
            .collect();
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        let var = |x: &[f64]| {
            let m = mean(x);
            x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / x.len() as f64
        };
        total += (var(&rg) + var(&yb)).sqrt() + 0.3 * mean(&rg).hypot(mean(&yb));
    }
    total / s.n as f64
}

#[test]
fn colorfulness_matches_two_pass_formula_on_awkward_batches() {
    for (shape, seed) in [
        (Nchw::new(5, 3, 3, 7), 1),
        (Nchw::new(1, 3, 13, 1), 2),
        (Nchw::new(2, 4, 5, 5), 3),
    ] {
        let v = values(shape.len(), seed);
        close(
            colorfulness(&v, shape).unwrap(),
            colorfulness_two_pass(&v, shape),
            1e-9,
        );
    }
}

#[test]
fn scores_combine_the_metrics() {
    let shape = Nchw::new(5, 3, 3, 7);
    let (p, t) = (values(shape.len(), 4), values(shape.len(), 5));
    let s = Scores::of(&p, &t, shape).unwrap();
    assert_eq!(s.mse, mse(&p, &t, shape).unwrap());
    close(s.psnr, psnr(&p, &t, shape, 1.0).unwrap(), 1e-12);
    assert_eq!(s.colorfulness, colorfulness(&p, shape).unwrap());
}

#[test]
fn gray_baseline_replicates_the_input() {
    let x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    let y = gray_replicated(&x, Nchw::new(2, 1, 1, 3), 3).unwrap();
    let want = [
        0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, //
        0.4, 0.5, 0.6, 0.4, 0.5, 0.6, 0.4, 0.5, 0.6,
    ];
    assert_eq!(y, want);
    assert_eq!(colorfulness(&y, Nchw::new(2, 3, 1, 3)).unwrap(), 0.0);
    assert!(gray_replicated(&x, Nchw::new(1, 2, 1, 3), 3).is_err());
    assert!(gray_replicated(&x, Nchw::new(2, 1, 1, 3), 0).is_err());
    assert!(gray_replicated(&x[1..], Nchw::new(2, 1, 1, 3), 3).is_err());
}

#[test]
fn bad_shapes_are_errors() {
    let e = mse(&PRED, &TRUTH[1..], Nchw::new(1, 1, 2, 2)).unwrap_err();
    assert!(e.to_string().contains("truth has 3 values"), "{e}");
    assert!(mse(&PRED, &TRUTH, Nchw::new(1, 1, 2, 3)).is_err());
    assert!(mse(&[], &[], Nchw::new(0, 1, 2, 2)).is_err());
    assert!(mse(&PRED, &TRUTH, Nchw::new(usize::MAX, 2, 2, 2)).is_err());
    assert!(colorfulness(&[], Nchw::new(1, 3, 0, 0)).is_err());
}

/// SSIM's constants for the data range `l`: (C1, C2).
fn ssim_constants(l: f64) -> (f64, f64) {
    ((0.01 * l).powi(2), (0.03 * l).powi(2))
}

#[test]
fn ssim_of_equal_images_is_one() {
    for (shape, seed) in [(Nchw::new(1, 1, 11, 11), 6), (Nchw::new(5, 3, 12, 17), 7)] {
        let v = values(shape.len(), seed);
        close(ssim(&v, &v, shape, 1.0).unwrap(), 1.0, 1e-12);
    }
}

#[test]
fn ssim_of_constants_by_hand() {
    // Constant images a and b: every window has μx = a, μy = b (the weights sum to 1) and
    // zero variances, so SSIM = (2ab + C1) / (a² + b² + C1) · C2 / C2.
    let lum = |a: f64, b: f64, l: f64| {
        let (c1, _) = ssim_constants(l);
        (2.0 * a * b + c1) / (a * a + b * b + c1)
    };
    let shape = Nchw::new(1, 1, 11, 11);
    let (x, y) = (vec![0.5f32; 121], vec![0.25f32; 121]);
    // (0.25 + 0.0001) / (0.3125 + 0.0001) = 0.2501 / 0.3126.
    close(ssim(&x, &y, shape, 1.0).unwrap(), 0.2501 / 0.3126, 1e-9);
    close(ssim(&x, &y, shape, 2.0).unwrap(), 0.2504 / 0.3129, 1e-9);
    close(ssim(&y, &x, shape, 1.0).unwrap(), lum(0.5, 0.25, 1.0), 1e-9);

    // 2 images × 3 bands of constants on 11×13 (3 windows each): the mean of the six.
    let pairs = [
        (0.5, 0.25),
        (0.1, 0.9),
        (0.7, 0.7),
        (0.3, 0.0),
        (1.0, 0.6),
        (0.2, 0.4),
    ];
    let plane = 11 * 13;
    let x: Vec<f32> = pairs.iter().flat_map(|p| vec![p.0 as f32; plane]).collect();
    let y: Vec<f32> = pairs.iter().flat_map(|p| vec![p.1 as f32; plane]).collect();
    let want = pairs
        .iter()
        .map(|&(a, b)| lum(f64::from(a as f32), f64::from(b as f32), 1.0))
        .sum::<f64>()
        / 6.0;
    close(
        ssim(&x, &y, Nchw::new(2, 3, 11, 13), 1.0).unwrap(),
        want,
        1e-9,
    );
}

/// An 11×11 image `m + s·sign(j − 5)` (j the column): antisymmetric about the center, so
/// its Gaussian-weighted mean is exactly `m`.
fn split_image(m: f32, s: f32) -> Vec<f32> {
    (0..121)
        .map(|i| m + s * (i % 11).cmp(&5) as i32 as f32)
        .collect()
}

#[test]
fn ssim_of_offset_and_flipped_patterns_by_hand() {
    let shape = Nchw::new(1, 1, 11, 11);
    let (_, c2) = ssim_constants(1.0);
    // y = x + 0.1: σy = σx = σxy, so only the luminance term is left:
    // (2·0.5·0.6 + C1) / (0.25 + 0.36 + C1) = 0.6001 / 0.6101.
    let x = split_image(0.5, 0.2);
    let y = split_image(0.6, 0.2);
    close(ssim(&x, &y, shape, 1.0).unwrap(), 0.6001 / 0.6101, 1e-6);

    // y = 0.5 − 0.2·sign(j − 5): same means, σxy = −σ², so SSIM = (C2 − 2σ²) / (C2 + 2σ²)
    // with σ² = 0.2²·(1 − g₅), g₅ the center column's weight = 1 / Σₖ exp(−k²/(2·1.5²)).
    let flipped = split_image(0.5, -0.2);
    let g5 = 1.0
        / (-5..=5)
            .map(|k: i32| (-f64::from(k * k) / 4.5).exp())
            .sum::<f64>();
    let var = 0.04 * (1.0 - g5);
    let want = (c2 - 2.0 * var) / (c2 + 2.0 * var);
    assert!(want < -0.9, "{want}");
    close(ssim(&x, &flipped, shape, 1.0).unwrap(), want, 1e-5);
}

/// SSIM evaluated directly: every valid window, 2-D weights normalized over the window,
/// two-pass weighted moments; mean over all windows of all planes.
fn ssim_direct(x: &[f32], y: &[f32], s: Nchw, l: f64) -> f64 {
    let (c1, c2) = ssim_constants(l);
    let mut w = vec![0.0; 121];
    for (i, v) in w.iter_mut().enumerate() {
        let (di, dj) = ((i / 11) as f64 - 5.0, (i % 11) as f64 - 5.0);
        *v = (-(di * di + dj * dj) / 4.5).exp();
    }
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= sum);
    let plane = s.h * s.w;
    let (mut total, mut count) = (0.0, 0);
    for p in 0..s.n * s.c {
        for r in 0..=s.h - 11 {
            for c in 0..=s.w - 11 {
                let at =
                    |v: &[f32], k: usize| f64::from(v[p * plane + (r + k / 11) * s.w + c + k % 11]);
                let mx: f64 = (0..121).map(|k| w[k] * at(x, k)).sum();
                let my: f64 = (0..121).map(|k| w[k] * at(y, k)).sum();
                let vx: f64 = (0..121).map(|k| w[k] * (at(x, k) - mx).powi(2)).sum();
                let vy: f64 = (0..121).map(|k| w[k] * (at(y, k) - my).powi(2)).sum();
                let cxy: f64 = (0..121)
                    .map(|k| w[k] * (at(x, k) - mx) * (at(y, k) - my))
                    .sum();
                total += (2.0 * mx * my + c1) * (2.0 * cxy + c2)
                    / ((mx * mx + my * my + c1) * (vx + vy + c2));
                count += 1;
            }
        }
    }
    total / count as f64
}

#[test]
fn ssim_matches_direct_windows_on_awkward_batches() {
    for (shape, seed, l) in [
        (Nchw::new(1, 1, 12, 15), 8, 1.0),
        (Nchw::new(5, 3, 11, 14), 9, 1.0),
        (Nchw::new(2, 3, 13, 11), 10, 2.5),
    ] {
        let x = values(shape.len(), seed);
        // A noisy, dimmed copy: correlated but not equal.
        let y: Vec<f32> = x
            .iter()
            .zip(values(shape.len(), seed + 100))
            .map(|(a, n)| 0.8 * a + 0.3 * n)
            .collect();
        let got = ssim(&x, &y, shape, l).unwrap();
        close(got, ssim_direct(&x, &y, shape, l), 1e-9);
        assert!(got > 0.1 && got < 0.99, "{got}");
    }
}

#[test]
fn ssim_rejects_small_images_and_bad_ranges() {
    let v = vec![0.5f32; 10 * 20];
    let e = ssim(&v, &v, Nchw::new(1, 1, 10, 20), 1.0).unwrap_err();
    assert!(e.to_string().contains("at least 11x11"), "{e}");
    assert!(ssim(&v, &v, Nchw::new(1, 1, 20, 10), 1.0).is_err());
    let v = vec![0.5f32; 121];
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(ssim(&v, &v, Nchw::new(1, 1, 11, 11), bad).is_err(), "{bad}");
    }
    assert!(ssim(&v, &v[1..], Nchw::new(1, 1, 11, 11), 1.0).is_err());
    assert!(ssim(&v, &v, Nchw::new(1, 1, 11, 12), 1.0).is_err());
}

/// Planes of one image from per-pixel spectral vectors `px` (1 row of pixels).
fn spectra<const C: usize>(px: &[[f32; C]]) -> Vec<f32> {
    (0..C).flat_map(|c| px.iter().map(move |p| p[c])).collect()
}

#[test]
fn sam_by_hand() {
    let shape = Nchw::new(1, 2, 1, 2);
    // (1, 0) vs (1, 1) and (1, 1) vs (0, 1): 45° each.
    let p = spectra(&[[1.0, 0.0], [1.0, 1.0]]);
    let t = spectra(&[[1.0, 1.0], [0.0, 1.0]]);
    close(sam(&p, &t, shape).unwrap(), 45.0, 1e-12);
    // 90° and 0° (parallel, different lengths) → mean 45°.
    let p = spectra(&[[1.0, 0.0], [0.5, 0.5]]);
    let t = spectra(&[[0.0, 3.0], [2.0, 2.0]]);
    close(sam(&p, &t, shape).unwrap(), 45.0, 1e-12);
    // Opposite: 180°.
    let p = spectra(&[[1.0, 0.0], [0.0, -2.0]]);
    let t = spectra(&[[-1.0, 0.0], [0.0, 1.0]]);
    close(sam(&p, &t, shape).unwrap(), 180.0, 1e-12);
    // 3 bands: gray (1, 1, 1) vs pure red (1, 0, 0): arccos(1/√3) = 54.7356103172453°.
    let p = spectra(&[[1.0, 1.0, 1.0]]);
    let t = spectra(&[[1.0, 0.0, 0.0]]);
    close(
        sam(&p, &t, Nchw::new(1, 3, 1, 1)).unwrap(),
        54.735_610_317_245_3,
        1e-12,
    );
    // A batch of 2 images averages over all 4 pixels: (90 + 0 + 54.7356... + 0) / 4.
    let p = [
        spectra(&[[1.0, 0.0, 0.0], [0.2, 0.3, 0.4]]),
        spectra(&[[1.0, 1.0, 1.0], [0.1, 0.1, 0.0]]),
    ]
    .concat();
    let t = [
        spectra(&[[0.0, 0.0, 1.0], [0.4, 0.6, 0.8]]),
        spectra(&[[1.0, 0.0, 0.0], [0.1, 0.1, 0.0]]),
    ]
    .concat();
    close(
        sam(&p, &t, Nchw::new(2, 3, 1, 2)).unwrap(),
        (90.0 + 54.735_610_317_245_3) / 4.0,
        1e-9,
    );
}

#[test]
fn sam_is_zero_on_equal_and_scaled_images() {
    let shape = Nchw::new(5, 3, 3, 7);
    let v: Vec<f32> = values(shape.len(), 11).iter().map(|a| a + 0.01).collect();
    assert_eq!(sam(&v, &v, shape).unwrap(), 0.0);
    let doubled: Vec<f32> = v.iter().map(|a| 2.0 * a).collect();
    close(sam(&doubled, &v, shape).unwrap(), 0.0, 1e-5);
}

#[test]
fn sam_leaves_out_zero_vectors() {
    let shape = Nchw::new(1, 2, 1, 3);
    // Pixel 0 is 90°, pixel 1 has a zero prediction, pixel 2 a zero truth: mean 90°.
    let p = spectra(&[[1.0, 0.0], [0.0, 0.0], [0.3, 0.1]]);
    let t = spectra(&[[0.0, 1.0], [0.5, 0.5], [0.0, 0.0]]);
    close(sam(&p, &t, shape).unwrap(), 90.0, 1e-12);
    // No pixel left: an error, not NaN.
    let zero = vec![0.0f32; 6];
    let e = sam(&zero, &t, shape).unwrap_err();
    assert!(e.to_string().contains("zero spectral vector"), "{e}");
    assert!(sam(&zero, &zero, shape).is_err());
}

#[test]
fn ergas_by_hand() {
    // Truth band 0 = [1, 3] (μ 2), band 1 = [4, 4] (μ 4); prediction band 0 = [2, 2]
    // (RMSE 1), band 1 = [5, 5] (RMSE 1): 100·√(((1/2)² + (1/4)²)/2) = 100·√0.15625.
    let shape = Nchw::new(1, 2, 1, 2);
    let t = [1.0, 3.0, 4.0, 4.0];
    let p = [2.0, 2.0, 5.0, 5.0];
    close(ergas(&p, &t, shape).unwrap(), 39.528_470_752_104_74, 1e-12);
    assert_eq!(ergas(&t, &t, shape).unwrap(), 0.0);
    // The truth's means, not the prediction's: swapping changes it. Truth band 0 = [2, 2]
    // (μ 2), band 1 = [5, 5] (μ 5): 100·√((1/4 + 1/25)/2) = 100·√0.145.
    close(
        ergas(&t, &p, shape).unwrap(),
        100.0 * 0.145f64.sqrt(),
        1e-12,
    );
    // A constant offset d on every band: 100·d·√(mean_b 1/μ_b²); 3 bands, μ 0.25, 0.5, 1,
    // d = 0.05: 5·√((16 + 4 + 1)/3) = 5·√7.
    let t: Vec<f32> = [0.25f32, 0.5, 1.0]
        .iter()
        .flat_map(|&m| [m - 0.1, m + 0.1, m, m])
        .collect();
    let p: Vec<f32> = t.iter().map(|v| v + 0.05).collect();
    close(
        ergas(&p, &t, Nchw::new(1, 3, 2, 2)).unwrap(),
        5.0 * 7f64.sqrt(),
        1e-5,
    );
    // A batch averages its images: the hand case and an exact copy → half.
    let t2 = [1.0, 3.0, 4.0, 4.0, 1.0, 3.0, 4.0, 4.0];
    let p2 = [2.0, 2.0, 5.0, 5.0, 1.0, 3.0, 4.0, 4.0];
    close(
        ergas(&p2, &t2, Nchw::new(2, 2, 1, 2)).unwrap(),
        39.528_470_752_104_74 / 2.0,
        1e-12,
    );
}

#[test]
fn ergas_rejects_zero_band_means() {
    // Band 1 of image 1 of the truth averages to zero.
    let t = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, -0.5, 0.5];
    let e = ergas(&t, &t, Nchw::new(2, 2, 1, 2)).unwrap_err();
    assert!(e.to_string().contains("band 1 of image 1"), "{e}");
    // A zero prediction mean is fine.
    let p = [0.0; 4];
    close(
        ergas(&p, &t[..4], Nchw::new(1, 2, 1, 2)).unwrap(),
        100.0,
        1e-12,
    );
}

#[test]
fn per_band_rmse_by_hand() {
    // 2 images × 2 bands × 2 pixels. Band 0 diffs: [1, −1], [1, 1] → √(4/4) = 1.
    // Band 1 diffs: [0, 2], [2, 2] → √(12/4) = √3.
    let t = [0.0f32; 8];
    let p = [1.0, -1.0, 0.0, 2.0, 1.0, 1.0, 2.0, 2.0];
    let r = per_band_rmse(&p, &t, Nchw::new(2, 2, 1, 2)).unwrap();
    assert_eq!(r.len(), 2);
    close(r[0], 1.0, 1e-12);
    close(r[1], 3f64.sqrt(), 1e-12);
    // One band: the square root of the MSE.
    let r = per_band_rmse(&PRED, &TRUTH, Nchw::new(1, 1, 2, 2)).unwrap();
    close(r[0], MSE.sqrt(), 1e-7);
    assert_eq!(
        per_band_rmse(&p, &p, Nchw::new(1, 2, 2, 2)).unwrap(),
        [0.0, 0.0]
    );
}

#[test]
fn new_metrics_reject_bad_shapes() {
    let v = [0.5f32; 8];
    let shape = Nchw::new(2, 2, 1, 2);
    assert!(sam(&v, &v[1..], shape).is_err());
    assert!(ergas(&v[1..], &v, shape).is_err());
    assert!(per_band_rmse(&v, &v, Nchw::new(1, 3, 1, 2)).is_err());
    assert!(sam(&[], &[], Nchw::new(1, 3, 0, 0)).is_err());
    assert!(ergas(&[], &[], Nchw::new(0, 2, 1, 1)).is_err());
    assert!(per_band_rmse(&[], &[], Nchw::new(1, 0, 1, 1)).is_err());
}

/// Pairs of L*a*b* colours and their CIEDE2000 difference from the test data published
/// with Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula: implementation
/// notes" (pairs 1–4, 7, 8, 13–25): they cover the hue-angle wrap-arounds, a zero chroma
/// and the mean-hue cases that a careless implementation gets wrong.
const SHARMA: [([f64; 3], [f64; 3], f64); 19] = [
    ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
    ([50.0, 3.1571, -77.2803], [50.0, 0.0, -82.7485], 2.8615),
    ([50.0, 2.8361, -74.0200], [50.0, 0.0, -82.7485], 3.4412),
    ([50.0, -1.3802, -84.2814], [50.0, 0.0, -82.7485], 1.0000),
    ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
    ([50.0, -1.0, 2.0], [50.0, 0.0, 0.0], 2.3669),
    ([50.0, 2.49, -0.001], [50.0, -2.49, 0.0009], 7.1792),
    ([50.0, 2.49, -0.001], [50.0, -2.49, 0.0010], 7.1792),
    ([50.0, 2.49, -0.001], [50.0, -2.49, 0.0011], 7.2195),
    ([50.0, 2.49, -0.001], [50.0, -2.49, 0.0012], 7.2195),
    ([50.0, -0.001, 2.49], [50.0, 0.0009, -2.49], 4.8045),
    ([50.0, -0.001, 2.49], [50.0, 0.0010, -2.49], 4.8045),
    ([50.0, -0.001, 2.49], [50.0, 0.0011, -2.49], 4.7461),
    ([50.0, 2.5, 0.0], [50.0, 0.0, -2.5], 4.3065),
    ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
    ([50.0, 2.5, 0.0], [61.0, -5.0, 29.0], 22.8977),
    ([50.0, 2.5, 0.0], [56.0, -27.0, -3.0], 31.9030),
    ([50.0, 2.5, 0.0], [58.0, 24.0, 15.0], 19.4535),
    ([50.0, 2.5, 0.0], [50.0, 3.1736, 0.5854], 1.0000),
];

#[test]
fn ciede2000_matches_the_published_test_data() {
    for (i, (a, b, want)) in SHARMA.iter().enumerate() {
        let got = ciede2000(*a, *b);
        assert!((got - want).abs() < 5e-5, "pair {i}: {got} vs {want}");
        // Symmetric.
        assert!((ciede2000(*b, *a) - want).abs() < 5e-5, "pair {i} swapped");
    }
    assert_eq!(ciede2000([40.0, 10.0, -5.0], [40.0, 10.0, -5.0]), 0.0);
}

/// sRGB white, black and primaries against their well-known L*a*b* values (D65).
#[test]
fn srgb_to_lab_by_hand() {
    let cases = [
        ([1.0, 1.0, 1.0], [100.0, 0.0, 0.0]),
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        ([1.0, 0.0, 0.0], [53.2408, 80.0925, 67.2032]),
        ([0.0, 1.0, 0.0], [87.7347, -86.1827, 83.1793]),
        ([0.0, 0.0, 1.0], [32.2970, 79.1875, -107.8602]),
    ];
    for (rgb, lab) in cases {
        let got = srgb_to_lab(rgb);
        for k in 0..3 {
            assert!(
                (got[k] - lab[k]).abs() < 2e-3,
                "{rgb:?}: {got:?} vs {lab:?}"
            );
        }
    }
    // Clamped outside [0, 1].
    assert_eq!(srgb_to_lab([1.5, 1.0, 2.0]), srgb_to_lab([1.0, 1.0, 1.0]));
}

/// The mean ΔE of a batch: zero for equal images, and the mean of the per-pixel
/// differences otherwise (two images of 2 pixels, computed pixel by pixel here).
#[test]
fn delta_e_is_the_mean_over_pixels() {
    let s = Nchw::new(2, 3, 1, 2);
    let truth: Vec<f32> = vec![0.2, 0.9, 0.4, 0.4, 0.1, 0.5, 0.7, 0.7, 0.3, 0.2, 0.6, 0.0];
    let pred: Vec<f32> = vec![0.3, 0.9, 0.4, 0.5, 0.2, 0.5, 0.7, 0.6, 0.3, 0.2, 0.5, 0.1];
    assert_eq!(delta_e2000(&truth, &truth, s).unwrap(), 0.0);
    let px =
        |v: &[f32], n: usize, i: usize| srgb_to_lab([0, 1, 2].map(|k| v[n * 6 + k * 2 + i] as f64));
    let mut want = 0.0;
    for n in 0..2 {
        for i in 0..2 {
            want += ciede2000(px(&pred, n, i), px(&truth, n, i));
        }
    }
    let got = delta_e2000(&pred, &truth, s).unwrap();
    close(got, want / 4.0, 1e-12);
    assert!(got > 1.0);
    assert!(delta_e2000(&pred[..4], &truth[..4], Nchw::new(1, 2, 1, 2)).is_err());
}
