//! The C functions called as a C program calls them: status codes and messages for every
//! kind of bad argument (nothing written, nothing aborted), strided buffers, and several
//! colorizers running in parallel threads with the results of one thread.

use satcolor_c::*;
use std::ffi::{c_void, CStr, CString};
use std::ptr::{null, null_mut};

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/pan-rgb-tiny.safetensors"
);

fn last_error() -> String {
    unsafe { CStr::from_ptr(satcolor_last_error()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn open_cpu() -> *mut SatcolorColorizer {
    let path = CString::new(MODEL).unwrap();
    let device = CString::new("cpu").unwrap();
    let opts = SatcolorOptions {
        device: device.as_ptr(),
        precision: null(),
        batch: 0,
        overlap: -1,
    };
    let mut c = null_mut();
    let status = unsafe { satcolor_open(path.as_ptr(), &opts, &mut c) };
    assert_eq!(status, SatcolorStatus::Ok, "{}", last_error());
    assert!(!c.is_null());
    c
}

fn planar_in(data: &[u16], w: usize, h: usize) -> SatcolorImage {
    SatcolorImage {
        data: data.as_ptr().cast(),
        len: data.len(),
        data_type: SATCOLOR_TYPE_U16,
        width: w,
        height: h,
        bands: 1,
        band_stride: w * h,
        row_stride: w,
        col_stride: 1,
    }
}

fn planar_out(data: &mut [u16], w: usize, h: usize) -> SatcolorImageMut {
    SatcolorImageMut {
        data: data.as_mut_ptr().cast(),
        len: data.len(),
        data_type: SATCOLOR_TYPE_U16,
        width: w,
        height: h,
        bands: 3,
        band_stride: w * h,
        row_stride: w,
        col_stride: 1,
    }
}

fn pattern(w: usize, h: usize, k: u16) -> Vec<u16> {
    (0..w * h)
        .map(|i| 900 + ((i % w) * 13 + (i / w) * 7) as u16 % 1200 + k)
        .collect()
}

#[test]
fn info_and_bad_arguments_give_statuses_and_messages() {
    let c = open_cpu();
    let mut info = SatcolorInfo::default();
    assert_eq!(unsafe { satcolor_info(c, &mut info) }, SatcolorStatus::Ok);
    assert_eq!(
        info,
        SatcolorInfo {
            in_bands: 1,
            out_bands: 3,
            window: 32,
            overlap: 8,
            input_type: SATCOLOR_TYPE_U16,
            output_type: SATCOLOR_TYPE_U16,
        }
    );
    let mut name = [0 as std::ffi::c_char; 5];
    assert_eq!(
        unsafe { satcolor_device_name(c, name.as_mut_ptr(), name.len()) },
        SatcolorStatus::Ok
    );
    assert_eq!(
        unsafe { CStr::from_ptr(name.as_ptr()) }.to_str().unwrap(),
        "cpu "
    );

    let (w, h) = (37, 29);
    let x = pattern(w, h, 0);
    let mut y = vec![4u16; 3 * w * h];
    let good_in = planar_in(&x, w, h);
    let run = |input: SatcolorImage, output: SatcolorImageMut, mask: *const u8| {
        let status = unsafe { satcolor_colorize(c, &input, mask, null(), &output) };
        (status, last_error())
    };
    let out = planar_out(&mut y, w, h);
    let cases: Vec<((SatcolorStatus, String), &str)> = vec![
        (
            run(
                SatcolorImage {
                    data_type: 9,
                    ..good_in
                },
                out,
                null(),
            ),
            "unknown data type 9",
        ),
        (
            run(
                SatcolorImage {
                    data: null(),
                    ..good_in
                },
                out,
                null(),
            ),
            "data is NULL",
        ),
        (
            run(
                SatcolorImage {
                    data: unsafe { x.as_ptr().cast::<u8>().add(1) }.cast(),
                    len: x.len() - 1,
                    ..good_in
                },
                out,
                null(),
            ),
            "not aligned",
        ),
        (
            run(SatcolorImage { len: 5, ..good_in }, out, null()),
            "need 1073 elements",
        ),
        (
            run(
                SatcolorImage {
                    bands: 2,
                    band_stride: 0,
                    ..good_in
                },
                out,
                null(),
            ),
            "2 bands",
        ),
        (
            run(
                SatcolorImage {
                    data_type: SATCOLOR_TYPE_U8,
                    len: 1073 * 2,
                    ..good_in
                },
                out,
                null(),
            ),
            "Byte",
        ),
        (
            run(
                good_in,
                SatcolorImageMut {
                    height: h - 1,
                    ..out
                },
                null(),
            ),
            "the input 37x29",
        ),
        (
            run(
                good_in,
                SatcolorImageMut {
                    data: x.as_ptr().cast_mut().cast::<c_void>(),
                    len: x.len(),
                    bands: 1,
                    ..out
                },
                null(),
            ),
            "overlaps the input",
        ),
    ];
    for ((status, msg), needle) in cases {
        assert_eq!(status, SatcolorStatus::ErrInput, "{needle}");
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
    assert!(y.iter().all(|&v| v == 4), "a failed call wrote the output");
    assert_eq!(
        unsafe { satcolor_colorize(c, null(), null(), null(), &out) },
        SatcolorStatus::ErrInput
    );
    assert_eq!(
        unsafe { satcolor_colorize(null_mut(), &good_in, null(), null(), &out) },
        SatcolorStatus::ErrInput
    );

    // A mask that marks every pixel nodata and no nodata value: zeros, no error.
    let mask = vec![0u8; w * h];
    let (status, msg) = run(good_in, out, mask.as_ptr());
    assert_eq!(status, SatcolorStatus::Ok, "{msg}");
    assert!(y.iter().all(|&v| v == 0));
    assert_eq!(last_error(), "");
    assert_eq!(unsafe { satcolor_close(c) }, SatcolorStatus::Ok);
    assert_eq!(unsafe { satcolor_close(null_mut()) }, SatcolorStatus::Ok);

    // Opening: each failure its status; `out` is left alone.
    let mut c = null_mut();
    let missing = CString::new("no/such.safetensors").unwrap();
    assert_eq!(
        unsafe { satcolor_open(missing.as_ptr(), null(), &mut c) },
        SatcolorStatus::ErrIo
    );
    assert!(last_error().contains("no/such.safetensors"));
    let junk = [7u8; 64];
    assert_eq!(
        unsafe { satcolor_open_bytes(junk.as_ptr(), junk.len(), null(), &mut c) },
        SatcolorStatus::ErrCheckpoint
    );
    let path = CString::new(MODEL).unwrap();
    let tpu = CString::new("tpu").unwrap();
    let opts = SatcolorOptions {
        device: tpu.as_ptr(),
        precision: null(),
        batch: 0,
        overlap: -1,
    };
    assert_eq!(
        unsafe { satcolor_open(path.as_ptr(), &opts, &mut c) },
        SatcolorStatus::ErrDevice
    );
    assert!(
        last_error().contains("unknown device 'tpu'"),
        "{}",
        last_error()
    );
    let fp9 = CString::new("fp9").unwrap();
    let opts = SatcolorOptions {
        device: null(),
        precision: fp9.as_ptr(),
        batch: 0,
        overlap: -1,
    };
    assert_eq!(
        unsafe { satcolor_open(path.as_ptr(), &opts, &mut c) },
        SatcolorStatus::ErrInput
    );
    assert_eq!(
        unsafe { satcolor_open(null(), null(), &mut c) },
        SatcolorStatus::ErrInput
    );
    assert_eq!(
        unsafe { satcolor_open(path.as_ptr(), null(), null_mut()) },
        SatcolorStatus::ErrInput
    );
    assert!(c.is_null());
    // From bytes.
    let bytes = std::fs::read(MODEL).unwrap();
    let cpu = CString::new("cpu").unwrap();
    let opts = SatcolorOptions {
        device: cpu.as_ptr(),
        precision: null(),
        batch: 3,
        overlap: 5,
    };
    assert_eq!(
        unsafe { satcolor_open_bytes(bytes.as_ptr(), bytes.len(), &opts, &mut c) },
        SatcolorStatus::Ok
    );
    let mut info = SatcolorInfo::default();
    assert_eq!(unsafe { satcolor_info(c, &mut info) }, SatcolorStatus::Ok);
    assert_eq!(info.overlap, 5);
    assert_eq!(unsafe { satcolor_close(c) }, SatcolorStatus::Ok);
    let v = unsafe { CStr::from_ptr(satcolor_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn interleaved_float_output_and_colorizers_in_parallel_threads() {
    let (w, h) = (61, 47);
    let inputs: Vec<Vec<u16>> = (0..3).map(|k| pattern(w, h, 100 * k)).collect();
    let colorize = |x: &[u16]| -> Vec<u16> {
        let c = open_cpu();
        let mut y = vec![0u16; 3 * w * h];
        let status = unsafe {
            satcolor_colorize(
                c,
                &planar_in(x, w, h),
                null(),
                null(),
                &planar_out(&mut y, w, h),
            )
        };
        assert_eq!(status, SatcolorStatus::Ok, "{}", last_error());
        // The same pixels as an interleaved f32 output.
        let mut f = vec![0f32; 3 * w * h];
        let out = SatcolorImageMut {
            data: f.as_mut_ptr().cast(),
            len: f.len(),
            data_type: SATCOLOR_TYPE_F32,
            width: w,
            height: h,
            bands: 3,
            band_stride: 1,
            row_stride: 3 * w,
            col_stride: 3,
        };
        let status = unsafe { satcolor_colorize(c, &planar_in(x, w, h), null(), null(), &out) };
        assert_eq!(status, SatcolorStatus::Ok, "{}", last_error());
        for i in 0..w * h {
            for b in 0..3 {
                assert_eq!(f[3 * i + b], f32::from(y[b * w * h + i]));
            }
        }
        assert_eq!(unsafe { satcolor_close(c) }, SatcolorStatus::Ok);
        y
    };
    let sequential: Vec<Vec<u16>> = inputs.iter().map(|x| colorize(x)).collect();
    let parallel: Vec<Vec<u16>> = std::thread::scope(|s| {
        let hs: Vec<_> = inputs
            .iter()
            .map(|x| s.spawn(move || colorize(x)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(parallel, sequential);
    assert_ne!(sequential[0], sequential[1]);
}
