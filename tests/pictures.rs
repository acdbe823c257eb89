//! The training pictures: sample grids (`samples/step-N.png`) and the loss plot
//! (`loss.png`) decode, have the expected sizes, show the right pixels in the right panels,
//! are written atomically, and fail cleanly on bad input.
#![cfg(feature = "plots")]

use satcolor::train::samples::{panel_scale, SEPARATOR};
use satcolor::train::{plot_losses, write_sample_grid, LogRecord};
use std::path::{Path, PathBuf};

/// A fresh empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("satcolor-pictures-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names of the files in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Deterministic values in [−0.25, 1.25) (so clamping is exercised), with a NaN at index 7.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if i == 7 {
                f32::NAN
            } else {
                (s >> 40) as f32 / (1u64 << 24) as f32 * 1.5 - 0.25
            }
        })
        .collect()
}

/// The 8-bit level a value should show as: clamp to [0, 1], NaN as black.
fn level(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// The expected color of pixel (`i`, `j`) of window `b` of an NCHW batch with `bands` bands.
fn expected(data: &[f32], b: usize, bands: usize, window: usize, i: usize, j: usize) -> [u8; 3] {
    let at = |k: usize| data[((b * bands + k) * window + i) * window + j];
    if bands >= 3 {
        [level(at(0)), level(at(1)), level(at(2))]
    } else {
        [level(at(0)); 3]
    }
}

/// Writes a grid and checks its size and every pixel of every panel.
fn check_grid(batch: usize, in_bands: usize, out_bands: usize, window: usize, max_rows: usize) {
    let dir = temp_dir(&format!(
        "grid-{batch}-{in_bands}-{out_bands}-{window}-{max_rows}"
    ));
    let path = dir.join("step-7.png");
    let plane = window * window;
    let x = values(batch * in_bands * plane, 1);
    let fake = values(batch * out_bands * plane, 2);
    let real = values(batch * out_bands * plane, 3);
    write_sample_grid(
        &path, &x, &fake, &real, batch, in_bands, out_bands, window, max_rows,
    )
    .unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    let rows = batch.min(max_rows);
    let scale = panel_scale(window);
    let side = window * scale;
    assert_eq!(
        (img.width() as usize, img.height() as usize),
        (
            3 * side + 4 * SEPARATOR,
            rows * side + (rows + 1) * SEPARATOR
        )
    );
    let sep = img.get_pixel(0, 0).0;
    for row in 0..rows {
        let top = SEPARATOR + row * (side + SEPARATOR);
        for (col, (data, bands)) in [(&x, in_bands), (&fake, out_bands), (&real, out_bands)]
            .into_iter()
            .enumerate()
        {
            let left = SEPARATOR + col * (side + SEPARATOR);
            for i in 0..side {
                for j in 0..side {
                    let got = img.get_pixel((left + j) as u32, (top + i) as u32).0;
                    let want = expected(data, row, bands, window, i / scale, j / scale);
                    assert_eq!(got, want, "row {row} panel {col} pixel ({i}, {j})");
                }
            }
            // The separator left of each panel and above each row.
            for i in 0..side {
                assert_eq!(img.get_pixel((left - 1) as u32, (top + i) as u32).0, sep);
            }
            assert_eq!(img.get_pixel(left as u32, (top - 1) as u32).0, sep);
        }
    }
    assert_eq!(
        listing(&dir),
        ["step-7.png"],
        "a temporary file was left behind"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grid_gray_to_rgb_small_windows_upscaled() {
    // Window 32 → ×4; max_rows cuts the batch of 5 to 3 rows.
    check_grid(5, 1, 3, 32, 3);
}

#[test]
fn grid_single_window_large_not_upscaled() {
    // An awkward window above 128: shown 1:1.
    check_grid(1, 1, 3, 131, 4);
}

#[test]
fn grid_multispectral_shows_first_three_bands() {
    check_grid(2, 3, 8, 64, 8);
}

#[test]
fn grid_single_band_output_is_gray() {
    check_grid(3, 1, 1, 20, 2);
}

#[test]
fn grid_overwrites_atomically() {
    let dir = temp_dir("overwrite");
    let path = dir.join("step-1.png");
    let w = 32;
    let (x, y) = (vec![0.2; w * w], vec![0.7; 3 * w * w]);
    write_sample_grid(&path, &x, &y, &y, 1, 1, 3, w, 1).unwrap();
    write_sample_grid(&path, &x, &x.repeat(3), &y, 1, 1, 3, w, 1).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    let side = (w * panel_scale(w)) as u32;
    let out = img
        .get_pixel(SEPARATOR as u32 * 2 + side, SEPARATOR as u32)
        .0;
    assert_eq!(
        out,
        [level(0.2); 3],
        "the second write did not replace the first"
    );
    assert_eq!(listing(&dir), ["step-1.png"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grid_errors_are_clean() {
    let dir = temp_dir("grid-errors");
    let w = 32;
    let (x, y) = (vec![0.5; 2 * w * w], vec![0.5; 2 * 3 * w * w]);
    let ok = dir.join("a.png");
    // Wrong lengths, zero sizes.
    let short = &y[1..];
    for (xs, fs, rs, batch, max_rows) in [
        (&x[..], short, &y[..], 2, 2),
        (&x[..], &y[..], short, 2, 2),
        (&x[1..], &y[..], &y[..], 2, 2),
        (&x[..], &y[..], &y[..], 3, 2),
        (&x[..], &y[..], &y[..], 2, 0),
        (&[][..], &[][..], &[][..], 0, 2),
    ] {
        let e = write_sample_grid(&ok, xs, fs, rs, batch, 1, 3, w, max_rows).unwrap_err();
        assert!(e.to_string().starts_with("sample grid:"), "{e}");
    }
    // A directory that does not exist: an error naming the file, nothing written.
    let bad = dir.join("missing").join("step-1.png");
    let e = write_sample_grid(&bad, &x, &y, &y, 2, 1, 3, w, 2).unwrap_err();
    assert!(format!("{e:#}").contains("missing"), "{e:#}");
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn record(step: u64, d_loss: f32, g_loss: f32, mse: f32) -> LogRecord {
    LogRecord {
        step,
        d_loss,
        g_loss,
        mse,
        lambda_g: 100.0,
        samples_per_s: 50.0,
        val: None,
        precision: None,
        graphs: false,
    }
}

/// A plausible log: falling MSE, D loss near 2 ln 2, G loss dominated by λ_G·MSE.
fn training_log(steps: u64) -> Vec<LogRecord> {
    (1..=steps)
        .map(|s| {
            let t = s as f32;
            let mse = 0.002 + 0.05 / (1.0 + t / 20.0) + 0.003 * (t * 0.7).sin().abs();
            record(s, 1.386 - 0.2 * (t * 0.05).sin(), 0.7 + 100.0 * mse, mse)
        })
        .collect()
}

/// Counts strongly colored pixels (curves; the grid, axes and text are gray) in rows
/// `rows` of `img`.
fn colored(img: &image::RgbImage, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let [r, g, b] = img.get_pixel(x, y).0.map(i32::from);
            r.max(g).max(b) - r.min(g).min(b) > 60
        })
        .count()
}

/// Writes the plot of `records` and checks it decodes with curves in both panels.
fn check_plot(name: &str, records: &[LogRecord]) -> image::RgbImage {
    let dir = temp_dir(name);
    let path = dir.join("loss.png");
    plot_losses(records, &path).unwrap();
    assert_eq!(
        listing(&dir),
        ["loss.png"],
        "a temporary file was left behind"
    );
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1000, 720));
    let h = img.height();
    assert!(
        colored(&img, 0..h / 2) > 200,
        "no loss curves in the top panel"
    );
    assert!(
        colored(&img, h * 3 / 5..h) > 100,
        "no MSE curve in the bottom panel"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    img
}

#[test]
fn plot_of_a_training_log() {
    check_plot("plot", &training_log(300));
}

#[test]
fn plot_handles_resumed_negative_and_non_finite_logs() {
    // A resumed run logs steps 41..=60 again; the saturating G loss is negative; the last
    // record holds the NaN that stopped training.
    let mut log = training_log(60);
    log.extend(training_log(120).into_iter().skip(40));
    for r in &mut log {
        r.g_loss = -r.g_loss;
    }
    log.push(record(121, f32::NAN, f32::INFINITY, f32::NAN));
    check_plot("plot-odd", &log);
}

#[test]
fn plot_of_a_single_record() {
    let dir = temp_dir("plot-one");
    let path = dir.join("loss.png");
    plot_losses(&[record(1, 1.4, 5.0, 0.04)], &path).unwrap();
    assert_eq!(
        image::open(&path).unwrap().to_rgb8().dimensions(),
        (1000, 720)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plot_errors_are_clean() {
    let dir = temp_dir("plot-errors");
    let e = plot_losses(&[], &dir.join("loss.png")).unwrap_err();
    assert!(e.to_string().contains("no records"), "{e}");
    let bad = dir.join("missing").join("loss.png");
    let e = plot_losses(&training_log(5), &bad).unwrap_err();
    assert!(format!("{e:#}").contains("missing"), "{e:#}");
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}
