#!/usr/bin/env bash
# CI job: builds the CUDA emulator and every kernel with AddressSanitizer and runs
#  - tests/emu_asan.rs: kernels with planted off-by-one bugs (global and shared memory)
#    must be reported by ASan, the correct copy must run clean;
#  - tests/emu_probe.rs: the emulator's own tests, now under ASan (no false reports);
#  - tests/model_golden.rs: training steps of both networks against PyTorch, their
#    parameters as parts of groups (a kernel reaching into a neighbouring part is reported);
#  - tests/parity_emu.rs: every product kernel over the full parity suite, under ASan.
# Needs g++ with libasan (Debian: g++ pulls in libasan8). No nvcc or GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -e "$(g++ -print-file-name=libasan.so)" ]; then
    echo "emu-asan: libasan not found (install g++ / libasan8)" >&2
    exit 1
fi
# Leak checking is off: the job is about out-of-bounds accesses.
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
cargo test --no-default-features --features emu-asan --test emu_asan --test emu_probe --test model_golden --test parity_emu -- --nocapture
