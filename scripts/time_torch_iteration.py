#!/usr/bin/env python3
"""Times the PyTorch reference of the `small`, `unet` and `seed` presets at batch 1, 16 and
64 on the CPU, float32, 64×64 windows: the side-by-side reference for `cargo bench
--no-default-features --bench train` (docs/perf.md, "Training iteration, cpu device"), with
the same names and the same filter:

- `train_iteration/{preset}/batch{B}`: one training iteration (D step then G step, Adam,
  the training defaults: λ_G 10⁴, non-saturating loss, consistent head with a luma sensor
  model), the one scripts/make_model_goldens.py's `iteration()` runs, with the optimizers
  created once, on a fixed batch;
- `inference/{preset}/batch{B}`: G's forward pass alone, `with torch.no_grad(): g(x)` on
  B windows;
- `colorize/{preset}/batch16`: a 512 × 512 gray image colorized as `satcolor colorize`
  tiles it (64 × 64 tiles overlapping by 16 pixels, 16 per batch, Hann-weighted blending):
  121 tiles, 0.262 megapixels.

The networks are the reference modules of scripts/make_model_goldens.py. Each one runs one
warm-up iteration, then timed iterations until there are at least --min-iterations of them
and they took at least --min-time seconds together; it prints the median and the range.
Threads: PyTorch's default (torch.get_num_threads(), printed; 2 on a 2-core machine), as
the cpu device's rayon pool.

Usage: python scripts/time_torch_iteration.py [FILTER] [--json FILE]
           [--min-iterations N] [--min-time SECONDS]
FILTER: a regular expression searched in `{group}/{preset}/batch{B}`, as criterion's
(e.g. `small`, `inference/seed`, `small/batch1$`); default: all 21.
--json FILE writes {"train": {"small/batch16": median_seconds, ...}, "inference": {...},
"colorize": {...}, "torch": version, "threads": n}.
scripts/cpu-vs-torch.sh times each id by the bench and by these functions in pairs, in rounds,
and prints the ratios.
Environment: pip install -r scripts/requirements-goldens.txt
"""

import argparse
import json
import math
import os
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import Model  # noqa: E402

SMALL_D = [16, 32, 64, 128, 256]
PRESETS = {
    "small": dict(filters=16, kernel=5, stride=2, disc_widths=SMALL_D),
    "unet": dict(filters=16, kernel=5, stride=2, disc_widths=SMALL_D, generator="unet",
                 unet_widths=[16, 32, 64, 128]),
    "seed": dict(filters=32, kernel=9, stride=1, disc_widths=[64, 128, 256, 512, 1024]),
}
BATCHES = [1, 16, 64]
# Criterion's group names (benches/train.rs) and the keys of the JSON output.
GROUPS = {"train_iteration": "train", "inference": "inference", "colorize": "colorize"}
# The colorize group: a gray IMAGE × IMAGE image in 64 × 64 tiles overlapping by OVERLAP
# pixels, TILE_BATCH tiles per batch: `satcolor colorize`'s defaults (src/infer/tiles.rs).
IMAGE, WINDOW, OVERLAP, TILE_BATCH = 512, 64, 16, 16


def model(name):
    """The reference G and D of `name`, G's head with a luma sensor model."""
    cfg = dict(in_bands=1, out_bands=3, window=64, outer_layers=3, leaky_slope=0.2,
               head="consistent", **PRESETS[name])
    torch.manual_seed(1)
    m = Model(cfg)
    with torch.no_grad():
        if name != "unet":
            m.g.lift.weight.fill_(1.0 / cfg["in_bands"])
            m.g.lift.bias.zero_()
        # A luma sensor model, so that the head's projection runs as it does in training.
        m.g.head.base_weight.fill_(1.0)
        m.g.head.sensor_weight.copy_(torch.tensor([[0.299, 0.587, 0.114]]))
    return m


def train_iteration(name, batch):
    """A function running one training iteration of `name` at `batch`."""
    m = model(name)
    g, d = m.g, m.d
    adam = dict(lr=1e-3, betas=(0.5, 0.999), eps=1e-8)
    opt_g, opt_d = torch.optim.Adam(g.parameters(), **adam), torch.optim.Adam(d.parameters(), **adam)
    x = torch.rand(batch, 1, 64, 64)
    y = torch.rand(batch, 3, 64, 64)
    lam_d, lam = 1e-4, 1e4
    step = [0]

    def iteration():
        lam_g = lam + (lam - lam) * math.exp(-step[0] / 20000)
        step[0] += 1
        fake = g(x)
        opt_d.zero_grad()
        l2 = sum((p**2).sum() for n, p in d.named_parameters() if n.endswith("weight"))
        l_d = (F.softplus(-d(y)) + F.softplus(d(fake.detach()))).mean() + lam_d * l2
        l_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        l_g = F.softplus(-d(fake)).mean() + lam_g * ((fake - y) ** 2).mean()
        l_g.backward()
        opt_g.step()

    return iteration


def inference(name, batch):
    """A function running G's forward pass of `name` on `batch` windows."""
    g = model(name).g
    x = torch.rand(batch, 1, 64, 64)

    def forward():
        with torch.no_grad():
            g(x)

    return forward


def positions(length, window, overlap):
    """Where tiles start along an axis: every window − overlap pixels, the last one moved
    back to end at the edge (src/infer/tiles.rs)."""
    length = max(length, window)
    step = window - min(overlap, window - 1)
    p = []
    while len(p) * step + window < length:
        p.append(len(p) * step)
    return p + [length - window]


def colorize(name, batch):
    """A function colorizing an IMAGE-sided gray image as `satcolor colorize` tiles it:
    tiles of `batch` through G, each weighted by the Hann window sin²(π(i + ½)/W) along
    each side, every pixel the weighted mean of its tiles."""
    g = model(name).g
    image = torch.rand(1, IMAGE, IMAGE)
    t = (torch.arange(WINDOW, dtype=torch.float64) + 0.5) / WINDOW
    side = (torch.sin(math.pi * t) ** 2).float()
    weight = side[:, None] * side[None, :]
    starts = positions(IMAGE, WINDOW, OVERLAP)
    tiles = [(y, x) for y in starts for x in starts]

    def run():
        with torch.no_grad():
            out = torch.zeros(3, IMAGE, IMAGE)
            total = torch.zeros(IMAGE, IMAGE)
            for i in range(0, len(tiles), batch):
                chunk = tiles[i:i + batch]
                xb = torch.stack([image[:, y:y + WINDOW, x:x + WINDOW] for y, x in chunk])
                for (y, x), tile in zip(chunk, g(xb)):
                    out[:, y:y + WINDOW, x:x + WINDOW] += tile * weight
                    total[y:y + WINDOW, x:x + WINDOW] += weight
            return out / total

    return run


def time_one(run, min_iterations, min_time):
    """Times `run` after one warm-up call: at least `min_iterations` calls and `min_time`
    seconds. Returns the times of the calls."""
    run()
    times = []
    while len(times) < min_iterations or sum(times) < min_time:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("filter", nargs="?", default="",
                   help="regular expression searched in {group}/{preset}/batch{B}")
    p.add_argument("--json", metavar="FILE", help="write the medians (seconds) as JSON")
    p.add_argument("--min-iterations", type=int, default=10,
                   help="timed iterations at least (default 10)")
    p.add_argument("--min-time", type=float, default=5.0,
                   help="seconds of timed iterations at least (default 5)")
    args = p.parse_args()
    pattern = re.compile(args.filter)
    out = {"train": {}, "inference": {}, "colorize": {}, "torch": torch.__version__,
           "threads": torch.get_num_threads()}
    make = {"train_iteration": train_iteration, "inference": inference, "colorize": colorize}
    for group, key in GROUPS.items():
        for name in PRESETS:
            for batch in [TILE_BATCH] if group == "colorize" else BATCHES:
                bench_id = f"{name}/batch{batch}"
                if not pattern.search(f"{group}/{bench_id}"):
                    continue
                times = time_one(make[group](name, batch), args.min_iterations, args.min_time)
                median = statistics.median(times)
                out[key][bench_id] = median
                print(
                    f"{group}/{bench_id}: {torch.get_num_threads()} threads, torch "
                    f"{torch.__version__}: median {median:.4f} s "
                    f"(min {min(times):.4f}, max {max(times):.4f}, {len(times)} iterations)",
                    flush=True,
                )
    if not out["train"] and not out["inference"] and not out["colorize"]:
        sys.exit(f"no benchmark matches the filter {args.filter!r}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
