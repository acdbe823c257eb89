//! The evaluation metrics against values worked out by hand on tiny arrays, and against a
//! direct two-pass f64 evaluation of the formulas on awkward random batches.

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
