"""Convolution blocks, vectorized: zero_pad, conv_single_step, conv_forward, conv_backward.

Same names, arguments, shapes and caches as :mod:`cnnstep.reference` (the loops that
read like the exercise); here the work is done by a few large matrix products instead of
one Python call per output value. Each call picks the fastest exact kernel for its
geometry: :mod:`cnnstep._kernels.winograd` (3x3, stride 1, many channels, larger images),
:mod:`cnnstep._kernels.band` (few input channels) or :mod:`cnnstep._kernels.im2col` (everything else).
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import band as _band
from cnnstep._kernels import checks as _checks
from cnnstep._kernels import im2col as _im2col
from cnnstep._kernels import winograd as _winograd
from cnnstep._kernels.frame import frame
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
    return frame(X, p)


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
    x, w, bias, g = _checks.conv_call(A_prev, W, b, hparameters, "conv_forward")
    out_dtype = _checks.result_dtype(x, w, bias)
    work_dtype = _checks.work_dtype(out_dtype)
    y = _forward(*(a.astype(work_dtype, copy=False) for a in (x, w, bias)), g)
    return y.astype(out_dtype, copy=False), (A_prev, W, b, hparameters)


def _finite(*arrays) -> bool:
    """True when no array holds NaN or +-inf.

    A sum is NaN or infinite when any term is (one pass, no temporary); a sum that
    overflows on finite data errs on the safe side (the direct product runs again).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return all(bool(np.isfinite(np.sum(x))) for x in arrays)


def _forward(A, W, b, g):
    """The fastest kernel for this geometry, exact where it matters.

    Winograd mixes window cells through its transforms, so a NaN or infinity could reach
    outputs whose windows never held it: when its output is not finite, the direct im2col
    product (where every output sees only its own window) computes it again, and NaN and
    infinities land exactly where they belong. The banded product only adds exact zeros
    to each output's own terms (a zero filter entry times an input, a filter entry times
    a padding zero the direct product also has), so it is exact whenever the input is
    finite (whatever the filters hold): that, a pass over the few-channel input, is checked
    before, instead of a pass over the larger output after.
    """
    if _winograd.applicable(g, forward=True):
        with np.errstate(invalid="ignore", over="ignore"):  # its artefacts are redone below
            Z = _winograd.conv(A, W, g.pad, g.n_H, g.n_W, b)
        return Z if _finite(Z) else _im2col.conv_forward(A, W, b, g)
    if _band.applicable(g) and _finite(A):
        return _band.conv_forward(A, W, b, g)
    return _im2col.conv_forward(A, W, b, g)


def _backward(dZ, A, W, g, input_gradient=True):
    """(dA_prev or None, dW, db or None); as in :func:`_forward`, non-finite results are redone
    directly. The banded kernel sums db on its chunks; the others leave it to the caller."""
    if not (_winograd.applicable(g) or _band.applicable(g)):
        return *_im2col.conv_backward(dZ, A, W, g, input_gradient), None
    db = None
    with np.errstate(invalid="ignore", over="ignore"):
        if not _winograd.applicable(g):
            dx, dW, db = _band.conv_backward(dZ, A, W, g, input_gradient)
        else:
            dx, dW = _winograd.backward(dZ, A, W, g.pad, input_gradient)
    if _finite(dW) and (dx is None or _finite(dx)):
        return dx, dW, db
    return *_im2col.conv_backward(dZ, A, W, g, input_gradient), None


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
    return backward_parts(dZ, cache, input_gradient=True, func="conv_backward")


def backward_parts(dZ, cache, input_gradient=True, func="conv_backward"):
    """``conv_backward``, optionally without dA_prev (returned as None).

    A network's first layer has no use for the gradient with respect to its input
    images; skipping it saves a large part of that layer's backward work.
    """
    dy, (x, w, _), g, out_dtype, _ = _checks.conv_backward_call(dZ, cache, func)
    dx, dw, db = _backward(dy, x, w, g, input_gradient)
    db = (np.einsum("mhwk->k", dy) if db is None else db).reshape(1, 1, 1, g.n_C)
    if dx is not None:
        dx = dx.astype(out_dtype, copy=False)
    return dx, dw.astype(out_dtype, copy=False), db.astype(out_dtype, copy=False)
