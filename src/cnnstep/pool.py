"""Pooling blocks, vectorized: pool_forward, pool_backward, create_mask_from_window,
distribute_value.

Same names, arguments, shapes and caches as :mod:`cnnstep.reference`. The work is done
by :mod:`cnnstep._kernels.pooling` on chunks of examples shared out over cnnstep's threads;
:func:`_kernel` below is the whole choice of kernel.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep._kernels import parallel as _parallel
from cnnstep._kernels import pooling
from cnnstep.reference import create_mask_from_window, distribute_value

__all__ = ["pool_forward", "pool_backward", "create_mask_from_window", "distribute_value"]


def _kernel(g, mode: str, backward: bool):
    """The kernel for one geometry, mode and direction.

    Windows side by side (no padding, stride == window) view the input as whole rows and
    reduce each window row in one call; any other windows (overlapping, padded, with gaps)
    take separable passes over strided slices, rows first (columns one apart: flat runs).
    The max backward finds the maxima again and routes each gradient to every cell equal
    to its window's maximum.
    ``pooling.tiled(g)`` draws that line inside each kernel.
    """
    if backward:
        return pooling.max_backward if mode == "max" else pooling.average_backward
    return pooling.max_forward if mode == "max" else pooling.average_forward


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
    x, g, out_dtype, y = _forward_arrays(A_prev, hparameters, mode, "pool_forward")
    kernel = _kernel(g, mode, backward=False)
    _parallel.run(lambda part: kernel(x[part], g, y[part]), pooling.parts(g, x.dtype.itemsize), x.size)
    return y.astype(out_dtype, copy=False), (A_prev, hparameters)


def _forward_arrays(A_prev, hparameters, mode, func):
    """A validated forward call: x (contiguous, working dtype), g, the dtype to return, and y to fill."""
    x, g = _checks.pool_call(A_prev, hparameters, mode, func)
    out_dtype = _checks.result_dtype(x)
    x = np.ascontiguousarray(x, dtype=_checks.work_dtype(out_dtype))
    y = np.empty((g.m, g.n_H, g.n_W, g.n_C), dtype=x.dtype)  # each chunk's task fills its slice
    return x, g, out_dtype, y


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
    dy, (x,), g, out_dtype, work_dtype = _checks.pool_backward_call(dA, cache, mode, ties, "pool_backward")
    dy = np.ascontiguousarray(dy)
    x = np.ascontiguousarray(x)
    dx = np.empty(x.shape, dtype=work_dtype)  # each chunk's task fills (and zeroes) its slice
    kernel = _kernel(g, mode, backward=True)
    if mode == "average":

        def task(part):
            kernel(dy[part], g, dx[part])
    else:

        def task(part):
            kernel(dy[part], x[part], g, ties, dx[part])

    _parallel.run(task, pooling.parts(g, work_dtype.itemsize), x.size)
    return dx.astype(out_dtype, copy=False)


# --------------------------------------------------------------------------- for the layers


def max_forward_routed(A_prev, hparameters, func="MaxPool2D.forward"):
    """``pool_forward(A_prev, hparameters, "max")`` that also keeps the routing its maxima give.

    Returns ``(A, kept)``: the same A, and what :func:`max_backward_routed` needs to send a
    gradient back to the maxima without finding them again from ``A_prev`` (the public
    ``pool_backward`` keeps the exercise's cache and does find them again).
    """
    x, g, out_dtype, y = _forward_arrays(A_prev, hparameters, "max", func)
    routing = pooling.routing_buffers(x.shape, g, x.dtype)
    _parallel.run(
        lambda part: pooling.max_forward_routed(x[part], g, y[part], routing[part]),
        pooling.parts(g, x.dtype.itemsize),
        x.size,
    )
    return y.astype(out_dtype, copy=False), (x, y, routing, g, out_dtype)


def max_backward_routed(dA, kept, ties="all"):
    """``pool_backward(dA, cache, "max", ties)`` from what :func:`max_forward_routed` kept.

    ``dA`` must have the forward output's shape (the layer checks it); the result is the
    same array ``pool_backward`` gives.
    """
    x, x_max, routing, g, out_dtype = kept
    dy = np.ascontiguousarray(dA, dtype=x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    _parallel.run(
        lambda part: pooling.max_backward_routed(dy[part], x[part], x_max[part], routing[part], g, ties, dx[part]),
        pooling.parts(g, x.dtype.itemsize),
        x.size,
    )
    return dx.astype(out_dtype, copy=False)
