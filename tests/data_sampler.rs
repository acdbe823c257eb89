//! The window sampler: shapes, symmetries, luma, nodata, resume, held-out split, errors.
#![cfg(feature = "geo")]

use satcolor::geo::{write_geotiff, GeoRef, Raster};
use satcolor::model::normalization::SampleType;
use satcolor::train::data::{DataConfig, Source, WindowSampler};
use std::path::{Path, PathBuf};

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("satcolor-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn georef() -> GeoRef {
    GeoRef::north_up(32613, (500_000.0, 4_400_000.0), 1.0).unwrap()
}

/// Writes a Byte raster with `bands` planes computed by `f(band, x, y)`.
fn write(path: &Path, (w, h): (usize, usize), bands: usize, f: impl Fn(usize, usize, usize) -> u8) {
    let mut data = Vec::with_capacity(w * h * bands);
    for b in 0..bands {
        for y in 0..h {
            for x in 0..w {
                data.push(f(b, x, y));
            }
        }
    }
    write_geotiff(path, (w, h), bands, &data, &georef(), None).unwrap();
}

fn config(window: usize, seed: u64) -> DataConfig {
    DataConfig {
        window,
        val_fraction: 0.0,
        seed,
        ..DataConfig::default()
    }
}

/// A pseudo-random byte of (b, x, y).
fn noise(b: usize, x: usize, y: usize) -> u8 {
    ((b * 7919 + x * 104_729 + y * 1_299_709) % 251) as u8
}

#[test]
fn data_batches_have_nchw_shapes_and_normalized_values() {
    let dir = scratch("shapes");
    write(&dir.join("a.tif"), (37, 41), 3, noise);
    let mut s = WindowSampler::from_paths(std::slice::from_ref(&dir), config(8, 1)).unwrap();
    for batch in [1, 5] {
        let b = s.next_batch(batch).unwrap();
        assert_eq!((b.batch, b.window), (batch, 8));
        assert_eq!(b.x.len(), batch * 64);
        assert_eq!(b.y.len(), batch * 3 * 64);
        assert!(b.x.iter().chain(&b.y).all(|v| (0.0..=1.0).contains(v)));
    }
}

/// The 8 symmetries of a square `w`×`w` matrix, computed by transposes and reversals.
fn d4(m: &[Vec<(usize, usize)>]) -> Vec<Vec<Vec<(usize, usize)>>> {
    let transpose = |m: &[Vec<(usize, usize)>]| -> Vec<Vec<(usize, usize)>> {
        (0..m.len())
            .map(|i| m.iter().map(|row| row[i]).collect())
            .collect()
    };
    let mirror = |m: &[Vec<(usize, usize)>]| -> Vec<Vec<(usize, usize)>> {
        m.iter()
            .map(|r| r.iter().rev().copied().collect())
            .collect()
    };
    let mut out = Vec::new();
    let mut cur = m.to_vec();
    for _ in 0..4 {
        out.push(cur.clone());
        out.push(transpose(&cur));
        cur = mirror(&transpose(&cur)); // a quarter turn
    }
    out
}

#[test]
#[allow(clippy::needless_range_loop)]
fn data_flips_and_rotations_are_the_eight_symmetries_of_a_source_window() {
    let dir = scratch("d4");
    let (w, h, win) = (13, 11, 5);
    // R and G encode the pixel's column and row, so every pixel is unique.
    let code = |b: usize, x: usize, y: usize| [x as u8 * 9, y as u8 * 11, (x * 7 + y * 3) as u8][b];
    write(&dir.join("a.tif"), (w, h), 3, code);
    let mut s = WindowSampler::from_paths(std::slice::from_ref(&dir), config(win, 3)).unwrap();
    let mut seen = [false; 8];
    for _ in 0..60 {
        let b = s.next_batch(4).unwrap();
        for k in 0..4 {
            let px = |c: usize, i: usize, j: usize| b.y[((k * 3 + c) * win + i) * win + j];
            let got: Vec<Vec<(usize, usize)>> = (0..win)
                .map(|i| {
                    (0..win)
                        .map(|j| {
                            let x = (px(0, i, j) * 255.0 / 9.0).round() as usize;
                            let y = (px(1, i, j) * 255.0 / 11.0).round() as usize;
                            (x, y)
                        })
                        .collect()
                })
                .collect();
            let x0 = got.iter().flatten().map(|p| p.0).min().unwrap();
            let y0 = got.iter().flatten().map(|p| p.1).min().unwrap();
            let source: Vec<Vec<(usize, usize)>> = (0..win)
                .map(|i| (0..win).map(|j| (x0 + j, y0 + i)).collect())
                .collect();
            let which = d4(&source).iter().position(|t| *t == got);
            let which = which.unwrap_or_else(|| panic!("not a symmetry of a window: {got:?}"));
            seen[which] = true;
            for i in 0..win {
                for j in 0..win {
                    let (x, y) = got[i][j];
                    let (r, g, bl) = (code(0, x, y), code(1, x, y), code(2, x, y));
                    let want = (0.299 * r as f64 + 0.587 * g as f64 + 0.114 * bl as f64) / 255.0;
                    assert!((b.x[(k * win + i) * win + j] as f64 - want).abs() < 1e-6);
                    assert_eq!(px(2, i, j), bl as f32 / 255.0);
                }
            }
        }
    }
    assert_eq!(seen, [true; 8], "every symmetry occurs");
}

#[test]
fn data_luma_and_paired_gray_by_hand() {
    let dir = scratch("luma");
    let rgb = [200u8, 100, 50];
    write(&dir.join("c.tif"), (3, 3), 3, |b, _, _| rgb[b]);
    let mut s = WindowSampler::from_paths(&[dir.join("c.tif")], config(3, 0)).unwrap();
    let b = s.next_batch(1).unwrap();
    // 0.299·200 + 0.587·100 + 0.114·50 = 124.2
    assert!(
        b.x.iter().all(|&v| (v - 124.2 / 255.0).abs() < 1e-6),
        "{:?}",
        b.x
    );
    write(&dir.join("g.tif"), (3, 3), 1, |_, x, y| {
        (x * 3 + y) as u8 * 20
    });
    let pair = Source {
        target: dir.join("c.tif"),
        input: Some(dir.join("g.tif")),
    };
    let mut s = WindowSampler::open(&[pair], config(3, 0)).unwrap();
    let b = s.next_batch(1).unwrap();
    let mut got: Vec<f32> = b.x.clone();
    got.sort_by(f32::total_cmp);
    let want: Vec<f32> = (0..9).map(|v| (v as u8 * 20) as f32 / 255.0).collect();
    assert_eq!(got, want);
    write(&dir.join("g2.tif"), (4, 3), 1, |_, _, _| 9);
    let bad = Source {
        target: dir.join("c.tif"),
        input: Some(dir.join("g2.tif")),
    };
    let e = WindowSampler::open(&[bad], config(3, 0))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("c.tif") && e.contains("g2.tif") && e.contains("do not match"),
        "{e}"
    );
}

#[test]
fn data_skips_windows_with_nodata_on_the_real_sample() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rmnp-rgb.tif");
    let raster = Raster::open(&path).unwrap();
    let (w, h) = (raster.width(), raster.height());
    let all = raster.read_all().unwrap();
    let plane = w * h;
    let nodata: Vec<bool> = (0..plane)
        .map(|i| (0..3).any(|b| all[b * plane + i] == 255.0))
        .collect();
    let win = 32;
    let bad = |x: usize, y: usize| {
        (0..win)
            .flat_map(|i| (0..win).map(move |j| (i, j)))
            .filter(|&(i, j)| nodata[(y + i) * w + x + j])
            .count()
    };
    // The sample has many windows over 1 % nodata, so skipping them is a real filter.
    let over = (0..=h - win)
        .step_by(8)
        .flat_map(|y| (0..=w - win).step_by(8).map(move |x| (x, y)));
    let over: Vec<bool> = over.map(|(x, y)| bad(x, y) * 100 > win * win).collect();
    let n_over = over.iter().filter(|&&b| b).count();
    assert!(
        n_over * 20 > over.len(),
        "sample should have wide nodata: {n_over} of {}",
        over.len()
    );
    let mut s = WindowSampler::from_paths(&[path], config(win, 11)).unwrap();
    for _ in 0..20 {
        let b = s.next_batch(16).unwrap();
        for k in 0..16 {
            let count = (0..win * win)
                .filter(|&p| (0..3).any(|c| b.y[(k * 3 + c) * win * win + p] == 1.0))
                .count();
            assert!(
                count * 100 <= win * win,
                "window with {count} nodata pixels"
            );
        }
    }
}

#[test]
fn data_state_restores_the_exact_sequence() {
    let dir = scratch("resume");
    write(&dir.join("a.tif"), (40, 30), 3, noise);
    let mut a = WindowSampler::from_paths(std::slice::from_ref(&dir), config(8, 5)).unwrap();
    for _ in 0..3 {
        a.next_batch(5).unwrap();
    }
    let saved = a.state();
    let json = serde_json::to_string(&saved).unwrap();
    let later: Vec<_> = (0..2).map(|_| a.next_batch(5).unwrap()).collect();
    let mut b = WindowSampler::from_paths(std::slice::from_ref(&dir), config(8, 5)).unwrap();
    b.set_state(serde_json::from_str(&json).unwrap());
    let resumed: Vec<_> = (0..2).map(|_| b.next_batch(5).unwrap()).collect();
    assert_eq!(later, resumed);
    let mut c = WindowSampler::from_paths(std::slice::from_ref(&dir), config(8, 6)).unwrap();
    c.set_state(satcolor::train::data::SamplerState { seed: 6, ..saved });
    assert_ne!(c.next_batch(5).unwrap(), later[0]);
}

#[test]
fn data_holds_out_whole_rasters_or_bottom_rows() {
    let dir = scratch("split");
    for i in 0..5u8 {
        write(
            &dir.join(format!("s{i}.tif")),
            (20, 20),
            3,
            move |_, _, _| 10 + 40 * i,
        );
    }
    let cfg = DataConfig {
        val_fraction: 0.2,
        ..config(8, 2)
    };
    let mut s = WindowSampler::from_paths(std::slice::from_ref(&dir), cfg.clone()).unwrap();
    let (train, val) = s.split_names();
    assert_eq!((train.len(), val.len()), (4, 1));
    assert!(train.iter().all(|t| !val.contains(t)));
    let v = s.validation(100).unwrap();
    assert_eq!(v, s.validation(100).unwrap());
    assert_eq!(v.batch, 4, "four 8x8 tiles fit in 20x20");
    let held = v.y[0];
    assert!(v.y.iter().all(|&p| p == held));
    for _ in 0..20 {
        assert!(s.next_batch(4).unwrap().y.iter().all(|&p| p != held));
    }
    let one =
        WindowSampler::from_paths(&[dir.join("s0.tif")], DataConfig { window: 4, ..cfg }).unwrap();
    let (train, val) = one.split_names();
    assert_eq!((train.len(), val.len()), (1, 1));
    assert_eq!(one.validation(2).unwrap().batch, 2);
}

#[test]
fn data_errors_are_clear() {
    let dir = scratch("errors");
    let err =
        |r: Result<WindowSampler, satcolor::train::data::DataError>| r.unwrap_err().to_string();
    let e = err(WindowSampler::from_paths(
        &[dir.join("nope.tif")],
        config(8, 0),
    ));
    assert!(e.contains("nope.tif") && e.contains("no such file"), "{e}");
    std::fs::write(dir.join("text.tif"), "not a raster").unwrap();
    let e = err(WindowSampler::from_paths(
        &[dir.join("text.tif")],
        config(8, 0),
    ));
    assert!(e.contains("text.tif") && e.contains("not a raster"), "{e}");
    let empty = dir.join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    let e = err(WindowSampler::from_paths(
        std::slice::from_ref(&empty),
        config(8, 0),
    ));
    assert!(
        e.starts_with("no rasters (*.tif, *.tiff) found in") && e.contains("empty"),
        "{e}"
    );
    write(&empty.join("sub/small.tif"), (10, 12), 3, noise);
    let e = err(WindowSampler::from_paths(
        std::slice::from_ref(&empty),
        config(16, 0),
    ));
    assert_eq!(
        e,
        "window 16x16 is larger than every raster (the largest is 10x12)"
    );
    let mut s = WindowSampler::from_paths(std::slice::from_ref(&empty), config(8, 0)).unwrap();
    assert_eq!(
        s.next_batch(0).unwrap_err().to_string(),
        "batch size must be at least 1"
    );
    write(&empty.join("sub/gray.tif"), (10, 12), 1, noise);
    let e = err(WindowSampler::from_paths(
        &[empty.join("sub/gray.tif")],
        config(8, 0),
    ));
    assert!(e.contains("has 1 bands, expected 3"), "{e}");
    write(&dir.join("allnd.tif"), (10, 10), 3, |_, _, _| 255);
    let path = dir.join("allnd.tif");
    let data = vec![255u8; 300];
    write_geotiff(&path, (10, 10), 3, &data, &georef(), Some(255.0)).unwrap();
    let e = err(WindowSampler::from_paths(&[path], config(8, 0)));
    assert!(
        e.contains("no 8x8 window") && e.contains("1% nodata"),
        "{e}"
    );
}

#[test]
fn data_masks_count_as_nodata() {
    let dir = scratch("mask");
    let path = dir.join("masked.tif");
    let (w, h) = (40, 30);
    // R encodes the column; a per-dataset mask (GDAL's .msk file) hides columns 0..20.
    write(&path, (w, h), 3, |b, x, y| [x as u8 * 6, y as u8, 50][b]);
    {
        let ds = gdal::Dataset::open_ex(
            &path,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        let mut band = ds.rasterband(1).unwrap();
        band.create_mask_band(true).unwrap();
        let mask: Vec<u8> = (0..w * h)
            .map(|i| if i % w < 20 { 0 } else { 255 })
            .collect();
        let mut buf = gdal::raster::Buffer::new((w, h), mask);
        band.open_mask_band()
            .unwrap()
            .write((0, 0), (w, h), &mut buf)
            .unwrap();
    }
    let mut s = WindowSampler::from_paths(&[path], config(8, 4)).unwrap();
    for _ in 0..20 {
        let b = s.next_batch(8).unwrap();
        // Every red value shows a column of 20 or more: (6·x)/255 ≥ 120/255.
        let red = b.y.chunks_exact(64).step_by(3);
        assert!(red.flatten().all(|&v| v >= 120.0 / 255.0 - 1e-6));
    }
}

/// Writes a UInt16 raster whose band b at (x, y) is `f(b, x, y)`.
fn write_u16(
    path: &Path,
    (w, h): (usize, usize),
    bands: usize,
    f: impl Fn(usize, usize, usize) -> u16,
) {
    let mut data = Vec::with_capacity(w * h * bands);
    for b in 0..bands {
        for y in 0..h {
            for x in 0..w {
                data.push(f(b, x, y));
            }
        }
    }
    write_geotiff(path, (w, h), bands, &data, &georef(), Some(0.0)).unwrap();
}

#[test]
fn data_uint16_11_bit_bands_are_stretched_by_percentiles() {
    let dir = scratch("u16");
    let (w, h) = (21, 20);
    // Band b holds 100·b + 1..=100·b + 420 once each (11-bit values); band 0 has nodata (0)
    // at its last pixel instead of 1 + (419·97 mod 420) = 324, which no statistic sees.
    let v = |b: usize, x: usize, y: usize| {
        let i = y * w + x;
        if b == 0 && i == w * h - 1 {
            0
        } else {
            (100 * b + 1 + (i * 97) % (w * h)) as u16
        }
    };
    write_u16(&dir.join("c.tif"), (w, h), 3, v);
    let cfg = DataConfig {
        max_nodata: 0.05,
        ..config(4, 9)
    };
    let mut s = WindowSampler::from_paths(&[dir.join("c.tif")], cfg.clone()).unwrap();
    let (input, output) = s.normalization();
    assert_eq!(input, None, "a luma input has no raw mapping of its own");
    // Band 0: 419 valid values 1..=323, 325..=420 → ranks round(418·0.005) = 2 and
    // round(418·0.995) = 416, values 3 and 418. Bands 1, 2: 420 values → ranks 2 and 417.
    let want = [(3.0, 418.0), (103.0, 518.0), (203.0, 618.0)];
    for (n, (lo, hi)) in output.iter().zip(want) {
        assert_eq!((n.lo, n.hi, n.dtype), (lo, hi, SampleType::UInt16));
    }
    let b = s.next_batch(6).unwrap();
    let values: Vec<f32> = (0..w * h).map(|i| v(2, i % w, i / w) as f32).collect();
    for px in b.y.chunks_exact(16).skip(2).step_by(3).flatten() {
        let exact = values
            .iter()
            .any(|&r| (((r as f64 - 203.0) / 415.0).clamp(0.0, 1.0) as f32) == *px);
        assert!(exact, "{px} is not a stretched value of band 3");
    }
    write_u16(&dir.join("g.tif"), (w, h), 1, |_, x, y| (x + y + 5) as u16);
    let pair = Source {
        target: dir.join("c.tif"),
        input: Some(dir.join("g.tif")),
    };
    let s = WindowSampler::open(&[pair], cfg).unwrap();
    let gray = s.normalization().0.unwrap()[0];
    assert_eq!(gray.dtype, SampleType::UInt16);
    // x + y + 5 over 21×20, but for the last pixel, nodata in the color raster: 419 values,
    // ranks 2 and 416 of them sorted.
    let mut all: Vec<u16> = (0..w * h - 1).map(|i| (i % w + i / w + 5) as u16).collect();
    all.sort();
    assert_eq!((gray.lo, gray.hi), (all[2] as f64, all[416] as f64));
}

#[test]
fn data_stretch_sees_only_the_training_rasters() {
    let dir = scratch("stretch-rasters");
    // Five 10×10 rasters, s2 held out (val fraction 0.2: index (2·0 + 1)·5 / 2 = 2). Training
    // raster t (s0, s1, s3, s4 → t = 0..3) holds 1000·b + 100·t + 1 + p at pixel p of band b,
    // so each band's training values are 1000·b + 1..=1000·b + 400 once each: ranks
    // round(399·0.005) = 2 and round(399·0.995) = 397. The held-out raster's 2047 (bands 0
    // and 2) and 1 (band 1) would move hi to 2047 and lo to 1 (ranks 2 and 497 of 500).
    for i in 0..5usize {
        let t = if i < 2 { i } else { i.saturating_sub(1) };
        write_u16(
            &dir.join(format!("s{i}.tif")),
            (10, 10),
            3,
            move |b, x, y| match i {
                2 => [2047, 1, 2047][b],
                _ => (1000 * b + 100 * t + 1 + y * 10 + x) as u16,
            },
        );
    }
    let cfg = DataConfig {
        val_fraction: 0.2,
        ..config(8, 2)
    };
    let s = WindowSampler::from_paths(std::slice::from_ref(&dir), cfg).unwrap();
    let (_, val) = s.split_names();
    assert_eq!(val.len(), 1);
    assert!(val[0].ends_with("s2.tif"), "{val:?}");
    let got: Vec<(f64, f64)> = s.normalization().1.iter().map(|n| (n.lo, n.hi)).collect();
    assert_eq!(got, [(3.0, 398.0), (1003.0, 1398.0), (2003.0, 2398.0)]);
}

#[test]
fn data_stretch_sees_only_the_training_rows_of_a_single_raster() {
    let dir = scratch("stretch-rows");
    // 12×40 with val fraction 0.25 and window 8: the bottom max(round(10), 8) = 10 rows are
    // held out. Training rows hold 1000·b + 1 + 12·y + x: 360 values per band, ranks
    // round(359·0.005) = 2 and round(359·0.995) = 357. With the held-out rows (2047 in bands
    // 0 and 2, 1 in band 1) the 480 values would give hi 2047 and lo 1.
    write_u16(&dir.join("one.tif"), (12, 40), 3, |b, x, y| {
        if y >= 30 {
            [2047, 1, 2047][b]
        } else {
            (1000 * b + 1 + 12 * y + x) as u16
        }
    });
    let cfg = DataConfig {
        val_fraction: 0.25,
        ..config(8, 2)
    };
    let s = WindowSampler::from_paths(&[dir.join("one.tif")], cfg).unwrap();
    let got: Vec<(f64, f64)> = s.normalization().1.iter().map(|n| (n.lo, n.hi)).collect();
    assert_eq!(got, [(3.0, 358.0), (1003.0, 1358.0), (2003.0, 2358.0)]);
}

#[test]
fn data_paired_multiband_inputs_follow_their_targets() {
    let dir = scratch("multiband");
    let (w, h, win) = (13, 11, 5);
    // The input's bands 0 and 1 encode the pixel's column and row; the target's 8 bands are
    // functions of them, so every window shows whether input and target moved together.
    let code = |b: usize, x: usize, y: usize| [x as u8 * 9, y as u8 * 11, 7][b];
    let target = |b: usize, x: usize, y: usize| ((x * 5 + y * 3 + b * 20) % 251) as u8;
    write(&dir.join("in.tif"), (w, h), 3, code);
    write(&dir.join("out.tif"), (w, h), 8, target);
    let source = Source {
        target: dir.join("out.tif"),
        input: Some(dir.join("in.tif")),
    };
    let cfg = DataConfig {
        in_bands: 3,
        out_bands: 8,
        ..config(win, 8)
    };
    let mut s = WindowSampler::open(std::slice::from_ref(&source), cfg.clone()).unwrap();
    let (input, output) = s.normalization();
    assert_eq!((input.unwrap().len(), output.len()), (3, 8));
    let p = win * win;
    for _ in 0..10 {
        let b = s.next_batch(3).unwrap();
        assert_eq!((b.x.len(), b.y.len()), (3 * 3 * p, 3 * 8 * p));
        for k in 0..3 {
            for i in 0..p {
                let x = (b.x[(k * 3) * p + i] * 255.0 / 9.0).round() as usize;
                let y = (b.x[(k * 3 + 1) * p + i] * 255.0 / 11.0).round() as usize;
                assert_eq!(b.x[(k * 3 + 2) * p + i], 7.0 / 255.0);
                for c in 0..8 {
                    assert_eq!(b.y[(k * 8 + c) * p + i], target(c, x, y) as f32 / 255.0);
                }
            }
        }
    }
    let e = WindowSampler::open(
        &[Source {
            input: None,
            ..source
        }],
        cfg,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("out.tif") && e.contains("in_bands 3") && e.contains("no paired input"),
        "{e}"
    );
}

#[test]
fn data_alpha_band_is_a_mask_not_a_band() {
    let dir = scratch("alpha");
    let path = dir.join("rgba.tif");
    let (w, h) = (40, 30);
    // R encodes the column; the alpha band hides columns 0..20.
    write(&path, (w, h), 4, |b, x, y| {
        [x as u8 * 6, y as u8, 50, if x < 20 { 0 } else { 255 }][b]
    });
    {
        let ds = gdal::Dataset::open_ex(
            &path,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        ds.rasterband(4)
            .unwrap()
            .set_color_interpretation(gdal::raster::ColorInterpretation::AlphaBand)
            .unwrap();
    }
    let mut s = WindowSampler::from_paths(&[path], config(8, 4)).unwrap();
    for _ in 0..20 {
        let b = s.next_batch(8).unwrap();
        assert_eq!(b.y.len(), 8 * 3 * 64);
        // Every red value shows a column of 20 or more: (6·x)/255 ≥ 120/255.
        let red = b.y.chunks_exact(64).step_by(3);
        assert!(red.flatten().all(|&v| v >= 120.0 / 255.0 - 1e-6));
    }
}

#[test]
fn data_target_bands_are_selected_in_order_and_checked() {
    let dir = scratch("bands");
    let path = dir.join("c.tif");
    write(&path, (9, 9), 3, |b, x, y| {
        [x as u8 * 9, y as u8 * 11, 77][b]
    });
    let cfg = DataConfig {
        bands: Some(vec![2, 1, 0]),
        ..config(9, 1)
    };
    let mut s = WindowSampler::from_paths(std::slice::from_ref(&path), cfg.clone()).unwrap();
    let b = s.next_batch(1).unwrap();
    // Band 3 first; the luma input takes the selected bands as R, G, B: 0.299·77 +
    // 0.587·11·y + 0.114·9·x.
    assert!(b.y[..81].iter().all(|&v| v == 77.0 / 255.0));
    let mut want: Vec<f32> = (0..81)
        .map(|i| {
            ((0.299 * 77.0 + 0.587 * 11.0 * (i / 9) as f64 + 0.114 * 9.0 * (i % 9) as f64) / 255.0)
                as f32
        })
        .collect();
    let mut got = b.x.clone();
    want.sort_by(f32::total_cmp);
    got.sort_by(f32::total_cmp);
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));
    let e = WindowSampler::from_paths(
        std::slice::from_ref(&path),
        DataConfig {
            bands: Some(vec![0, 1, 5]),
            ..cfg
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("c.tif") && e.contains("band 6 out of range (the raster has 3 bands)"),
        "{e}"
    );
}

/// Held-out rasters given apart (`--val-data`): the training rasters are used whole, the
/// held-out ones are the validation windows only, and neither the stretch nor the pixel
/// statistics of the head's fit see them.
#[test]
fn data_explicit_held_out_rasters_stay_out_of_training() {
    let dir = scratch("held-out");
    let (w, h) = (12, 10);
    // Training raster: band b holds 100·b + 1 + p at pixel p; held out: 4000 everywhere.
    write_u16(&dir.join("train.tif"), (w, h), 3, |b, x, y| {
        (100 * b + 1 + y * w + x) as u16
    });
    write_u16(&dir.join("val.tif"), (w, h), 3, |_, _, _| 4000);
    let cfg = DataConfig {
        val_fraction: 0.3,
        ..config(4, 2)
    };
    let mut s = WindowSampler::from_split_paths(
        &[dir.join("train.tif")],
        &[dir.join("val.tif")],
        cfg.clone(),
    )
    .unwrap();
    let (train, val) = s.split_names();
    assert!(
        train.len() == 1 && train[0].ends_with("train.tif"),
        "{train:?}"
    );
    assert!(val.len() == 1 && val[0].ends_with("val.tif"), "{val:?}");
    // The stretch of the training raster alone (120 values: ranks 1 and 118).
    for (b, n) in s.normalization().1.iter().enumerate() {
        assert_eq!((n.lo, n.hi), ((100 * b + 2) as f64, (100 * b + 119) as f64));
    }
    // Every pixel of the training raster (none held out by the fraction) and no other.
    assert_eq!(s.pixel_stats().count(), (w * h) as u64);
    // Training windows never come from the held-out raster (all 1 after the stretch).
    for _ in 0..20 {
        let b = s.next_batch(4).unwrap();
        assert!(b.y.iter().any(|&v| v < 1.0));
    }
    // Held-out windows do: 3 × 2 non-overlapping 4×4 tiles, all saturated.
    let v = s.validation(64).unwrap();
    assert_eq!(v.batch, 6);
    assert!(v.y.iter().all(|&x| x == 1.0));
    // Without held-out rasters the same data is split by rows instead.
    let s = WindowSampler::from_paths(&[dir.join("train.tif")], cfg).unwrap();
    assert!(s.pixel_stats().count() < (w * h) as u64);
}

/// The output head's pixel statistics are those of the training split, worked out by hand:
/// on a raster whose bands are affine in one pattern, the fit recovers the affine maps.
#[test]
fn data_pixel_stats_fit_the_training_pixels() {
    let dir = scratch("stats");
    let (w, h) = (16, 16);
    let pattern = |x: usize, y: usize| ((x * 7 + y * 13) % 32) as f64;
    let gains = [(10.0, 5.0), (40.0, 3.0), (100.0, 2.0)];
    write(&dir.join("a.tif"), (w, h), 3, |b, x, y| {
        (gains[b].0 + gains[b].1 * pattern(x, y)) as u8
    });
    let s = WindowSampler::from_paths(&[dir.join("a.tif")], config(4, 1)).unwrap();
    let stats = s.pixel_stats();
    assert_eq!(stats.count(), (w * h) as u64);
    let head = stats.fit().unwrap();
    // gray = luma of the normalized bands = c + k·pattern, so band b = A_b·gray + b_b with
    // A_b = gain_b / k, where k = Σ luma_i·gain_i / 255.
    let luma = [0.299, 0.587, 0.114];
    let k: f64 = (0..3).map(|i| luma[i] * gains[i].1 / 255.0).sum();
    for (b, &(_, gain)) in gains.iter().enumerate() {
        let want = gain / 255.0 / k;
        assert!(
            (head.base_weight[b] as f64 - want).abs() < 1e-4,
            "{b}: {:?} vs {want}",
            head.base_weight
        );
    }
    // The bands are collinear, so the sensor model is not the luma weights, but it maps
    // every pixel's bands back onto its gray.
    for (x, y) in [(0, 0), (3, 5), (15, 9)] {
        let bands: Vec<f64> = (0..3)
            .map(|b| (gains[b].0 + gains[b].1 * pattern(x, y)) / 255.0)
            .collect();
        let gray: f64 = (0..3).map(|b| luma[b] * bands[b]).sum();
        let back: f64 = (0..3)
            .map(|b| head.sensor_weight[b] as f64 * bands[b])
            .sum::<f64>()
            + head.sensor_bias[0] as f64;
        assert!((back - gray).abs() < 1e-4, "({x}, {y}): {back} vs {gray}");
    }
    let mean = stats.target_mean();
    let p_mean = (0..w * h).map(|i| pattern(i % w, i / w)).sum::<f64>() / (w * h) as f64;
    // Means of the f32 normalized values.
    assert!((mean[0] - (10.0 + 5.0 * p_mean) / 255.0).abs() < 1e-6);
}

/// With augmentation off, windows are copied as they are, and the same windows are drawn
/// as with it on (only their symmetry differs).
#[test]
fn data_augmentation_off_copies_windows_unchanged() {
    let dir = scratch("no-augment");
    let (w, h) = (20, 18);
    write(&dir.join("n.tif"), (w, h), 3, noise);
    let on = config(6, 4);
    let off = DataConfig {
        augment: false,
        ..on.clone()
    };
    let mut a = WindowSampler::from_paths(&[dir.join("n.tif")], on).unwrap();
    let mut b = WindowSampler::from_paths(&[dir.join("n.tif")], off).unwrap();
    let (ba, bb) = (a.next_batch(8).unwrap(), b.next_batch(8).unwrap());
    let mut transformed = 0;
    for k in 0..8 {
        // Find the unflipped window in the raster: band 0 of window k.
        let win = &bb.y[k * 3 * 36..k * 3 * 36 + 36];
        let found = (0..=h - 6).any(|y0| {
            (0..=w - 6).any(|x0| {
                (0..36).all(|i| win[i] == noise(0, x0 + i % 6, y0 + i / 6) as f32 / 255.0)
            })
        });
        assert!(found, "window {k} is not a raster window as it is");
        let mut sorted_a: Vec<u32> = ba.y[k * 108..(k + 1) * 108]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let mut sorted_b: Vec<u32> = bb.y[k * 108..(k + 1) * 108]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        transformed += usize::from(sorted_a != sorted_b);
        sorted_a.sort();
        sorted_b.sort();
        assert_eq!(sorted_a, sorted_b, "window {k}: not the same pixels");
    }
    assert!(transformed > 0, "augmentation changed no window");
}

/// A folder with input/ and target/ pairs rasters of the same name; a target without its
/// input is an error naming it.
#[test]
fn data_paired_folders_pair_by_name() {
    use satcolor::train::data::discover;
    let dir = scratch("paired");
    for part in ["input", "target"] {
        std::fs::create_dir_all(dir.join(part)).unwrap();
    }
    write(&dir.join("input/a.tif"), (8, 8), 3, noise);
    write(&dir.join("target/a.tif"), (8, 8), 5, noise);
    let found = discover(std::slice::from_ref(&dir), 3, 5).unwrap();
    assert_eq!(
        found,
        [Source {
            target: dir.join("target/a.tif"),
            input: Some(dir.join("input/a.tif")),
        }]
    );
    write(&dir.join("target/b.tif"), (8, 8), 5, noise);
    let err = discover(std::slice::from_ref(&dir), 3, 5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("b.tif") && err.contains("no input"), "{err}");
}

#[test]
fn windows_below_a_nodata_band_are_found_when_the_split_leaves_none() {
    // 64×64, the first 8 rows nodata (0 in every band, declared): the held-out split would
    // leave only window row 0 to train on, which is a quarter nodata. Rows 8–63 hold
    // valid 32×32 windows; the sampler trains on them, holding nothing out.
    let dir = scratch("nodata-rows");
    let path = dir.join("a.tif");
    let (w, h) = (64, 64);
    let mut data = Vec::new();
    for b in 0..3 {
        for y in 0..h {
            for x in 0..w {
                data.push(if y < 8 { 0 } else { noise(b, x, y).max(1) });
            }
        }
    }
    write_geotiff(&path, (w, h), 3, &data, &georef(), Some(0.0)).unwrap();
    let cfg = DataConfig {
        window: 32,
        seed: 3,
        ..DataConfig::default()
    };
    assert!(cfg.val_fraction > 0.0);
    let mut s = WindowSampler::from_paths(std::slice::from_ref(&path), cfg).unwrap();
    let b = s.next_batch(16).unwrap();
    assert_eq!(b.batch, 16);
    // No window reaches into the nodata rows: every target value is a valid pixel's.
    assert!(b.y.iter().all(|&v| v > 0.0), "a nodata pixel was drawn");
}
