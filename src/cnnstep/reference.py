"""The eight building blocks as plain loops that read like the exercise.

One output value at a time, ``vert_start/vert_end/horiz_start/horiz_end`` and all:
this module is the teaching version and the oracle the vectorized kernels of the
package's top level are tested against. It takes the same arguments, returns the same
shapes and caches, and validates input with the same checks, so a cache made here
works with the fast backward and vice versa.

Slow by design: use :mod:`cnnstep` (the top level) for real work.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = [
    "zero_pad",
    "conv_single_step",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "create_mask_from_window",
    "distribute_value",
    "pool_backward",
]


def zero_pad(X, pad):
    """Pad the height and width of every image of ``X`` with zeros.

    Parameters
    ----------
    X : ndarray, shape (m, n_H, n_W, n_C)
    pad : int, (p_h, p_w) or ((top, bottom), (left, right))

    Returns
    -------
    X_pad : ndarray, shape (m, n_H + top + bottom, n_W + left + right, n_C), X's dtype
    """
    X = _checks.ranked_array(X, "zero_pad", "X", 4, "(m, n_H, n_W, n_C)")
    p = _checks.explicit_padding(pad, "zero_pad", "pad", allow_words=False)
    m, n_H, n_W, n_C = X.shape
    X_pad = np.zeros((m, n_H + p.top + p.bottom, n_W + p.left + p.right, n_C), dtype=X.dtype)
    X_pad[:, p.top : p.top + n_H, p.left : p.left + n_W, :] = X
    return X_pad


def conv_single_step(a_slice_prev, W, b):
    """One convolution step: ``sum(a_slice_prev * W) + b`` as a NumPy scalar.

    Parameters
    ----------
    a_slice_prev : ndarray, shape (f_h, f_w, n_C_prev)
    W : ndarray, same shape as ``a_slice_prev``
    b : one number, e.g. ndarray of shape (1, 1, 1)

    Returns
    -------
    Z : np.float64 for float64 (or integer) input, the input's float type otherwise
    """
    func = "conv_single_step"
    bias = b
    a_slice_prev = _checks.ranked_array(a_slice_prev, func, "a_slice_prev", 3, "(f_h, f_w, n_C_prev)")
    W = _checks.real_array(W, func, "W")
    b = _checks.real_array(b, func, "b")
    if W.shape != a_slice_prev.shape:
        raise ValueError(f"{func}: W must have the shape of a_slice_prev {a_slice_prev.shape}, got shape {W.shape}")
    if b.size != 1:
        raise ValueError(f"{func}: b must hold exactly one number (e.g. shape (1, 1, 1)), got shape {b.shape}")
    # a Python number as bias stays weak in the promotion (float32 slices give float32)
    out_dtype = _checks.result_dtype(a_slice_prev, W, bias if type(bias) in (int, float) else b)
    work_dtype = _checks.work_dtype(out_dtype)
    s = np.multiply(a_slice_prev.astype(work_dtype, copy=False), W.astype(work_dtype, copy=False))
    Z = np.sum(s)
    Z = Z + b.astype(work_dtype).reshape(())[()]
    return out_dtype.type(Z)


def conv_forward(A_prev, W, b, hparameters):
    """Forward pass of a convolution layer, one output value at a time.

    Parameters
    ----------
    A_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray, shape (f_h, f_w, n_C_prev, n_C)
    b : ndarray, shape (1, 1, 1, n_C)
    hparameters : dict with "stride" and "pad"

    Returns
    -------
    Z : ndarray, shape (m, n_H, n_W, n_C) with
        n_H = (n_H_prev + pad_top + pad_bottom - f_h) // s_h + 1 (likewise n_W)
    cache : (A_prev, W, b, hparameters), the very objects passed in
    """
    A, Wt, bt, g = _checks.conv_call(A_prev, W, b, hparameters, "conv_forward")
    out_dtype = _checks.result_dtype(A, Wt, bt)
    work_dtype = _checks.work_dtype(out_dtype)
    A_prev_pad = zero_pad(A.astype(work_dtype, copy=False), g.pad.as_pairs())
    Wt = Wt.astype(work_dtype, copy=False)
    bt = bt.astype(work_dtype, copy=False)
    Z = np.zeros((g.m, g.n_H, g.n_W, g.n_C), dtype=work_dtype)
    for i in range(g.m):
        a_prev_pad = A_prev_pad[i]
        for h in range(g.n_H):
            vert_start = h * g.s_h
            vert_end = vert_start + g.f_h
            for w in range(g.n_W):
                horiz_start = w * g.s_w
                horiz_end = horiz_start + g.f_w
                for c in range(g.n_C):
                    a_slice_prev = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, Wt[:, :, :, c], bt[:, :, :, c])
    cache = (A_prev, W, b, hparameters)
    return Z.astype(out_dtype, copy=False), cache


def conv_backward(dZ, cache):
    """Backward pass of a convolution layer, one output position at a time.

    Parameters
    ----------
    dZ : ndarray, shape (m, n_H, n_W, n_C), gradient of the cost with respect to Z
    cache : (A_prev, W, b, hparameters) as returned by ``conv_forward``

    Returns
    -------
    dA_prev : ndarray, shape of A_prev
    dW : ndarray, shape of W
    db : ndarray, shape of b, (1, 1, 1, n_C)
    """
    dZ, (A, Wt, _), g, out_dtype, work_dtype = _checks.conv_backward_call(dZ, cache, "conv_backward")
    A_prev_pad = zero_pad(A, g.pad.as_pairs())
    dA_prev_pad = np.zeros_like(A_prev_pad)
    dW = np.zeros(Wt.shape, dtype=work_dtype)
    db = np.zeros((1, 1, 1, g.n_C), dtype=work_dtype)
    for i in range(g.m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        for h in range(g.n_H):
            vert_start = h * g.s_h
            vert_end = vert_start + g.f_h
            for w in range(g.n_W):
                horiz_start = w * g.s_w
                horiz_end = horiz_start + g.f_w
                for c in range(g.n_C):
                    a_slice = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] += Wt[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    # Cut the padding off by explicit end indices: ``[pad:-pad]`` would be empty for pad 0.
    dA_prev = dA_prev_pad[:, g.pad.top : g.pad.top + g.n_H_prev, g.pad.left : g.pad.left + g.n_W_prev, :]
    return (dA_prev.astype(out_dtype), dW.astype(out_dtype, copy=False), db.astype(out_dtype, copy=False))


def _window(start, f, pad_before, n_prev):
    """Rows ``[lo, hi)`` of the unpadded input covered by a window starting at ``start`` in
    padded coordinates: padding cells are left out (max-pooling pads with -inf, which is
    never chosen over a real cell; average-pooling counts only real cells)."""
    return max(start - pad_before, 0), min(start - pad_before + f, n_prev)


def pool_forward(A_prev, hparameters, mode="max"):
    """Forward pass of a pooling layer, one output value at a time.

    Parameters
    ----------
    A_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C)
    hparameters : dict with "f" and "stride" (optionally "pad")
    mode : "max" or "average"

    Returns
    -------
    A : ndarray, shape (m, n_H, n_W, n_C) with n_H = (n_H_prev + pads - f_h) // s_h + 1
    cache : (A_prev, hparameters), the very objects passed in
    """
    A_in, g = _checks.pool_call(A_prev, hparameters, mode, "pool_forward")
    out_dtype = _checks.result_dtype(A_in)
    work_dtype = _checks.work_dtype(out_dtype)
    A_in = A_in.astype(work_dtype, copy=False)
    A = np.zeros((g.m, g.n_H, g.n_W, g.n_C), dtype=work_dtype)
    for i in range(g.m):
        for h in range(g.n_H):
            vert_start, vert_end = _window(h * g.s_h, g.f_h, g.pad.top, g.n_H_prev)
            for w in range(g.n_W):
                horiz_start, horiz_end = _window(w * g.s_w, g.f_w, g.pad.left, g.n_W_prev)
                for c in range(g.n_C):
                    a_prev_slice = A_in[i, vert_start:vert_end, horiz_start:horiz_end, c]
                    if mode == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    else:
                        A[i, h, w, c] = np.mean(a_prev_slice)
    cache = (A_prev, hparameters)
    return A.astype(out_dtype, copy=False), cache


def create_mask_from_window(x):
    """Boolean mask of ``x``'s maximum: True at *every* position equal to it.

    A NaN in the window is its maximum (as ``np.max`` and ``pool_forward`` say), so
    the mask marks the NaN positions.

    Parameters
    ----------
    x : ndarray, shape (f_h, f_w)

    Returns
    -------
    mask : ndarray of bool, shape of x
    """
    x = _checks.ranked_array(x, "create_mask_from_window", "x", 2, "(f_h, f_w)")
    _checks.nonempty_dims(x, "create_mask_from_window", "x", "(f_h, f_w)", skip_first=False)
    x_max = np.max(x)
    if np.isnan(x_max):
        return np.isnan(x)
    mask = x == x_max
    return mask


def _first_mask(mask):
    """Keep only the first True of ``mask`` in row-major order (PyTorch's tie rule)."""
    first = np.zeros_like(mask)
    first.flat[np.argmax(mask)] = True
    return first


def distribute_value(dz, shape):
    """Spread ``dz`` evenly over a window: every entry ``dz / (n_H * n_W)``.

    Parameters
    ----------
    dz : one real number
    shape : (n_H, n_W), positive integers

    Returns
    -------
    a : ndarray of that shape, float dtype of dz (float64 for Python numbers and integers)
    """
    func = "distribute_value"
    dz_arr = _checks.real_array(dz, func, "dz")
    if dz_arr.size != 1:
        raise ValueError(f"{func}: dz must be one number, got shape {dz_arr.shape}")
    n_H, n_W = _shape_pair(shape, func)
    dtype = _checks.result_dtype(dz_arr)
    average = dz_arr.astype(dtype).reshape(())[()] / dtype.type(n_H * n_W)
    a = np.full((n_H, n_W), average, dtype=dtype)
    return a


def _shape_pair(shape, func):
    expected = "a pair (n_H, n_W) of positive integers"
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        if isinstance(shape, (tuple, list)):
            raise ValueError(f"{func}: shape must be {expected}, got {shape!r}")
        raise TypeError(f"{func}: shape must be {expected}, got {_checks.show(shape)}")
    if not all(_checks.is_int(v) for v in shape):
        raise TypeError(f"{func}: shape must be {expected}, got {shape!r}")
    if min(shape) < 1:
        raise ValueError(f"{func}: shape must be {expected} (no zero or negative size), got {tuple(shape)!r}")
    return int(shape[0]), int(shape[1])


def pool_backward(dA, cache, mode="max", ties="all"):
    """Backward pass of a pooling layer, one output position at a time.

    Parameters
    ----------
    dA : ndarray, shape (m, n_H, n_W, n_C), gradient of the cost with respect to A
    cache : (A_prev, hparameters) as returned by ``pool_forward``
    mode : "max" or "average"
    ties : "all" -- every tied maximum of a window receives the gradient (the exercise's
        mask); "first" -- only the first in row-major window order (PyTorch's rule)

    Returns
    -------
    dA_prev : ndarray, shape of A_prev
    """
    dA, (A_in,), g, out_dtype, work_dtype = _checks.pool_backward_call(dA, cache, mode, ties, "pool_backward")
    dA_prev = np.zeros(A_in.shape, dtype=work_dtype)
    for i in range(g.m):
        for h in range(g.n_H):
            vert_start, vert_end = _window(h * g.s_h, g.f_h, g.pad.top, g.n_H_prev)
            for w in range(g.n_W):
                horiz_start, horiz_end = _window(w * g.s_w, g.f_w, g.pad.left, g.n_W_prev)
                for c in range(g.n_C):
                    if mode == "max":
                        a_prev_slice = A_in[i, vert_start:vert_end, horiz_start:horiz_end, c]
                        mask = create_mask_from_window(a_prev_slice)
                        if ties == "first":
                            mask = _first_mask(mask)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += mask * dA[i, h, w, c]
                    else:
                        da = dA[i, h, w, c]
                        shape = (vert_end - vert_start, horiz_end - horiz_start)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += distribute_value(da, shape)
    return dA_prev.astype(out_dtype, copy=False)
