//! examples/c/colorize.c compiled with the system C compiler against libsatcolor_c and run
//! as a C user would run it: the same values as the Rust API, a clear message and a
//! non-zero exit for a missing model, and a run under AddressSanitizer (with leak checking)
//! that reports no invalid access and no leak.

use satcolor::infer::{Bands, Colorizer, Options, Validity};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The directory cargo put libsatcolor_c.so in (this test's profile directory).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// A fresh, empty directory for test `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capi-c-example")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles the example with `flags` into `exe`, linked to the shared library.
fn compile(exe: &Path, flags: &[&str]) {
    let lib = lib_dir();
    let mut link = vec![
        format!("-L{}", lib.display()),
        format!("-Wl,-rpath,{}", lib.display()),
        "-lsatcolor_c".to_string(),
    ];
    link.splice(0..0, flags.iter().map(|f| f.to_string()));
    compile_with(exe, &link);
}

/// Compiles the example with `args` (flags and what to link) into `exe`.
fn compile_with(exe: &Path, args: &[String]) {
    let lib = lib_dir();
    assert!(
        lib.join("libsatcolor_c.so").exists(),
        "no libsatcolor_c.so in {}: build it first (cargo build -p satcolor-capi)",
        lib.display()
    );
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .arg(root().join("examples/c/colorize.c"))
        .arg("-I")
        .arg(root().join("capi/include"))
        .args(args)
        .arg("-o")
        .arg(exe)
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const MODEL: &str = "tests/data/pan-rgb-tiny.safetensors";
const SIZE: (usize, usize) = (83, 41);

/// A UInt16 panchromatic pattern with 0 (nodata) in a few pixels.
fn pan() -> Vec<u16> {
    let (w, h) = SIZE;
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if (x * 5 + y * 11) % 53 == 0 {
                0
            } else {
                (1200.0 + 500.0 * (x as f64 * 0.2).sin() + 450.0 * (y as f64 * 0.09).cos()) as u16
            }
        })
        .collect()
}

/// Runs the example on the pan pattern; its output's samples.
fn run_example(exe: &Path, dir: &Path, env: &[(&str, &str)]) -> Vec<u16> {
    let (w, h) = SIZE;
    let input = dir.join("pan.raw");
    let bytes: Vec<u8> = pan().iter().flat_map(|v| v.to_ne_bytes()).collect();
    std::fs::write(&input, bytes).unwrap();
    let output = dir.join("rgb.raw");
    let out = Command::new(exe)
        .current_dir(root())
        .envs(env.iter().copied())
        .env("RAYON_NUM_THREADS", "2")
        .arg(MODEL)
        .arg(&input)
        .args([w.to_string(), h.to_string()])
        .arg(&output)
        .args(["cpu", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}{}",
        exe.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("colorized 83x41 pixels into 3 bands on cpu"),
        "{stdout}"
    );
    std::fs::read(&output)
        .unwrap()
        .chunks_exact(2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .collect()
}

/// What the Rust API gives for the same input.
fn expected() -> Vec<u16> {
    let (w, h) = SIZE;
    let model = root().join(MODEL);
    let mut c = Colorizer::open(&model, &Options::new().device("cpu")).unwrap();
    let p = pan();
    c.colorize_planar(
        &Bands::planar(&p, w, h, 1).unwrap(),
        Validity {
            nodata: Some(0.0),
            mask: None,
        },
    )
    .unwrap()
}

#[test]
fn the_c_example_colorizes_like_the_rust_api() {
    let dir = scratch("plain");
    let exe = dir.join("colorize");
    compile(&exe, &["-O1"]);
    let got = run_example(&exe, &dir, &[]);
    assert_eq!(got, expected());

    // A missing model: exit 1, one line naming it, no output file.
    let missing = Command::new(&exe)
        .args(["no/such.safetensors", "x.raw", "4", "4"])
        .arg(dir.join("never.raw"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("no/such.safetensors") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("never.raw").exists());
}

#[test]
fn the_c_example_links_the_static_library() {
    let dir = scratch("static");
    let exe = dir.join("colorize-static");
    let archive = lib_dir().join("libsatcolor_c.a");
    assert!(
        archive.exists(),
        "no {}: build it first (cargo build -p satcolor-capi)",
        archive.display()
    );
    // The archive and the system libraries Rust's standard library needs on Linux
    // (`cargo rustc -p satcolor-capi --lib -- --print native-static-libs` lists them).
    let mut args = vec!["-O1".to_string(), archive.display().to_string()];
    args.extend(
        [
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
        .map(String::from),
    );
    compile_with(&exe, &args);
    let got = run_example(&exe, &dir, &[]);
    assert_eq!(got, expected());
}

#[test]
fn the_c_example_runs_clean_under_address_sanitizer() {
    let dir = scratch("asan");
    let exe = dir.join("colorize-asan");
    compile(
        &exe,
        &["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"],
    );
    // Leaks are reported and fail the run (exit code 23, the default of 1 being the
    // example's own failure code).
    let got = run_example(
        &exe,
        &dir,
        &[("ASAN_OPTIONS", "detect_leaks=1:exitcode=23:halt_on_error=1")],
    );
    assert_eq!(got, expected());
}
