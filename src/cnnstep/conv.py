"""Convolution blocks, vectorized: zero_pad, conv_single_step, conv_forward, conv_backward.

Same names, arguments, shapes and caches as :mod:`cnnstep.reference` (the loops that
read like the exercise); here the work is done by a few large matrix products instead of
one Python call per output value. See :mod:`cnnstep._im2col` for the kernels.
"""

from __future__ import annotations

import numpy as np

from cnnstep import _checks, _im2col, _winograd
from cnnstep.reference import conv_single_step

__all__ = ["zero_pad", "conv_single_step", "conv_forward", "conv_backward"]


def zero_pad(X, pad):
    """Pad the height and width of every image of ``X`` with zeros.

    Parameters
    ----------
    X : ndarray, shape (m, n_H, n_W, n_C)
    pad : int >= 0, (p_h, p_w) or ((top, bottom), (left, right))

    Returns
    -------
    X_pad : ndarray, shape (m, n_H + top + bottom, n_W + left + right, n_C)
        A new array of X's dtype (also for pad 0); X is left untouched.
    """
    X = _checks.ranked_array(X, "zero_pad", "X", 4, "(m, n_H, n_W, n_C)")
    p = _checks.explicit_padding(pad, "zero_pad", "pad", allow_words=False)
    return _im2col.pad(X, p)


def conv_forward(A_prev, W, b, hparameters):
    """Forward pass of a convolution layer (no activation).

    ``Z[i, h, w, c] = sum(window(i, h, w) * W[..., c]) + b[..., c]`` where the window of
    output (h, w) is rows ``h*s_h : h*s_h+f_h`` and columns ``w*s_w : w*s_w+f_w`` of the
    zero-padded input, all channels.

    Parameters
    ----------
    A_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray, shape (f_h, f_w, n_C_prev, n_C)
    b : ndarray, shape (1, 1, 1, n_C)
    hparameters : dict
        ``"stride"``: int or (s_h, s_w); ``"pad"``: int, (p_h, p_w),
        ((top, bottom), (left, right)), ``"valid"`` or ``"same"`` (TensorFlow's rule:
        output ceil(n_prev / s), the odd extra pixel at the bottom/right).

    Returns
    -------
    Z : ndarray, shape (m, n_H, n_W, n_C), with floor division::

            n_H = (n_H_prev + pad_top + pad_bottom - f_h) // s_h + 1
            n_W = (n_W_prev + pad_left + pad_right - f_w) // s_w + 1

        Float dtypes are preserved; integer input is computed in float64.
    cache : tuple
        ``(A_prev, W, b, hparameters)``, the very objects passed in.
    """
    A, Wt, bt, g = _checks.conv_call(A_prev, W, b, hparameters, "conv_forward")
    out = _checks.result_dtype(A, Wt, bt)
    work = _checks.work_dtype(out)
    Z = _forward(A.astype(work, copy=False), Wt.astype(work, copy=False), bt.astype(work, copy=False), g)
    return Z.astype(out, copy=False), (A_prev, W, b, hparameters)


def _forward(A, W, b, g):
    """The fastest exact kernel for this geometry."""
    if _winograd.applicable(g):
        return _winograd.conv(A, W, g.pad, g.n_H, g.n_W, b)
    return _im2col.conv_forward(A, W, b, g)


def _backward(dZ, A, W, g):
    if _winograd.applicable(g):
        dW = _winograd.weight_gradient(dZ, A, g.pad)
        if _winograd.input_gradient_padding(g.pad) is not None:
            return _winograd.input_gradient(dZ, W, g.pad, g.n_H_prev, g.n_W_prev), dW
        return _im2col.input_gradient(dZ, W, g), dW
    return _im2col.input_gradient(dZ, W, g), _im2col.weight_gradient(dZ, A, g)


def conv_backward(dZ, cache):
    """Backward pass of a convolution layer: the exact gradient of ``conv_forward``.

    Parameters
    ----------
    dZ : ndarray, shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to Z.
    cache : tuple
        ``(A_prev, W, b, hparameters)`` as returned by ``conv_forward`` (either
        implementation's).

    Returns
    -------
    dA_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C_prev)
        Each output position sends ``W[..., c] * dZ`` back to its window; overlapping
        windows add up; the padding is cut off.
    dW : ndarray, shape (f_h, f_w, n_C_prev, n_C)
        ``sum over examples and positions of window * dZ``.
    db : ndarray, shape (1, 1, 1, n_C)
        ``sum of dZ`` per channel.
    """
    func = "conv_backward"
    A_prev, W, b, hparameters = _checks.unpack_cache(
        cache, func, 4, "(A_prev, W, b, hparameters)", "conv_forward")
    A, Wt, bt, g = _checks.conv_call(A_prev, W, b, hparameters, func)
    dZ = _checks.gradient_shape(dZ, func, "dZ", (g.m, g.n_H, g.n_W, g.n_C), "the cache: Z's shape")
    out = _checks.result_dtype(dZ, A, Wt, bt)
    work = _checks.work_dtype(out)
    dZ = dZ.astype(work, copy=False)
    dA_prev, dW = _backward(dZ, A.astype(work, copy=False), Wt.astype(work, copy=False), g)
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, g.n_C)
    return dA_prev.astype(out, copy=False), dW.astype(out, copy=False), db.astype(out, copy=False)
