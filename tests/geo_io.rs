//! Raster I/O: the streaming GeoTIFF writer (every type, quantization, layout, atomicity,
//! unwritable paths), masked reads (nodata values, mask files, internal masks, alpha, NaN),
//! band lists and sample types.
#![cfg(feature = "geo")]

use gdal::raster::{Buffer, ColorInterpretation, RasterCreationOptions};
use gdal::{Dataset, DriverManager, Metadata};
use satcolor::geo::{
    parse_bands, write_geotiff, DataType, GeoRef, GeoTiffWriter, Raster, RasterError,
};
use satcolor::model::normalization::SampleType;
use std::path::{Path, PathBuf};

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("satcolor-geo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, hidden ones included, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn georef() -> GeoRef {
    GeoRef::north_up(32613, (500_000.0, 4_400_000.0), 0.5).unwrap()
}

/// Round half away from zero, then clamp: written independently of `SampleType::quantize`.
fn expected(dtype: SampleType, v: f32, nodata: Option<f64>) -> f64 {
    let v = f64::from(v);
    let (lo, hi) = match dtype {
        SampleType::Byte => (0.0, 255.0),
        SampleType::UInt16 => (0.0, 65535.0),
        SampleType::Int16 => (-32768.0, 32767.0),
        SampleType::Float32 => return if v.is_nan() { nodata.unwrap_or(0.0) } else { v },
    };
    if v.is_nan() {
        return nodata.unwrap_or(0.0);
    }
    let r = if v >= 0.0 {
        (v + 0.5).floor()
    } else {
        (v - 0.5).ceil()
    };
    r.max(lo).min(hi)
}

/// Awkward values around and beyond the type's range: halves, negatives, NaN.
fn value(dtype: SampleType, b: usize, x: usize, y: usize) -> f32 {
    let i = (b * 7919 + x * 104_729 + y * 1_299_709) % 1009;
    if i == 17 {
        return f32::NAN;
    }
    let t = i as f32 / 1008.0; // 0..=1
    match dtype {
        SampleType::Byte => -20.0 + t * 300.0,
        SampleType::UInt16 => -100.0 + t * 66_000.0,
        SampleType::Int16 => -33_000.0 + t * 66_000.0 + 0.5 * (i % 2) as f32,
        SampleType::Float32 => -1e4 + t * 3e4,
    }
}

/// Writes a `bands`-band raster of `dtype` in uneven row chunks and checks every value read
/// back, the layout, the descriptions, nodata and the georeference.
fn round_trip(dtype: SampleType, (w, h): (usize, usize), bands: usize, nodata: Option<f64>) {
    let dir = scratch(&format!("rt-{}", dtype.name()));
    let path = dir.join("out.tif");
    let descriptions: Vec<String> = (0..bands).map(|b| format!("band #{b} ü")).collect();
    let g = georef();
    let mut writer =
        GeoTiffWriter::create(&path, (w, h), bands, dtype, &g, nodata, &descriptions).unwrap();
    let mut y0 = 0;
    for chunk in [1usize, 99, 200, 3, 1000].iter().cycle() {
        if y0 == h {
            break;
        }
        let rows = (*chunk).min(h - y0);
        let mut data = Vec::with_capacity(bands * rows * w);
        for b in 0..bands {
            for y in y0..y0 + rows {
                data.extend((0..w).map(|x| value(dtype, b, x, y)));
            }
        }
        writer.write_rows(y0, rows, &data).unwrap();
        y0 += rows;
    }
    assert!(!path.exists(), "nothing at the target before finish");
    writer.finish().unwrap();
    assert_eq!(listing(&dir), ["out.tif"], "no temporary left");

    let r = Raster::open(&path).unwrap();
    assert_eq!((r.width(), r.height(), r.bands().len()), (w, h, bands));
    let all = r.read_all().unwrap();
    for b in 0..bands {
        assert_eq!(SampleType::try_from(r.bands()[b].dtype).unwrap(), dtype);
        assert_eq!(r.bands()[b].nodata, nodata);
        for y in 0..h {
            for x in 0..w {
                let got = f64::from(all[(b * h + y) * w + x]);
                let want = expected(dtype, value(dtype, b, x, y), nodata);
                let want = if dtype == SampleType::Float32 {
                    f64::from(want as f32)
                } else {
                    want
                };
                assert_eq!(got, want, "{} band {b} ({x}, {y})", dtype.name());
            }
        }
    }
    assert_eq!(r.georef().geo_transform, g.geo_transform);
    let srs = gdal::spatial_ref::SpatialRef::from_wkt(&r.georef().crs_wkt).unwrap();
    assert_eq!(srs.auth_code().unwrap(), 32613);

    let ds = Dataset::open(&path).unwrap();
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("DEFLATE")
    );
    for (b, description) in descriptions.iter().enumerate() {
        let band = ds.rasterband(b + 1).unwrap();
        assert_eq!(band.block_size(), (256, 256), "tiled 256x256");
        assert_eq!(&band.description().unwrap(), description);
    }
}

#[test]
fn geo_writer_round_trips_byte() {
    round_trip(SampleType::Byte, (37, 301), 3, None);
}

#[test]
fn geo_writer_round_trips_uint16_with_nodata() {
    round_trip(SampleType::UInt16, (301, 263), 2, Some(65535.0));
}

#[test]
fn geo_writer_round_trips_int16_with_nodata() {
    round_trip(SampleType::Int16, (37, 301), 1, Some(-32768.0));
}

#[test]
fn geo_writer_round_trips_float32() {
    round_trip(SampleType::Float32, (263, 37), 3, None);
    round_trip(SampleType::Float32, (41, 27), 1, Some(-9999.0));
}

#[test]
fn geo_write_geotiff_writes_integer_types_exactly() {
    let dir = scratch("whole");
    let (w, h) = (300, 259);
    let data: Vec<i16> = (0..w * h)
        .map(|i| (i as i32 * 37 % 65536 - 32768) as i16)
        .collect();
    let path = dir.join("i16.tif");
    write_geotiff(&path, (w, h), 1, &data, &georef(), None).unwrap();
    let r = Raster::open(&path).unwrap();
    assert_eq!(r.bands()[0].dtype, DataType::Int16);
    let back: Vec<i16> = r.read_all().unwrap().iter().map(|&v| v as i16).collect();
    assert_eq!(back, data);
    let e = write_geotiff(&path, (w, h), 2, &data, &georef(), None).unwrap_err();
    assert!(e.to_string().contains("i16.tif"), "{e}");
}

#[test]
fn geo_writer_checks_its_arguments() {
    let dir = scratch("args");
    let path = dir.join("a.tif");
    let g = georef();
    let e = GeoTiffWriter::create(&path, (4, 4), 1, SampleType::Byte, &g, Some(300.0), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("a.tif") && e.contains("nodata value 300"), "{e}");
    let e = GeoTiffWriter::create(&path, (4, 4), 2, SampleType::Byte, &g, None, &["x".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 band descriptions given for 2 bands"), "{e}");
    let mut w = GeoTiffWriter::create(&path, (4, 4), 2, SampleType::Byte, &g, None, &[]).unwrap();
    assert!(w.write_rows(3, 2, &[0.0; 16]).is_err(), "rows past the end");
    assert!(w.write_rows(0, 2, &[0.0; 15]).is_err(), "short data");
    assert!(w.write_rows(4, 0, &[]).is_ok(), "nothing to write");
    drop(w);
    assert!(listing(&dir).is_empty());
}

#[test]
fn geo_writer_removes_what_killed_writers_left() {
    let dir = scratch("stale");
    let path = dir.join("out.tif");
    // A writer killed mid-way (no Drop) leaves its temporary; PIDs above Linux's pid_max
    // (2^22) cannot be running; PID 1 always is.
    let tmp = |target: &str, pid: &str| {
        let name = satcolor::output::temporary_prefix(Path::new(target)) + pid + ".tmp";
        (dir.join(&name), name)
    };
    let (dead, _) = tmp("out.tif", "999999999");
    let (alive, alive_name) = tmp("out.tif", "1");
    let (other, other_name) = tmp("other.tif", "999999999");
    for f in [&dead, &alive, &other] {
        std::fs::write(f, b"half").unwrap();
    }
    let w = GeoTiffWriter::create(&path, (4, 4), 1, SampleType::Byte, &georef(), None, &[]);
    let mut w = w.unwrap();
    w.write_rows(0, 4, &[3.0; 16]).unwrap();
    w.finish().unwrap();
    let mut want = vec![other_name.as_str(), alive_name.as_str(), "out.tif"];
    want.sort();
    assert_eq!(listing(&dir), want);
}

#[test]
fn geo_dropped_writer_leaves_nothing() {
    let dir = scratch("drop");
    let path = dir.join("out.tif");
    let mut w = GeoTiffWriter::create(
        &path,
        (300, 300),
        3,
        SampleType::UInt16,
        &georef(),
        None,
        &[],
    )
    .unwrap();
    w.write_rows(0, 10, &vec![5.0; 3 * 10 * 300]).unwrap();
    assert_eq!(listing(&dir).len(), 1, "the temporary exists while writing");
    assert!(listing(&dir)[0].starts_with(&satcolor::output::temporary_prefix(&path)));
    drop(w);
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));

    // A panic while writing unwinds through the writer's Drop.
    let p = path.clone();
    let caught = std::panic::catch_unwind(move || {
        let mut w =
            GeoTiffWriter::create(&p, (20, 20), 1, SampleType::Byte, &georef(), None, &[]).unwrap();
        w.write_rows(0, 20, &[1.0; 400]).unwrap();
        panic!("interrupted");
    });
    assert!(caught.is_err());
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));

    // An existing file is left as it was when the writer is dropped.
    std::fs::write(&path, b"old").unwrap();
    drop(GeoTiffWriter::create(&path, (5, 5), 1, SampleType::Byte, &georef(), None, &[]).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(listing(&dir), ["out.tif"]);
}

#[test]
fn geo_unwritable_paths_fail_in_create_naming_the_path() {
    let dir = scratch("unwritable");
    let create = |p: &Path| {
        GeoTiffWriter::create(p, (8, 8), 1, SampleType::Byte, &georef(), None, &[])
            .map(|_| ())
            .unwrap_err()
    };
    let missing = dir.join("no/such/dir/out.tif");
    let e = create(&missing);
    // A path that cannot be created is the user's to fix: bad input, exit 2.
    assert!(matches!(e, RasterError::Invalid { .. }) && e.is_bad_input());
    assert!(
        e.to_string().starts_with(&missing.display().to_string()),
        "{e}"
    );
    assert!(e.to_string().contains("No such file"), "{e}");
    std::fs::write(dir.join("file"), b"").unwrap();
    let under_file = dir.join("file/out.tif");
    let e = create(&under_file).to_string();
    assert!(e.starts_with(&under_file.display().to_string()), "{e}");

    // A read-only directory (root writes anyway, so that case is checked only for others).
    use std::os::unix::fs::PermissionsExt;
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_err() {
        let e = create(&ro.join("out.tif")).to_string();
        assert!(
            e.contains("ro/out.tif") && e.contains("ermission denied"),
            "{e}"
        );
    }
    let _ = std::fs::remove_file(ro.join("probe"));
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(listing(&ro).is_empty());
}

/// Creates a GTiff of `bands` bands with `options`, fills band b with `f(b, x, y)` and calls
/// `extra` on the dataset before closing it.
fn gdal_raster<T: gdal::raster::GdalType + Copy>(
    path: &Path,
    (w, h): (usize, usize),
    bands: usize,
    options: &[&str],
    f: impl Fn(usize, usize, usize) -> T,
    extra: impl FnOnce(&mut Dataset),
) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let options = RasterCreationOptions::from_iter(options.iter().copied());
    let mut ds = driver
        .create_with_band_type_with_options::<T, _>(path, w, h, bands, &options)
        .unwrap();
    for b in 0..bands {
        let data = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| f(b, x, y))
            .collect();
        let mut buf = Buffer::new((w, h), data);
        ds.rasterband(b + 1)
            .unwrap()
            .write((0, 0), (w, h), &mut buf)
            .unwrap();
    }
    extra(&mut ds);
    ds.close().unwrap();
}

/// Writes `mask(x, y)` (0 = masked) into band 1's mask band, created per dataset.
fn fill_mask(ds: &mut Dataset, (w, h): (usize, usize), mask: impl Fn(usize, usize) -> u8) {
    let mut band = ds.rasterband(1).unwrap();
    band.create_mask_band(true).unwrap();
    let data = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| mask(x, y))
        .collect();
    let mut buf = Buffer::new((w, h), data);
    band.open_mask_band()
        .unwrap()
        .write((0, 0), (w, h), &mut buf)
        .unwrap();
}

/// Reads the window (3, 5) 7×4 of `bands` and compares its validity with `valid(x, y)`.
fn check_window(path: &Path, bands: &[usize], valid: impl Fn(usize, usize) -> bool) {
    let r = Raster::open(path).unwrap();
    let (values, got) = r.read_masked(bands, (3, 5), (7, 4)).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let plain = r.read_window(bands, (3, 5), (7, 4)).unwrap();
    assert_eq!(bits(&values), bits(&plain), "the values are read_window's");
    let want: Vec<bool> = (5..9)
        .flat_map(|y| (3..10).map(move |x| (x, y)))
        .map(|(x, y)| valid(x, y))
        .collect();
    assert_eq!(got, want, "{}", path.display());
}

#[test]
fn geo_read_masked_uses_nodata_values_of_every_band() {
    let dir = scratch("mask-nodata");
    let path = dir.join("nd.tif");
    // Band 1 is 0 (nodata) where x + y is divisible by 5, band 2 where x·y is divisible by 7.
    let (w, h) = (13, 11);
    let mut data = Vec::new();
    for b in 0..2 {
        for y in 0..h {
            for x in 0..w {
                let hole = if b == 0 {
                    (x + y) % 5 == 0
                } else {
                    x * y % 7 == 0
                };
                data.push(if hole { 0u16 } else { 100 + x as u16 });
            }
        }
    }
    write_geotiff(&path, (w, h), 2, &data, &georef(), Some(0.0)).unwrap();
    check_window(&path, &[0, 1], |x, y| (x + y) % 5 != 0 && x * y % 7 != 0);
    check_window(&path, &[1], |x, y| x * y % 7 != 0);
    // Without nodata every pixel is valid.
    let plain = dir.join("plain.tif");
    write_geotiff(&plain, (w, h), 2, &data, &georef(), None).unwrap();
    check_window(&plain, &[0, 1], |_, _| true);
}

#[test]
fn geo_read_masked_uses_mask_files_and_internal_masks() {
    let dir = scratch("mask-dataset");
    let (w, h) = (12, 10);
    let mask = |x: usize, y: usize| if x < 6 || y == 7 { 0u8 } else { 255 };
    // GDAL 3.6 writes a per-dataset mask as a .msk file beside the raster by default.
    let external = dir.join("ext.tif");
    gdal_raster::<u16>(
        &external,
        (w, h),
        3,
        &[],
        |b, x, y| (b + x + y) as u16,
        |ds| fill_mask(ds, (w, h), mask),
    );
    assert!(dir.join("ext.tif.msk").exists());
    check_window(&external, &[0, 1, 2], |x, y| mask(x, y) != 0);
    check_window(&external, &[2], |x, y| mask(x, y) != 0);

    let internal = dir.join("int.tif");
    gdal::config::set_thread_local_config_option("GDAL_TIFF_INTERNAL_MASK", "YES").unwrap();
    gdal_raster::<u8>(
        &internal,
        (w, h),
        1,
        &[],
        |_, x, _| x as u8,
        |ds| fill_mask(ds, (w, h), mask),
    );
    gdal::config::clear_thread_local_config_option("GDAL_TIFF_INTERNAL_MASK").unwrap();
    assert!(
        !dir.join("int.tif.msk").exists(),
        "the mask is inside the file"
    );
    check_window(&internal, &[0], |x, y| mask(x, y) != 0);
}

#[test]
fn geo_read_masked_uses_alpha_bands() {
    let dir = scratch("mask-alpha");
    let path = dir.join("rgba.tif");
    let (w, h) = (11, 12);
    // Alpha 0 is transparent; any other value, 1 included, counts as valid.
    let alpha = |x: usize, y: usize| [0u8, 1, 128, 255][(x * 3 + y) % 4];
    gdal_raster::<u8>(
        &path,
        (w, h),
        4,
        &["PHOTOMETRIC=RGB", "ALPHA=YES"],
        |b, x, y| {
            if b == 3 {
                alpha(x, y)
            } else {
                (10 * b + x) as u8
            }
        },
        |_| {},
    );
    let ds = Dataset::open(&path).unwrap();
    assert_eq!(
        ds.rasterband(4).unwrap().color_interpretation(),
        ColorInterpretation::AlphaBand
    );
    check_window(&path, &[0, 1, 2], |x, y| alpha(x, y) != 0);
}

#[test]
fn geo_read_masked_treats_nan_as_invalid() {
    let dir = scratch("mask-nan");
    let path = dir.join("nan.tif");
    let (w, h) = (10, 10);
    let nan_at = |b: usize, x: usize, y: usize| (x + 2 * y + b) % 6 == 0;
    gdal_raster::<f32>(
        &path,
        (w, h),
        2,
        &[],
        |b, x, y| {
            if nan_at(b, x, y) {
                f32::NAN
            } else {
                x as f32 * 0.5
            }
        },
        |_| {},
    );
    check_window(&path, &[0, 1], |x, y| !nan_at(0, x, y) && !nan_at(1, x, y));
    check_window(&path, &[1], |x, y| !nan_at(1, x, y));
}

#[test]
fn geo_band_lists_parse_and_are_checked() {
    assert_eq!(parse_bands("3,2,1").unwrap(), [2, 1, 0]);
    assert_eq!(parse_bands(" 1 , 4,1").unwrap(), [0, 3, 0]);
    for bad in ["", " ", "0", "1,,2", "a", "-1", "1.5", "2,"] {
        let e = parse_bands(bad).unwrap_err();
        assert!(matches!(e, RasterError::Input(_)), "{bad}: {e:?}");
        assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
    }
    assert!(parse_bands("0")
        .unwrap_err()
        .to_string()
        .contains("numbered from 1"));

    let dir = scratch("bands");
    let path = dir.join("three.tif");
    write_geotiff(&path, (4, 3), 3, &[7u8; 36], &georef(), None).unwrap();
    let r = Raster::open(&path).unwrap();
    r.check_bands(&[2, 0]).unwrap();
    let e = r.check_bands(&parse_bands("1,4").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: band 4 out of range (the raster has 3 bands)",
            path.display()
        )
    );
    let e = r.read_masked(&[3], (0, 0), (1, 1)).unwrap_err().to_string();
    assert!(
        e.ends_with("band 4 out of range (the raster has 3 bands)"),
        "{e}"
    );
}

#[test]
fn geo_sample_types_come_from_gdal_types() {
    let ok = [
        (DataType::Byte, SampleType::Byte),
        (DataType::UInt16, SampleType::UInt16),
        (DataType::Int16, SampleType::Int16),
        (DataType::Float32, SampleType::Float32),
    ];
    for (d, s) in ok {
        assert_eq!(SampleType::try_from(d).unwrap(), s);
        assert_eq!(d.name(), s.name());
    }
    for d in [
        DataType::UInt32,
        DataType::Int32,
        DataType::Float64,
        DataType::Other,
    ] {
        let e = SampleType::try_from(d).unwrap_err().to_string();
        assert!(e.contains(d.name()) && e.contains("not supported"), "{e}");
    }
}
