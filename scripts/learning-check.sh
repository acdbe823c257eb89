#!/usr/bin/env bash
# The long "learning is real" check: the small preset trained on synth scenes on the cpu for
# 1000 iterations at window 64 and batch 16 (about 6–7 minutes on 2 cores, release build),
# then its MSE and colorfulness on held-out windows against the gray-replicated baseline.
# The short version runs in `cargo test` (tests/learning.rs); figures: docs/perf.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo test --release --test learning -- --ignored --nocapture small_preset_learns_color_long
