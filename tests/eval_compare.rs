//! Whole-image scores with nodata masks (`eval::compare`) against values computed by hand.

use satcolor::eval::compare::{combine, score, truth_colorfulness, Comparison, EvalScores};

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// Two bands of 2×2 pixels; the last pixel is nodata and has a huge error that must not
/// count.
fn tiny() -> (Vec<f32>, Vec<f32>, Vec<bool>) {
    let pred = vec![0.5, 0.2, 0.9, 0.0, 0.1, 0.1, 0.1, 0.0];
    let truth = vec![0.4, 0.2, 0.6, 1.0, 0.1, 0.3, 0.1, 1.0];
    (pred, truth, vec![true, true, true, false])
}

#[test]
fn pixel_metrics_use_the_valid_pixels_only() {
    let (pred, truth, valid) = tiny();
    let s = score(&pred, &truth, &valid, 2, (2, 2)).unwrap();
    // Squared errors: band 0: 0.01, 0, 0.09; band 1: 0, 0.04, 0.
    close(s.mse, 0.14 / 6.0, "mse");
    close(s.psnr_db, 10.0 * (6.0f64 / 0.14).log10(), "psnr");
    close(s.rmse_per_band[0], (0.10f64 / 3.0).sqrt(), "rmse 0");
    close(s.rmse_per_band[1], (0.04f64 / 3.0).sqrt(), "rmse 1");
    // Angles between (p0, p1) and (t0, t1) per valid pixel.
    let angle = |p: [f64; 2], t: [f64; 2]| {
        let dot = p[0] * t[0] + p[1] * t[1];
        (dot / (p[0].hypot(p[1]) * t[0].hypot(t[1])))
            .acos()
            .to_degrees()
    };
    let sam = (angle([0.5, 0.1], [0.4, 0.1])
        + angle([0.2, 0.1], [0.2, 0.3])
        + angle([0.9, 0.1], [0.6, 0.1]))
        / 3.0;
    close(s.sam_deg.unwrap(), sam, "sam");
    // ERGAS: 100·sqrt(mean_b (RMSE_b / mean of true band b)²), means 0.4 and 0.5/3.
    let r0 = (0.10f64 / 3.0).sqrt() / 0.4;
    let r1 = (0.04f64 / 3.0).sqrt() / (0.5 / 3.0);
    close(
        s.ergas.unwrap(),
        100.0 * ((r0 * r0 + r1 * r1) / 2.0).sqrt(),
        "ergas",
    );
    assert_eq!(s.ssim, None, "2x2 is smaller than the SSIM window");
    assert_eq!(s.colorfulness, None, "two bands are not R, G, B");
}

#[test]
fn ssim_runs_on_the_full_image_with_nodata_zeroed_in_both() {
    let (w, h) = (13, 12);
    let plane = w * h;
    let truth: Vec<f32> = (0..plane).map(|i| ((i * 7) % 11) as f32 / 10.0).collect();
    let mut pred = truth.clone();
    let mut valid = vec![true; plane];
    // Nodata pixels that differ wildly: zeroed in both, so SSIM stays 1.
    for i in [0, 40, 77] {
        pred[i] = 1.0 - truth[i];
        valid[i] = false;
    }
    let s = score(&pred, &truth, &valid, 1, (w, h)).unwrap();
    close(s.ssim.unwrap(), 1.0, "ssim");
    assert_eq!(s.mse, 0.0);
}

#[test]
fn colorfulness_of_three_bands_over_valid_pixels() {
    // R, G, B of three pixels; the third is nodata.
    let rgb = vec![1.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.0, 1.0, 0.5];
    let valid = vec![true, true, false];
    // 0-255 scale: pixel 0 (255, 0, 0): rg 255, yb 127.5; pixel 1 (0, 0, 255): rg 0, yb -255.
    let (mu_rg, mu_yb) = (127.5f64, -63.75f64);
    let sd_rg = 127.5f64;
    let sd_yb = 191.25f64;
    let want =
        (sd_rg * sd_rg + sd_yb * sd_yb).sqrt() + 0.3 * (mu_rg * mu_rg + mu_yb * mu_yb).sqrt();
    close(
        truth_colorfulness(&rgb, &valid, 3).unwrap().unwrap(),
        want,
        "colorfulness",
    );
    assert_eq!(truth_colorfulness(&rgb[..6], &valid, 2).unwrap(), None);
}

#[test]
fn an_image_without_valid_pixels_is_an_error() {
    let (pred, truth, _) = tiny();
    let err = score(&pred, &truth, &[false; 4], 2, (2, 2)).unwrap_err();
    assert!(err.to_string().contains("no valid pixel"), "{err}");
    assert!(score(&pred[..7], &truth, &[true; 4], 2, (2, 2)).is_err());
}

fn scores(mse: f64, ssim: Option<f64>, rmse: [f64; 2]) -> EvalScores {
    EvalScores {
        mse,
        psnr_db: 0.0,
        ssim,
        sam_deg: Some(mse * 100.0),
        ergas: None,
        rmse_per_band: rmse.to_vec(),
        colorfulness: Some(mse * 10.0),
        delta_e: Some(mse * 50.0),
    }
}

#[test]
fn combining_weights_by_valid_pixels() {
    let a = Comparison {
        pixels: 1,
        model: scores(0.04, Some(0.5), [0.1, 0.3]),
        gray: Some(scores(0.01, None, [0.2, 0.2])),
        linear: Some(scores(0.02, None, [0.2, 0.1])),
        truth_colorfulness: Some(10.0),
    };
    let b = Comparison {
        pixels: 3,
        model: scores(0.08, None, [0.5, 0.1]),
        gray: Some(scores(0.05, Some(0.9), [0.0, 0.4])),
        linear: Some(scores(0.03, None, [0.1, 0.1])),
        truth_colorfulness: Some(30.0),
    };
    let c = combine(&[a, b.clone()]).unwrap();
    assert_eq!(c.pixels, 4);
    close(c.model.mse, (0.04 + 3.0 * 0.08) / 4.0, "mse");
    close(
        c.model.psnr_db,
        10.0 * (4.0f64 / 0.28).log10(),
        "psnr from the combined mse",
    );
    close(
        c.model.ssim.unwrap(),
        0.5,
        "ssim over the images that have it",
    );
    close(c.model.sam_deg.unwrap(), (4.0 + 3.0 * 8.0) / 4.0, "sam");
    assert_eq!(c.model.ergas, None);
    close(
        c.model.rmse_per_band[0],
        ((0.01 + 3.0 * 0.25) / 4.0f64).sqrt(),
        "rmse 0",
    );
    close(
        c.model.rmse_per_band[1],
        ((0.09 + 3.0 * 0.01) / 4.0f64).sqrt(),
        "rmse 1",
    );
    close(c.model.delta_e.unwrap(), 50.0 * 0.28 / 4.0, "delta e");
    close(c.gray.as_ref().unwrap().ssim.unwrap(), 0.9, "gray ssim");
    close(
        c.linear.as_ref().unwrap().mse,
        (0.02 + 3.0 * 0.03) / 4.0,
        "linear mse",
    );
    close(c.truth_colorfulness.unwrap(), 25.0, "truth colorfulness");
    // The stronger baseline is the one with the lower MSE: gray 0.04, linear 0.0275.
    let (name, best) = c.best_baseline().unwrap();
    assert_eq!(name, "linear");
    close(best.mse, 0.0275, "best");
    assert!(c
        .verdict()
        .contains("does NOT beat the stronger baseline (linear)"));
    // A part without a baseline: no combined baseline.
    let no_base = Comparison {
        gray: None,
        linear: None,
        ..b
    };
    let combined = combine(&[no_base]).unwrap();
    assert_eq!((combined.gray, combined.linear), (None, None));
    assert_eq!(combine(&[]), None);
}

/// The verdict names the stronger baseline and the PSNR margin.
#[test]
fn the_verdict_compares_with_the_stronger_baseline() {
    let c = Comparison {
        pixels: 10,
        model: EvalScores {
            psnr_db: 30.0,
            ..scores(0.001, None, [0.0, 0.0])
        },
        gray: Some(EvalScores {
            psnr_db: 20.0,
            ..scores(0.01, None, [0.0, 0.0])
        }),
        linear: Some(EvalScores {
            psnr_db: 26.0,
            ..scores(0.0025, None, [0.0, 0.0])
        }),
        truth_colorfulness: None,
    };
    let v = c.verdict();
    assert!(
        v.contains("beats the stronger baseline (linear): MSE 60.0% lower, PSNR +4.00 dB"),
        "{v}"
    );
    let only_gray = Comparison { linear: None, ..c };
    assert!(only_gray.verdict().contains("(gray)"));
}
