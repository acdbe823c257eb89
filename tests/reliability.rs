//! Hostile input, as a user might give it: the command line never panics, keeps memory
//! bounded, leaves no half-written output, and exits 0 (done), 1 (a valid request that
//! failed, such as a full disk), 2 (bad input) or 128 + the signal (interrupted), with one
//! line on stderr naming what is wrong (docs/failures.md).
#![cfg(all(feature = "cli", feature = "geo"))]

#[allow(dead_code)]
mod train_support;

use satcolor::geo::GeoTiffWriter;
use satcolor::model::normalization::SampleType;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use train_support::{s, satcolor, satcolor_cmd, scratch, tiny_data, train_ok, TINY};

/// A tiny trained run (its directory) and its data, shared by the tests.
fn model() -> &'static (PathBuf, PathBuf) {
    static MODEL: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch("reliability-model");
        let data = tiny_data(&dir);
        let run = dir.join("run");
        let args = train_line(&data, &run, "2", &[])[1..].to_vec();
        train_ok(&args);
        (run, data)
    })
}

fn ckpt() -> PathBuf {
    ckpt_path().to_path_buf()
}

fn ckpt_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| model().0.join("model.safetensors"))
}

fn scene() -> PathBuf {
    model().1.join("scene-00002.tif")
}

/// Checks a failed command: exit `code`, one line on stderr containing `needle`, no panic.
fn fails(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "'{needle}' not in: {err}");
    // One line; a trainer's progress lines may come before it.
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert!(lines.last().unwrap().contains(needle), "{err}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The arguments of `satcolor colorize` on the cpu: `model`, `input`, `out` and `extra`
/// flags.
fn colorize_line<'a>(
    model: &'a Path,
    input: &'a Path,
    out: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "colorize",
        "--device",
        "cpu",
        "--model",
        s(model),
        s(input),
        s(out),
    ];
    args.extend_from_slice(extra);
    args
}

/// The arguments of `satcolor train` of the tiny model on `data` into `run` for `steps`
/// steps, with `extra` flags.
fn train_line<'a>(
    data: &'a Path,
    run: &'a Path,
    steps: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--out",
        s(run),
        "--steps",
        steps,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(TINY);
    args
}

/// `satcolor colorize` on the cpu with the shared model and `extra` flags.
fn colorize(extra: &[&str], input: &Path, out: &Path) -> Output {
    satcolor(&colorize_line(ckpt_path(), input, out, extra))
}

/// Fails the test unless the command succeeded.
fn succeeded(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
}

/// `satcolor ARGS` under an address-space limit of `kib` KiB (`ulimit -v`).
fn limited(kib: u64, args: &[&str]) -> Output {
    let mut line = format!("ulimit -v {kib}; exec '{}'", env!("CARGO_BIN_EXE_satcolor"));
    for a in args {
        line += &format!(" '{a}'");
    }
    Command::new("sh").args(["-c", &line]).output().unwrap()
}

/// Dot files left in `dir` (temporaries of atomic writes).
fn hidden(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_closed_or_full_stdout_ends_quietly_or_as_an_error() {
    let dir = scratch("reliability-stdout");
    let out = dir.join("out.tif");
    let cases: Vec<Vec<String>> = vec![
        vec!["info".into()],
        vec![
            "eval".into(),
            "--json".into(),
            "--device".into(),
            "cpu".into(),
            "--model".into(),
            s(&ckpt()).into(),
            "--data".into(),
            s(&scene()).into(),
        ],
        vec![
            "colorize".into(),
            "--device".into(),
            "cpu".into(),
            "--model".into(),
            s(&ckpt()).into(),
            s(&scene()).into(),
            s(&out).into(),
        ],
    ];
    for args in &cases {
        // The reader goes away before anything is printed.
        let _ = std::fs::remove_file(&out);
        let mut child = satcolor_cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let done = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(
            done.status.success() || done.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?} {err}",
            done.status
        );
        assert!(!err.contains("panicked"), "{err}");
        // A full stdout is an I/O error, exit 1; the work itself was done.
        let _ = std::fs::remove_file(&out);
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let done = satcolor_cmd(args).stdout(full).output().unwrap();
        fails(&done, 1, "cannot write to stdout");
        if args[0] == "colorize" {
            assert!(out.exists(), "the output was written before the report");
        }
    }
}

#[test]
fn closed_stdout_and_stderr_do_not_stop_or_panic_a_trainer() {
    let dir = scratch("reliability-stderr");
    let run = dir.join("run");
    let args = train_line(&model().1, &run, "3", &[]);
    // `satcolor train … 2>&1 | head -0`: both streams go to a reader that is gone.
    let mut child = satcolor_cmd(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(
        status.success() || status.signal() == Some(libc::SIGPIPE),
        "{status:?}"
    );
    // The progress lines could not be written; the training was done all the same.
    let ckpt = satcolor::model::Checkpoint::load(&run.join("model.safetensors")).unwrap();
    assert_eq!(ckpt.step, 3);
}

#[test]
fn absurd_batches_are_capped_or_refused_before_allocating() {
    let dir = scratch("reliability-batch");
    for batch in ["18446744073709551615", "100000"] {
        let out = dir.join(format!("out-{}.tif", batch.len()));
        let done = limited(
            4 << 20,
            &colorize_line(&ckpt(), &scene(), &out, &["--batch", batch]),
        );
        succeeded(&done);
    }
    let data = &model().1;
    let run = dir.join("run");
    let mut args = train_line(data, &run, "1", &[]);
    let pos = args.iter().position(|a| *a == "--batch").unwrap();
    args[pos + 1] = "1000000000";
    fails(&limited(4 << 20, &args), 2, "memory");
    assert!(!run.join("model.safetensors").exists());
    // A resumed run whose batch cannot fit is refused the same way.
    let copy = dir.join("resumed");
    std::fs::create_dir_all(copy.join("checkpoints")).unwrap();
    edit_checkpoint(&copy.join("model.safetensors"), |meta, _| {
        let mut state: serde_json::Value = serde_json::from_str(&meta["training"]).unwrap();
        state["settings"]["batch"] = serde_json::json!(1_000_000_000u64);
        meta.insert("training".into(), state.to_string());
    });
    let done = limited(
        4 << 20,
        &[
            "train",
            "--resume",
            s(&copy),
            "--steps",
            "3",
            "--device",
            "cpu",
        ],
    );
    fails(&done, 2, "memory");
}

/// The checkpoint at `path` with its metadata changed by `edit`, written to `to`.
fn edit_checkpoint(
    to: &Path,
    edit: impl Fn(
        &mut std::collections::HashMap<String, String>,
        &mut Vec<(String, Vec<f32>, Vec<usize>)>,
    ),
) {
    let bytes = std::fs::read(ckpt()).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut tensors: Vec<(String, Vec<f32>, Vec<usize>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let data = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (n, data, v.shape().to_vec())
        })
        .collect();
    edit(&mut meta, &mut tensors);
    let raw: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, d, sh)| {
            (
                n.clone(),
                d.iter().flat_map(|v| v.to_le_bytes()).collect(),
                sh.clone(),
            )
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView)> = raw
        .iter()
        .map(|(n, b, sh)| {
            (
                n.as_str(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, sh.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(to, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

#[test]
fn checkpoints_are_checked_before_anything_is_sized_from_them() {
    let dir = scratch("reliability-ckpt");
    let out = dir.join("out.tif");
    for (layers, needle) in [
        ("4000000000", "outer_layers must be at most"),
        ("1000000", "outer_layers must be at most"),
    ] {
        let bad = dir.join(format!("layers-{layers}.safetensors"));
        edit_checkpoint(&bad, |meta, _| {
            let mut cfg: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
            cfg["outer_layers"] = serde_json::json!(layers.parse::<u64>().unwrap());
            meta.insert("config".into(), cfg.to_string());
        });
        for cmd in [
            colorize_line(&bad, &scene(), &out, &[]),
            vec![
                "eval",
                "--device",
                "cpu",
                "--model",
                s(&bad),
                "--data",
                s(&scene()),
            ],
        ] {
            fails(&limited(4 << 20, &cmd), 2, needle);
        }
    }
    // Weights that are not finite: refused, naming the tensor.
    let nan = dir.join("nan.safetensors");
    edit_checkpoint(&nan, |_, tensors| {
        let t = tensors.iter_mut().find(|t| t.0.starts_with("g.")).unwrap();
        t.1[0] = f32::NAN;
    });
    let done = satcolor(&colorize_line(&nan, &scene(), &out, &[]));
    fails(&done, 2, "not finite");
    assert!(!out.exists());
    // A missing model or a directory: exit 2, the reason said once.
    for model in [dir.join("missing.safetensors"), dir.clone()] {
        let done = satcolor(&["colorize", "--model", s(&model), s(&scene()), s(&out)]);
        fails(&done, 2, s(&model));
        let err = String::from_utf8_lossy(&done.stderr);
        if let Some(i) = err.find("os error") {
            assert!(!err[i + 1..].contains("os error"), "said twice: {err}");
        }
    }
}

/// A VRT of `w`×`h` pixels whose three Byte bands read `source`.
fn huge_vrt(path: &Path, (w, h): (usize, usize), source: &Path) {
    let bands: String = (1..=3)
        .map(|b| {
            format!(
                "<VRTRasterBand dataType=\"Byte\" band=\"{b}\"><SimpleSource><SourceFilename>{}\
                 </SourceFilename><SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>",
                source.display()
            )
        })
        .collect();
    let xml = format!("<VRTDataset rasterXSize=\"{w}\" rasterYSize=\"{h}\">{bands}</VRTDataset>");
    std::fs::write(path, xml).unwrap();
}

#[test]
fn rasters_too_big_for_memory_are_refused_or_streamed() {
    let dir = scratch("reliability-huge");
    let vrt = dir.join("huge.vrt");
    let huge_run = dir.join("run");
    huge_vrt(&vrt, (200_000, 200_000), &scene());
    fails(
        &limited(
            4 << 20,
            &[
                "eval",
                "--device",
                "cpu",
                "--model",
                s(&ckpt()),
                "--data",
                s(&vrt),
            ],
        ),
        2,
        "200000x200000",
    );
    let args = train_line(&vrt, &huge_run, "1", &[]);
    fails(&limited(4 << 20, &args), 2, "200000x200000");
    // A very wide raster is colorized in column blocks: memory stays bounded.
    let wide = dir.join("wide.vrt");
    huge_vrt(&wide, (400_000, 40), &scene());
    let out = dir.join("wide.tif");
    let done = limited(3 << 20, &colorize_line(&ckpt(), &wide, &out, &[]));
    let report = String::from_utf8_lossy(&done.stdout);
    succeeded(&done);
    let mib: u64 = report
        .split("peak RSS ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        mib < 400,
        "peak RSS {mib} MiB for a 400000x40 raster: {report}"
    );
}

#[test]
fn outputs_that_are_not_regular_files_are_refused() {
    let dir = scratch("reliability-special");
    let fifo = dir.join("fifo.tif");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for out in [Path::new("/dev/null"), fifo.as_path()] {
        let done = colorize(&[], &scene(), out);
        fails(&done, 2, "not a regular file");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let png = dir.join("out.png");
    let done = colorize(&[], &scene(), &png);
    fails(&done, 2, ".tif");
    // A long legal name is fine: the temporary's name is short.
    let long = dir.join("x".repeat(246) + ".tif");
    let done = colorize(&[], &scene(), &long);
    succeeded(&done);
    assert!(hidden(&dir).is_empty());
}

#[test]
#[ignore = "needs root (mounts a small tmpfs): scripts/test.sh runs it where it can mount one"]
fn a_full_disk_fails_with_exit_1_and_leaves_nothing_as_root() {
    let dir = scratch("reliability-full");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", s(&mnt)])
        .status()
        .is_ok_and(|st| st.success());
    assert!(mounted, "cannot mount a tmpfs (run as root)");
    // Every byte taken but a few.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(mnt.join("filler")).unwrap();
        while filler.write_all(&[7u8; 512]).is_ok() {}
    }
    let out = mnt.join("out.tif");
    let done = colorize(&[], &scene(), &out);
    let synth = satcolor(&[
        "synth",
        "--out",
        s(&mnt.join("s")),
        "--scenes",
        "20",
        "--size",
        "128",
    ]);
    let listing = hidden(&mnt);
    // A read-only file system: bad input, exit 2, naming the path.
    let ro_ok = Command::new("mount")
        .args(["-o", "remount,ro", s(&mnt)])
        .status()
        .is_ok_and(|st| st.success());
    let real = scene();
    let ro_results = ro_ok.then(|| {
        let run = mnt.join("run");
        let args = train_line(&model().1, &run, "1", &[]);
        let png = mnt.join("view.png");
        let split = [
            "splitview",
            "--real",
            s(&real),
            "--fake",
            s(&real),
            "--out",
            s(&png),
        ];
        let demo = mnt.join("demo");
        [
            (satcolor(&args), run),
            (satcolor(&split), png),
            (satcolor(&["demo", "--out", s(&demo)]), demo),
        ]
    });
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(ro_ok, "cannot remount the tmpfs read-only");
    for (done, path) in ro_results.iter().flatten() {
        fails(done, 2, s(path));
    }
    fails(&done, 1, s(&out));
    fails(&synth, 1, "No space left");
    assert!(!out.exists() && listing.is_empty(), "left: {listing:?}");
}

#[test]
fn valid_pixels_never_read_as_nodata() {
    let dir = scratch("reliability-nodata");
    for (dtype, nodata, value, want) in [
        (SampleType::Byte, 0.0, 0.2, 1.0),
        (SampleType::Byte, 255.0, 300.0, 254.0),
        (SampleType::UInt16, 0.0, -5.0, 1.0),
        (SampleType::Int16, -32768.0, -40000.0, -32767.0),
        (
            SampleType::Float32,
            -9999.0,
            -9999.0,
            f64::from(f32::from_bits((-9999f32).to_bits() - 8)),
        ),
    ] {
        let path = dir.join(format!("{}-{nodata}.tif", dtype.name()));
        let geo = satcolor::geo::GeoRef {
            geo_transform: None,
            crs_wkt: String::new(),
        };
        let mut w =
            GeoTiffWriter::create(&path, (3, 1), 1, dtype, &geo, Some(nodata), &[]).unwrap();
        w.keep_off_nodata();
        w.write_rows(0, 1, &[value as f32, f32::NAN, 7.0]).unwrap();
        w.finish().unwrap();
        let r = satcolor::geo::Raster::open(&path).unwrap();
        let (v, valid) = r.read_masked(&[0], (0, 0), (3, 1)).unwrap();
        assert_eq!(valid, [true, false, true], "{}", dtype.name());
        assert_eq!(f64::from(v[0]), want, "{}", dtype.name());
        assert_eq!(v[2], 7.0);
    }
}

#[test]
fn interrupted_commands_clean_up_or_checkpoint() {
    let dir = scratch("reliability-signal");
    // colorize: SIGINT removes the temporary, leaves no output, exits 130.
    let big = dir.join("big.vrt");
    huge_vrt(&big, (4000, 4000), &scene());
    let out = dir.join("out.tif");
    let child = satcolor_cmd(&colorize_line(&ckpt(), &big, &out, &[]))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while hidden(&dir).is_empty() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let done = child.wait_with_output().unwrap();
    fails(&done, 130, "SIGINT");
    assert!(
        !out.exists() && hidden(&dir).is_empty(),
        "{:?}",
        hidden(&dir)
    );
    // train: SIGTERM writes a checkpoint of the step it is at, exits 143; it resumes.
    let run = dir.join("run");
    let args = train_line(
        &model().1,
        &run,
        "100000",
        &["--checkpoint-every", "100000"],
    );
    let child = satcolor_cmd(&args).stderr(Stdio::piped()).spawn().unwrap();
    let log = run.join("log.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 3
        && start.elapsed().as_secs() < 120
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let done = child.wait_with_output().unwrap();
    fails(&done, 143, "checkpoint of step");
    let step = satcolor::model::Checkpoint::load(&run.join("model.safetensors"))
        .unwrap()
        .step;
    assert!(step >= 3, "checkpoint at step {step}");
    train_ok(&[
        "--resume",
        s(&run),
        "--steps",
        &(step + 1).to_string(),
        "--device",
        "cpu",
    ]);
}

#[test]
fn flags_and_paths_are_checked_before_anything_is_written() {
    let dir = scratch("reliability-flags");
    let demo = dir.join("d");
    fails(
        &satcolor(&["demo", "--out", s(&demo), "--steps", "0"]),
        2,
        "steps",
    );
    assert!(!demo.join("data").exists());
    let file = dir.join("file");
    std::fs::write(&file, b"x").unwrap();
    fails(&satcolor(&["demo", "--out", s(&file)]), 2, s(&file));
    // The time model needs the counters build; this one says how to get it.
    if !satcolor::device::emu::EmuExec::has_counters() {
        fails(&satcolor(&["perfmodel"]), 2, "--features emu-counters");
    }
    fails(&satcolor(&["perfmodel", "--arch", "sm_75"]), 2, "sm_75");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_satcolor"));
    cmd.args(["selftest", "--device", "emu"])
        .env("SATCOLOR_KERNELS", "conv2d_forward=v9");
    fails(&cmd.output().unwrap(), 2, "no variant `v9`");
    let args = train_line(&model().1, &file, "1", &[]);
    fails(&satcolor(&args), 2, s(&file));
    fails(
        &satcolor(&["synth", "--out", s(&dir.join("s")), "--scenes", "0"]),
        2,
        "--scenes",
    );
    // A raster given twice is scored once.
    let once = satcolor(&[
        "eval",
        "--json",
        "--device",
        "cpu",
        "--model",
        s(&ckpt()),
        "--data",
        s(&scene()),
    ]);
    let twice = satcolor(&[
        "eval",
        "--json",
        "--device",
        "cpu",
        "--model",
        s(&ckpt()),
        "--data",
        s(&scene()),
        s(&scene()),
    ]);
    let n = |o: &Output| {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["rasters"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((n(&once), n(&twice)), (1, 1));
    // A file name that is not UTF-8 is read all the same.
    use std::os::unix::ffi::OsStrExt;
    let odd = dir.join(std::ffi::OsStr::from_bytes(b"sc\xe8ne.tif"));
    std::fs::copy(scene(), &odd).unwrap();
    let done = satcolor_cmd(&["colorize", "--device", "cpu", "--model", s(&ckpt())])
        .arg(&odd)
        .arg(dir.join("odd-out.tif"))
        .output()
        .unwrap();
    succeeded(&done);
}

#[test]
fn one_trainer_per_run_directory_and_only_its_own_checkpoints() {
    let dir = scratch("reliability-lock");
    let run = dir.join("run");
    let args = train_line(&model().1, &run, "2", &[])[1..].to_vec();
    train_ok(&args);
    // Another trainer holds the lock.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(run.join("train.lock"))
        .unwrap();
    use std::os::fd::AsRawFd;
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    std::fs::write(run.join("train.lock"), "4242").unwrap();
    let done = satcolor(&[
        "train",
        "--resume",
        s(&run),
        "--steps",
        "3",
        "--device",
        "cpu",
    ]);
    fails(&done, 2, "PID 4242");
    drop(lock);
    // A checkpoint of another model swapped in is not adopted.
    let other = dir.join("other");
    let mut args = train_line(&model().1, &other, "2", &["--checkpoint-every", "1"])[1..].to_vec();
    let pos = args.iter().position(|a| *a == "--filters").unwrap();
    args[pos + 1] = "6";
    train_ok(&args);
    let mut args = vec!["--resume", s(&run), "--steps", "3", "--device", "cpu"];
    train_ok(&args);
    std::fs::copy(
        other.join("model.safetensors"),
        run.join("model.safetensors"),
    )
    .unwrap();
    args[3] = "4";
    let done = satcolor_cmd(&["train"]).args(&args).output().unwrap();
    fails(&done, 2, "not this run's checkpoint");
}

#[test]
fn mutated_checkpoint_headers_never_panic() {
    let bytes = std::fs::read(ckpt()).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..400 {
        let mut b = bytes.clone();
        match case % 4 {
            // A byte of the header changed.
            0 => {
                let i = 8 + (next() as usize) % header_len;
                b[i] = next() as u8;
            }
            // A digit of the header replaced by a run of nines (huge numbers).
            1 => {
                let digits: Vec<usize> = (8..8 + header_len)
                    .filter(|&i| b[i].is_ascii_digit())
                    .collect();
                let i = digits[(next() as usize) % digits.len()];
                let mut v = b[..i].to_vec();
                v.extend_from_slice(b"99999999999");
                v.extend_from_slice(&b[i + 1..]);
                let len = (header_len + 10) as u64;
                v[..8].copy_from_slice(&len.to_le_bytes());
                b = v;
            }
            // Truncated.
            2 => b.truncate((next() as usize) % b.len()),
            // The length prefix changed.
            _ => b[(next() as usize) % 8] = next() as u8,
        }
        let result =
            std::panic::catch_unwind(|| satcolor::model::Checkpoint::from_bytes(&b).is_ok());
        assert!(result.is_ok(), "case {case} panicked");
    }
}

#[test]
fn paletted_rasters_are_refused() {
    use gdal::raster::{Buffer, ColorEntry, ColorTable, PaletteInterpretation};
    let dir = scratch("reliability-palette");
    let path = dir.join("paletted.tif");
    {
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let ds = driver
            .create_with_band_type::<u8, _>(&path, 64, 64, 1)
            .unwrap();
        let mut band = ds.rasterband(1).unwrap();
        let mut table = ColorTable::new(PaletteInterpretation::Rgba);
        for i in 0..4 {
            table.set_color_entry(i, &ColorEntry::rgba(60 * i as i16, 20, 200, 255));
        }
        band.set_color_table(&table);
        let mut buf = Buffer::new((64, 64), (0..64 * 64).map(|i| (i % 4) as u8).collect());
        band.write((0, 0), (64, 64), &mut buf).unwrap();
    }
    let out = dir.join("out.tif");
    let done = colorize(&[], &path, &out);
    fails(&done, 2, "paletted");
    assert!(!out.exists());
}

#[test]
fn nan_pixels_of_float32_input_are_nodata_in_the_output() {
    let dir = scratch("reliability-float");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The tiny scenes as Float32 reflectances.
    let geo = satcolor::geo::GeoRef {
        geo_transform: Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
        crs_wkt: String::new(),
    };
    let as_float = |i: usize, nan: bool| {
        let r = satcolor::geo::Raster::open(model().1.join(format!("scene-0000{i}.tif"))).unwrap();
        let mut v: Vec<f32> = r.read_all().unwrap().iter().map(|v| v / 255.0).collect();
        if nan {
            for y in 10..20 {
                v[y * 64 + 5] = f32::NAN;
            }
        }
        v
    };
    for i in 0..3 {
        let path = data.join(format!("f{i}.tif"));
        satcolor::geo::write_geotiff(&path, (64, 64), 3, &as_float(i, false), &geo, None).unwrap();
    }
    let run = dir.join("run");
    let args = train_line(&data, &run, "2", &[])[1..].to_vec();
    train_ok(&args);
    let input = dir.join("holes.tif");
    {
        // Through GDAL itself: the NaN values stay NaN, no nodata is declared.
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let ds = driver
            .create_with_band_type::<f32, _>(&input, 64, 64, 3)
            .unwrap();
        for (b, plane) in as_float(2, true).chunks_exact(64 * 64).enumerate() {
            let mut buf = gdal::raster::Buffer::new((64, 64), plane.to_vec());
            ds.rasterband(b + 1)
                .unwrap()
                .write((0, 0), (64, 64), &mut buf)
                .unwrap();
        }
    }
    let out = dir.join("out.tif");
    let model = run.join("model.safetensors");
    let done = satcolor(&colorize_line(&model, &input, &out, &[]));
    succeeded(&done);
    let r = satcolor::geo::Raster::open(&out).unwrap();
    assert!(
        r.bands().iter().all(|b| b.nodata.is_some_and(f64::is_nan)),
        "{:?}",
        r.bands()
    );
    let (values, valid) = r.read_masked(&[0, 1, 2], (0, 0), (64, 64)).unwrap();
    for y in 0..64 {
        for x in 0..64 {
            let hole = (10..20).contains(&y) && x == 5;
            assert_eq!(valid[y * 64 + x], !hole, "({x}, {y})");
            assert_eq!(values[y * 64 + x].is_nan(), hole);
        }
    }
}

#[test]
fn mutated_raster_headers_never_panic() {
    let dir = scratch("reliability-raster-fuzz");
    let bytes = std::fs::read(scene()).unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let path = dir.join("fuzz.tif");
    let mut opened = 0;
    for case in 0..300 {
        let mut b = bytes.clone();
        // One to four bytes of the header and first directory changed, now and then to
        // 0xFF runs (huge sizes, offsets and counts).
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % 512.min(b.len());
            b[i] = if next() % 3 == 0 { 0xFF } else { next() as u8 };
        }
        if case % 10 == 9 {
            b.truncate((next() as usize) % b.len());
        }
        std::fs::write(&path, &b).unwrap();
        let result = std::panic::catch_unwind(|| {
            let Ok(r) = satcolor::geo::Raster::open(&path) else {
                return false;
            };
            let bands: Vec<usize> = (0..r.bands().len()).collect();
            let _ = r.read_masked(&bands, (0, 0), (r.width(), r.height()));
            true
        });
        assert!(result.is_ok(), "case {case} panicked");
        opened += usize::from(result.unwrap());
    }
    // Some mutations leave a readable raster: the reading path was exercised too.
    assert!(opened > 0);
}
