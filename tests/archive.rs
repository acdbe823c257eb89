//! Colorizing archives through the binary: `colorize --inputs LIST --out-dir DIR --shard I/N`
//! (shards that together make the files of one run, reruns that skip complete outputs, a
//! killed run that resumes without redoing finished outputs or leaving a partial one, bad
//! inputs that fail alone), `--cog` outputs that GDAL reads as Cloud Optimized GeoTIFFs,
//! and `satcolor mosaic` stitching the outputs into one VRT.

#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use gdal::raster::Buffer;
use gdal::{Dataset, DriverManager, Metadata};
use std::path::{Path, PathBuf};
use std::process::Output;
use train_support::{s, satcolor, satcolor_cmd};

/// The small UInt16 gray → RGB test model.
const MODEL: &str = "tests/data/pan-rgb-tiny.safetensors";
const CRS: u32 = 32633;
/// Tiles of a 2 × 2 grid, each this size, 20 m pixels.
const TILE: (usize, usize) = (70, 50);

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("archive")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a UInt16 panchromatic GeoTIFF of `size` whose top-left corner is at
/// (`x0`, `y0`) metres, nodata 0 at a few pixels.
fn write_pan(path: &Path, (w, h): (usize, usize), (x0, y0): (f64, f64), seed: f64) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(path, w, h, 1)
        .unwrap();
    ds.set_geo_transform(&[x0, 20.0, 0.0, y0, 0.0, -20.0])
        .unwrap();
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(CRS).unwrap();
    ds.set_spatial_ref(&srs).unwrap();
    let values: Vec<u16> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            if (i * 7) % 97 == 0 {
                0
            } else {
                (1300.0 + 500.0 * (0.13 * x + seed).sin() + 400.0 * (0.07 * y).cos()) as u16
            }
        })
        .collect();
    let mut band = ds.rasterband(1).unwrap();
    band.set_no_data_value(Some(0.0)).unwrap();
    band.write((0, 0), (w, h), &mut Buffer::new((w, h), values))
        .unwrap();
}

/// Four tiles of a 2 × 2 grid under `dir` (one in a subfolder), with a file that is no
/// raster beside them.
fn grid(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir.join("north")).unwrap();
    let (w, h) = TILE;
    let mut paths = Vec::new();
    for (k, (r, c)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
        let name = format!("tile-{r}{c}.tif");
        let path = if r == 0 {
            dir.join("north").join(name)
        } else {
            dir.join(name)
        };
        let origin = (
            500_000.0 + (c * w) as f64 * 20.0,
            4_200_000.0 - (r * h) as f64 * 20.0,
        );
        write_pan(&path, TILE, origin, k as f64);
        paths.push(path);
    }
    std::fs::write(dir.join("README.txt"), "not a raster").unwrap();
    paths
}

/// `satcolor ARGS`, on the cpu device for `colorize`.
fn run(args: &[&str]) -> Output {
    let mut all = args.to_vec();
    if args[0] == "colorize" {
        all.extend(["--device", "cpu"]);
    }
    satcolor(&all)
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "satcolor {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn colorize_archive(inputs: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "colorize",
        "--model",
        MODEL,
        "--inputs",
        s(inputs),
        "--out-dir",
        s(out),
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

/// A raster's pixels (every band, as u16), geotransform, CRS and nodata.
fn contents(path: &Path) -> (Vec<u16>, [f64; 6], String, Option<f64>) {
    let ds = Dataset::open(path).unwrap();
    let (w, h) = ds.raster_size();
    let mut v = Vec::new();
    for b in 1..=ds.raster_count() {
        let buf = ds
            .rasterband(b)
            .unwrap()
            .read_as::<u16>((0, 0), (w, h), (w, h), None)
            .unwrap();
        v.extend_from_slice(buf.data());
    }
    let nodata = ds.rasterband(1).unwrap().no_data_value();
    (v, ds.geo_transform().unwrap(), ds.projection(), nodata)
}

fn hidden_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn shards_together_make_the_files_of_one_run_and_a_rerun_skips_them() {
    let dir = scratch("shards");
    let inputs = grid(&dir.join("in"));
    let one = dir.join("one");
    let stdout = colorize_archive(&dir.join("in"), &one, &[]);
    assert!(
        stdout.contains(
            "shard 0/1: 4 of the archive's 4 inputs: 4 colorized, 0 already complete, 0 failed"
        ),
        "{stdout}"
    );
    let sharded = dir.join("sharded");
    let first = colorize_archive(&dir.join("in"), &sharded, &["--shard", "0/2"]);
    assert!(
        first.contains("2 of the archive's 4 inputs: 2 colorized"),
        "{first}"
    );
    let second = colorize_archive(&dir.join("in"), &sharded, &["--shard", "1/2"]);
    assert!(
        second.contains("2 of the archive's 4 inputs: 2 colorized"),
        "{second}"
    );
    for input in &inputs {
        let name = format!("{}.tif", input.file_stem().unwrap().to_str().unwrap());
        let (a, b) = (contents(&one.join(&name)), contents(&sharded.join(&name)));
        assert_eq!(a, b, "{name}");
        // The input's georeferencing and nodata, three bands.
        let src = contents(input);
        assert_eq!((a.1, &a.2, a.3), (src.1, &src.2, Some(0.0)));
        assert_eq!(a.0.len(), 3 * TILE.0 * TILE.1);
    }
    // A rerun finds every output complete and leaves them as they were.
    let before: Vec<_> = std::fs::read_dir(&one)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    let again = colorize_archive(&dir.join("in"), &one, &[]);
    assert!(again.contains("0 colorized, 4 already complete"), "{again}");
    let after: Vec<_> = std::fs::read_dir(&one)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after);

    // A list file: relative paths, comments and blank lines; an output that is not a
    // complete colorization (a stray file of the same name) is redone.
    let list = dir.join("in").join("list.txt");
    std::fs::write(&list, "# two tiles\nnorth/tile-00.tif\n\n tile-11.tif\n").unwrap();
    let listed = dir.join("listed");
    std::fs::create_dir_all(&listed).unwrap();
    std::fs::write(listed.join("tile-11.tif"), "half a file").unwrap();
    let out = colorize_archive(&list, &listed, &[]);
    assert!(
        out.contains("2 of the archive's 2 inputs: 2 colorized"),
        "{out}"
    );
    assert_eq!(
        contents(&listed.join("tile-11.tif")),
        contents(&one.join("tile-11.tif"))
    );
}

#[test]
fn a_killed_run_resumes_without_redoing_or_leaving_partial_outputs() {
    let dir = scratch("kill");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Sorted: a small raster first, then a large one that takes seconds.
    write_pan(
        &input.join("a-small.tif"),
        (60, 40),
        (500_000.0, 4_200_000.0),
        0.0,
    );
    write_pan(
        &input.join("b-large.tif"),
        (2400, 1600),
        (510_000.0, 4_200_000.0),
        1.0,
    );
    write_pan(
        &input.join("c-small.tif"),
        (50, 70),
        (520_000.0, 4_200_000.0),
        2.0,
    );
    let out = dir.join("out");
    let mut child = satcolor_cmd(&[
        "colorize",
        "--model",
        MODEL,
        "--inputs",
        s(&input),
        "--out-dir",
        s(&out),
        "--device",
        "cpu",
    ])
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Kill it (SIGKILL: no clean-up runs) once the first output is there and the large
    // one is being written.
    let large = satcolor::output::temporary_prefix(&out.join("b-large.tif"));
    let start = std::time::Instant::now();
    while !(out.join("a-small.tif").exists()
        && out.is_dir()
        && hidden_files(&out).iter().any(|n| n.starts_with(&large)))
        && start.elapsed().as_secs() < 120
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.join("b-large.tif").exists(),
        "a partial output under its name"
    );
    assert!(!out.join("c-small.tif").exists());
    let first = std::fs::metadata(out.join("a-small.tif"))
        .unwrap()
        .modified()
        .unwrap();
    let resumed = colorize_archive(&input, &out, &[]);
    assert!(
        resumed.contains("2 colorized, 1 already complete, 0 failed"),
        "{resumed}"
    );
    let again = std::fs::metadata(out.join("a-small.tif"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(first, again, "the finished output was redone");
    assert!(hidden_files(&out).is_empty(), "{:?}", hidden_files(&out));
    assert_eq!(
        Dataset::open(out.join("b-large.tif"))
            .unwrap()
            .raster_size(),
        (2400, 1600)
    );
}

#[test]
fn cog_outputs_are_cloud_optimized_with_overviews() {
    let dir = scratch("cog");
    let input = dir.join("scene.tif");
    write_pan(&input, (700, 600), (500_000.0, 4_200_000.0), 3.0);
    let (plain, cog) = (dir.join("plain.tif"), dir.join("cog.tif"));
    ok(&["colorize", "--model", MODEL, s(&input), s(&plain)]);
    ok(&["colorize", "--model", MODEL, s(&input), s(&cog), "--cog"]);
    assert_eq!(
        contents(&cog),
        contents(&plain),
        "the same pixels and georeferencing"
    );
    let ds = Dataset::open(&cog).unwrap();
    // GDAL reports the layout of a file the COG driver wrote (and keeps it only while
    // the file's IFDs, tiles and overviews are in COG order).
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("DEFLATE")
    );
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.block_size(), (256, 256));
    // Overviews down to a tile: 350 × 300, then 175 × 150.
    assert_eq!(band.overview_count().unwrap(), 2);
    assert_eq!(band.overview(0).unwrap().size(), (350, 300));
    // The checks of GDAL's validate_cloud_optimized_geotiff on the file's bytes: the
    // structural metadata in the header's ghost area, before any IFD's data.
    let bytes = std::fs::read(&cog).unwrap();
    let head = String::from_utf8_lossy(&bytes[..600.min(bytes.len())]).to_string();
    for key in [
        "GDAL_STRUCTURAL_METADATA_SIZE=",
        "LAYOUT=IFDS_BEFORE_DATA",
        "BLOCK_ORDER=ROW_MAJOR",
        "BLOCK_LEADER=SIZE_AS_UINT4",
        "BLOCK_TRAILER=LAST_4_BYTES_REPEATED",
    ] {
        assert!(head.contains(key), "{key} missing from the header: {head}");
    }
    // The plain output is not a COG.
    let plain = Dataset::open(&plain).unwrap();
    assert_ne!(
        plain.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    assert!(hidden_files(&dir).is_empty(), "{:?}", hidden_files(&dir));
}

#[test]
fn mosaic_stitches_the_outputs_into_one_vrt() {
    let dir = scratch("mosaic");
    grid(&dir.join("in"));
    let out = dir.join("out");
    colorize_archive(&dir.join("in"), &out, &["--cog"]);
    let vrt = out.join("mosaic.vrt");
    let said = ok(&["mosaic", s(&out), s(&vrt)]);
    assert!(said.contains("stitched 4 rasters"), "{said}");
    let (w, h) = TILE;
    let ds = Dataset::open(&vrt).unwrap();
    assert_eq!(ds.raster_size(), (2 * w, 2 * h));
    assert_eq!(ds.raster_count(), 3);
    let gt = ds.geo_transform().unwrap();
    assert_eq!(
        (gt[0], gt[3], gt[1], gt[5]),
        (500_000.0, 4_200_000.0, 20.0, -20.0)
    );
    // Each tile's pixels where its geotransform puts it.
    for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let tile = contents(&out.join(format!("tile-{r}{c}.tif"))).0;
        for b in 0..3 {
            let got = ds
                .rasterband(b + 1)
                .unwrap()
                .read_as::<u16>(((c * w) as isize, (r * h) as isize), (w, h), (w, h), None)
                .unwrap();
            assert_eq!(
                got.data(),
                &tile[b * w * h..(b + 1) * w * h],
                "tile {r}{c} band {b}"
            );
        }
    }
    drop(ds);
    // Again, with the mosaic now in the directory: it is not a part of itself.
    let again = ok(&["mosaic", s(&out), s(&vrt)]);
    assert!(again.contains("stitched 4 rasters"), "{again}");
    // Sources are referenced relative to the VRT: the folder can move.
    let moved = dir.join("moved");
    std::fs::rename(&out, &moved).unwrap();
    assert_eq!(
        Dataset::open(moved.join("mosaic.vrt"))
            .unwrap()
            .raster_size(),
        (2 * w, 2 * h)
    );
    let bad = run(&["mosaic", s(&moved), s(&dir.join("mosaic.txt"))]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("name it .vrt"));
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn bad_archives_and_bad_inputs_exit_2() {
    let dir = scratch("bad");
    let input = dir.join("in");
    grid(&input);
    let out = dir.join("out");
    let fails = |args: &[&str], needle: &str| {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err} lacks {needle}");
    };
    let args = |inputs: &Path, extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "colorize",
            "--model",
            MODEL,
            "--out-dir",
            s(&out),
            "--inputs",
            s(inputs),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    fails(&refs(&args(&dir.join("missing"), &[])), "--inputs");
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    fails(&refs(&args(&dir.join("empty"), &[])), "no rasters");
    fails(&refs(&args(&input, &["--shard", "2/2"])), "--shard 2/2");
    // Two inputs that would write one output.
    std::fs::create_dir_all(input.join("south")).unwrap();
    std::fs::copy(
        input.join("tile-10.tif"),
        input.join("south").join("tile-10.tif"),
    )
    .unwrap();
    fails(&refs(&args(&input, &[])), "would both be written to");
    std::fs::remove_dir_all(input.join("south")).unwrap();
    // A corrupt raster among good ones: it alone fails, the others are written.
    std::fs::write(input.join("broken.tif"), "not a tiff").unwrap();
    let o = run(&refs(&args(&input, &[])));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("failed: ") && stdout.contains("broken.tif"),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 colorized, 0 already complete, 1 failed"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 of 5 inputs failed"));
    assert!(!out.join("broken.tif").exists());
    // IN and --inputs together.
    let both = run(&[
        "colorize",
        "--model",
        MODEL,
        "a.tif",
        "b.tif",
        "--inputs",
        s(&input),
    ]);
    assert_eq!(both.status.code(), Some(2));
}
