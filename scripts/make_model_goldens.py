#!/usr/bin/env python3
"""Writes the whole-model PyTorch goldens tests/golden/model/{raw,consistent,unet}/{sgd,adam}.safetensors.

The reference G and D of shared/spec/model.md (v2) as torch modules whose state_dict names
are the checkpoint names of the spec; the consistent head's fitted tensors are buffers (in
the state_dict, not trained); the U-Net of the spec's `unet` generator likewise. For each
folder they load its init.safetensors (a satcolor checkpoint: raw/init is a satcolor/1 file;
consistent/init and unet/init are written by `cargo test --test model_golden -- --ignored`)
with load_state_dict(strict=True) and run
one training iteration on the fixed batch tests/golden/model/batch.safetensors, in float64
(the f32 weights and batch widened exactly), as a DCGAN-style loop does:

    fake = G(x)
    D step: L_D = mean[softplus(-D(y)) + softplus(D(fake.detach()))] + λ_D Σ_{D weights} ‖W‖²;
            backward; record D's gradients; optD.step()
    G step: L_G = mean[adv(D(fake))] + λ_G(0)·mean((fake - y)²)   (D already updated);
            optG.zero_grad(); backward; record G's gradients; optG.step()

Each output file holds `loss.d_loss`, `loss.g_loss`, `loss.mse`, `loss.lambda_g` (shape
[1]), `grad.<name>` for every parameter and `value.<name>` (after the update) for every
state_dict entry, as float32 (the float64 results rounded once), and metadata `optimizer` and `loss` (JSON) with the
hyperparameters. Run 1: SGD (momentum 0.9), default losses (non-saturating). Run 2: Adam
(β1 0.5, β2 0.999, ε 1e-8), saturating G loss, λ_D 1e-2, λ_start = λ_end = 1.

Usage: python scripts/make_model_goldens.py [dir]   (default tests/golden/model)
Environment: pip install -r scripts/requirements-goldens.txt
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

F64 = torch.float64


def f32(v):
    """The float32 nearest to v, as a Python float."""
    return float(np.float32(v))


class Outer(nn.Module):
    """One outer layer: convex skip, conv1 ReLU, conv2 (stride s) ReLU, deconv, and a final
    ReLU unless the layer makes the consistent head's signed residual."""

    def __init__(self, c_out, f, k, s, relu_out):
        super().__init__()
        p = (k - 1) // 2
        self.relu_out = relu_out
        self.theta = nn.Parameter(torch.zeros(1))
        self.conv1 = nn.Conv2d(c_out, f, k, 1, p)
        self.conv2 = nn.Conv2d(f, f, k, s, p)
        self.deconv = nn.ConvTranspose2d(f, c_out, k, s, p, output_padding=s - 1)

    def forward(self, h1, h2):
        a = torch.sigmoid(self.theta)
        u = a * h1 + (1 - a) * h2
        h = self.deconv(F.relu(self.conv2(F.relu(self.conv1(u)))))
        return F.relu(h) if self.relu_out else h


class ConsistentHead(nn.Module):
    """The spec's v2 output head, written as the spec states it:

        ŷ = A·x + b + r;   G(x) = ŷ + Mᵀ(M·Mᵀ + εI)⁻¹(x − M·ŷ − m),  ε = 1e-6·trace(M·Mᵀ)/C_in

    A, b, M, m are buffers: fitted, stored, never trained."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.register_buffer("base_weight", torch.zeros(c_out, c_in))
        self.register_buffer("base_bias", torch.zeros(c_out))
        self.register_buffer("sensor_weight", torch.zeros(c_in, c_out))
        self.register_buffer("sensor_bias", torch.zeros(c_in))

    def forward(self, x, r):
        a, b, m_w, m_b = self.base_weight, self.base_bias, self.sensor_weight, self.sensor_bias
        y = torch.einsum("oi,nihw->nohw", a, x) + b[None, :, None, None] + r
        mmt = m_w @ m_w.T
        tr = torch.trace(mmt)
        if tr == 0:
            return y
        c_in = m_w.shape[0]
        eps = 1e-6 * tr / c_in
        resid = x - torch.einsum("io,nohw->nihw", m_w, y) - m_b[None, :, None, None]
        n, _, hh, ww = x.shape
        z = torch.linalg.solve(
            mmt + eps * torch.eye(c_in, dtype=mmt.dtype),
            resid.permute(1, 0, 2, 3).reshape(c_in, -1),
        )
        corr = (m_w.T @ z).reshape(-1, n, hh, ww).permute(1, 0, 2, 3)
        return y + corr


class Block(nn.Module):
    """block(z; a → b) = ReLU(conv3×3(ReLU(conv3×3(z; a→b)); b→b)), padding 1."""

    def __init__(self, a, b):
        super().__init__()
        self.conv1 = nn.Conv2d(a, b, 3, 1, 1)
        self.conv2 = nn.Conv2d(b, b, 3, 1, 1)

    def forward(self, z):
        return F.relu(self.conv2(F.relu(self.conv1(z))))


class UNet(nn.Module):
    """The spec's `unet` generator: encoder blocks with 2×2 max pooling between them,
    2×2 stride-2 transposed convolutions up, skips by concatenation (up's channels first),
    a 1×1 output convolution, then the consistent head."""

    def __init__(self, cfg):
        super().__init__()
        w = cfg["unet_widths"]
        levels = len(w)
        self.enc = nn.ModuleList(
            Block(cfg["in_bands"] if l == 0 else w[l - 1], w[l]) for l in range(levels))
        self.up = nn.ModuleList(nn.ConvTranspose2d(w[l + 1], w[l], 2, 2) for l in range(levels - 1))
        self.dec = nn.ModuleList(Block(2 * w[l], w[l]) for l in range(levels - 1))
        self.out = nn.Conv2d(w[0], cfg["out_bands"], 1)
        self.head = ConsistentHead(cfg["in_bands"], cfg["out_bands"])

    def forward(self, x):
        e = []
        z = x
        for l, block in enumerate(self.enc):
            if l > 0:
                z = F.max_pool2d(e[-1], 2, 2)
            e.append(block(z))
        d = e[-1]
        for l in reversed(range(len(self.up))):
            d = self.dec[l](torch.cat([self.up[l](d), e[l]], dim=1))
        return self.head(x, self.out(d))


class Generator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        consistent = cfg.get("head", "raw") == "consistent"
        layers = cfg["outer_layers"]
        self.lift = nn.Conv2d(cfg["in_bands"], cfg["out_bands"], 1)
        self.outer = nn.ModuleList(
            Outer(cfg["out_bands"], cfg["filters"], cfg["kernel"], cfg["stride"],
                  relu_out=not (consistent and i == layers - 1))
            for i in range(layers)
        )
        self.head = ConsistentHead(cfg["in_bands"], cfg["out_bands"]) if consistent else None

    def forward(self, x):
        h = [self.lift(x)]
        for i, layer in enumerate(self.outer):
            h.append(layer(h[i], h[max(i - 1, 0)]))
        return h[-1] if self.head is None else self.head(x, h[-1])


class Discriminator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths = [cfg["out_bands"]] + cfg["disc_widths"]
        self.slope = cfg["leaky_slope"]
        self.conv = nn.ModuleList(nn.Conv2d(widths[j], widths[j + 1], 3, 1, 1) for j in range(5))
        side = cfg["window"] // 32
        self.fc = nn.Linear(widths[5] * side * side, 1)

    def forward(self, x):
        for c in self.conv:
            x = F.max_pool2d(F.leaky_relu(c(x), self.slope), 2, 2)
        return self.fc(x.flatten(1)).squeeze(1)


class Model(nn.Module):
    """G and D under the prefixes `g.` and `d.` of the checkpoint names."""

    def __init__(self, cfg):
        super().__init__()
        self.g = UNet(cfg) if cfg.get("generator", "outer") == "unet" else Generator(cfg)
        self.d = Discriminator(cfg)


def iteration(model, x, y, opt_cfg, loss_cfg, step=0):
    """One D step then one G step; returns the losses and D's / G's gradients."""

    def make_opt(params):
        if opt_cfg["name"] == "sgd":
            return torch.optim.SGD(params, lr=opt_cfg["lr"], momentum=opt_cfg["momentum"])
        return torch.optim.Adam(
            params, lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"]
        )

    g, d = model.g, model.d
    opt_g, opt_d = make_opt(g.parameters()), make_opt(d.parameters())
    lam_start, lam_end, tau = loss_cfg["lambda_start"], loss_cfg["lambda_end"], loss_cfg["tau"]
    lam = f32(lam_end + (lam_start - lam_end) * math.exp(-step / tau))

    fake = g(x)
    opt_d.zero_grad()
    l2 = sum((p**2).sum() for n, p in d.named_parameters() if n.endswith("weight"))
    l_d = (F.softplus(-d(y)) + F.softplus(d(fake.detach()))).mean() + loss_cfg["lambda_d"] * l2
    l_d.backward()
    grads = {"d." + n: p.grad.clone() for n, p in d.named_parameters()}
    opt_d.step()

    opt_g.zero_grad()
    z = d(fake)
    adv = F.softplus(-z) if loss_cfg["adv"] == "nonsaturating" else -F.softplus(z)
    mse = ((fake - y) ** 2).mean()
    l_g = adv.mean() + lam * mse
    l_g.backward()
    grads.update({"g." + n: p.grad.clone() for n, p in g.named_parameters()})
    opt_g.step()
    losses = {"d_loss": l_d.item(), "g_loss": l_g.item(), "mse": mse.item(), "lambda_g": lam}
    return losses, grads


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/model"
    batch = load_file(os.path.join(root, "batch.safetensors"))
    x, y = batch["x"].to(F64), batch["y"].to(F64)
    for model in ["raw", "consistent", "unet"]:
        write_runs(os.path.join(root, model), x, y)


def write_runs(out, x, y):
    """The SGD and Adam goldens of the model in out/init.safetensors."""
    init_path = os.path.join(out, "init.safetensors")
    with safe_open(init_path, "pt") as f:
        meta = f.metadata()
    assert meta["format"] in ("satcolor/1", "satcolor/2"), meta
    cfg = json.loads(meta["config"])
    state = {k: v.to(F64) for k, v in load_file(init_path).items() if not k.startswith("opt.")}

    runs = {
        "sgd": (
            {"name": "sgd", "lr": f32(2e-4), "momentum": f32(0.9)},
            {"lambda_d": f32(1e-4), "lambda_start": 100.0, "lambda_end": 1.0, "tau": 20000.0,
             "adv": "nonsaturating"},
        ),
        "adam": (
            {"name": "adam", "lr": f32(2e-4), "beta1": 0.5, "beta2": f32(0.999), "eps": f32(1e-8)},
            {"lambda_d": f32(1e-2), "lambda_start": 1.0, "lambda_end": 1.0, "tau": 20000.0,
             "adv": "saturating"},
        ),
    }
    for name, (opt_cfg, loss_cfg) in runs.items():
        model = Model(cfg).to(F64)
        model.load_state_dict(state, strict=True)
        losses, grads = iteration(model, x, y, opt_cfg, loss_cfg)
        tensors = {f"loss.{k}": torch.tensor([v], dtype=torch.float32) for k, v in losses.items()}
        for n, t in grads.items():
            tensors[f"grad.{n}"] = t.to(torch.float32).contiguous()
        for n, t in model.state_dict().items():
            tensors[f"value.{n}"] = t.to(torch.float32).contiguous()
        metadata = {
            "optimizer": json.dumps(opt_cfg),
            "loss": json.dumps(loss_cfg),
            "torch_version": torch.__version__,
        }
        path = os.path.join(out, f"{name}.safetensors")
        save_file(tensors, path, metadata=metadata)
        os.chmod(path, 0o644)
        print(f"{path}: {losses}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
