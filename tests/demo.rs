//! `satcolor demo` end to end with a very short training: every file it promises, the
//! metrics against the baseline, and the refusal to write into a folder that is not empty.

#![cfg(feature = "geo")]

use std::path::Path;
use std::process::Command;

#[test]
fn demo_writes_every_promised_file() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-smoke");
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_satcolor"))
        .args(["demo", "--out", out.to_str().unwrap(), "--device", "cpu"])
        .args(["--steps", "4", "--batch", "2", "--scenes", "1"])
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "colorized.tif",
        "colorized-synth.tif",
        "splitview.png",
        "loss.png",
        "metrics.json",
        "run/model.safetensors",
    ] {
        assert!(out.join(f).is_file(), "{f} missing; stdout: {stdout}");
        assert!(
            stdout.contains(f) || f.contains("synth"),
            "{f} not printed: {stdout}"
        );
    }
    assert!(stdout.contains("rmnp-held-out.tif: MSE"), "{stdout}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let rasters = metrics["rasters"].as_array().unwrap();
    assert_eq!(rasters.len(), 2);
    for r in rasters {
        assert!(r["model"]["mse"].is_number() && r["baseline"]["mse"].is_number());
        assert!(r["truth_colorfulness"].as_f64().unwrap() > 0.0);
    }
    // The held-out real raster keeps its georeferencing and nodata in the colorized one.
    let real = gdal::Dataset::open(out.join("data/held-out/rmnp-held-out.tif")).unwrap();
    let fake = gdal::Dataset::open(out.join("colorized.tif")).unwrap();
    assert_eq!(real.raster_size(), fake.raster_size());
    assert_eq!(real.geo_transform().unwrap(), fake.geo_transform().unwrap());
    assert_eq!(fake.rasterband(1).unwrap().no_data_value(), Some(255.0));

    // A second run into the same folder is refused: nothing there is overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_satcolor"))
        .args(["demo", "--out", out.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
