#!/usr/bin/env bash
# satcolor's cpu device against the PyTorch reference on this machine (docs/perf.md,
# "Training iteration, cpu device"; issue 13). For the `small`, `unet` and `seed` presets at
# batch 1, 16 and 64, a training iteration (D step then G step) and inference (G's forward
# pass), and `colorize` of a 512 × 512 image at its default 16 tiles per batch: each id is
# timed by the criterion bench (`benches/train.rs`, that id alone, 3 s) and right after by
# PyTorch (scripts/time_torch_iteration.py's functions, CPU, float32, as many threads as
# the cpu device: its default; median of at least 5 iterations and 3 s), in ROUNDS rounds
# back to back. It prints one markdown table: the medians over the rounds of satcolor's
# criterion mean and of PyTorch's median, and of the ratio PyTorch / satcolor of each
# round (satcolor's throughput relative to PyTorch's: above 1, satcolor is faster) with its
# range. Timing each id by both within seconds cancels this shared machine's drifts in
# speed (±25 % over minutes), which separate runs of the two would fold into the ratio.
# The machine and its load (uptime) are printed at the start and the end: the machine
# should be otherwise idle. All 21 ids at 3 rounds take about 25 minutes on 2 cores, plus
# the bench's build.
#
# Usage: bash scripts/cpu-vs-torch.sh [FILTER] [ROUNDS]
#   FILTER: a regular expression searched in `{group}/{preset}/batch{B}`, the group being
#   `train_iteration`, `inference` or `colorize`, e.g. `small`, `inference/seed` or
#   `'small/batch1$'`. Default: all 21.
#   ROUNDS: default 3.
# PyTorch comes from .tools/goldens-venv (scripts/requirements-goldens.txt), installed there
# when missing (about 5 GB: the PyPI wheel brings CUDA libraries it does not use here).
# Criterion's results are read from $CRITERION_HOME, else ${CARGO_TARGET_DIR:-target}/criterion.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
filter="${1:-}"
rounds="${2:-3}"

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

echo "== building the bench: cargo bench --no-default-features --bench train --no-run"
bench="$(cargo bench --no-default-features --bench train --no-run --message-format=json \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "train" and m.get("executable"):
        print(m["executable"])')"
[ -x "$bench" ] || { echo "error: the bench binary was not built" >&2; exit 1; }
crit="${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}"

machine
load start
"$py" - "$bench" "$crit" "$filter" "$rounds" <<'EOF'
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, "scripts")
import time_torch_iteration as tt  # noqa: E402

bench, crit, filt, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pattern = re.compile(filt)
# The colorize group's image (benches/train.rs): 512 × 512 pixels.
megapixels = 512 * 512 / 1e6
make = {"train_iteration": tt.train_iteration, "inference": tt.inference,
        "colorize": tt.colorize}
ids = [(group, preset, batch)
       for preset in tt.PRESETS
       for batch in tt.BATCHES
       for group in tt.GROUPS
       if (group != "colorize" or batch == tt.TILE_BATCH)
       and pattern.search(f"{group}/{preset}/batch{batch}")]
if not ids:
    sys.exit("no results: nothing matched the filter")


def satcolor(group, bench_id):
    """One criterion run of this id alone: its mean (seconds)."""
    run = subprocess.run([bench, "--bench", f"^{group}/{bench_id}$", "--warm-up-time", "1",
                          "--measurement-time", "3", "--noplot"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        sys.exit(f"the bench failed on {group}/{bench_id}:\n{run.stderr}")
    path = os.path.join(crit, group, bench_id.replace("/", "_"), "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"] / 1e9


def s(v):
    return f"{v:.3g}"


print(f"PyTorch {tt.torch.__version__}, {tt.torch.get_num_threads()} threads; satcolor: "
      f"cpu device, criterion; {rounds} rounds, in each every id timed by both back to back")
print()
print("| preset | batch | part | satcolor s | PyTorch s | PyTorch / satcolor "
      "(median of rounds, range) |")
print("|---|---|---|---|---|---|")
for group, preset, batch in ids:
    bench_id = f"{preset}/batch{batch}"
    run = make[group](preset, batch)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(satcolor(group, bench_id))
        theirs.append(statistics.median(tt.time_one(run, 5, 3.0)))
    ratios = [t / o for o, t in zip(ours, theirs)]
    o, t = statistics.median(ours), statistics.median(theirs)
    o_s, t_s = s(o), s(t)
    if group == "colorize":
        o_s += f" ({megapixels / o:.2f} MP/s)"
        t_s += f" ({megapixels / t:.2f} MP/s)"
    print(f"| `{preset}` | {batch} | {tt.GROUPS[group]} | {o_s} | {t_s} | "
          f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |",
          flush=True)
EOF
load end
machine
