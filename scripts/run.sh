#!/usr/bin/env bash
# The main job: installs what is needed, builds satcolor in release mode, checks every op on
# the best device found (a GPU if one works, else the CPU), then runs `satcolor demo`:
# synthetic scenes and the real sample raster, a few minutes of training, a colorized
# held-out raster, a split-view picture, the loss curves and metrics, in ./demo (replaced).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo build --release
./target/release/satcolor info
./target/release/satcolor selftest --device auto
rm -rf demo
./target/release/satcolor demo --out demo --device auto
