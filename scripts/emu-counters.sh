#!/usr/bin/env bash
# CI job: builds the CUDA emulator with its performance counters (the kernels instrumented
# by GCC's -fsanitize=thread, whose load/store hooks emu/runtime.cpp defines) and checks the
# counters on kernels with known traffic (tests/emu_counters.rs), then the time model of
# `satcolor perfmodel` over traced launches (tests/perfmodel.rs: with nvcc's ptxas and SASS
# figures, the cuda feature; no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
# The time model's tests read sm_90's SASS, the one arch they need. (scripts/test.sh lints
# the feature's code: its clippy pass has the emu-counters feature.)
export SATCOLOR_CUDA_ARCHS=sm_90
cargo test --features emu-counters --test emu_counters --test perfmodel
