"""The networks' first convolutions (three input channels) against PyTorch, call by call.

Three geometries, float32 by default, 2 threads on both sides:

* ``app``: the ``application`` model's conv 0, 32x64x64x3 -> 4x4x8, 'same' (TensorFlow's
  rule); forward, and the first layer's backward (dW and db only, no input gradient);
* ``default``: the ``default`` model's conv 0, 32x64x64x3 -> 3x3x16, pad 1; the same two;
* ``S1``: the kernel suite's 64x32x32x3 -> 3x3x16, pad 1, forward+backward with dA_prev.

Each measurement alternates the contenders round by round (a pause, a warm-up call, then
``--repeat`` timed calls each), and prints the fastest call and the median of each with
their ratios.
Torch runs on zero-copy channels_last views of the same arrays, as in ``bench_kernels``.

Run: ``python benchmarks/bench_first_layer.py [--rounds N] [--repeat N] [--cases app,default,S1,S3]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import numpy as np

import cnnstep
import harness
from cnnstep import conv as _conv

GEOMETRIES = {
    # name: (m, n_H_prev, n_W_prev, n_C_prev, f, n_C, pad, ops)
    "app": (32, 64, 64, 3, 4, 8, "same", ("forward", "backward_dW")),
    "default": (32, 64, 64, 3, 3, 16, 1, ("forward", "backward_dW")),
    "S1": (64, 32, 32, 3, 3, 16, 1, ("forward_backward",)),
    "S3": (32, 64, 64, 3, 4, 8, "same", ("forward_backward",)),
}


def _arrays(m, h, w, c, f, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, h, w, c)).astype(dtype)
    W = (rng.standard_normal((f, f, c, k)) / np.sqrt(f * f * c)).astype(dtype)
    b = rng.standard_normal((1, 1, 1, k)).astype(dtype)
    return A, W, b


def _ops(torch, name: str, dtype):
    m, h, w, c, f, k, pad, ops = GEOMETRIES[name]
    A, W, b = _arrays(m, h, w, c, f, k, dtype)
    hp = {"stride": 1, "pad": pad}
    Z, cache = cnnstep.conv_forward(A, W, b, hp)
    dZ = np.random.default_rng(1).standard_normal(Z.shape).astype(dtype)
    F = torch.nn.functional
    x = torch.from_numpy(A).permute(0, 3, 1, 2)
    dz = torch.from_numpy(dZ).permute(0, 3, 1, 2)
    wt = torch.from_numpy(np.ascontiguousarray(W.transpose(3, 2, 0, 1))).requires_grad_(True)
    bt = torch.from_numpy(b.reshape(-1).copy()).requires_grad_(True)
    if pad == "same":  # TensorFlow's rule: the odd extra row/column at the bottom/right
        extra = f - 1
        explicit, padding = (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2), 0
    else:
        explicit, padding = None, pad

    def t_forward(xin):
        return F.conv2d(xin if explicit is None else F.pad(xin, explicit), wt, bt, padding=padding)

    def t_backward_dW():
        wt.grad = bt.grad = None
        z = t_forward(x)
        start = time.perf_counter()
        z.backward(dz)
        return time.perf_counter() - start

    xg = x.detach().requires_grad_(True)

    def t_forward_backward():
        wt.grad = bt.grad = xg.grad = None
        t_forward(xg).backward(dz)

    def c_forward_backward():
        _, cache = cnnstep.conv_forward(A, W, b, hp)
        cnnstep.conv_backward(dZ, cache)

    table = {
        "forward": (lambda: cnnstep.conv_forward(A, W, b, hp), lambda: t_forward(x).detach()),
        "backward_dW": (lambda: _conv.backward_parts(dZ, cache, input_gradient=False), t_backward_dW),
        "forward_backward": (c_forward_backward, t_forward_backward),
    }
    return {op: table[op] for op in ops}


def _time(fn) -> float:
    start = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - start
    # an op may time only its own part and return that
    return out if isinstance(out, float) else elapsed


def alternate(ours, theirs, rounds: int, repeat: int, pause: float) -> tuple[list[float], list[float]]:
    """Rounds of ``repeat`` timed calls of each contender in turn (the order swapped every
    round), each after ``pause`` seconds of sleep and an untimed warm-up call: torch's
    worker threads keep spinning for a while after its calls, and would otherwise take
    the cores from the calls that follow them."""
    times = {0: [], 1: []}
    fns = (ours, theirs)
    gc.disable()
    try:
        for r in range(rounds):
            for who in (0, 1) if r % 2 == 0 else (1, 0):
                time.sleep(pause)
                fns[who]()
                times[who].extend(_time(fns[who]) for _ in range(repeat))
    finally:
        gc.enable()
    return times[0], times[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--cases", default="app,default,S1")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch, _ = harness.load_torch()
    with harness.thread_limits(args.threads, torch):
        print(f"{'case':8} {'op':17} {'cnnstep min/med ms':>20} {'torch min/med ms':>18} {'ratio min/med':>14}")
        for name in args.cases.split(","):
            for op, (ours, theirs) in _ops(torch, name, np.dtype(args.dtype)).items():
                a, t = alternate(ours, theirs, args.rounds, args.repeat, args.pause)
                am, tm = min(a) * 1e3, min(t) * 1e3
                ad, td = statistics.median(a) * 1e3, statistics.median(t) * 1e3
                print(f"{name:8} {op:17} {am:9.2f} {ad:9.2f} {tm:9.2f} {td:8.2f} {am / tm:6.2f} {ad / td:6.2f}")


if __name__ == "__main__":
    main()
