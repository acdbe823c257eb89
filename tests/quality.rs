//! The benchmark's task rasters: the 10 m → 20 m averaging against values computed by hand
//! from the scene, the splits, the pairing of the multispectral task, and the carried RGB
//! against a fresh build from the Sentinel-2 scene of ../shared/data.

#![cfg(all(feature = "cli", feature = "geo"))]

use satcolor::geo::Raster;
use satcolor::quality::tasks;
use std::path::{Path, PathBuf};

/// The Sentinel-2 scene of the shared data (beside the project, as CI has it).
fn scene() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sentinel2");
    assert!(
        dir.join("S2_B02.tif").is_file(),
        "{}: the Sentinel-2 scene is missing (the tests expect ../shared beside the project)",
        dir.display()
    );
    dir
}

fn carried() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/s2-rgb-20m.tif")
}

/// Writes tests/data/s2-rgb-20m.tif (run by hand: `cargo test --release --test
/// quality -- --ignored write_carried_rgb`).
#[test]
#[ignore = "writes tests/data/s2-rgb-20m.tif: run by hand"]
fn write_carried_rgb() {
    tasks::s2_rgb_20m(&scene(), &carried()).unwrap();
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("satcolor-qt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(path: &Path) -> (Vec<f32>, usize, usize, Raster) {
    let r = Raster::open(path).unwrap();
    (r.read_all().unwrap(), r.width(), r.height(), r)
}

/// The carried RGB is the scene's B04, B03, B02 averaged onto the 20 m grid: equal to a
/// fresh build, and three pixels worked out by hand from the 10 m files (the 10 m grid
/// starts 10 m east of the 20 m one, so 20 m column i covers 10 m columns 2i − 1 and 2i,
/// and column 0 only one of them).
#[test]
fn carried_rgb_is_the_scene_averaged() {
    let dir = scratch("rgb");
    let fresh = dir.join("rgb.tif");
    tasks::s2_rgb_20m(&scene(), &fresh).unwrap();
    let (built, w, h, r) = read(&fresh);
    let (carried_v, cw, ch, c) = read(&carried());
    assert_eq!((w, h), (967, 973));
    assert_eq!((cw, ch), (w, h));
    assert_eq!(built, carried_v);
    assert_eq!(r.georef(), c.georef());
    assert_eq!(
        r.georef().geo_transform.unwrap(),
        [435720.0, 20.0, 0.0, 4179460.0, 0.0, -20.0]
    );
    for (band, name) in tasks::S2_RGB.iter().enumerate() {
        let (ten, tw, _, _) = read(&scene().join(format!("S2_{name}.tif")));
        let at = |x: usize, y: usize| ten[y * tw + x] as f64;
        let want = [
            ((0, 0), (at(0, 0) + at(0, 1)) / 2.0),
            (
                (5, 7),
                (at(9, 14) + at(10, 14) + at(9, 15) + at(10, 15)) / 4.0,
            ),
            (
                (966, 972),
                (at(1931, 1944) + at(1932, 1944) + at(1931, 1945) + at(1932, 1945)) / 4.0,
            ),
        ];
        for ((i, j), v) in want {
            let got = built[band * w * h + j * w + i];
            assert_eq!(got as f64, v.round(), "{name} at ({i}, {j})");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// pan → RGB: the top 649 rows train, the bottom 324 are held out, each georeferenced at
/// its first row, with the carried values.
#[test]
fn pan_rgb_splits_the_rows() {
    let dir = scratch("pan");
    let t = tasks::pan_rgb(&dir).unwrap();
    assert_eq!((t.in_bands, t.out_bands), (1, 3));
    let (all, w, h, _) = read(&carried());
    let (train, tw, th, tr) = read(&t.train);
    let (held, hw, hh, hr) = read(&t.held_out);
    assert_eq!((tw, th, hw, hh), (w, 649, w, h - 649));
    let gt = hr.georef().geo_transform.unwrap();
    assert_eq!(gt[3], 4179460.0 - 649.0 * 20.0);
    assert_eq!(tr.georef().geo_transform.unwrap()[3], 4179460.0);
    for b in 0..3 {
        let band = &all[b * w * h..(b + 1) * w * h];
        assert_eq!(&train[b * w * th..(b + 1) * w * th], &band[..w * th]);
        assert_eq!(&held[b * w * hh..(b + 1) * w * hh], &band[w * th..]);
    }
    assert_eq!(t.held_out_source.target, t.held_out);
    assert!(t.held_out_source.input.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// RGB → multispectral: folders pairing input/s2.tif (the RGB) with target/s2.tif (7 bands,
/// B08 averaged from 10 m, the others as the scene has them), found by the data layer.
#[test]
fn rgb_ms_pairs_rgb_with_seven_bands() {
    let dir = scratch("ms");
    let t = tasks::rgb_ms(&scene(), &dir).unwrap();
    assert_eq!((t.in_bands, t.out_bands), (3, 7));
    let found = satcolor::train::data::discover(std::slice::from_ref(&t.train), 3, 7).unwrap();
    assert_eq!(found.len(), 1);
    let (input, w, h, _) = read(found[0].input.as_ref().unwrap());
    let (target, tw, th, _) = read(&found[0].target);
    assert_eq!((w, h, tw, th), (967, 649, 967, 649));
    let (rgb, ..) = read(&carried());
    assert_eq!(&input[..w * h], &rgb[..w * h]);
    let (b05, ..) = read(&scene().join("S2_B05.tif"));
    assert_eq!(&target[..w * h], &b05[..w * h]);
    let (b08, bw, ..) = read(&scene().join("S2_B08.tif"));
    let at = |x: usize, y: usize| b08[y * bw + x] as f64;
    let want = (at(19, 20) + at(20, 20) + at(19, 21) + at(20, 21)) / 4.0;
    assert_eq!(target[3 * w * h + 10 * w + 10] as f64, want.round());
    let held = &t.held_out_source;
    assert!(held.target.starts_with(&t.held_out));
    assert_eq!(read(&held.target).2, 973 - 649);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The sample raster: Byte, nodata 255 kept, 60 % of the rows (224) train.
#[test]
fn sample_task_keeps_byte_and_nodata() {
    let dir = scratch("sample");
    let t = tasks::sample(&dir).unwrap();
    let (_, w, h, r) = read(&t.train);
    let (_, _, hh, hr) = read(&t.held_out);
    assert_eq!((w, h, hh), (485, 224, 373 - 224));
    for raster in [&r, &hr] {
        assert_eq!(raster.bands().len(), 3);
        assert_eq!(raster.bands()[0].nodata, Some(255.0));
        assert_eq!(raster.bands()[0].dtype, satcolor::geo::DataType::Byte);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `satcolor ARGS` with the test binary (2 threads).
fn satcolor(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_satcolor"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

/// Flags of a tiny model for the benchmark's training.
const TINY: &[&str] = &[
    "--steps",
    "2",
    "--batch",
    "2",
    "--window",
    "32",
    "--filters",
    "4",
    "--kernel",
    "3",
    "--disc-widths",
    "4,4,8,8,8",
    "--checkpoint-every",
    "1",
];

/// `satcolor quality` on the sample task with a tiny model: the table on stdout, and
/// quality.json with the task's training and scores against both baselines.
#[test]
fn quality_runs_a_task_end_to_end() {
    let dir = scratch("cli");
    let out = dir.join("q");
    let mut args = vec![
        "quality",
        "--out",
        out.to_str().unwrap(),
        "--tasks",
        "sample",
    ];
    args.extend(["--device", "cpu", "--"]);
    args.extend_from_slice(TINY);
    let o = satcolor(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for row in ["sample   model", "gray", "linear", "real", "2 steps in"] {
        assert!(stdout.contains(row), "no '{row}': {stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("quality.json")).unwrap()).unwrap();
    let t = &json["tasks"][0];
    assert_eq!(t["task"], "sample");
    assert_eq!(t["steps"], 2);
    assert_eq!(t["train_flags"].as_array().unwrap().len(), TINY.len());
    assert!(t["train_seconds"].as_f64().unwrap() > 0.0);
    let o = &t["report"]["overall"];
    for who in ["model", "gray", "linear"] {
        assert!(o[who]["psnr_db"].is_number(), "{who}: {json}");
    }
    assert_eq!(t["report"]["linear_fit"], "checkpoint");
    assert!(out.join("sample/colorized.tif").is_file());
    assert!(out.join("sample/run/loss.png").is_file());

    // The sweep report reads the file back: the figures, the table row and the plot.
    use satcolor::quality::sweep::{markdown_table, plot, read_point};
    let p = read_point("tiny", &out.join("quality.json")).unwrap();
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    assert_eq!(p.psnr_db, num(&o["model"]["psnr_db"]));
    assert_eq!(
        p.colorfulness_ratio.unwrap(),
        num(&o["model"]["colorfulness"]) / num(&o["truth_colorfulness"])
    );
    assert_eq!(p.baselines_db.0.unwrap(), num(&o["linear"]["psnr_db"]));
    assert_eq!((p.steps, p.flags.len()), (2, TINY.len()));
    let table = markdown_table(std::slice::from_ref(&p));
    assert!(table.contains("| tiny | `--steps 2 --batch 2"), "{table}");
    assert!(!table.contains("--checkpoint-every"), "{table}");
    plot(&[p], &dir.join("sweep.png")).unwrap();
    assert_eq!(
        image::image_dimensions(dir.join("sweep.png")).unwrap(),
        (1000, 700)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Bad input to `satcolor quality`: one line, exit 2, nothing written.
#[test]
fn quality_bad_input_writes_nothing() {
    let dir = scratch("cli-bad");
    let out = dir.join("q");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--tasks", "colour"], "unknown task 'colour'"),
        (
            vec!["--tasks", "rgb-ms", "--sentinel2", "/nonexistent"],
            "give --sentinel2",
        ),
        (
            vec!["--", "--data", "x.tif"],
            "--data is set by the benchmark",
        ),
        (
            vec!["--", "--resume", "r"],
            "--resume is set by the benchmark",
        ),
        (vec!["--", "--lr=-1"], "learning rate"),
        (vec!["--", "--wings", "2"], "unexpected argument '--wings'"),
        (
            vec!["--", "--window", "48"],
            "window must be a multiple of 32",
        ),
        (vec!["--device", "tpu"], "tpu"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["quality", "--out", o];
        args.extend(extra.iter().copied());
        let r = satcolor(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!out.exists(), "{extra:?} left {}", out.display());
    }
    std::fs::create_dir_all(out.join("old")).unwrap();
    let r = satcolor(&["quality", "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not empty"));
    std::fs::remove_dir_all(&dir).unwrap();
}
