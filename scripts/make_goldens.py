#!/usr/bin/env python3
"""Writes the PyTorch golden files under tests/golden/ (committed; CI never runs this).

Every op of the engine is built with torch.nn.functional (or torch.optim) on seeded random
inputs; inputs, outputs and gradients (autograd with a random upstream gradient) go into one
small safetensors file per op. tests/golden_support/ reads them and compares every backend.

Precision: inputs are drawn in float32 and then widened, so they are exactly the values the
f32 backends receive; torch computes in float64, and everything is stored as float64. The
stored outputs are thus the exact answers to the f32 problem up to f64 rounding (~1e-16),
and the tests measure the backends' own f32 error only. Scalars (learning rates, slopes,
scales, theta) are rounded to float32 first too, and written into the metadata with enough
digits to parse back to the same f32.

File layout: tensors are named `<case>.<role>` (e.g. `k3_s2_c3_n5.dx`); `__metadata__` holds
`op`, `torch_version`, `seed`, `dtype` ("float64") and `cases`, a JSON list of objects, each
with the case `name` and its shape / hyperparameters.

Usage: python scripts/make_goldens.py [out_dir]   (default tests/golden)
Environment: pip install -r scripts/requirements-goldens.txt
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

SEED = 20240611
F64 = torch.float64


def f32(v):
    """The float32 nearest to v, as a Python float."""
    return float(np.float32(v))


class Rng:
    """Seeded source of float32-exact float64 tensors."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, *shape, scale=1.0):
        t = torch.randn(*shape, generator=self.g, dtype=torch.float32) * scale
        return t.to(F64)

    def uniform(self, *shape, lo=-1.0, hi=1.0):
        t = torch.rand(*shape, generator=self.g, dtype=torch.float32) * (hi - lo) + lo
        return t.to(F64)


class GoldenFile:
    """Collects the cases of one op and writes them as one safetensors file."""

    def __init__(self, op):
        self.op = op
        self.cases = []
        self.tensors = {}

    def add(self, name, params, **tensors):
        assert "." not in name and all("." not in k for k in tensors), "names must not contain dots"
        self.cases.append({"name": name, **params})
        for role, t in tensors.items():
            self.tensors[f"{name}.{role}"] = t.detach().to(F64).contiguous().clone()

    def write(self, out_dir):
        meta = {
            "op": self.op,
            "torch_version": torch.__version__,
            "seed": str(SEED),
            "dtype": "float64",
            "cases": json.dumps(self.cases),
        }
        path = os.path.join(out_dir, f"{self.op}.safetensors")
        save_file(self.tensors, path, metadata=meta)
        return path


def act_apply(z, act):
    """Applies an activation given as {"kind": ..., "slope": ...}."""
    if act["kind"] == "relu":
        return F.relu(z)
    if act["kind"] == "leaky_relu":
        return F.leaky_relu(z, act["slope"])
    return z


IDENTITY = {"kind": "identity", "slope": 0.0}
RELU = {"kind": "relu", "slope": 0.0}
LEAKY = {"kind": "leaky_relu", "slope": f32(0.2)}


def conv2d_goldens(rng):
    g = GoldenFile("conv2d")
    # (n, c_in, h, w, c_out, k, stride, pad, act, bias)
    cases = [
        (1, 1, 7, 9, 2, 1, 1, 0, IDENTITY, True),
        (5, 3, 9, 7, 4, 3, 1, 1, IDENTITY, True),
        (1, 3, 11, 10, 2, 3, 2, 1, RELU, True),
        (1, 2, 6, 5, 3, 3, 1, 0, IDENTITY, False),
        (5, 1, 10, 13, 3, 5, 2, 2, LEAKY, True),
        (1, 3, 13, 12, 2, 9, 1, 4, IDENTITY, True),
        (5, 3, 12, 11, 1, 9, 2, 4, RELU, True),
        (1, 1, 5, 5, 1, 9, 2, 4, LEAKY, True),
    ]
    for n, c_in, h, w, c_out, k, s, p, act, has_bias in cases:
        fan_in = c_in * k * k
        x = rng.normal(n, c_in, h, w).requires_grad_()
        wt = rng.uniform(c_out, c_in, k, k, lo=-(fan_in**-0.5), hi=fan_in**-0.5).requires_grad_()
        b = rng.uniform(c_out, lo=-0.5, hi=0.5).requires_grad_() if has_bias else None
        y = act_apply(F.conv2d(x, wt, b, stride=s, padding=p), act)
        dy = rng.normal(*y.shape)
        y.backward(dy)
        name = f"n{n}_c{c_in}x{c_out}_{h}x{w}_k{k}_s{s}_p{p}_{act['kind']}"
        params = dict(n=n, c_in=c_in, h=h, w=w, c_out=c_out, k=k, stride=s, pad=p, act=act,
                      bias=has_bias)
        tensors = dict(x=x, w=wt, y=y, dy=dy, dx=x.grad, dw=wt.grad)
        if has_bias:
            tensors.update(b=b, db=b.grad)
        g.add(name, params, **tensors)
    return g


def conv_transpose2d_goldens(rng):
    g = GoldenFile("conv_transpose2d")
    # (n, c_in, h, w, c_out, k, stride, pad, out_pad, act, bias); weight [c_in, c_out, k, k]
    cases = [
        (1, 3, 5, 4, 1, 1, 1, 0, 0, IDENTITY, True),
        (1, 2, 5, 6, 3, 3, 1, 1, 0, IDENTITY, True),
        (5, 3, 4, 5, 1, 3, 2, 1, 1, RELU, True),
        (1, 1, 5, 4, 3, 5, 2, 2, 0, IDENTITY, False),
        (5, 3, 3, 4, 3, 9, 2, 4, 1, RELU, True),
        (1, 3, 6, 5, 2, 9, 1, 4, 0, LEAKY, True),
        (1, 1, 4, 3, 1, 5, 2, 2, 1, IDENTITY, True),
        (2, 4, 5, 6, 3, 2, 2, 0, 0, IDENTITY, True),  # the U-Net's up: 2×2, stride 2
        (1, 3, 3, 4, 2, 2, 2, 0, 0, RELU, True),
    ]
    for n, c_in, h, w, c_out, k, s, p, op, act, has_bias in cases:
        fan = c_out * k * k
        x = rng.normal(n, c_in, h, w).requires_grad_()
        wt = rng.uniform(c_in, c_out, k, k, lo=-(fan**-0.5), hi=fan**-0.5).requires_grad_()
        b = rng.uniform(c_out, lo=-0.5, hi=0.5).requires_grad_() if has_bias else None
        z = F.conv_transpose2d(x, wt, b, stride=s, padding=p, output_padding=op)
        y = act_apply(z, act)
        dy = rng.normal(*y.shape)
        y.backward(dy)
        name = f"n{n}_c{c_in}x{c_out}_{h}x{w}_k{k}_s{s}_p{p}_op{op}_{act['kind']}"
        params = dict(n=n, c_in=c_in, h=h, w=w, c_out=c_out, k=k, stride=s, pad=p, out_pad=op,
                      act=act, bias=has_bias)
        tensors = dict(x=x, w=wt, y=y, dy=dy, dx=x.grad, dw=wt.grad)
        if has_bias:
            tensors.update(b=b, db=b.grad)
        g.add(name, params, **tensors)
    return g


def check_torch_pool_ties():
    """Our spec sends a window's gradient to its first maximum in row-major order. Torch's
    CPU max_pool2d does the same (it keeps the running max on a strict `>`); this check
    stops the script if a torch version ever differs, since the tie case relies on it."""
    for dt in (torch.float32, F64):
        x = torch.tensor([[[[1.0, 3.0], [3.0, 3.0]]]], dtype=dt, requires_grad=True)
        F.max_pool2d(x, 2, 2).sum().backward()
        expected = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]], dtype=dt)
        assert torch.equal(x.grad, expected), f"torch breaks max-pool ties differently ({dt})"


def max_pool2d_goldens(rng):
    check_torch_pool_ties()
    g = GoldenFile("max_pool2d")
    for n, c, h, w, ties in [(5, 3, 7, 9, False), (1, 1, 6, 8, False), (1, 3, 5, 5, False),
                             (5, 1, 9, 6, True)]:
        x = rng.normal(n, c, h, w)
        if ties:
            # Few distinct values: most windows hold repeated maxima.
            x = torch.round(x * 1.5)
        x.requires_grad_()
        y = F.max_pool2d(x, 2, 2)
        dy = rng.normal(*y.shape)
        y.backward(dy)
        name = f"n{n}_c{c}_{h}x{w}" + ("_ties" if ties else "")
        g.add(name, dict(n=n, c=c, h=h, w=w), x=x, y=y, dy=dy, dx=x.grad)
    return g


def concat_goldens(rng):
    """torch.cat along channels (the U-Net's skip connections) and its backward: the
    gradient of each input is its part of the upstream gradient."""
    g = GoldenFile("concat_channels")
    for n, c_a, c_b, h, w in [(2, 3, 4, 5, 6), (1, 1, 2, 7, 3), (3, 5, 5, 4, 4)]:
        a = rng.normal(n, c_a, h, w).requires_grad_()
        b = rng.normal(n, c_b, h, w).requires_grad_()
        y = torch.cat([a, b], dim=1)
        dy = rng.normal(*y.shape)
        y.backward(dy)
        name = f"n{n}_c{c_a}x{c_b}_{h}x{w}"
        g.add(name, dict(n=n, c_a=c_a, c_b=c_b, h=h, w=w), a=a, b=b, y=y, dy=dy, da=a.grad,
              db=b.grad)
    return g


def activation_goldens(rng):
    """Backward of ReLU / LeakyReLU: from the activation's output y and upstream dy, the
    gradient of the pre-activation z (what the next backward op takes)."""
    g = GoldenFile("activation")
    for act, shape in [(RELU, (5, 3, 7, 5)), (LEAKY, (1, 3, 9, 11)), (LEAKY, (5, 1, 4, 3))]:
        z = rng.normal(*shape).requires_grad_()
        y = act_apply(z, act)
        dy = rng.normal(*shape)
        y.backward(dy)
        name = f"{act['kind']}_{'x'.join(map(str, shape))}"
        g.add(name, dict(act=act), y=y, dy=dy, dz=z.grad)
    return g


def convex_skip_goldens(rng):
    g = GoldenFile("convex_skip")
    for theta0, shape in [(0.0, (1, 3, 5, 7)), (f32(0.7), (5, 3, 6, 5)), (f32(-2.5), (5, 1, 9, 4))]:
        theta = torch.tensor([theta0], dtype=F64, requires_grad=True)
        a = rng.normal(*shape).requires_grad_()
        b = rng.normal(*shape).requires_grad_()
        alpha = torch.sigmoid(theta)
        u = alpha * a + (1 - alpha) * b
        du = rng.normal(*shape)
        u.backward(du)
        name = f"theta{theta0:+.2f}_{'x'.join(map(str, shape))}".replace(".", "p")
        g.add(name, dict(theta=theta0), theta=theta, a=a, b=b, u=u, du=du, da=a.grad,
              db=b.grad, dtheta=theta.grad)
    return g


def linear_goldens(rng):
    g = GoldenFile("linear")
    for n, k, m in [(5, 37, 1), (1, 8, 3), (5, 64, 2)]:
        x = rng.normal(n, k).requires_grad_()
        w = rng.uniform(m, k, lo=-(k**-0.5), hi=k**-0.5).requires_grad_()
        b = rng.uniform(m, lo=-0.5, hi=0.5).requires_grad_()
        y = F.linear(x, w, b)
        dy = rng.normal(n, m)
        y.backward(dy)
        g.add(f"n{n}_k{k}_m{m}", dict(n=n, k=k, m=m), x=x, w=w, b=b, y=y, dy=dy, dx=x.grad,
              dw=w.grad, db=b.grad)
    return g


def bce_goldens(rng):
    """BCE with logits against a constant target, reduction sum, times a scale; the Device
    *adds* the loss to loss[0], so each case starts from a non-zero `loss_in`."""
    g = GoldenFile("bce_with_logits")
    extremes = torch.tensor([1e4, -1e4, 100.0, -100.0, 30.0, -30.0, 0.0, 1e-3],
                            dtype=torch.float32).to(F64)
    for target, scale, n in [(1.0, f32(1 / 16), 16), (0.0, f32(0.2), 21), (1.0, 1.0, 9)]:
        z = rng.normal(n, scale=4.0)
        z[: len(extremes)] = extremes[:n]
        z = z[torch.randperm(n, generator=rng.g)].clone().requires_grad_()
        t = torch.full_like(z, target)
        loss = scale * F.binary_cross_entropy_with_logits(z, t, reduction="sum")
        loss.backward()
        loss_in = rng.normal(1)
        name = f"t{int(target)}_n{n}"
        g.add(name, dict(target=target, scale=scale), z=z, loss_in=loss_in,
              loss=loss_in + loss.detach().reshape(1), dz=z.grad)
    return g


def mse_goldens(rng):
    """Sum of squared errors times a scale, *added* to loss[0]; gradient w.r.t. a."""
    g = GoldenFile("mse")
    for shape, scale in [((5, 3, 7, 6), f32(1 / 630)), ((1, 1, 5, 3), 1.0)]:
        a = rng.normal(*shape).requires_grad_()
        b = rng.normal(*shape)
        loss = scale * F.mse_loss(a, b, reduction="sum")
        loss.backward()
        loss_in = rng.normal(1)
        g.add("x".join(map(str, shape)), dict(scale=scale), a=a, b=b, loss_in=loss_in,
              loss=loss_in + loss.detach().reshape(1), da=a.grad)
    return g


def l2_penalty_goldens(rng):
    """scale·Σw² *added* to loss[0]; 2·scale·w *added* to an existing gradient dw_in."""
    g = GoldenFile("l2_penalty")
    for shape, scale in [((4, 3, 3, 3), f32(1e-4)), ((7,), f32(0.5))]:
        w = rng.normal(*shape).requires_grad_()
        loss = scale * (w * w).sum()
        loss.backward()
        loss_in = rng.normal(1)
        dw_in = rng.normal(*shape)
        g.add("x".join(map(str, shape)), dict(scale=scale), w=w, loss_in=loss_in,
              loss=loss_in + loss.detach().reshape(1), dw_in=dw_in, dw=dw_in + w.grad)
    return g


STEPS = 3


def optimizer_goldens(rng, op, make_opt, hps, slots):
    """Runs torch.optim for STEPS steps with given gradients; records the parameter and
    each state slot after every step."""
    g = GoldenFile(op)
    for hp in hps:
        shape = (3, 2, 5, 3)
        p = rng.normal(*shape).requires_grad_()
        p0 = p.detach().clone()
        opt = make_opt([p], hp)
        tensors = {"p0": p0}
        for t in range(1, STEPS + 1):
            grad = rng.normal(*shape)
            tensors[f"g{t}"] = grad
            p.grad = grad.clone()
            opt.step()
            tensors[f"p{t}"] = p.detach().clone()
            for ours, theirs in slots.items():
                tensors[f"{ours}{t}"] = opt.state[p][theirs].clone()
        name = "wd" if hp["weight_decay"] else "no_wd"
        g.add(name, dict(hp, steps=STEPS), **tensors)
    return g


def sgd_goldens(rng):
    hps = [dict(lr=f32(0.05), momentum=f32(0.9), weight_decay=0.0),
           dict(lr=f32(0.05), momentum=f32(0.9), weight_decay=f32(0.1))]
    make = lambda ps, hp: torch.optim.SGD(ps, lr=hp["lr"], momentum=hp["momentum"],
                                          weight_decay=hp["weight_decay"])
    return optimizer_goldens(rng, "sgd", make, hps, {"mom": "momentum_buffer"})


def adam_goldens(rng):
    hps = [dict(lr=f32(0.05), beta1=f32(0.5), beta2=f32(0.999), eps=f32(1e-8), weight_decay=0.0),
           dict(lr=f32(0.05), beta1=f32(0.5), beta2=f32(0.999), eps=f32(1e-8),
                weight_decay=f32(0.1))]
    make = lambda ps, hp: torch.optim.Adam(ps, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                           eps=hp["eps"], weight_decay=hp["weight_decay"])
    return optimizer_goldens(rng, "adam", make, hps, {"m": "exp_avg", "v": "exp_avg_sq"})


def numpy_cross_check(conv):
    """Recomputes the first stride-2 conv2d case with plain numpy loops: an independent
    check that the files hold what their names say."""
    case = next(c for c in conv.cases if c["stride"] == 2)
    t = {k.split(".", 1)[1]: v.numpy() for k, v in conv.tensors.items()
         if k.startswith(case["name"] + ".")}
    x, w, b = t["x"], t["w"], t["b"]
    s, p, k = case["stride"], case["pad"], case["k"]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho = (x.shape[2] + 2 * p - k) // s + 1
    wo = (x.shape[3] + 2 * p - k) // s + 1
    z = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * s:i * s + k, j * s:j * s + k]
            z[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w) + b
    y = np.maximum(z, 0) if case["act"]["kind"] == "relu" else z
    err = np.abs(y - t["y"]).max()
    assert err < 1e-12, f"numpy cross-check of {case['name']} failed: {err}"
    # db = Σ over n, h, w of the pre-activation gradient.
    dz = t["dy"] * (z > 0) if case["act"]["kind"] == "relu" else t["dy"]
    assert np.abs(dz.sum(axis=(0, 2, 3)) - t["db"]).max() < 1e-12


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")
    os.makedirs(out_dir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    rng = Rng(SEED)
    builders = [conv2d_goldens, conv_transpose2d_goldens, max_pool2d_goldens,
                activation_goldens, convex_skip_goldens, linear_goldens, bce_goldens,
                mse_goldens, l2_penalty_goldens, sgd_goldens, adam_goldens, concat_goldens]
    files = [b(rng) for b in builders]
    numpy_cross_check(files[0])
    for f in files:
        path = f.write(out_dir)
        print(f"{os.path.relpath(path)}: {len(f.cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
