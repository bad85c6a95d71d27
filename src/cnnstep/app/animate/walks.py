"""The numbers of each animation, computed first and without drawing: the inputs, the block's result,
one step per frame. Every value a block computes comes from the block itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import cnnstep
from cnnstep._kernels import checks as _checks

# --------------------------------------------------------------------------- the walks
from cnnstep.app.animate.drawing import (
    _geometry,
    _pad,
    _side,
)


@dataclass(frozen=True)
class Walk:
    """What one animation shows, computed by the blocks, before any drawing.

    ``settings`` holds the checked n, f, stride (and pad, mode); ``arrays`` the inputs and
    the block's whole result; ``steps`` one dict per frame between the first and the
    last, in the order the output cells are visited (row by row): ``h``, ``w``,
    ``vert_start``, ``horiz_start``, and what that frame shows.
    """

    settings: dict
    arrays: dict
    steps: list = field(default_factory=list)


def _cells(n_out: int, stride: int):
    for h in range(n_out):
        for w in range(n_out):
            yield {"h": h, "w": w, "vert_start": h * stride, "horiz_start": w * stride}


def _conv_settings(func, n, f, stride, pad) -> tuple:
    n, f = _side(n, func, "n"), _checks.positive_int(f, func, "f")
    stride, pad = _checks.positive_int(stride, func, "stride"), _pad(pad, func)
    return n, f, stride, pad, _geometry(func, n, f, stride, pad)


def _conv_forward_walk(func, n, f, stride, pad, seed) -> Walk:
    n, f, stride, pad, n_out = _conv_settings(func, n, f, stride, pad)
    rng = np.random.default_rng(_checks.seed(seed, func))
    A_prev = rng.integers(-2, 3, size=(1, n, n, 1)).astype(np.float64)
    W = rng.integers(-2, 3, size=(f, f, 1, 1)).astype(np.float64)
    b = rng.integers(-1, 2, size=(1, 1, 1, 1)).astype(np.float64)
    A_pad = cnnstep.zero_pad(A_prev, pad)[0, :, :, 0]
    Z, _ = cnnstep.conv_forward(A_prev, W, b, {"stride": stride, "pad": pad})
    walk = Walk(
        {"n": n, "f": f, "stride": stride, "pad": pad}, {"A_prev": A_prev, "W": W, "b": b, "A_pad": A_pad, "Z": Z}
    )
    for cell in _cells(n_out, stride):
        window = A_pad[cell["vert_start"] : cell["vert_start"] + f, cell["horiz_start"] : cell["horiz_start"] + f]
        value = cnnstep.conv_single_step(window[:, :, np.newaxis], W[:, :, :, 0], b[:, :, :, 0])
        walk.steps.append({**cell, "window": window, "value": value})
    return walk


def conv_forward_walk(n: int = 5, f: int = 3, stride: int = 2, pad: int = 1, seed: int = 0) -> Walk:
    """The numbers of :func:`conv_forward_gif`: each step's window and ``conv_single_step`` of it."""
    return _conv_forward_walk("conv_forward_walk", n, f, stride, pad, seed)


def _pool_forward_walk(func, mode, n, f, stride, seed) -> Walk:
    mode = _checks.pool_mode(mode, func)
    n, f, stride, _, n_out = _conv_settings(func, n, f, stride, 0)
    rng = np.random.default_rng(_checks.seed(seed, func))
    A_prev = rng.integers(0, 10, size=(1, n, n, 1)).astype(np.float64)
    A, _ = cnnstep.pool_forward(A_prev, {"f": f, "stride": stride}, mode=mode)
    walk = Walk({"n": n, "f": f, "stride": stride, "mode": mode}, {"A_prev": A_prev, "A": A})
    for cell in _cells(n_out, stride):
        x = A_prev[0, :, :, 0]
        window = x[cell["vert_start"] : cell["vert_start"] + f, cell["horiz_start"] : cell["horiz_start"] + f]
        mask = cnnstep.create_mask_from_window(window) if mode == "max" else None
        walk.steps.append({**cell, "window": window, "value": A[0, cell["h"], cell["w"], 0], "mask": mask})
    return walk


def pool_forward_walk(mode: str = "max", n: int = 4, f: int = 2, stride: int = 2, seed: int = 0) -> Walk:
    """The numbers of :func:`pool_forward_gif`: each window, its mask (max) and pool_forward's output."""
    return _pool_forward_walk("pool_forward_walk", mode, n, f, stride, seed)


def _conv_backward_walk(func, n, f, stride, pad, seed) -> Walk:
    n, f, stride, pad, n_out = _conv_settings(func, n, f, stride, pad)
    rng = np.random.default_rng(_checks.seed(seed, func))
    A_prev = rng.integers(-2, 3, size=(1, n, n, 1)).astype(np.float64)
    W = rng.integers(-2, 3, size=(f, f, 1, 1)).astype(np.float64)
    dZ = rng.choice(np.array([-2.0, -1.0, 1.0, 2.0]), size=(1, n_out, n_out, 1))
    _, cache = cnnstep.conv_forward(A_prev, W, np.zeros((1, 1, 1, 1)), {"stride": stride, "pad": pad})
    dA_prev, dW, db = cnnstep.conv_backward(dZ, cache)
    arrays = {"A_prev": A_prev, "W": W, "dZ": dZ, "dA_prev": dA_prev, "dW": dW, "db": db}
    walk = Walk({"n": n, "f": f, "stride": stride, "pad": pad}, arrays)
    visited = np.zeros_like(dZ)
    for cell in _cells(n_out, stride):
        visited[0, cell["h"], cell["w"], 0] = 1.0
        # the gradient is linear in dZ: conv_backward of the cells visited so far is the running sum
        so_far, _, db_so_far = cnnstep.conv_backward(dZ * visited, cache)
        sent = W[:, :, 0, 0] * dZ[0, cell["h"], cell["w"], 0]
        walk.steps.append({**cell, "sent": sent, "dA_prev": so_far[0, :, :, 0], "db": float(db_so_far.sum())})
    return walk


def conv_backward_walk(n: int = 4, f: int = 2, stride: int = 1, pad: int = 1, seed: int = 0) -> Walk:
    """The numbers of :func:`conv_backward_gif`: what each dZ cell sends back and dA_prev so far."""
    return _conv_backward_walk("conv_backward_walk", n, f, stride, pad, seed)


def _pool_backward_walk(func, n, f, stride, seed) -> Walk:
    n, f, stride, _, n_out = _conv_settings(func, n, f, stride, 0)
    rng = np.random.default_rng(_checks.seed(seed, func))
    hparameters = {"f": f, "stride": stride}
    A_prev = rng.integers(0, 5, size=(1, n, n, 1)).astype(np.float64)
    if f > 1:  # a tie in the first window, so that the picture shows one
        A_prev[0, 0, 0, 0] = A_prev[0, f - 1, f - 1, 0] = A_prev[0, :f, :f, 0].max()
    _, cache = cnnstep.pool_forward(A_prev, hparameters, mode="max")
    dA = rng.integers(1, 4, size=(1, n_out, n_out, 1)).astype(np.float64)
    dA_prev = cnnstep.pool_backward(dA, cache, mode="max")
    walk = Walk({"n": n, "f": f, "stride": stride}, {"A_prev": A_prev, "dA": dA, "dA_prev": dA_prev})
    visited = np.zeros_like(dA)
    x = A_prev[0, :, :, 0]
    for cell in _cells(n_out, stride):
        visited[0, cell["h"], cell["w"], 0] = 1.0
        window = x[cell["vert_start"] : cell["vert_start"] + f, cell["horiz_start"] : cell["horiz_start"] + f]
        so_far = cnnstep.pool_backward(dA * visited, cache, mode="max")
        walk.steps.append({**cell, "mask": cnnstep.create_mask_from_window(window), "dA_prev": so_far[0, :, :, 0]})
    return walk


def pool_backward_walk(n: int = 4, f: int = 2, stride: int = 1, seed: int = 0) -> Walk:
    """The numbers of :func:`pool_backward_gif`: each window's mask and dA_prev so far."""
    return _pool_backward_walk("pool_backward_walk", n, f, stride, seed)
