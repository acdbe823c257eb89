//! SpaceNet-2 area folders end to end: pairing PAN with RGB-PanSharpen and RGB-PanSharpen
//! with MUL-PanSharpen, training on UInt16 11-bit rasters through the binary, the
//! checkpoint's percentile stretch (training rasters only), colorize and eval on the trained
//! models, and the errors of pairs that do not match. Also `satcolor train --bands`.
#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use satcolor::geo::{write_geotiff, GeoRef, Raster};
use satcolor::model::normalization::SampleType;
use satcolor::model::Checkpoint;
use satcolor::train::data::{discover, Source};
use satcolor::train::run::{model_path, read_run};
use std::path::{Path, PathBuf};
use std::process::Output;
use train_support::{s, satcolor, scratch, train, TINY};

/// The area's name inside its file names.
const AREA: &str = "AOI_2_Vegas";
/// Side of the test images.
const SIDE: usize = 70;
/// Side of the nodata (0) square in each image's top-left corner.
const CORNER: usize = 4;

/// Band `b` of folder `folder` (0 PAN, 1 RGB, 2 MUL) of image `n` at (`x`, `y`): 0 in the
/// corner, else 11-bit values; image 2 (the one held out) spans 300..=2047, the others
/// 40..=1239, so a stretch over all images would differ from one over the training images.
fn value(folder: usize, n: usize, b: usize, x: usize, y: usize) -> u16 {
    if x < CORNER && y < CORNER {
        return 0;
    }
    let hash = x * 37 + y * 91 + (folder * 8 + b) * 53 + n * 17 + (x * y) % 13;
    let (lo, span) = if n == 2 { (300, 1748) } else { (40, 1200) };
    (lo + hash % span) as u16
}

/// The planes of image `n` of `folder` with `bands` bands and size `size`.
fn planes(folder: usize, n: usize, bands: usize, (w, h): (usize, usize)) -> Vec<u16> {
    let mut data = Vec::with_capacity(bands * w * h);
    for b in 0..bands {
        for y in 0..h {
            for x in 0..w {
                data.push(value(folder, n, b, x, y));
            }
        }
    }
    data
}

/// Writes `FOLDER/FOLDER_AOI_2_Vegas_img<n>.tif` under `area` (UInt16, nodata 0, placed by
/// `n`).
fn write_image(area: &Path, folder: usize, n: usize, size: (usize, usize)) -> PathBuf {
    let (name, bands) = [("PAN", 1), ("RGB-PanSharpen", 3), ("MUL-PanSharpen", 8)][folder];
    let dir = area.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}_{AREA}_img{n}.tif"));
    let georef = GeoRef::north_up(32611, (600_000.0 + 100.0 * n as f64, 4_000_000.0), 0.3);
    let data = planes(folder, n, bands, size);
    write_geotiff(&path, size, bands, &data, &georef.unwrap(), Some(0.0)).unwrap();
    path
}

/// A SpaceNet-2 area: images 1–3 in PAN, RGB-PanSharpen and MUL-PanSharpen, image 4 in PAN
/// only, image 5 in MUL-PanSharpen only, and folders of other data to ignore.
fn fake_area(dir: &Path) -> PathBuf {
    let area = dir.join(format!("{AREA}_Train"));
    for n in 1..=3 {
        for folder in 0..3 {
            write_image(&area, folder, n, (SIDE, SIDE));
        }
    }
    write_image(&area, 0, 4, (SIDE, SIDE));
    write_image(&area, 2, 5, (SIDE, SIDE));
    for other in ["geojson/buildings", "summaryData"] {
        std::fs::create_dir_all(area.join(other)).unwrap();
    }
    std::fs::write(area.join("geojson/buildings/b_img1.geojson"), "{}").unwrap();
    std::fs::write(area.join("summaryData/Vegas.csv"), "ImageId\n").unwrap();
    area
}

/// The path of image `n` in folder `name` of `area`.
fn image(area: &Path, name: &str, n: usize) -> PathBuf {
    area.join(name).join(format!("{name}_{AREA}_img{n}.tif"))
}

/// The nearest-rank 0.5 % and 99.5 % percentiles of `v` (sorted here).
fn percentiles(mut v: Vec<u16>) -> (f64, f64) {
    v.sort_unstable();
    let rank = |q: f64| ((v.len() - 1) as f64 * q).round() as usize;
    (v[rank(0.005)] as f64, v[rank(0.995)] as f64)
}

/// Per band of `folder` (`bands` bands), the percentiles of the valid pixels of images `ns`.
fn expected(folder: usize, bands: usize, ns: &[usize]) -> Vec<(f64, f64)> {
    (0..bands)
        .map(|b| {
            let mut v = Vec::new();
            for &n in ns {
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        if x >= CORNER || y >= CORNER {
                            v.push(value(folder, n, b, x, y));
                        }
                    }
                }
            }
            percentiles(v)
        })
        .collect()
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed: {stderr}");
    stderr
}

/// `satcolor colorize --model MODEL INPUT OUT`, then [`check_output`] with `bands`.
fn colorize_checked(model: &Path, input: &Path, out: &Path, bands: usize) {
    let args = [
        "colorize",
        "--model",
        s(model),
        "--device",
        "cpu",
        s(input),
        s(out),
    ];
    ok(satcolor(&args), "satcolor colorize");
    check_output(out, bands);
}

/// Trains 3 tiny steps on `data` into `run` with `extra` flags; returns stderr.
fn train_tiny(data: &Path, run: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--data", s(data), "--out", s(run), "--steps", "3"];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    ok(train(&args), "satcolor train")
}

/// Checks that `path` is a UInt16 raster of `bands` bands and SIDE×SIDE pixels.
fn check_output(path: &Path, bands: usize) {
    let r = Raster::open(path).unwrap();
    assert_eq!(
        (r.width(), r.height(), r.bands().len()),
        (SIDE, SIDE, bands)
    );
    for b in r.bands() {
        assert_eq!(SampleType::try_from(b.dtype).unwrap(), SampleType::UInt16);
    }
}

/// `satcolor eval --json` on `area`: the rasters it scored, as (target, input) file names.
fn eval_pairs(model: &Path, area: &Path) -> Vec<(String, String)> {
    let out = satcolor(&[
        "eval",
        "--model",
        s(model),
        "--data",
        s(area),
        "--json",
        "--device",
        "cpu",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(out, "satcolor eval");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["overall"]["model"]["mse"]
        .as_f64()
        .unwrap()
        .is_finite());
    let name = |v: &serde_json::Value| {
        let p = Path::new(v.as_str().unwrap());
        p.file_name().unwrap().to_string_lossy().into_owned()
    };
    report["rasters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (name(&r["target"]), name(&r["input"])))
        .collect()
}

fn names(prefixes: (&str, &str)) -> Vec<(String, String)> {
    (1..=3)
        .map(|n| {
            (
                format!("{}_{AREA}_img{n}.tif", prefixes.1),
                format!("{}_{AREA}_img{n}.tif", prefixes.0),
            )
        })
        .collect()
}

#[test]
fn spacenet_areas_pair_by_the_model_band_counts() {
    let dir = scratch("spacenet-pairs");
    let area = fake_area(&dir);
    let pair = |input: &str, target: &str, n: usize| Source {
        target: image(&area, target, n),
        input: Some(image(&area, input, n)),
    };
    let pan_rgb: Vec<Source> = (1..=3).map(|n| pair("PAN", "RGB-PanSharpen", n)).collect();
    assert_eq!(
        discover(std::slice::from_ref(&area), 1, 3).unwrap(),
        pan_rgb
    );
    // A folder holding areas is searched for them.
    assert_eq!(discover(std::slice::from_ref(&dir), 1, 3).unwrap(), pan_rgb);
    let rgb_mul: Vec<Source> = (1..=3)
        .map(|n| pair("RGB-PanSharpen", "MUL-PanSharpen", n))
        .collect();
    assert_eq!(
        discover(std::slice::from_ref(&area), 3, 8).unwrap(),
        rgb_mul
    );
    let pan_mul: Vec<Source> = (1..=3).map(|n| pair("PAN", "MUL-PanSharpen", n)).collect();
    assert_eq!(
        discover(std::slice::from_ref(&area), 1, 8).unwrap(),
        pan_mul
    );
    // A plain folder: every raster is a target with a luma input.
    let plain = area.join("RGB-PanSharpen");
    let got = discover(std::slice::from_ref(&plain), 1, 3).unwrap();
    let want: Vec<Source> = (1..=3)
        .map(|n| Source {
            target: image(&area, "RGB-PanSharpen", n),
            input: None,
        })
        .collect();
    assert_eq!(got, want);
    let e = discover(std::slice::from_ref(&area), 8, 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains(AREA) && e.contains("not 8"), "{e}");
    // No image pairs: one line naming the area.
    let lonely = dir.join("lonely");
    write_image(&lonely, 0, 1, (SIDE, SIDE));
    write_image(&lonely, 1, 2, (SIDE, SIDE));
    let e = discover(std::slice::from_ref(&lonely), 1, 3)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lonely") && e.contains("no image of PAN/ pairs with one of RGB-PanSharpen/"),
        "{e}"
    );
    // A missing folder the band counts need.
    let e = discover(std::slice::from_ref(&lonely), 3, 8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("without MUL-PanSharpen/"), "{e}");
}

#[test]
fn spacenet_pan_to_rgb_trains_colorizes_and_evaluates() {
    let dir = scratch("spacenet-pan-rgb");
    let area = fake_area(&dir);
    let run = dir.join("run");
    let stderr = train_tiny(&area, &run, &[]);
    let pan4 = format!("PAN_{AREA}_img4.tif");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(&pan4) && l.contains("skipped")),
        "{stderr}"
    );
    let (ckpt, state) = read_run(&run).unwrap();
    assert_eq!((ckpt.config.in_bands, ckpt.config.out_bands), (1, 3));
    assert_eq!(state.sampler.batches, 3);
    // Image 2 of 3 is held out (val fraction 0.1 holds out one raster, the middle one):
    // the stretch is that of images 1 and 3, which differs from that of all three.
    let norm = &ckpt.normalization;
    for (norms, folder, bands) in [(&norm.input, 0, 1), (&norm.output, 1, 3)] {
        let got: Vec<(f64, f64)> = norms.iter().map(|n| (n.lo, n.hi)).collect();
        assert_eq!(got, expected(folder, bands, &[1, 3]), "folder {folder}");
        assert_ne!(got, expected(folder, bands, &[1, 2, 3]), "folder {folder}");
        for n in norms.iter() {
            assert_eq!(n.dtype, SampleType::UInt16);
            assert!(0.0 <= n.lo && n.lo < n.hi && n.hi <= 2047.0, "{n:?}");
        }
    }
    let model = model_path(&run);
    let out = dir.join("colorized.tif");
    let pan = image(&area, "PAN", 2);
    colorize_checked(&model, &pan, &out, 3);
    assert_eq!(eval_pairs(&model, &area), names(("PAN", "RGB-PanSharpen")));
}

#[test]
fn spacenet_rgb_to_mul_trains_colorizes_and_evaluates() {
    let dir = scratch("spacenet-rgb-mul");
    let area = fake_area(&dir);
    let run = dir.join("run");
    let stderr = train_tiny(&area, &run, &["--in-bands", "3", "--out-bands", "8"]);
    let mul5 = format!("MUL-PanSharpen_{AREA}_img5.tif");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(&mul5)),
        "{stderr}"
    );
    let ckpt = Checkpoint::load(&model_path(&run)).unwrap();
    assert_eq!((ckpt.config.in_bands, ckpt.config.out_bands), (3, 8));
    let norm = &ckpt.normalization;
    for (norms, folder, bands) in [(&norm.input, 1, 3), (&norm.output, 2, 8)] {
        let got: Vec<(f64, f64)> = norms.iter().map(|n| (n.lo, n.hi)).collect();
        assert_eq!(got, expected(folder, bands, &[1, 3]), "folder {folder}");
        assert!(norms.iter().all(|n| n.dtype == SampleType::UInt16));
    }
    // The sample grids were drawn from the 3-band inputs and 8-band outputs.
    assert!(run.join("samples/step-3.png").is_file());
    let model = model_path(&run);
    let out = dir.join("mul.tif");
    let rgb = image(&area, "RGB-PanSharpen", 2);
    colorize_checked(&model, &rgb, &out, 8);
    assert_eq!(
        eval_pairs(&model, &area),
        names(("RGB-PanSharpen", "MUL-PanSharpen"))
    );
}

/// Runs `satcolor train` and checks exit code 2 with a last stderr line `error: ...` that
/// contains every one of `needles`, and that no run directory was made.
fn train_rejects(data: &Path, run: &Path, extra: &[&str], needles: &[&str]) {
    let mut args = vec!["--data", s(data), "--out", s(run), "--steps", "3"];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    let out = train(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("error: "), "{stderr}");
    for n in needles {
        assert!(last.contains(n), "'{n}' not in: {stderr}");
    }
    assert!(!run.exists(), "{} was made", run.display());
}

#[test]
fn spacenet_pairs_that_do_not_match_are_errors_naming_both_files() {
    let dir = scratch("spacenet-mismatch");
    let area = dir.join(format!("{AREA}_Train"));
    write_image(&area, 0, 1, (SIDE, SIDE));
    write_image(&area, 1, 1, (SIDE + 2, SIDE));
    let pan = format!("PAN_{AREA}_img1.tif");
    let rgb = format!("RGB-PanSharpen_{AREA}_img1.tif");
    train_rejects(
        &area,
        &dir.join("run"),
        &[],
        &[&pan, &rgb, "do not match", "70x70", "72x70"],
    );
    // Same size, other place.
    let moved = dir.join("moved");
    write_image(&moved, 0, 1, (SIDE, SIDE));
    let rgb_path = write_image(&moved, 1, 2, (SIDE, SIDE));
    std::fs::rename(&rgb_path, image(&moved, "RGB-PanSharpen", 1)).unwrap();
    train_rejects(
        &moved,
        &dir.join("run"),
        &[],
        &[&pan, &rgb, "geotransforms"],
    );
    // A model whose input bands no data gives.
    let plain = dir.join("plain");
    write_image(&plain, 1, 1, (SIDE, SIDE));
    train_rejects(
        &plain.join("RGB-PanSharpen"),
        &dir.join("run"),
        &["--in-bands", "3"],
        &[&rgb, "in_bands 3", "no paired input"],
    );
}

#[test]
fn train_bands_selects_target_bands_and_rejects_bands_out_of_range() {
    let dir = scratch("spacenet-bands");
    let mul = write_image(&dir, 2, 1, (SIDE, SIDE));
    let run = dir.join("run");
    // Bands 5, 3, 2 of an 8-band raster: out_bands follows the list.
    train_tiny(&mul, &run, &["--bands", "5,3,2"]);
    let (ckpt, state) = read_run(&run).unwrap();
    assert_eq!(ckpt.config.out_bands, 3);
    assert_eq!(state.settings.bands, Some(vec![5, 3, 2]));
    // One raster: its top rows train (the bottom max(round(7), 32) = 32 rows are held out).
    let stretch = |b: usize| {
        let mut v = Vec::new();
        for y in 0..SIDE - 32 {
            for x in 0..SIDE {
                if x >= CORNER || y >= CORNER {
                    v.push(value(2, 1, b, x, y));
                }
            }
        }
        percentiles(v)
    };
    let got: Vec<(f64, f64)> = ckpt
        .normalization
        .output
        .iter()
        .map(|n| (n.lo, n.hi))
        .collect();
    assert_eq!(got, [stretch(4), stretch(2), stretch(1)]);
    // A resumed run keeps its bands.
    let resumed = train(&[
        "--resume",
        s(&run),
        "--steps",
        "4",
        "--device",
        "cpu",
        "--bands",
        "1,2,3",
    ]);
    assert_eq!(resumed.status.code(), Some(2));
    let mul_name = mul.file_name().unwrap().to_str().unwrap();
    train_rejects(
        &mul,
        &dir.join("run2"),
        &["--bands", "5,3,9"],
        &[mul_name, "band 9 out of range (the raster has 8 bands)"],
    );
    train_rejects(
        &mul,
        &dir.join("run2"),
        &["--bands", "5,0"],
        &["bands are numbered from 1"],
    );
}
