#!/usr/bin/env bash
# The main job: installs what is needed, builds satcolor in release mode, and runs every
# op's parity check on the best device found (a GPU if one works, else the CPU).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo build --release
./target/release/satcolor info
./target/release/satcolor selftest --device auto
