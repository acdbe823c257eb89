//! `satcolor splitview`: layout (split column, divider, side by side), pixel provenance,
//! the downsampling bound, the 2–98 % stretch with nodata, and bad input (exit code 2, no
//! output file left). Small GeoTIFFs are written here with `satcolor::geo::write_geotiff`.
#![cfg(all(feature = "cli", feature = "geo"))]

use satcolor::geo::{write_geotiff, GeoRef, Sample};
use satcolor::viz::compose::{GAP, GAP_RGB};
use satcolor::viz::splitview::{write_comparison, write_splitview, SplitviewOptions};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("satcolor-splitview-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn no_georef() -> GeoRef {
    GeoRef {
        geo_transform: None,
        crs_wkt: String::new(),
    }
}

/// Writes a `bands`-band raster whose value at (x, y) of band b is `f(x, y, b)`.
fn raster<T: Sample>(
    path: &Path,
    (w, h): (usize, usize),
    bands: usize,
    nodata: Option<f64>,
    f: impl Fn(usize, usize, usize) -> T,
) {
    let mut data = Vec::with_capacity(w * h * bands);
    for b in 0..bands {
        for y in 0..h {
            for x in 0..w {
                data.push(f(x, y, b));
            }
        }
    }
    write_geotiff(path, (w, h), bands, &data, &no_georef(), nodata).unwrap();
}

fn real_px(x: usize, y: usize, b: usize) -> u8 {
    ((x * 7 + y * 3 + b * 50) % 200) as u8
}

fn fake_px(x: usize, y: usize, b: usize) -> u8 {
    (255 - (x * 5 + y * 11 + b * 31) % 200) as u8
}

fn png(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn options(split: f64, side_by_side: bool, max_size: usize) -> SplitviewOptions {
    SplitviewOptions {
        split,
        side_by_side,
        max_size,
        bands: None,
    }
}

#[test]
fn splitview_split_column_divider_and_pixel_sources() {
    let dir = scratch("split");
    let (w, h) = (37, 23);
    let (real, fake) = (dir.join("real.tif"), dir.join("fake.tif"));
    raster(&real, (w, h), 3, None, real_px);
    raster(&fake, (w, h), 3, None, fake_px);
    for split in [0.3, 0.5, 0.9] {
        let out = dir.join(format!("view-{split}.png"));
        let size = write_splitview(&real, &fake, &out, &options(split, false, 2048)).unwrap();
        assert_eq!(size, (w as u32, h as u32));
        let img = png(&out);
        assert_eq!(img.dimensions(), (w as u32, h as u32));
        let col = (split * w as f64).round() as usize;
        for y in 0..h {
            for x in 0..w {
                let got = img.get_pixel(x as u32, y as u32).0;
                let want = if x + 2 == col || x == col + 1 {
                    [24, 24, 24]
                } else if x + 1 == col || x == col {
                    [255, 255, 255]
                } else if x < col {
                    [real_px(x, y, 0), real_px(x, y, 1), real_px(x, y, 2)]
                } else {
                    [fake_px(x, y, 0), fake_px(x, y, 1), fake_px(x, y, 2)]
                };
                assert_eq!(got, want, "split {split} pixel ({x}, {y}), column {col}");
            }
        }
    }
}

#[test]
fn splitview_side_by_side_layout() {
    let dir = scratch("side");
    let (w, h) = (29, 17);
    let (real, fake) = (dir.join("real.tif"), dir.join("fake.tif"));
    raster(&real, (w, h), 3, None, real_px);
    raster(&fake, (w, h), 3, None, fake_px);
    let out = dir.join("view.png");
    write_splitview(&real, &fake, &out, &options(0.5, true, 2048)).unwrap();
    let img = png(&out);
    assert_eq!(img.dimensions(), ((2 * w + GAP) as u32, h as u32));
    for y in 0..h {
        for x in 0..w {
            let left = img.get_pixel(x as u32, y as u32).0;
            assert_eq!(left, [real_px(x, y, 0), real_px(x, y, 1), real_px(x, y, 2)]);
            let right = img.get_pixel((w + GAP + x) as u32, y as u32).0;
            assert_eq!(
                right,
                [fake_px(x, y, 0), fake_px(x, y, 1), fake_px(x, y, 2)]
            );
        }
        for g in 0..GAP {
            assert_eq!(img.get_pixel((w + g) as u32, y as u32).0, GAP_RGB);
        }
    }
}

#[test]
fn splitview_downsamples_to_max_size() {
    let dir = scratch("down");
    let (w, h) = (301, 157);
    let (real, fake) = (dir.join("real.tif"), dir.join("fake.tif"));
    // Constant colors, so any resampling keeps them exactly.
    raster(&real, (w, h), 3, None, |_, _, b| [200u8, 40, 90][b]);
    raster(&fake, (w, h), 3, None, |_, _, b| [10u8, 220, 130][b]);
    for (side_by_side, max) in [(false, 64), (true, 64), (false, 157), (true, 300)] {
        let out = dir.join(format!("view-{side_by_side}-{max}.png"));
        write_splitview(&real, &fake, &out, &options(0.5, side_by_side, max)).unwrap();
        let img = png(&out);
        let (iw, ih) = img.dimensions();
        assert!(iw.max(ih) as usize <= max, "{iw}x{ih} for max {max}");
        // The panel is the largest of the raster's aspect that fits (integer floor).
        let panel_w = if side_by_side { (max - GAP) / 2 } else { max };
        let want_h = (h * panel_w / w).max(1);
        assert_eq!(ih as usize, want_h, "height for max {max}");
        let want_w = if side_by_side {
            2 * panel_w + GAP
        } else {
            panel_w
        };
        assert_eq!(iw as usize, want_w, "width for max {max}");
        assert_eq!(img.get_pixel(1, ih / 2).0, [200, 40, 90]);
        assert_eq!(img.get_pixel(iw - 2, ih / 2).0, [10, 220, 130]);
    }
}

/// The 2–98 % stretch of non-Byte data, computed independently from the real raster and
/// applied to both (the fake has half the contrast and shows it), and nodata shown black.
#[test]
fn splitview_stretches_uint16_and_blacks_out_nodata() {
    let dir = scratch("stretch");
    let (w, h) = (41, 13);
    let nodata = 65535.0;
    let value = |x: usize, y: usize, b: usize| -> u16 {
        if (x + y) % 9 == 0 {
            65535
        } else {
            (100 + (x * 37 + y * 101 + b * 13) % 1000 * (b + 1)) as u16
        }
    };
    let dull = |x: usize, y: usize, b: usize| -> u16 {
        match value(x, y, b) {
            65535 => 65535,
            v => v / 2 + 300,
        }
    };
    let (real, fake) = (dir.join("real.tif"), dir.join("fake.tif"));
    raster(&real, (w, h), 3, Some(nodata), value);
    raster(&fake, (w, h), 3, Some(nodata), dull);
    let out = dir.join("view.png");
    write_splitview(&real, &fake, &out, &options(0.9, false, 2048)).unwrap();
    let img = png(&out);
    let col = (0.9 * w as f64).round() as usize;
    let mut ranges = Vec::new();
    for b in 0..3 {
        let mut valid: Vec<f64> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| value(x, y, b))
            .filter(|&v| v != 65535)
            .map(f64::from)
            .collect();
        valid.sort_by(f64::total_cmp);
        let n = valid.len() - 1;
        ranges.push((valid[n * 2 / 100], valid[n * 98 / 100]));
    }
    for y in 0..h {
        for x in (0..col - 2).chain(col + 2..w) {
            let got = img.get_pixel(x as u32, y as u32).0;
            if (x + y) % 9 == 0 {
                assert_eq!(got, [0, 0, 0], "nodata at ({x}, {y})");
                continue;
            }
            for (b, &(lo, hi)) in ranges.iter().enumerate() {
                let v = f64::from(if x < col {
                    value(x, y, b)
                } else {
                    dull(x, y, b)
                });
                let want = ((v - lo) / (hi - lo) * 255.0).round().clamp(0.0, 255.0) as u8;
                assert_eq!(got[b], want, "band {b} at ({x}, {y})");
            }
        }
    }
}

/// The demo's picture: the split view on top and, below it after a gap, the crop of the
/// gray (luma of the real panel), the fake and the real, each a third of the width less the
/// gaps, from the requested column.
#[test]
fn comparison_stacks_the_view_over_gray_model_and_truth() {
    let dir = scratch("comparison");
    let (w, h) = (100, 20);
    let (real, fake) = (dir.join("real.tif"), dir.join("fake.tif"));
    raster(&real, (w, h), 3, None, real_px);
    raster(&fake, (w, h), 3, None, fake_px);
    let out = dir.join("cmp.png");
    let size = write_comparison(&real, &fake, &out, 10, &options(0.5, false, 2048)).unwrap();
    let img = png(&out);
    assert_eq!(size, img.dimensions());
    let crop = (w - 2 * GAP) / 3;
    assert_eq!(img.dimensions(), (w as u32, (2 * h + GAP) as u32));
    let px = |x: usize, y: usize| img.get_pixel(x as u32, y as u32).0;
    for y in 0..h {
        assert_eq!(px(3, y), [0, 1, 2].map(|b| real_px(3, y, b)));
        assert_eq!(px(w - 1, y), [0, 1, 2].map(|b| fake_px(w - 1, y, b)));
        assert_eq!(px(5, h + GAP / 2), GAP_RGB);
        for c in 0..crop {
            let x = 10 + c;
            let real_rgb = [0, 1, 2].map(|b| real_px(x, y, b));
            let l = real_rgb.map(f64::from);
            let gray = (0.299 * l[0] + 0.587 * l[1] + 0.114 * l[2]).round() as u8;
            let y2 = h + GAP + y;
            assert_eq!(px(c, y2), [gray; 3], "gray at ({c}, {y})");
            assert_eq!(px(crop + GAP + c, y2), [0, 1, 2].map(|b| fake_px(x, y, b)));
            assert_eq!(px(2 * (crop + GAP) + c, y2), real_rgb);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn splitview_bad_input_is_an_error_and_leaves_no_file() {
    let dir = scratch("bad");
    let (real, fake, small) = (
        dir.join("real.tif"),
        dir.join("fake.tif"),
        dir.join("small.tif"),
    );
    raster(&real, (20, 10), 3, None, real_px);
    raster(&fake, (20, 10), 3, None, fake_px);
    raster(&small, (19, 10), 3, None, fake_px);
    let before = listing(&dir);
    let out = dir.join("view.png");
    let cases: Vec<(&str, PathBuf, PathBuf, SplitviewOptions)> = vec![
        (
            "missing",
            real.clone(),
            dir.join("nope.tif"),
            options(0.5, false, 2048),
        ),
        (
            "size",
            real.clone(),
            small.clone(),
            options(0.5, false, 2048),
        ),
        (
            "split 0",
            real.clone(),
            fake.clone(),
            options(0.0, false, 2048),
        ),
        (
            "split 1",
            real.clone(),
            fake.clone(),
            options(1.0, false, 2048),
        ),
        (
            "split -0.2",
            real.clone(),
            fake.clone(),
            options(-0.2, false, 2048),
        ),
        (
            "split NaN",
            real.clone(),
            fake.clone(),
            options(f64::NAN, false, 2048),
        ),
        (
            "band 4",
            real.clone(),
            fake.clone(),
            SplitviewOptions {
                bands: Some(vec![1, 2, 4]),
                ..options(0.5, false, 2048)
            },
        ),
    ];
    for (what, a, b, opts) in cases {
        let err = write_splitview(&a, &b, &out, &opts).unwrap_err();
        assert!(satcolor::error::is_bad_input(&err), "{what}: {err:#}");
        assert_eq!(listing(&dir), before, "{what}: files left behind");
    }
}

#[test]
fn splitview_cli_exit_codes() {
    let dir = scratch("cli");
    let (real, fake, small) = (
        dir.join("real.tif"),
        dir.join("fake.tif"),
        dir.join("small.tif"),
    );
    raster(&real, (20, 10), 3, None, real_px);
    raster(&fake, (20, 10), 3, None, fake_px);
    raster(&small, (20, 11), 3, None, fake_px);
    let out = dir.join("view.png");
    let run = |fake: &Path, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_satcolor"))
            .arg("splitview")
            .arg("--real")
            .arg(&real)
            .arg("--fake")
            .arg(fake)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let mismatch = run(&small, &[]);
    assert_eq!(mismatch.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&mismatch.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("real.tif") && stderr.contains("small.tif"),
        "{stderr}"
    );
    let bad_split = run(&fake, &["--split", "1.5"]);
    assert_eq!(bad_split.status.code(), Some(2));
    assert!(!out.exists());
    let ok = run(&fake, &["--split", "0.25", "--bands", "3,2,1"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let img = png(&out);
    assert_eq!(
        img.get_pixel(0, 0).0,
        [real_px(0, 0, 2), real_px(0, 0, 1), real_px(0, 0, 0)]
    );
    assert_eq!(
        img.get_pixel(19, 9).0,
        [fake_px(19, 9, 2), fake_px(19, 9, 1), fake_px(19, 9, 0)]
    );
}
