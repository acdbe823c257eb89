//! `satcolor colorize` and `satcolor eval` end to end through the binary: the output
//! GeoTIFF's georeferencing, type, nodata, bands and layout; the GDAL path against the
//! in-memory API; small rasters; UInt16 11-bit data; and every bad input the issue lists
//! (exit code 2, one line, no output left behind).

#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod train_support;

use gdal::raster::Buffer;
use gdal::{Dataset, DriverManager, Metadata};
use satcolor::device::cpu::CpuDevice;
use satcolor::infer::{DeviceColorizer, ImageData};
use satcolor::model::normalization::{BandNorm, SampleType};
use satcolor::model::{Checkpoint, ModelConfig, Normalization};
use std::path::{Path, PathBuf};
use train_support::{s, satcolor};

/// A fresh, empty directory for test `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("colorize")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config() -> ModelConfig {
    ModelConfig {
        window: 32,
        filters: 6,
        kernel: 3,
        disc_widths: vec![4, 4, 8, 8, 8],
        ..ModelConfig::small()
    }
}

/// A freshly initialized model with `normalization`, saved at `path`.
fn save_model(path: &Path, normalization: Normalization) -> Checkpoint {
    save_model_of(&config(), path, normalization)
}

/// A freshly initialized model of `cfg` with `normalization`, made to look trained
/// ([`common::liven_checkpoint`]), saved at `path`.
fn save_model_of(cfg: &ModelConfig, path: &Path, normalization: Normalization) -> Checkpoint {
    let mut ckpt = common::fresh_checkpoint(cfg, 4);
    ckpt.normalization = normalization;
    common::liven_checkpoint(&mut ckpt, 4);
    ckpt.save(path).unwrap();
    ckpt
}

fn byte_model(dir: &Path) -> (PathBuf, Checkpoint) {
    let path = dir.join("model.safetensors");
    let ckpt = save_model(&path, Normalization::byte(&config()));
    (path, ckpt)
}

const GEO: [f64; 6] = [500_000.0, 0.5, 0.0, 4_200_000.0, 0.0, -0.5];

/// Writes a GeoTIFF of `bands` planes (band-major f64 values) of type `T`.
fn write_raster<T: gdal::raster::GdalType + Copy>(
    path: &Path,
    (w, h): (usize, usize),
    planes: &[Vec<f64>],
    nodata: Option<f64>,
    cast: impl Fn(f64) -> T,
) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<T, _>(path, w, h, planes.len())
        .unwrap();
    ds.set_geo_transform(&GEO).unwrap();
    let srs = gdal::spatial_ref::SpatialRef::from_epsg(32613).unwrap();
    ds.set_spatial_ref(&srs).unwrap();
    for (b, plane) in planes.iter().enumerate() {
        let mut band = ds.rasterband(b + 1).unwrap();
        if nodata.is_some() {
            band.set_no_data_value(nodata).unwrap();
        }
        let mut buf = Buffer::new((w, h), plane.iter().map(|&v| cast(v)).collect());
        band.write((0, 0), (w, h), &mut buf).unwrap();
    }
}

/// A smooth gray-ish pattern in 0..=`max`.
fn pattern((w, h): (usize, usize), max: f64, phase: usize) -> Vec<f64> {
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let v = 0.5 + 0.25 * (x * 0.21 + phase as f64).sin() + 0.25 * (y * 0.13).cos();
            (v * max).round()
        })
        .collect()
}

fn ok(args: &[&str]) -> String {
    let out = satcolor(args);
    assert!(
        out.status.success(),
        "satcolor {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `satcolor colorize --model MODEL INPUT OUT EXTRA... --device cpu`, which must succeed;
/// its stdout.
fn colorize(model: &Path, input: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["colorize", "--model", s(model), s(input), s(out)];
    args.extend_from_slice(extra);
    args.extend(["--device", "cpu"]);
    ok(&args)
}

/// Reads every band of a raster as f64, band-major.
fn read_all(path: &Path) -> (Vec<f64>, usize, usize) {
    let ds = Dataset::open(path).unwrap();
    let (w, h) = ds.raster_size();
    let mut v = Vec::new();
    for b in 1..=ds.raster_count() {
        let buf = ds
            .rasterband(b)
            .unwrap()
            .read_as::<f64>((0, 0), (w, h), (w, h), None)
            .unwrap();
        v.extend(buf.data());
    }
    (v, w, h)
}

#[test]
fn output_keeps_georeferencing_and_matches_the_in_memory_api() {
    let dir = scratch("georef");
    let (model, ckpt) = byte_model(&dir);
    let size = (75, 41);
    let gray = pattern(size, 250.0, 0);
    let mut with_nodata = gray.clone();
    with_nodata[3] = 7.0;
    with_nodata[200] = 7.0;
    let input = dir.join("pan.tif");
    write_raster(&input, size, &[with_nodata.clone()], Some(7.0), |v| v as u8);
    let out = dir.join("out.tif");
    let line = colorize(&model, &input, &out, &[]);
    assert!(line.contains("MP/s") && line.contains("peak RSS"), "{line}");

    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.raster_size(), size);
    assert_eq!(ds.raster_count(), 3);
    assert_eq!(ds.geo_transform().unwrap(), GEO);
    assert_eq!(ds.spatial_ref().unwrap().auth_code().unwrap(), 32613);
    let names: Vec<String> = (1..=3)
        .map(|b| ds.rasterband(b).unwrap().description().unwrap())
        .collect();
    assert_eq!(names, ["red", "green", "blue"]);
    for b in 1..=3 {
        let band = ds.rasterband(b).unwrap();
        assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt8);
        assert_eq!(band.no_data_value(), Some(7.0));
        assert_eq!(band.block_size(), (256, 256));
    }
    let compression = ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE");
    assert_eq!(compression.as_deref(), Some("DEFLATE"));
    drop(ds);

    // The same numbers as the in-memory API, nodata where the input is.
    let (got, _, _) = read_all(&out);
    let valid: Vec<bool> = with_nodata.iter().map(|&v| v != 7.0).collect();
    let image = ImageData::with_mask(
        size.0,
        size.1,
        1,
        with_nodata.iter().map(|&v| v as f32).collect(),
        valid.clone(),
    )
    .unwrap();
    let dev = CpuDevice::new();
    let want = DeviceColorizer::new(&dev, &ckpt, 16)
        .unwrap()
        .colorize(&image, 8)
        .unwrap();
    let plane = size.0 * size.1;
    for (i, (&g, &w)) in got.iter().zip(&want.values).enumerate() {
        if valid[i % plane] {
            // A valid value never reads as nodata: 7 is written as 8.
            let w = if w == 7.0 { 8.0 } else { f64::from(w) };
            assert_eq!(g, w, "value {i}");
        } else {
            assert_eq!(g, 7.0, "nodata at {i}");
        }
    }
    assert!(got.iter().any(|&v| v != 7.0 && v > 0.0));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporaries left: {leftovers:?}");
}

#[test]
fn rasters_smaller_than_the_window_are_padded() {
    let dir = scratch("small");
    let (model, _) = byte_model(&dir);
    for size in [(20, 13), (1, 40), (33, 2)] {
        let input = dir.join(format!("pan-{}x{}.tif", size.0, size.1));
        write_raster(&input, size, &[pattern(size, 200.0, 1)], None, |v| v as u8);
        let out = dir.join(format!("out-{}x{}.tif", size.0, size.1));
        colorize(&model, &input, &out, &[]);
        let (v, w, h) = read_all(&out);
        assert_eq!((w, h), size);
        assert_eq!(v.len(), 3 * w * h);
    }
}

#[test]
fn gray_from_a_band_or_from_luma_of_chosen_bands() {
    let dir = scratch("gray-from");
    let (model, ckpt) = byte_model(&dir);
    let size = (40, 37);
    let planes = [
        pattern(size, 250.0, 0),
        pattern(size, 120.0, 2),
        pattern(size, 60.0, 4),
    ];
    let rgb = dir.join("rgb.tif");
    write_raster(&rgb, size, &planes, None, |v| v as u8);
    let pan = dir.join("pan.tif");
    write_raster(&pan, size, &[planes[1].clone()], None, |v| v as u8);
    let (a, b) = (dir.join("a.tif"), dir.join("b.tif"));
    colorize(&model, &rgb, &a, &["--gray-from", "band:2"]);
    colorize(&model, &pan, &b, &[]);
    assert_eq!(
        read_all(&a).0,
        read_all(&b).0,
        "band:2 of the RGB raster is the pan raster"
    );

    // Luma of bands 3,2,1 (the raster read as BGR) against the in-memory API on that luma.
    let c = dir.join("c.tif");
    colorize(&model, &rgb, &c, &["--bands", "3,2,1"]);
    let plane = size.0 * size.1;
    let luma: Vec<f32> = (0..plane)
        .map(|i| {
            let [r, g, b] = [2, 1, 0].map(|k| planes[k][i] as f32 / 255.0);
            0.299 * r + 0.587 * g + 0.114 * b
        })
        .collect();
    let dev = CpuDevice::new();
    let image = ImageData::new(size.0, size.1, 1, luma).unwrap();
    let want = DeviceColorizer::new(&dev, &ckpt, 16)
        .unwrap()
        .colorize_normalized(&image, 8)
        .unwrap();
    let got = read_all(&c).0;
    for (g, w) in got.iter().zip(&want.values) {
        let expect = (f64::from(*w) * 255.0).round().clamp(0.0, 255.0);
        assert!((g - expect).abs() <= 1.0, "{g} vs {expect}");
    }
}

#[test]
fn uint16_eleven_bit_data_goes_through_end_to_end() {
    let dir = scratch("uint16");
    let band = |lo, hi| BandNorm {
        lo,
        hi,
        dtype: SampleType::UInt16,
    };
    let norm = Normalization {
        input: vec![band(60.0, 1980.0)],
        output: vec![band(40.0, 1700.0), band(55.0, 1850.0), band(30.0, 2040.0)],
    };
    let model = dir.join("model.safetensors");
    save_model(&model, norm);
    let size = (70, 45);
    let pan = dir.join("pan.tif");
    write_raster(&pan, size, &[pattern(size, 2047.0, 0)], Some(0.0), |v| {
        v as u16
    });
    let out = dir.join("out.tif");
    colorize(&model, &pan, &out, &[]);
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(
        ds.rasterband(1).unwrap().band_type(),
        gdal::raster::GdalDataType::UInt16
    );
    drop(ds);
    let (v, w, h) = read_all(&out);
    let plane = w * h;
    for (b, (lo, hi)) in [(40.0, 1700.0), (55.0, 1850.0), (30.0, 2040.0)]
        .iter()
        .enumerate()
    {
        for &x in &v[b * plane..(b + 1) * plane] {
            assert!(
                x >= *lo && x <= *hi && x == x.round(),
                "band {b}: {x} outside [{lo}, {hi}]"
            );
        }
    }
    // A Byte raster does not fit a model trained on UInt16 data.
    let byte = dir.join("byte.tif");
    write_raster(&byte, size, &[pattern(size, 200.0, 0)], None, |v| v as u8);
    bad(
        &[
            "colorize",
            "--model",
            s(&model),
            s(&byte),
            s(&dir.join("x.tif")),
        ],
        "UInt16",
        &dir.join("x.tif"),
    );
}

/// Runs a command that must fail as bad input: exit code 2, one line on stderr containing
/// `needle`, no panic, and `out` not created.
fn bad(args: &[&str], needle: &str, out: &Path) {
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--device", "cpu"]);
    let o = satcolor(&full);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "satcolor {args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err} should mention {needle}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "{} was left behind", out.display());
    if let Some(parent) = out.parent().filter(|p| p.is_dir()) {
        for e in std::fs::read_dir(parent).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(!name.starts_with(".sc-"), "temporary {name} left behind");
        }
    }
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_no_output() {
    let dir = scratch("bad");
    let (model, ckpt) = byte_model(&dir);
    let size = (40, 40);
    let pan = dir.join("pan.tif");
    write_raster(&pan, size, &[pattern(size, 200.0, 0)], None, |v| v as u8);
    let out = dir.join("out.tif");
    let o = s(&out);
    let m = s(&model);

    bad(
        &["colorize", "--model", m, s(&dir.join("missing.tif")), o],
        "no such file",
        &out,
    );
    // Launch graphs on the cpu device.
    bad(
        &["colorize", "--model", m, s(&pan), o, "--cuda-graphs"],
        "need a GPU device",
        &out,
    );
    // Tensor-core arithmetic on the cpu device.
    bad(
        &["colorize", "--model", m, s(&pan), o, "--precision", "tf32"],
        "--precision tf32",
        &out,
    );
    let text = dir.join("notes.tif");
    std::fs::write(&text, "not a raster").unwrap();
    bad(
        &["colorize", "--model", m, s(&text), o],
        "not a raster",
        &out,
    );
    let empty = dir.join("container.nc");
    std::fs::write(&empty, netcdf_with_two_variables()).unwrap();
    bad(&["colorize", "--model", m, s(&empty), o], "0 bands", &out);
    bad(
        &[
            "colorize",
            "--model",
            m,
            s(&pan),
            o,
            "--gray-from",
            "band:4",
        ],
        "band 4 out of range",
        &out,
    );
    let nodata = dir.join("nodata.tif");
    write_raster(&nodata, size, &[vec![9.0; 1600]], Some(9.0), |v| v as u8);
    bad(
        &["colorize", "--model", m, s(&nodata), o],
        "no valid pixel",
        &out,
    );
    let two = dir.join("two.tif");
    write_raster(
        &two,
        size,
        &[pattern(size, 9.0, 0), pattern(size, 9.0, 1)],
        None,
        |v| v as u8,
    );
    bad(
        &["colorize", "--model", m, s(&two), o],
        "--gray-from band:N",
        &out,
    );

    // Checkpoints that do not fit: bands, shapes, truncated.
    let mut multi = ckpt.clone();
    multi.config.in_bands = 3;
    multi.normalization.input = vec![BandNorm::byte(); 3];
    multi.bands.input = vec!["r".into(), "g".into(), "b".into()];
    let lift = multi.tensors.get_mut("g.lift.weight").unwrap();
    lift.shape = vec![3, 3, 1, 1];
    lift.data = vec![1.0 / 3.0; 9];
    common::liven_checkpoint(&mut multi, 5);
    let multi_path = dir.join("multi.safetensors");
    multi.save(&multi_path).unwrap();
    bad(
        &["colorize", "--model", s(&multi_path), s(&pan), o],
        "band 2 out of range",
        &out,
    );
    let mut shapes = ckpt.clone();
    shapes.config.filters = 7;
    let shapes_path = dir.join("shapes.safetensors");
    std::fs::write(&shapes_path, shapes_bytes(&shapes)).unwrap();
    bad(
        &["colorize", "--model", s(&shapes_path), s(&pan), o],
        "shape",
        &out,
    );
    let bytes = std::fs::read(&model).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    bad(
        &["colorize", "--model", s(&cut), s(&pan), o],
        "cut.safetensors",
        &out,
    );

    // Unwritable outputs: a directory that does not exist, a path under a file, the input.
    let nowhere = dir.join("no/such/dir/out.tif");
    bad(
        &["colorize", "--model", m, s(&pan), s(&nowhere)],
        "out.tif",
        &nowhere,
    );
    let under_file = text.join("out.tif");
    bad(
        &["colorize", "--model", m, s(&pan), s(&under_file)],
        "out.tif",
        &under_file,
    );
    let before = std::fs::read(&pan).unwrap();
    let o2 = satcolor(&[
        "colorize",
        "--model",
        m,
        s(&pan),
        s(&pan),
        "--device",
        "cpu",
    ]);
    assert_eq!(o2.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&pan).unwrap(),
        before,
        "the input is untouched"
    );

    // eval: a raster whose band count does not fit, an all-nodata raster, a missing path.
    let report = dir.join("unused.json");
    bad(
        &["eval", "--model", m, "--data", s(&pan)],
        "has 1 bands",
        &report,
    );
    let rgb_nodata = dir.join("rgb-nodata.tif");
    write_raster(
        &rgb_nodata,
        size,
        &[vec![9.0; 1600], vec![9.0; 1600], vec![9.0; 1600]],
        Some(9.0),
        |v| v as u8,
    );
    bad(
        &["eval", "--model", m, "--data", s(&rgb_nodata)],
        "no valid pixel",
        &report,
    );
    bad(
        &["eval", "--model", m, "--data", s(&dir.join("gone"))],
        "no such file",
        &report,
    );
}

/// A netCDF classic (CDF-1) file with two 3×4 float variables: GDAL opens it as a container
/// of two subdatasets with zero bands of its own.
fn netcdf_with_two_variables() -> Vec<u8> {
    let mut f: Vec<u8> = b"CDF\x01".to_vec();
    let int = |f: &mut Vec<u8>, v: u32| f.extend(v.to_be_bytes());
    let name = |f: &mut Vec<u8>, n: &str| {
        int(f, n.len() as u32);
        f.extend(n.as_bytes());
        f.resize(f.len().next_multiple_of(4), 0);
    };
    int(&mut f, 0); // records
    int(&mut f, 0x0A); // dimensions
    int(&mut f, 2);
    for (n, len) in [("x", 4), ("y", 3)] {
        name(&mut f, n);
        int(&mut f, len);
    }
    int(&mut f, 0); // no global attributes
    int(&mut f, 0);
    int(&mut f, 0x0B); // variables
    int(&mut f, 2);
    let header = 136;
    for (k, n) in ["a", "b"].iter().enumerate() {
        name(&mut f, n);
        int(&mut f, 2); // dimensions y, x
        int(&mut f, 1);
        int(&mut f, 0);
        int(&mut f, 0); // no attributes
        int(&mut f, 0);
        int(&mut f, 5); // NC_FLOAT
        int(&mut f, 48);
        int(&mut f, header + 48 * k as u32);
    }
    assert_eq!(f.len(), header as usize);
    for i in 0..24 {
        f.extend((i as f32).to_be_bytes());
    }
    f
}

/// A checkpoint file whose config says one thing and tensors another (saved without the
/// validation `Checkpoint::save` does).
fn shapes_bytes(ckpt: &Checkpoint) -> Vec<u8> {
    let mut good = ckpt.clone();
    good.config.filters = 6;
    let bytes = good.to_bytes().unwrap();
    // Swap the config JSON in the header for the one with 7 filters.
    let text = String::from_utf8_lossy(&bytes[8..]).to_string();
    let from = serde_json::to_string(&good.config.to_json()).unwrap();
    let to = serde_json::to_string(&ckpt.config.to_json()).unwrap();
    assert!(text.contains(&from[1..from.len() - 1]));
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    let new_header = header.replace(&from[1..from.len() - 1], &to[1..to.len() - 1]);
    let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
    out.extend(new_header.as_bytes());
    out.extend(&bytes[8 + header_len..]);
    out
}

#[test]
fn eval_reports_the_model_against_the_baselines() {
    let dir = scratch("eval");
    let (model, _) = byte_model(&dir);
    let data = dir.join("data");
    satcolor::synth::write_scenes(
        &data,
        &satcolor::synth::SynthOptions {
            scenes: 2,
            size: 48,
            seed: 3,
        },
    )
    .unwrap();
    let json = ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
        "--device",
        "cpu",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["rasters"].as_array().unwrap().len(), 2);
    let overall = &v["overall"];
    assert_eq!(overall["pixels"], 2 * 48 * 48);
    for who in ["model", "gray", "linear"] {
        for key in [
            "mse",
            "psnr_db",
            "ssim",
            "sam_deg",
            "ergas",
            "colorfulness",
            "delta_e",
        ] {
            assert!(overall[who][key].is_number(), "{who}.{key}: {json}");
        }
        assert_eq!(overall[who]["rmse_per_band"].as_array().unwrap().len(), 3);
    }
    assert_eq!(overall["gray"]["colorfulness"], 0.0);
    assert!(overall["gray"]["delta_e"].as_f64().unwrap() > 0.0);
    assert!(overall["truth_colorfulness"].as_f64().unwrap() > 0.0);
    assert_eq!(v["linear_fit"], "checkpoint");
    let table = ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--device",
        "cpu",
    ]);
    for row in ["model", "gray", "linear", "truth", "stronger baseline"] {
        assert!(table.contains(row), "{row}: {table}");
    }
}

#[cfg(feature = "emu")]
#[test]
fn the_emulated_kernels_colorize_like_the_cpu() {
    let dir = scratch("emu");
    let (model, _) = byte_model(&dir);
    emulated_like_cpu(&dir, &model);
    // The U-Net too (three levels at window 32).
    let unet = ModelConfig {
        generator: satcolor::model::GeneratorKind::Unet,
        unet_widths: vec![4, 6, 8],
        ..config()
    };
    let path = dir.join("unet.safetensors");
    save_model_of(&unet, &path, Normalization::byte(&unet));
    emulated_like_cpu(&dir, &path);
}

/// Colorizes a raster with `model` on the cpu and on the emulator, through the binary, and
/// compares the outputs.
#[cfg(feature = "emu")]
fn emulated_like_cpu(dir: &Path, model: &Path) {
    let size = (45, 38);
    let pan = dir.join("pan.tif");
    write_raster(&pan, size, &[pattern(size, 240.0, 3)], None, |v| v as u8);
    let (cpu, emu) = (dir.join("cpu.tif"), dir.join("emu.tif"));
    for old in [&cpu, &emu] {
        let _ = std::fs::remove_file(old);
    }
    colorize(model, &pan, &cpu, &[]);
    let line = ok(&[
        "colorize",
        "--model",
        s(model),
        s(&pan),
        s(&emu),
        "--device",
        "emu",
        "--batch",
        "5",
    ]);
    assert!(line.contains("emu"), "{line}");
    let (a, b) = (read_all(&cpu).0, read_all(&emu).0);
    // Different summation orders: at most one unit of rounding apart.
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f64, f64::max);
    assert!(worst <= 1.0, "cpu and emu differ by {worst}");
    assert!(a.iter().any(|&v| v > 0.0));
    // `colorize` on the emulator into a fresh `name`.tif with `extra` flags: its output line
    // and values.
    let on_emu = |name: &str, extra: &[&str]| {
        let out = dir.join(format!("{name}.tif"));
        let _ = std::fs::remove_file(&out);
        let mut args = vec!["colorize", "--model", s(model), s(&pan), s(&out)];
        args.extend(["--device", "emu"]);
        args.extend(extra);
        let line = ok(&args);
        (line, read_all(&out).0)
    };
    // The emulated tensor cores: TF32 operands (10 fraction bits) move an 8-bit output by
    // at most a few units.
    let (line, c) = on_emu("tf32", &["--precision", "tf32"]);
    assert!(line.contains("emu"), "{line}");
    let worst = a
        .iter()
        .zip(&c)
        .map(|(x, y)| (x - y).abs())
        .fold(0f64, f64::max);
    assert!(worst <= 3.0, "cpu and emu in tf32 differ by {worst}");
    // 16-bit storage: every activation rounded to 8 (bf16) or 11 (fp16) significant bits
    // on its way through the layers; the 8-bit output stays within a few units, and the
    // mean difference well under one.
    for (precision, max_worst, max_mean) in [("bf16", 4.0, 0.5), ("fp16", 2.0, 0.1)] {
        let (line, c) = on_emu(precision, &["--precision", precision]);
        assert!(line.contains(&format!("({precision}) in")), "{line}");
        let diffs: Vec<f64> = a.iter().zip(&c).map(|(x, y)| (x - y).abs()).collect();
        let worst = diffs.iter().copied().fold(0f64, f64::max);
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        assert!(
            worst <= max_worst && mean <= max_mean,
            "cpu and emu in {precision} differ by {worst} at worst, {mean} on average"
        );
    }
    // Launch graphs: batches of one tile (four of them: op by op, recorded, replayed
    // twice) give the op-by-op output bit for bit, in FP32 and in 16-bit storage.
    for precision in ["fp32", "bf16"] {
        let mut outputs = Vec::new();
        for graphs in [false, true] {
            let mut extra = vec!["--precision", precision, "--batch", "1"];
            if graphs {
                extra.push("--cuda-graphs");
            }
            let (line, c) = on_emu(&format!("graphs-{precision}-{graphs}"), &extra);
            assert_eq!(line.contains("with launch graphs"), graphs, "{line}");
            outputs.push(c);
        }
        assert!(
            outputs[0] == outputs[1],
            "{precision}: graph replay changed the output"
        );
    }
}

#[test]
fn a_killed_run_leaves_no_output_and_the_next_run_cleans_up() {
    let dir = scratch("kill");
    let (model, _) = byte_model(&dir);
    let size = (900, 700);
    let pan = dir.join("pan.tif");
    write_raster(&pan, size, &[pattern(size, 230.0, 5)], None, |v| v as u8);
    let out = dir.join("out.tif");
    let mut child =
        train_support::satcolor_cmd(&["colorize", "--model", s(&model), s(&pan), s(&out)])
            .args(["--device", "cpu"])
            .spawn()
            .unwrap();
    // Kill it (SIGKILL: no Drop runs) as soon as it has started writing.
    let prefix = satcolor::output::temporary_prefix(&out);
    let partial = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(&prefix))
            .count()
    };
    let start = std::time::Instant::now();
    while partial(&dir) == 0 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.exists(),
        "a killed run must not leave {}",
        out.display()
    );
    assert_eq!(partial(&dir), 1, "the killed run's temporary is there");
    colorize(&model, &pan, &out, &[]);
    assert!(out.exists());
    assert_eq!(partial(&dir), 0, "the next run removed the stale temporary");
    assert_eq!(read_all(&out).1, size.0);
}

#[test]
fn masked_input_without_nodata_gives_a_masked_output() {
    let dir = scratch("mask");
    let (model, _) = byte_model(&dir);
    let size = (50, 33);
    let plane = size.0 * size.1;
    let alpha: Vec<f64> = (0..plane)
        .map(|i| if i % 5 == 0 { 0.0 } else { 255.0 })
        .collect();
    let planes = [
        pattern(size, 250.0, 0),
        pattern(size, 120.0, 2),
        pattern(size, 60.0, 4),
        alpha.clone(),
    ];
    let rgba = dir.join("rgba.tif");
    write_raster(&rgba, size, &planes, None, |v| v as u8);
    {
        let ds = Dataset::open_ex(
            &rgba,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        let mut band = ds.rasterband(4).unwrap();
        band.set_color_interpretation(gdal::raster::ColorInterpretation::AlphaBand)
            .unwrap();
    }
    let out = dir.join("out.tif");
    colorize(&model, &rgba, &out, &[]);
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.raster_count(), 3, "no alpha band in the output, a mask");
    assert!(
        !dir.join("out.tif.msk").exists(),
        "the mask is inside the file"
    );
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.no_data_value(), None);
    assert!(band.mask_flags().unwrap().is_per_dataset());
    let mask = band
        .open_mask_band()
        .unwrap()
        .read_as::<u8>((0, 0), size, size, None)
        .unwrap();
    let want: Vec<u8> = alpha
        .iter()
        .map(|&a| if a == 0.0 { 0 } else { 255 })
        .collect();
    assert_eq!(mask.data(), &want[..]);
    let (v, _, _) = read_all(&out);
    for (i, &a) in alpha.iter().enumerate() {
        if a == 0.0 {
            assert_eq!([v[i], v[plane + i], v[2 * plane + i]], [0.0; 3]);
        }
    }
}

/// The linear baseline of a raw-head checkpoint, fitted with --fit-baseline-on: on a raster
/// whose bands are affine functions of one pattern (so of their luma), the fitted map
/// reproduces them up to Byte rounding, far better than the gray baseline; without the flag
/// a raw checkpoint has no linear baseline.
#[test]
fn eval_fits_the_linear_baseline_of_a_raw_checkpoint() {
    let dir = scratch("eval-fit");
    let cfg = ModelConfig {
        head: satcolor::model::Head::Raw,
        ..config()
    };
    let ckpt = common::fresh_checkpoint(&cfg, 4);
    let model = dir.join("raw.safetensors");
    ckpt.save(&model).unwrap();
    let size = (53, 41);
    let p = pattern(size, 1.0, 2);
    let band = |lo: f64, gain: f64| p.iter().map(|v| 255.0 * (lo + gain * v)).collect();
    let raster = dir.join("affine.tif");
    write_raster(
        &raster,
        size,
        &[band(0.2, 0.6), band(0.1, 0.8), band(0.3, 0.4)],
        None,
        |v| v.round() as u8,
    );
    let eval = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["eval", "--model", s(&model), "--data", s(&raster)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--json", "--device", "cpu"]);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let plain = eval(&[]);
    assert!(plain["overall"]["linear"].is_null());
    assert!(plain["linear_fit"].is_null());
    let fitted = eval(&["--fit-baseline-on", s(&raster)]);
    let o = &fitted["overall"];
    let (linear, gray) = (
        o["linear"]["mse"].as_f64().unwrap(),
        o["gray"]["mse"].as_f64().unwrap(),
    );
    // Byte rounding of the truth and of the baseline: errors of at most a level or so.
    assert!(linear < 2.0 / 255.0 / 255.0, "linear MSE {linear}");
    assert!(gray > 100.0 * linear, "gray {gray} vs linear {linear}");
    assert!(fitted["linear_fit"]
        .as_str()
        .unwrap()
        .starts_with("fitted on"));
}
