"""How far apart the implementations are: the vectorized blocks against the loops and against PyTorch.

Draws random configurations (every padding form, strides up to 3, rectangular windows,
both pooling modes, sizes that select every kernel: Winograd, banded, im2col), runs the
forward and backward of each implementation on the same float32 and float64 data, and
prints the largest relative difference seen (max |a - b| / max |b| per output array).

    python benchmarks/accuracy.py [--configs N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import cnnstep
from cnnstep import reference
from cnnstep._kernels import checks as _checks


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = float(np.max(np.abs(b))) or 1.0
    return float(np.max(np.abs(a - b))) / scale


def conv_config(rng):
    big = rng.random() < 0.3  # sometimes large enough for Winograd (>= 16 channels, 30x30)
    C = int(rng.choice([16, 24])) if big else int(rng.integers(1, 9))
    K = int(rng.choice([16, 20])) if big else int(rng.integers(1, 9))
    f = (3, 3) if big else (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = 1 if big else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    pad = rng.choice(["same", "valid", 0, 1, 2, "pair", "pairs"]) if not big else rng.choice(["same", 1])
    if pad == "pair":
        pad = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    elif pad == "pairs":
        pad = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))), (int(rng.integers(0, 3)), int(rng.integers(0, 3))))
    elif not isinstance(pad, str):
        pad = int(pad)
    side = 30 if big else int(rng.integers(5, 12))
    m = 1 if big else int(rng.integers(1, 4))
    return (m, side, side + int(rng.integers(0, 3)), C), (f[0], f[1], C, K), {"stride": stride, "pad": pad}


def pool_config(rng):
    f = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    hp = {"f": f, "stride": stride}
    if rng.random() < 0.3:
        hp["pad"] = "same"
    shape = (int(rng.integers(1, 4)), int(rng.integers(5, 12)), int(rng.integers(5, 12)), int(rng.integers(1, 6)))
    return shape, hp


def torch_conv(torch, A, W, b, hp, dZ):
    F = torch.nn.functional
    g = _checks.conv_call(A, W, b, hp, "accuracy")[3]
    p = g.pad
    x = torch.from_numpy(A).permute(0, 3, 1, 2).requires_grad_(True)
    w = torch.from_numpy(np.ascontiguousarray(W.transpose(3, 2, 0, 1))).requires_grad_(True)
    bias = torch.from_numpy(b.reshape(-1).copy()).requires_grad_(True)
    z = F.conv2d(F.pad(x, (p.left, p.right, p.top, p.bottom)), w, bias, stride=(g.s_h, g.s_w))
    z.backward(torch.from_numpy(dZ).permute(0, 3, 1, 2))
    return (
        z.detach().permute(0, 2, 3, 1).numpy(),
        x.grad.permute(0, 2, 3, 1).numpy(),
        w.grad.numpy().transpose(2, 3, 1, 0),
        bias.grad.numpy().reshape(1, 1, 1, -1),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=60, help="random configurations per kind (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(args.seed)
    worst = {}

    def note(key, value):
        worst[key] = max(worst.get(key, 0.0), value)

    for _ in range(args.configs):
        a_shape, w_shape, hp = conv_config(rng)
        try:
            _checks.conv_call(np.zeros(a_shape), np.zeros(w_shape), np.zeros((1, 1, 1, w_shape[3])), hp, "accuracy")
        except ValueError:
            continue  # a window larger than the padded input
        A64, W64 = rng.normal(size=a_shape), rng.normal(size=w_shape)
        b64 = rng.normal(size=(1, 1, 1, w_shape[3]))
        Z_ref, ref_cache = reference.conv_forward(A64, W64, b64, hp)
        dZ64 = rng.normal(size=Z_ref.shape)
        ref = (Z_ref, *reference.conv_backward(dZ64, ref_cache))
        for dtype in (np.float64, np.float32):
            A, W, b, dZ = (x.astype(dtype) for x in (A64, W64, b64, dZ64))
            Z, cache = cnnstep.conv_forward(A, W, b, hp)
            fast = (Z, *cnnstep.conv_backward(dZ, cache))
            name = np.dtype(dtype).name
            for x, y in zip(fast, ref, strict=False):
                note(f"conv fast vs loops {name}", relative(x, y))
            if torch is not None:
                for x, y in zip(fast, torch_conv(torch, A, W, b, hp, dZ), strict=False):
                    note(f"conv fast vs torch {name}", relative(x, y))
    for _ in range(args.configs):
        shape, hp = pool_config(rng)
        try:
            _checks.pool_call(np.zeros(shape), hp, "max", "accuracy")
        except ValueError:
            continue
        A64 = rng.normal(size=shape)
        for mode in ("max", "average"):
            A_ref, cache = reference.pool_forward(A64, hp, mode)
            dA64 = rng.normal(size=A_ref.shape)
            ref = (A_ref, reference.pool_backward(dA64, cache, mode))
            for dtype in (np.float64, np.float32):
                A, dA = A64.astype(dtype), dA64.astype(dtype)
                out, fast_cache = cnnstep.pool_forward(A, hp, mode)
                fast = (out, cnnstep.pool_backward(dA, fast_cache, mode))
                for x, y in zip(fast, ref, strict=False):
                    note(f"pool fast vs loops {np.dtype(dtype).name}", relative(x, y))
    width = max(map(len, worst))
    print(f"largest relative difference (max |a - b| / max |b|) over {args.configs} random configurations per kind:")
    for key in sorted(worst):
        print(f"  {key:<{width}}  {worst[key]:.2e}")
    if torch is None:
        print("  (torch is not installed: no torch comparison)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
