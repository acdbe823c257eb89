//! Out-of-bounds detection of the emulator's AddressSanitizer build (`--features emu-asan`,
//! run by scripts/emu-asan.sh): each kernel of tests/kernels/planted_oob.cu with a planted
//! off-by-one (global write past the end, global read past the end, a read past the end of a
//! static shared tile, a write past the end of dynamic shared memory) runs in a child process (this test binary
//! re-executed), and ASan's report must name the overflow; the correct copy runs clean.
#![cfg(feature = "emu")]

/// Env var that makes the `child` test launch the named planted kernel.
#[cfg(feature = "emu-asan")]
const CHILD_ENV: &str = "SATCOLOR_EMU_ASAN_CHILD";

/// Elements copied: a multiple of the 128-thread block.
#[cfg(feature = "emu-asan")]
const N: usize = 4 * 128;

/// In a child process: launches the kernel named by CHILD_ENV on N elements (run by the
/// tests below, with `--ignored`).
#[cfg(feature = "emu-asan")]
#[test]
#[ignore = "a child process of the ASan tests, which run it"]
fn child() {
    use satcolor::device::emu::{EmuExec, EmuOptions};
    use satcolor::device::gpu::{Arg, KernelExec, LaunchConfig};
    use satcolor::kernels::testing::*;
    let name = std::env::var(CHILD_ENV).expect("run by the ASan tests, which name a kernel");
    let kernel = [
        &OOB_COPY,
        &OOB_WRITE_PAST_END,
        &OOB_READ_PAST_END,
        &OOB_STATIC_SHARED_PAST_END,
        &OOB_DYNAMIC_SHARED_PAST_END,
    ]
    .into_iter()
    .find(|k| k.name == name)
    .expect("a planted_oob.cu kernel");
    let e = EmuExec::new(EmuOptions::default()).unwrap();
    let x: Vec<f32> = (0..N).map(|i| i as f32).collect();
    let (src, mut dst) = if std::env::var(PARTS_ENV).is_ok() {
        // Each buffer the first of two parts of one allocation, as the parameters of a
        // network lie in a group (N is a multiple of GROUP_ALIGN: no padding between).
        let (src_all, dst_all) = (e.alloc_zeros(2 * N).unwrap(), e.alloc_zeros(2 * N).unwrap());
        let mut src = e.view(&src_all, 0, N).unwrap();
        e.write(&mut src, &x).unwrap();
        (src, e.view(&dst_all, 0, N).unwrap())
    } else {
        (e.upload(&x).unwrap(), e.alloc_zeros(N).unwrap())
    };
    let cfg = LaunchConfig {
        grid: ((N / 128) as u32, 1, 1),
        block: (128, 1, 1),
        shared_bytes: 128 * 4,
    };
    e.launch(
        kernel,
        cfg,
        &mut [
            Arg::In("src", &src),
            Arg::Out("dst", &mut dst),
            Arg::I32("n", N as i32),
        ],
    )
    .unwrap();
    if kernel.name == "oob_copy" {
        assert_eq!(e.download(&dst).unwrap(), x);
    }
    println!("child {name} finished");
}

/// Env var that makes the child pass views of larger allocations (parts of a group).
#[cfg(feature = "emu-asan")]
const PARTS_ENV: &str = "SATCOLOR_EMU_ASAN_PARTS";

#[cfg(feature = "emu-asan")]
fn run_child(kernel: &str) -> (bool, String) {
    run_child_with(kernel, false)
}

#[cfg(feature = "emu-asan")]
fn run_child_with(kernel: &str, parts: bool) -> (bool, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    if parts {
        cmd.env(PARTS_ENV, "1");
    }
    let out = cmd
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, kernel)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=0:halt_on_error=1:abort_on_error=0",
        )
        .output()
        .expect("re-run the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[cfg(feature = "emu-asan")]
#[test]
fn asan_reports_planted_off_by_one() {
    assert!(
        satcolor::device::emu::EmuExec::asan(),
        "emu-asan build without ASan"
    );
    let (ok, text) = run_child("oob_copy");
    assert!(
        ok && !text.contains("AddressSanitizer"),
        "correct copy kernel: {text}"
    );
    assert!(
        text.contains("child oob_copy finished"),
        "child did not run: {text}"
    );
    for (kernel, report, access) in [
        (
            "oob_write_past_end",
            "heap-buffer-overflow",
            "WRITE of size 4",
        ),
        (
            "oob_read_past_end",
            "heap-buffer-overflow",
            "READ of size 4",
        ),
        (
            "oob_static_shared_past_end",
            "global-buffer-overflow",
            "READ of size 4",
        ),
        (
            "oob_dynamic_shared_past_end",
            "heap-buffer-overflow",
            "WRITE of size 4",
        ),
    ] {
        let (ok, text) = run_child(kernel);
        assert!(
            !ok,
            "{kernel}: the child should have been stopped by ASan: {text}"
        );
        assert!(
            text.contains(&format!("AddressSanitizer: {report}")) && text.contains(access),
            "{kernel}: expected an ASan {report} report ({access}): {text}"
        );
        assert!(
            text.contains(kernel),
            "{kernel}: report does not show the kernel: {text}"
        );
    }
}

/// A kernel given one part of a group reaches past it into the next part, which lies in the
/// same allocation: the emulator poisons the rest of the allocation for the launch, so ASan
/// reports it as it would past a buffer of its own.
#[cfg(feature = "emu-asan")]
#[test]
fn asan_reports_an_access_past_a_part_of_a_group() {
    let (ok, text) = run_child_with("oob_copy", true);
    assert!(
        ok && text.contains("child oob_copy finished"),
        "correct copy kernel on parts: {text}"
    );
    for (kernel, access) in [
        ("oob_write_past_end", "WRITE of size 4"),
        ("oob_read_past_end", "READ of size 4"),
    ] {
        let (ok, text) = run_child_with(kernel, true);
        assert!(!ok, "{kernel} on a part: not stopped by ASan: {text}");
        assert!(
            text.contains("AddressSanitizer: use-after-poison") && text.contains(access),
            "{kernel} on a part: expected an ASan use-after-poison report ({access}): {text}"
        );
    }
}

/// Without the ASan build the planted overflows would go unnoticed: the check is counted as
/// not run (ignored), and fails if forced.
#[cfg(not(feature = "emu-asan"))]
#[test]
#[ignore = "needs the emulator's AddressSanitizer build: scripts/emu-asan.sh (its own stage of scripts/test.sh)"]
fn asan_reports_planted_off_by_one() {
    panic!("built without emu-asan: cargo test --features emu-asan --test emu_asan");
}
