//! The embedding API (`satcolor::infer::Colorizer`) as a program that embeds it uses it:
//! the same values as `satcolor colorize` on the same raster whatever the input's type and
//! layout, nodata and masks, typed errors for bad input that leave the output untouched,
//! and several colorizers running in parallel.

#[cfg(all(feature = "cli", feature = "geo"))]
#[allow(dead_code)]
mod train_support;

use satcolor::infer::{Bands, BandsMut, Colorizer, InferError, Layout, Options, Validity};

/// The test model: a U-Net (widths 8, 16, window 32) trained 600 steps on the Sentinel-2
/// scene's luma → RGB, UInt16 in and out.
const MODEL: &str = "tests/data/pan-rgb-tiny.safetensors";

fn cpu() -> Options {
    Options::new().device("cpu")
}

fn open() -> Colorizer {
    Colorizer::open(MODEL, &cpu()).unwrap()
}

/// A 77×45 UInt16 panchromatic pattern in the model's input range, with 0 (nodata) in a
/// few pixels.
fn pan((w, h): (usize, usize)) -> Vec<u16> {
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            if (x as usize * 7 + y as usize * 3) % 41 == 0 {
                0
            } else {
                (1300.0 + 600.0 * (x * 0.17).sin() + 400.0 * (y * 0.11).cos()).round() as u16
            }
        })
        .collect()
}

const SIZE: (usize, usize) = (77, 45);

#[test]
fn every_layout_and_input_type_gives_the_same_values() {
    let (w, h) = SIZE;
    let mut c = open();
    assert_eq!((c.in_bands(), c.out_bands(), c.window()), (1, 3, 32));
    let nodata = Validity {
        nodata: Some(0.0),
        mask: None,
    };
    let p = pan(SIZE);
    let want: Vec<u16> = c
        .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), nodata)
        .unwrap();
    let plane = w * h;
    for (i, &v) in p.iter().enumerate() {
        for b in 0..3 {
            let o = want[b * plane + i];
            // Nodata in, nodata out; a valid pixel never reads as nodata.
            assert_eq!(o == 0, v == 0, "pixel {i} band {b}: {v} -> {o}");
        }
    }

    // f32 input of the same values; f32 output of the same (integral) values.
    let pf: Vec<f32> = p.iter().map(|&v| f32::from(v)).collect();
    let got: Vec<u16> = c
        .colorize_planar(&Bands::planar(&pf, w, h, 1).unwrap(), nodata)
        .unwrap();
    assert_eq!(got, want);
    let gotf: Vec<f32> = c
        .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), nodata)
        .unwrap();
    assert!(gotf.iter().zip(&want).all(|(&f, &u)| f == f32::from(u)));

    // Rows padded to a pitch of 80 elements, read through strides; an interleaved output
    // with a fourth (alpha-like) channel the colorizer must leave alone.
    let pitch = 80;
    let mut strided = vec![7u16; pitch * h];
    for r in 0..h {
        strided[r * pitch..][..w].copy_from_slice(&p[r * w..][..w]);
    }
    let layout = Layout {
        row_stride: pitch,
        ..Layout::planar(w, h, 1)
    };
    let mut rgba = vec![9u16; 4 * plane];
    let out_layout = Layout {
        col_stride: 4,
        row_stride: 4 * w,
        ..Layout::interleaved(w, h, 3)
    };
    c.colorize(
        &Bands::new(&strided, layout).unwrap(),
        nodata,
        &mut BandsMut::new(&mut rgba, out_layout).unwrap(),
    )
    .unwrap();
    for i in 0..plane {
        for b in 0..3 {
            assert_eq!(rgba[4 * i + b], want[b * plane + i], "pixel {i} band {b}");
        }
        assert_eq!(rgba[4 * i + 3], 9, "the fourth channel is not the output's");
    }

    // A mask instead of the nodata value: the same valid values; nodata pixels without a
    // nodata value read 0 in an integer output and NaN in a float one.
    let mask: Vec<bool> = p.iter().map(|&v| v != 0).collect();
    let masked = Validity {
        nodata: None,
        mask: Some(&mask),
    };
    let got: Vec<u16> = c
        .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), masked)
        .unwrap();
    assert_eq!(got, want);
    let gotf: Vec<f32> = c
        .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), masked)
        .unwrap();
    for (i, &v) in gotf.iter().enumerate() {
        assert_eq!(v.is_nan(), !mask[i % plane], "value {i}");
    }
}

#[test]
fn bad_input_is_a_typed_error_and_leaves_the_output_alone() {
    let mut c = open();
    let (w, h) = (40, 30);
    let p = vec![1500u16; w * h];
    let mut out = vec![5u16; 3 * w * h];
    let input = Bands::planar(&p, w, h, 1).unwrap();
    let mut run = |c: &mut Colorizer, input: &Bands<u16>, v: Validity, l: Layout| {
        let mut o = BandsMut::new(&mut out, l).unwrap();
        c.colorize(input, v, &mut o).unwrap_err()
    };
    let cases: Vec<(InferError, &str)> = vec![
        (
            run(&mut c, &input, Validity::default(), Layout::planar(w, h, 2)),
            "has 2 bands",
        ),
        (
            run(
                &mut c,
                &input,
                Validity::default(),
                Layout::planar(w, h - 1, 3),
            ),
            "is 40x29",
        ),
        (
            run(
                &mut c,
                &input,
                Validity {
                    nodata: None,
                    mask: Some(&[true; 7]),
                },
                Layout::planar(w, h, 3),
            ),
            "mask has 7 entries",
        ),
    ];
    for (e, needle) in cases {
        assert!(matches!(e, InferError::Input(_)), "{e:?}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
    }
    assert!(
        out.iter().all(|&v| v == 5),
        "a failed call wrote the output"
    );

    // A Byte array for a UInt16 model; i16 likewise.
    let bytes = vec![3u8; w * h];
    let e = c
        .colorize_planar::<u8, u16>(
            &Bands::planar(&bytes, w, h, 1).unwrap(),
            Validity::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("Byte"), "{e}");
    let e = c
        .colorize_planar::<u16, u8>(&input, Validity::default())
        .unwrap_err();
    assert!(e.to_string().contains("UInt16"), "{e}");

    // Buffers too short for their layout, empty arrays, strides that overflow.
    assert!(Bands::planar(&p, w, h + 1, 1).is_err());
    assert!(Bands::<u16>::planar(&[], 0, 0, 1).is_err());
    let huge = Layout {
        row_stride: usize::MAX / 2,
        ..Layout::planar(w, h, 1)
    };
    assert_eq!(huge.min_len(), usize::MAX);
    assert!(matches!(Bands::new(&p, huge), Err(InferError::Input(_))));

    // Opening: a missing file, bytes that are no checkpoint, an unknown device, settings.
    let missing = Colorizer::open("no/such.safetensors", &cpu()).unwrap_err();
    assert!(matches!(missing, InferError::Io(_)), "{missing:?}");
    let junk = Colorizer::from_bytes(&[0u8; 100], &cpu()).unwrap_err();
    assert!(matches!(junk, InferError::Checkpoint(_)), "{junk:?}");
    let dev = Colorizer::open(MODEL, &Options::new().device("tpu:0")).unwrap_err();
    assert!(matches!(dev, InferError::Device(_)), "{dev:?}");
    let overlap = Colorizer::open(MODEL, &cpu().overlap(32)).unwrap_err();
    assert!(matches!(overlap, InferError::Input(_)), "{overlap:?}");
    let batch = Colorizer::open(MODEL, &cpu().batch(0)).unwrap_err();
    assert!(matches!(batch, InferError::Input(_)), "{batch:?}");
    let half = Colorizer::open(
        MODEL,
        &cpu().precision(satcolor::device::precision::Precision::Bf16),
    )
    .unwrap_err();
    assert!(matches!(half, InferError::Input(_)), "{half:?}");
    // A truncated checkpoint.
    let bytes = std::fs::read(MODEL).unwrap();
    let cut = Colorizer::from_bytes(&bytes[..bytes.len() / 2], &cpu()).unwrap_err();
    assert!(matches!(cut, InferError::Checkpoint(_)), "{cut:?}");
}

#[test]
fn all_nodata_and_tiny_arrays() {
    let mut c = open();
    // Every pixel nodata: no error, every output pixel the nodata value.
    let p = vec![0u16; 50 * 3];
    let nodata = Validity {
        nodata: Some(0.0),
        mask: None,
    };
    let out: Vec<u16> = c
        .colorize_planar(&Bands::planar(&p, 50, 3, 1).unwrap(), nodata)
        .unwrap();
    assert!(out.iter().all(|&v| v == 0));
    // One pixel, and arrays narrower than the window: padded as the command line pads.
    for (w, h) in [(1, 1), (1, 40), (33, 2)] {
        let p = pan((w, h));
        let out: Vec<u16> = c
            .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), Validity::default())
            .unwrap();
        assert_eq!(out.len(), 3 * w * h);
    }
}

#[test]
fn colorizers_run_in_parallel_threads() {
    let (w, h) = (70, 66);
    let inputs: Vec<Vec<u16>> = (0..3)
        .map(|k| pan((w, h)).iter().map(|&v| v + 50 * k).collect())
        .collect();
    let sequential: Vec<Vec<u16>> = inputs
        .iter()
        .map(|p| {
            open()
                .colorize_planar(&Bands::planar(p, w, h, 1).unwrap(), Validity::default())
                .unwrap()
        })
        .collect();
    let parallel: Vec<Vec<u16>> = std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .iter()
            .map(|p| {
                s.spawn(move || {
                    // Each thread owns its colorizer; it is Send, so it could also move.
                    let mut c = open();
                    let mut last = Vec::new();
                    for _ in 0..3 {
                        last = c
                            .colorize_planar(
                                &Bands::planar(p, w, h, 1).unwrap(),
                                Validity::default(),
                            )
                            .unwrap();
                    }
                    last
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(parallel, sequential);
    // A colorizer moved to another thread.
    let mut c = open();
    let p = inputs[0].clone();
    let got: Vec<u16> = std::thread::spawn(move || {
        c.colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), Validity::default())
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(got, sequential[0]);
}

/// The same values as `satcolor colorize` writes for the same raster (which also keeps
/// valid values off the nodata value and writes nodata where the input is).
#[cfg(all(feature = "cli", feature = "geo"))]
#[test]
fn the_same_values_as_the_command_line() {
    use gdal::raster::Buffer;
    use gdal::{Dataset, DriverManager};
    use std::path::{Path, PathBuf};
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("embed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (w, h) = SIZE;
    let p = pan(SIZE);
    let input = dir.join("pan.tif");
    {
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        let ds = driver
            .create_with_band_type::<u16, _>(&input, w, h, 1)
            .unwrap();
        let mut band = ds.rasterband(1).unwrap();
        band.set_no_data_value(Some(0.0)).unwrap();
        let mut buf = Buffer::new((w, h), p.clone());
        band.write((0, 0), (w, h), &mut buf).unwrap();
    }
    let out = dir.join("rgb.tif");
    let run = train_support::satcolor(&[
        "colorize",
        "--model",
        MODEL,
        train_support::s(&input),
        train_support::s(&out),
        "--device",
        "cpu",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let ds = Dataset::open(&out).unwrap();
    let mut cli: Vec<u16> = Vec::new();
    for b in 1..=3 {
        let band = ds.rasterband(b).unwrap();
        assert_eq!(band.no_data_value(), Some(0.0));
        let buf = band.read_as::<u16>((0, 0), (w, h), (w, h), None).unwrap();
        cli.extend_from_slice(buf.data());
    }
    let got: Vec<u16> = open()
        .colorize_planar(
            &Bands::planar(&p, w, h, 1).unwrap(),
            Validity {
                nodata: Some(0.0),
                mask: None,
            },
        )
        .unwrap();
    assert_eq!(got, cli);
    assert!(cli.iter().filter(|&&v| v == 0).count() == 3 * p.iter().filter(|&&v| v == 0).count());
}

/// Reduced precision where the device offers it: the emulated kernels with 16-bit storage
/// (bf16, fp16) against the cpu device's FP32; FP32 on the emulator gives the cpu's values
/// up to rounding. The cpu device refuses 16-bit storage (see the bad-input test).
#[cfg(feature = "emu")]
#[test]
fn reduced_precision_on_the_emulated_kernels() {
    use satcolor::device::precision::Precision;
    let (w, h) = (40, 33);
    let p = pan((w, h));
    let nodata = Validity {
        nodata: Some(0.0),
        mask: None,
    };
    let want: Vec<f32> = open()
        .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), nodata)
        .unwrap();
    // Tolerances in DN of the narrowest target stretch (blue: 1288 DN): bf16 stores 8
    // significant bits (2^-8 relative), fp16 11.
    for (precision, tol) in [
        (Precision::Fp32, 1.0),
        (Precision::Bf16, 24.0),
        (Precision::Fp16, 6.0),
    ] {
        let mut c =
            Colorizer::open(MODEL, &Options::new().device("emu").precision(precision)).unwrap();
        assert_eq!(c.precision(), precision);
        let got: Vec<f32> = c
            .colorize_planar(&Bands::planar(&p, w, h, 1).unwrap(), nodata)
            .unwrap();
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= tol,
            "{precision}: {worst} DN from the cpu's values"
        );
        let same_nodata = got
            .iter()
            .zip(&want)
            .all(|(a, b)| (*a == 0.0) == (*b == 0.0));
        assert!(same_nodata, "{precision}");
        eprintln!("{precision}: largest difference {worst} DN");
    }
}
