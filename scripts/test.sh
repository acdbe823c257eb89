#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, formatting and lint checks, every test on the
# CPU (cpu backend, the CUDA emulator running kernels/*.cu, PyTorch goldens; the checks that
# need a GPU or root where the machine has them, and a line naming those it skipped), the doc
# examples, the C ABI (capi/) and the Python module (python/) as their users call them, the
# AddressSanitizer job of the emulator, and the CPU-only build with no nvcc and no GDAL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
# Each stage's heading carries the seconds since the start, so a slow CI run says where.
stage() { echo "== [$((SECONDS - start)) s] $*"; }
bash scripts/setup.sh
stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy (default features and the emulator's counters)"
# The emu-counters feature only adds code (no cfg(not(...)) paths), so one lint pass over
# it covers the default build too.
cargo clippy --all-targets --features emu-counters -- -D warnings
stage "cargo doc (broken links are errors)"
# The same features and environment as the tests, so that both share one run of the build
# script (nvcc for every arch and the emulator: minutes on 2 cores; clippy's is its own).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
stage "cargo test (cpu, emu, cuda when a GPU is present)"
cargo test --all-targets
stage "ignored checks: those this machine can run (a GPU, root), and a line naming the rest"
# Its last line is repeated at the end (kept in a file: `tee /dev/stderr` would reopen, and
# truncate, a log file the output is redirected to).
needs_out="$(mktemp)"
bash scripts/test-needs.sh | tee "$needs_out"
not_run="$(tail -n 1 "$needs_out")"
rm -f "$needs_out"
stage "cargo test --doc (the examples of the embedding API and the other public items)"
cargo test --doc
# The two embedding crates build the engine with the `cuda` feature alone (no emulator, no
# GDAL, no command line): one CUDA arch keeps that second build of it short.
stage "C ABI: libsatcolor_c, its generated header, the C example (also under ASan)"
SATCOLOR_CUDA_ARCHS=sm_90 cargo clippy -p satcolor-capi -p satcolor-python --all-targets -- -D warnings
# The build makes libsatcolor_c.so and .a, which the tests compile the C example against
# (`cargo test` alone builds only the Rust library its tests link).
SATCOLOR_CUDA_ARCHS=sm_90 cargo build -p satcolor-capi
SATCOLOR_CUDA_ARCHS=sm_90 cargo test -p satcolor-capi
stage "Python module: pip install . (maturin), pytest, the rasterio example"
SATCOLOR_CUDA_ARCHS=sm_90 bash scripts/test-python.sh
stage "emulator under AddressSanitizer"
bash scripts/emu-asan.sh
stage "emulator performance counters (known-traffic kernels)"
bash scripts/emu-counters.sh
stage "CPU-only build (no nvcc, no emulator, no GDAL): engine, models, in-memory inference"
cargo build --no-default-features --features cli --all-targets
cargo test --no-default-features --features cli --lib --test parity_cpu --test infer --test embed --test eval_compare
stage "the library alone, as embedded: no command line, no clap, indicatif or plotters"
SATCOLOR_CUDA_ARCHS=sm_90 cargo check --no-default-features --features cuda,emu,geo --lib
if cargo tree --no-default-features --features cuda,emu,geo -e normal --prefix none \
    | grep -E '^(clap|indicatif|plotters) '; then
  echo "error: the library without the cli feature depends on the crates above" >&2
  exit 1
fi
stage "done"
echo "$not_run"
