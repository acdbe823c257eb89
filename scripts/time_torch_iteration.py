#!/usr/bin/env python3
"""Times one PyTorch training iteration (D step then G step, Adam, the training defaults)
of the `small`, `unet` and `seed` presets at batch 16 on the CPU, float32: the side-by-side
reference for `cargo bench --bench train` (docs/perf.md).

The networks are the reference modules of scripts/make_model_goldens.py; the iteration is
the one its `iteration()` runs, with the optimizers created once. Prints the median and the
range over the timed iterations.

Usage: python scripts/time_torch_iteration.py [iterations-seed] [iterations-small] [iterations-unet]
Environment: pip install -r scripts/requirements-goldens.txt
"""

import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import Model  # noqa: E402

SMALL_D = [16, 32, 64, 128, 256]
PRESETS = {
    "seed": dict(filters=32, kernel=9, stride=1, disc_widths=[64, 128, 256, 512, 1024]),
    "small": dict(filters=16, kernel=5, stride=2, disc_widths=SMALL_D),
    "unet": dict(filters=16, kernel=5, stride=2, disc_widths=SMALL_D, generator="unet",
                 unet_widths=[16, 32, 64, 128]),
}
BATCH = 16


def time_preset(name, iterations):
    cfg = dict(in_bands=1, out_bands=3, window=64, outer_layers=3, leaky_slope=0.2,
               head="consistent", **PRESETS[name])
    torch.manual_seed(1)
    model = Model(cfg)
    with torch.no_grad():
        if name != "unet":
            model.g.lift.weight.fill_(1.0 / cfg["in_bands"])
            model.g.lift.bias.zero_()
        # A luma sensor model, so that the head's projection runs as it does in training.
        model.g.head.base_weight.fill_(1.0)
        model.g.head.sensor_weight.copy_(torch.tensor([[0.299, 0.587, 0.114]]))
    g, d = model.g, model.d
    adam = dict(lr=1e-3, betas=(0.5, 0.999), eps=1e-8)
    opt_g, opt_d = torch.optim.Adam(g.parameters(), **adam), torch.optim.Adam(d.parameters(), **adam)
    x = torch.rand(BATCH, 1, 64, 64)
    y = torch.rand(BATCH, 3, 64, 64)
    lam_d, lam = 1e-4, 1e4

    def iteration(step):
        lam_g = lam + (lam - lam) * math.exp(-step / 20000)
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

    iteration(0)
    times = []
    for step in range(1, iterations + 1):
        t = time.perf_counter()
        iteration(step)
        times.append(time.perf_counter() - t)
    print(
        f"{name}: batch {BATCH}, {torch.get_num_threads()} threads, torch {torch.__version__}: "
        f"median {statistics.median(times):.3f} s/iteration "
        f"(min {min(times):.3f}, max {max(times):.3f}, {iterations} iterations)"
    )


def main():
    n_seed = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    n_small = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    n_unet = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    time_preset("small", n_small)
    time_preset("unet", n_unet)
    time_preset("seed", n_seed)


if __name__ == "__main__":
    main()
