//! `satcolor synth`: determinism, georeferencing read back through GDAL, scene content.
#![cfg(feature = "geo")]

use satcolor::geo::{DataType, Raster};
use satcolor::synth::{render_scene, scene_path, write_scenes, SynthOptions};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("satcolor-synth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &PathBuf) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn synth_same_seed_same_bytes_other_seed_other_bytes() {
    let opts = |seed| SynthOptions {
        scenes: 3,
        size: 97,
        seed,
    };
    let (a, b, c) = (scratch("a"), scratch("b"), scratch("c"));
    write_scenes(&a, &opts(7)).unwrap();
    write_scenes(&b, &opts(7)).unwrap();
    write_scenes(&c, &opts(8)).unwrap();
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    let names: Vec<&str> = fa.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        ["scene-00000.tif", "scene-00001.tif", "scene-00002.tif"],
        "no leftovers"
    );
    assert_eq!(fa, fb);
    for (x, y) in fa.iter().zip(&fc) {
        assert_ne!(x.1, y.1);
    }
    // Scene i depends on (seed, i) only.
    assert_eq!(render_scene(7, 2, 97), render_scene(7, 2, 97));
    assert_ne!(render_scene(7, 2, 97).rgb, render_scene(7, 1, 97).rgb);
}

#[test]
fn synth_georeferencing_reads_back() {
    let dir = scratch("geo");
    let opts = SynthOptions {
        scenes: 4,
        size: 70,
        seed: 3,
    };
    write_scenes(&dir, &opts).unwrap();
    let mut origins = Vec::new();
    for i in 0..4 {
        let r = Raster::open(scene_path(&dir, i)).unwrap();
        let s = render_scene(3, i as u64, 70);
        assert_eq!((r.width(), r.height()), (70, 70));
        assert!(r
            .bands()
            .iter()
            .all(|b| b.dtype == DataType::Byte && b.nodata.is_none()));
        assert_eq!(r.bands().len(), 3);
        let gt = r.georef().geo_transform.unwrap();
        assert_eq!(
            gt,
            [s.origin.0, s.pixel_m, 0.0, s.origin.1, 0.0, -s.pixel_m]
        );
        assert!((0.5..=2.0).contains(&s.pixel_m));
        let wkt = &r.georef().crs_wkt;
        assert!(
            wkt.contains("UTM zone 13N") && wkt.contains("32613"),
            "{wkt}"
        );
        let pixels: Vec<u8> = r.read_all().unwrap().iter().map(|&v| v as u8).collect();
        assert_eq!(pixels, s.rgb);
        origins.push((gt[0] as i64, gt[3] as i64));
    }
    origins.sort();
    origins.dedup();
    assert_eq!(origins.len(), 4, "distinct origins");
}

/// Hue in degrees and saturation (max − min) of an RGB pixel.
fn hue_sat(r: f64, g: f64, b: f64) -> (f64, f64) {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let d = max - min;
    if d == 0.0 {
        return (0.0, 0.0);
    }
    let h = if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    (h, d)
}

#[test]
fn synth_scenes_hold_the_content_classes() {
    let size = 256;
    let (mut green, mut gray, mut total) = (0usize, 0usize, 0usize);
    let mut hues = [0usize; 12];
    let (mut rg, mut yb) = (Vec::new(), Vec::new());
    for i in 0..8 {
        let s = render_scene(21, i, size);
        let plane = size * size;
        for p in 0..plane {
            let (r, g, b) = (
                s.rgb[p] as f64,
                s.rgb[plane + p] as f64,
                s.rgb[2 * plane + p] as f64,
            );
            total += 1;
            let (h, sat) = hue_sat(r, g, b);
            if sat >= 20.0 {
                hues[(h / 30.0) as usize % 12] += 1;
            }
            if g > r + 5.0 && g > b + 10.0 {
                green += 1;
            }
            if sat < 12.0 && (60.0..130.0).contains(&((r + g + b) / 3.0)) {
                gray += 1;
            }
            rg.push(r - g);
            yb.push((r + g) / 2.0 - b);
        }
    }
    let stats = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (
            m,
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt(),
        )
    };
    let ((mrg, srg), (myb, syb)) = (stats(&rg), stats(&yb));
    // Hasler and Süsstrunk (2003), on 0..255 values.
    let colorfulness = (srg * srg + syb * syb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt();
    let clusters = hues.iter().filter(|&&n| n * 200 >= total).count();
    println!(
        "colorfulness {colorfulness:.1}, green {:.3}, gray {:.3}, hue bins {hues:?}",
        green as f64 / total as f64,
        gray as f64 / total as f64
    );
    assert!(colorfulness > 20.0, "colorfulness {colorfulness}");
    assert!(green * 5 > total, "vegetation share {green}/{total}");
    assert!(gray * 50 > total, "road-gray share {gray}/{total}");
    assert!(clusters >= 4, "hue clusters {hues:?}");
}
