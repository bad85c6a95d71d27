"""Pooling blocks, vectorized: pool_forward, pool_backward, create_mask_from_window,
distribute_value.

Same names, arguments, shapes and caches as :mod:`cnnstep.reference`. The kernels loop
over the f_h x f_w offsets of the window (never over examples or output positions): at
offset (i, j) every output (h, w) looks at input cell (h*s_h + i - pad_top,
w*s_w + j - pad_left), so one strided slice of the input serves all windows at once.
Offsets that fall into the padding are simply left out, which is what max-pooling with
-inf padding and average-pooling over the real cells both mean.
"""

from __future__ import annotations

import numpy as np

from cnnstep import _checks
from cnnstep._checks import PoolGeometry
from cnnstep.reference import create_mask_from_window, distribute_value

__all__ = ["pool_forward", "pool_backward", "create_mask_from_window", "distribute_value"]


def _offset(k: int, s: int, pad_before: int, n_prev: int, n_out: int):
    """For window offset ``k``: (outputs, inputs) slices of the positions that read a real cell.

    Output ``h`` reads input row ``h*s + k - pad_before``; the outputs for which that row
    exists form one contiguous range. Returns None when there are none.
    """
    first = max(0, -(-(pad_before - k) // s))
    last = min(n_out - 1, (n_prev - 1 + pad_before - k) // s)
    if last < first:
        return None
    start = first * s + k - pad_before
    return slice(first, last + 1), slice(start, start + (last - first) * s + 1, s)


def _offsets(g: PoolGeometry):
    """Every window offset (i, j) in row-major order, with its output and input slices."""
    for i in range(g.f_h):
        rows = _offset(i, g.s_h, g.pad.top, g.n_H_prev, g.n_H)
        if rows is None:
            continue
        for j in range(g.f_w):
            cols = _offset(j, g.s_w, g.pad.left, g.n_W_prev, g.n_W)
            if cols is None:
                continue
            out = (slice(None), rows[0], cols[0], slice(None))
            inp = (slice(None), rows[1], cols[1], slice(None))
            yield out, inp


def _tiled(g: PoolGeometry) -> bool:
    """Windows that tile the input exactly side by side: no padding, stride == window."""
    return not g.pad.any and g.f_h == g.s_h and g.f_w == g.s_w


def _blocks(A: np.ndarray, g: PoolGeometry) -> np.ndarray:
    """The covered part of A as (m, n_H, f_h, n_W, f_w, C) -- one block per window."""
    covered = A[:, : g.n_H * g.f_h, : g.n_W * g.f_w, :]
    return covered.reshape(g.m, g.n_H, g.f_h, g.n_W, g.f_w, g.n_C)


def _window_counts(g: PoolGeometry, dtype) -> np.ndarray | float:
    """How many real cells each window holds: (n_H, n_W, 1), or one number without padding."""
    if not g.pad.any:
        return float(g.f_h * g.f_w)
    rows = np.zeros(g.n_H)
    for i in range(g.f_h):
        sl = _offset(i, g.s_h, g.pad.top, g.n_H_prev, g.n_H)
        if sl is not None:
            rows[sl[0]] += 1
    cols = np.zeros(g.n_W)
    for j in range(g.f_w):
        sl = _offset(j, g.s_w, g.pad.left, g.n_W_prev, g.n_W)
        if sl is not None:
            cols[sl[0]] += 1
    return np.multiply.outer(rows, cols).astype(dtype)[:, :, None]


def _max(A: np.ndarray, g: PoolGeometry) -> np.ndarray:
    if _tiled(g):
        return _blocks(A, g).max(axis=(2, 4))
    out = np.full((g.m, g.n_H, g.n_W, g.n_C), -np.inf, dtype=A.dtype)
    for o, a in _offsets(g):
        np.maximum(out[o], A[a], out=out[o])  # NaN propagates, as np.max does
    return out


def _average(A: np.ndarray, g: PoolGeometry) -> np.ndarray:
    if _tiled(g):
        return _blocks(A, g).mean(axis=(2, 4))
    out = np.zeros((g.m, g.n_H, g.n_W, g.n_C), dtype=A.dtype)
    for o, a in _offsets(g):
        out[o] += A[a]
    out /= _window_counts(g, A.dtype)
    return out


def pool_forward(A_prev, hparameters, mode="max"):
    """Forward pass of a pooling layer.

    The window of output (h, w) is rows ``h*s_h : h*s_h+f_h`` and columns
    ``w*s_w : w*s_w+f_w`` of the (padded) input, one channel at a time, every example.

    Parameters
    ----------
    A_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C)
    hparameters : dict
        ``"f"``: window, int or (f_h, f_w); ``"stride"``: int or (s_h, s_w); optional
        ``"pad"`` (as in ``conv_forward``, each side smaller than the window):
        max-pooling pads with -inf, average-pooling counts only the real cells.
    mode : "max" or "average"

    Returns
    -------
    A : ndarray, shape (m, n_H, n_W, n_C), with floor division::

            n_H = (n_H_prev + pad_top + pad_bottom - f_h) // s_h + 1

    cache : tuple
        ``(A_prev, hparameters)``, the very objects passed in.
    """
    A_in, g = _checks.pool_call(A_prev, hparameters, mode, "pool_forward")
    out = _checks.result_dtype(A_in)
    A_in = A_in.astype(_checks.work_dtype(out), copy=False)
    A = _max(A_in, g) if mode == "max" else _average(A_in, g)
    return A.astype(out, copy=False), (A_prev, hparameters)


def _max_backward(dA: np.ndarray, A_in: np.ndarray, g: PoolGeometry, ties: str) -> np.ndarray:
    A_max = _max(A_in, g)
    nan_aware = bool(np.isnan(A_max).any())  # a NaN in a window is its maximum
    dA_prev = np.zeros(A_in.shape, dtype=dA.dtype)
    if _tiled(g) and ties == "all" and not nan_aware:
        # m h i w j c: each block compared with its own maximum, all ties marked
        mask = _blocks(A_in, g) == A_max[:, :, None, :, None, :]
        grads = mask * dA[:, :, None, :, None, :]
        dA_prev[:, : g.n_H * g.f_h, : g.n_W * g.f_w, :] = grads.reshape(g.m, g.n_H * g.f_h, g.n_W * g.f_w, g.n_C)
        return dA_prev
    taken = np.zeros(A_max.shape, dtype=bool) if ties == "first" else None
    for o, a in _offsets(g):
        mask = A_in[a] == A_max[o]
        if nan_aware:
            mask |= np.isnan(A_in[a]) & np.isnan(A_max[o])
        if taken is not None:
            mask &= ~taken[o]  # row-major order: only the first maximum of each window
            taken[o] |= mask
        dA_prev[a] += mask * dA[o]
    return dA_prev


def _average_backward(dA: np.ndarray, g: PoolGeometry) -> np.ndarray:
    share = dA / _window_counts(g, dA.dtype)
    dA_prev = np.zeros((g.m, g.n_H_prev, g.n_W_prev, g.n_C), dtype=dA.dtype)
    if _tiled(g):
        grads = np.broadcast_to(share[:, :, None, :, None, :], (g.m, g.n_H, g.f_h, g.n_W, g.f_w, g.n_C))
        dA_prev[:, : g.n_H * g.f_h, : g.n_W * g.f_w, :] = grads.reshape(g.m, g.n_H * g.f_h, g.n_W * g.f_w, g.n_C)
        return dA_prev
    for o, a in _offsets(g):
        dA_prev[a] += share[o]
    return dA_prev


def pool_backward(dA, cache, mode="max", ties="all"):
    """Backward pass of a pooling layer.

    Parameters
    ----------
    dA : ndarray, shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the pooling output A.
    cache : tuple
        ``(A_prev, hparameters)`` as returned by ``pool_forward`` (either implementation's).
    mode : "max" or "average"
        Max: each ``dA[i, h, w, c]`` goes whole to the positions of its window that hold
        the window's maximum. Average: it is spread evenly over the window's real cells.
        Overlapping windows add up.
    ties : "all" or "first"
        ``"all"`` (the exercise's mask): every tied maximum receives the gradient -- ties
        are common after ReLU. ``"first"``: only the first maximum in row-major window
        order receives it (PyTorch's rule), for comparison with a framework.

    Returns
    -------
    dA_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C)
    """
    func = "pool_backward"
    A_prev, hparameters = _checks.unpack_cache(cache, func, 2, "(A_prev, hparameters)", "pool_forward")
    A_in, g = _checks.pool_call(A_prev, hparameters, mode, func)
    _checks.tie_rule(ties, func)
    dA = _checks.gradient_shape(dA, func, "dA", (g.m, g.n_H, g.n_W, g.n_C), "the cache: A's shape")
    out = _checks.result_dtype(dA, A_in)
    work = _checks.work_dtype(out)
    dA = dA.astype(work, copy=False)
    if mode == "max":
        dA_prev = _max_backward(dA, A_in.astype(work, copy=False), g, ties)
    else:
        dA_prev = _average_backward(dA, g)
    return dA_prev.astype(out, copy=False)
