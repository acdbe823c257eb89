#!/usr/bin/env bash
# satcolor's cpu device against the PyTorch reference on this machine (docs/perf.md,
# "Training iteration, cpu device"; issue 13): runs `cargo bench --no-default-features
# --bench train` (criterion), then scripts/time_torch_iteration.py (PyTorch, CPU, float32,
# as many threads as the cpu device: its default), back to back, and prints one markdown
# table: for the `small`, `unet` and `seed` presets at batch 1, 16 and 64, a training
# iteration (D step then G step) and inference (G's forward pass), and `colorize` of a
# 512 × 512 image at its default 16 tiles per batch (with megapixels per second), satcolor's criterion mean
# (95 % interval), PyTorch's median and the ratio PyTorch / satcolor (satcolor's throughput
# relative to PyTorch's: above 1, satcolor is faster). The machine and its load (uptime) are
# printed at the start, between the two and at the end: the machine should be otherwise
# idle. The whole run takes about 12 minutes on 2 cores, plus the bench's build.
#
# Usage: bash scripts/cpu-vs-torch.sh [FILTER]
#   FILTER: a regular expression searched in `{group}/{preset}/batch{B}`, the group being
#   `train_iteration`, `inference` or `colorize` (criterion's filter; the PyTorch script applies the
#   same), e.g. `small`, `inference/seed` or `'small/batch1$'`. Default: all 21.
# PyTorch comes from .tools/goldens-venv (scripts/requirements-goldens.txt), installed there
# when missing (about 5 GB: the PyPI wheel brings CUDA libraries it does not use here).
# Criterion's results are read from $CRITERION_HOME, else ${CARGO_TARGET_DIR:-target}/criterion.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
filter="${1:-}"

py=.tools/goldens-venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import torch" >/dev/null 2>&1; then
  echo "== installing PyTorch into .tools/goldens-venv (scripts/requirements-goldens.txt)"
  python3 -m venv .tools/goldens-venv
  "$py" -m pip install -q -r scripts/requirements-goldens.txt
fi

machine() {
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" \
    "(family $(lscpu | sed -n 's/^CPU family: *//p' | head -n 1)," \
    "model $(lscpu | sed -n 's/^Model: *//p' | head -n 1)), $(nproc) logical CPUs ($(lscpu | sed -n 's/^Core(s) per socket: *//p' | head -n 1) cores" \
    "per socket, $(lscpu | sed -n 's/^Thread(s) per core: *//p' | head -n 1) threads per core)"
}
load() { echo "load ($1): $(uptime)"; }

crit="${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Criterion's estimates older than this marker are from earlier runs and left out.
touch "$work/start"

machine
load start
echo "== satcolor: cargo bench --no-default-features --bench train${filter:+ -- $filter}"
if [ -n "$filter" ]; then
  cargo bench --no-default-features --bench train -- "$filter"
else
  cargo bench --no-default-features --bench train
fi
load "after satcolor"
echo "== PyTorch: scripts/time_torch_iteration.py${filter:+ $filter} --json"
"$py" scripts/time_torch_iteration.py ${filter:+"$filter"} --json "$work/torch.json"
load end
machine

python3 - "$crit" "$work/start" "$work/torch.json" <<'EOF'
import json
import os
import sys

crit, marker, torch_json = sys.argv[1:4]
since = os.path.getmtime(marker)
with open(torch_json) as f:
    torch = json.load(f)
presets, batches = ["small", "unet", "seed"], [1, 16, 64]
parts = [("train", "train_iteration"), ("inference", "inference"), ("colorize", "colorize")]
# The colorize group's image (benches/train.rs): 512 × 512 pixels.
megapixels = 512 * 512 / 1e6


def satcolor(group, bench_id):
    """Criterion's mean and 95 % interval (seconds) from this run, or None."""
    path = os.path.join(crit, group, bench_id.replace("/", "_"), "new", "estimates.json")
    if not os.path.exists(path) or os.path.getmtime(path) < since:
        return None
    with open(path) as f:
        mean = json.load(f)["mean"]
    ci = mean["confidence_interval"]
    return mean["point_estimate"] / 1e9, ci["lower_bound"] / 1e9, ci["upper_bound"] / 1e9


def s(v):
    return f"{v:.3g}"


print()
print(f"PyTorch {torch['torch']}, {torch['threads']} threads; satcolor: cpu device, criterion")
print()
print("| preset | batch | part | satcolor s (mean, 95 % interval) | PyTorch s (median) "
      "| PyTorch / satcolor |")
print("|---|---|---|---|---|---|")
rows = 0
for preset in presets:
    for batch in batches:
        bench_id = f"{preset}/batch{batch}"
        for part, group in parts:
            ours = satcolor(group, bench_id)
            theirs = torch.get(part, {}).get(bench_id)
            if ours is None and theirs is None:
                continue
            rows += 1
            ours_s = f"{s(ours[0])} ({s(ours[1])}–{s(ours[2])})" if ours else "—"
            theirs_s = s(theirs) if theirs is not None else "—"
            ratio = f"{theirs / ours[0]:.2f}×" if ours and theirs is not None else "—"
            if part == "colorize":
                # Throughput in megapixels per second beside the times.
                rate = lambda t: f" ({megapixels / t:.2f} MP/s)" if t else ""
                ours_s += rate(ours[0] if ours else None)
                theirs_s += rate(theirs)
            print(f"| `{preset}` | {batch} | {part} | {ours_s} | {theirs_s} | {ratio} |")
if rows == 0:
    sys.exit("no results: nothing matched the filter")
EOF
