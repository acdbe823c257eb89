#!/usr/bin/env bash
# The real-imagery benchmark (docs/perf.md, "Real-imagery benchmark"): installs what is
# needed, builds satcolor in release mode and runs `satcolor quality` into ./quality
# (replaced): Sentinel-2 pan → RGB, Sentinel-2 RGB → 7 multispectral bands, and the sample
# raster, each trained with the defaults of `satcolor train` (about 10 minutes each on a
# 2-core CPU) and scored against the gray and linear baselines; the table is printed and
# written to quality/quality.json.
#
# Arguments go to `satcolor quality`, e.g. `bash scripts/quality.sh --tasks pan-rgb -- --lr 2e-4`.
# The Sentinel-2 scene is read from ../shared/data/sentinel2 (or --sentinel2 DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo build --release
rm -rf quality
./target/release/satcolor quality --out quality "$@"
