"""The known mistakes written out: each of the eight with one thing wrong, as circulated.

Loops that read like the learner's own; the helpers they call are the reference's, as in
the checker's isolation. :mod:`cnnstep.app.checker.catalogue` names each and its hint.
"""

from __future__ import annotations

import numpy as np

from cnnstep import reference as ref


def mistaken_zero_pad(X, pad, *, widths):
    return np.pad(X, widths(pad), mode="constant", constant_values=0)


def mistaken_conv_single_step(a_slice_prev, W, b, *, variant):
    s = a_slice_prev * W
    if variant == "no bias":
        return np.sum(s)
    if variant == "bias everywhere":
        return np.sum(s + b)
    if variant == "array":
        return np.sum(s) + b
    return np.sum(s) + float(b)


def mistaken_conv_forward(A_prev, W, b, hparameters, *, step=None, horiz_from_h=False, one_example=False, padded=True):
    stride, pad = hparameters["stride"], hparameters["pad"]
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    step = stride if step is None else step
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = ref.zero_pad(A_prev, pad) if padded else A_prev
    for i in range(m):
        a_prev_pad = A_prev_pad[0 if one_example else i]
        for h in range(n_H):
            vert_start = h * step
            for w in range(n_W):
                horiz_start = (h if horiz_from_h else w) * step
                for c in range(n_C):
                    a_slice_prev = a_prev_pad[vert_start : vert_start + f, horiz_start : horiz_start + f, :]
                    Z[i, h, w, c] = ref.conv_single_step(a_slice_prev, W[:, :, :, c], b[:, :, :, c])
    return Z, (A_prev, W, b, hparameters)


def mistaken_conv_forward_padded_cache(A_prev, W, b, hparameters):
    Z, _ = mistaken_conv_forward(A_prev, W, b, hparameters)
    return Z, (ref.zero_pad(A_prev, hparameters["pad"]), W, b, hparameters)


def mistaken_conv_backward(dZ, cache, *, step=None, accumulate=True, cut="ends", dW_accumulate=True):
    A_prev, W, b, hparameters = cache
    stride, pad = hparameters["stride"], hparameters["pad"]
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    _, n_H, n_W, _ = dZ.shape
    step = stride if step is None else step
    dA_prev = np.zeros(A_prev.shape)
    dW = np.zeros(W.shape)
    db = np.zeros((1, 1, 1, n_C))
    A_prev_pad = ref.zero_pad(A_prev, pad)
    dA_prev_pad = ref.zero_pad(dA_prev, pad)
    for i in range(m):
        a_prev_pad, da_prev_pad = A_prev_pad[i], dA_prev_pad[i]
        for h in range(n_H):
            for w in range(n_W):
                vs, hs = h * step, w * step
                for c in range(n_C):
                    a_slice = a_prev_pad[vs : vs + f, hs : hs + f, :]
                    if accumulate:
                        da_prev_pad[vs : vs + f, hs : hs + f, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    else:
                        da_prev_pad[vs : vs + f, hs : hs + f, :] = W[:, :, :, c] * dZ[i, h, w, c]
                    if dW_accumulate:
                        dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    else:
                        dW[:, :, :, c] = a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
        if cut == "negative":
            dA_prev[i, :, :, :] = da_prev_pad[pad:-pad, pad:-pad, :]
        elif cut == "none":
            dA_prev[i, :, :, :] = da_prev_pad
        elif cut != "once":
            dA_prev[i, :, :, :] = da_prev_pad[pad : pad + n_H_prev, pad : pad + n_W_prev, :]
    if cut == "once":  # the line that cuts the padding off, dedented out of the example loop
        dA_prev[i, :, :, :] = da_prev_pad[pad : pad + n_H_prev, pad : pad + n_W_prev, :]
    if cut == "whole negative":
        dA_prev = dA_prev_pad[:, pad:-pad, pad:-pad, :]
    return dA_prev, dW, db


def mistaken_pool_forward(A_prev, hparameters, mode="max", *, step=None, no_example=False, use_mode=None):
    f, stride = hparameters["f"], hparameters["stride"]
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    step = stride if step is None else step
    A = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                vs, hs = h * step, w * step
                for c in range(n_C):
                    if no_example:
                        a_prev_slice = A_prev[vs : vs + f, hs : hs + f, c]
                    else:
                        a_prev_slice = A_prev[i, vs : vs + f, hs : hs + f, c]
                    if (use_mode or mode) == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    else:
                        A[i, h, w, c] = np.mean(a_prev_slice)
    return A, (A_prev, hparameters)


def first_max(x):
    mask = np.zeros(x.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True
    return mask


def mistaken_mask(x, *, variant):
    if variant == "first":
        return first_max(x)
    if variant == "int":
        return (x == np.max(x)).astype(int)
    if variant == "column":
        return x == np.max(x, axis=0)
    return x == np.max(x, axis=1, keepdims=True)


def mistaken_distribute(dz, shape, *, variant):
    n_H, n_W = shape
    average = {
        "precedence": lambda: dz / n_H * n_W,
        "sum": lambda: dz / (n_H + n_W),
        "floor": lambda: dz // (n_H * n_W),
        "height twice": lambda: dz / (n_H * n_H),
        "product": lambda: dz * n_H * n_W,
        "plus dz": lambda: dz / (n_H * n_W) + dz,
        "number": lambda: dz / (n_H * n_W),
    }[variant]()
    return average if variant == "number" else np.ones(shape) * average


def mistaken_pool_backward(
    dA,
    cache,
    mode="max",
    *,
    step=None,
    accumulate=True,
    no_example=False,
    dA_at_start=False,
    plus_da=False,
    first=False,
):
    A_prev, hparameters = cache
    f, stride = hparameters["f"], hparameters["stride"]
    m, n_H, n_W, n_C = dA.shape
    step = stride if step is None else step
    dA_prev = np.zeros(A_prev.shape)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                vs, hs = h * step, w * step
                for c in range(n_C):
                    da = dA[i, vs, hs, c] if dA_at_start else dA[i, h, w, c]
                    if mode == "max":
                        if no_example:
                            a_prev_slice = A_prev[vs : vs + f, hs : hs + f, c]
                        else:
                            a_prev_slice = A_prev[i, vs : vs + f, hs : hs + f, c]
                        mask = first_max(a_prev_slice) if first else ref.create_mask_from_window(a_prev_slice)
                        value = mask * da
                    else:
                        value = ref.distribute_value(da, (f, f)) + (da if plus_da else 0.0)
                    if accumulate:
                        dA_prev[i, vs : vs + f, hs : hs + f, c] += value
                    else:
                        dA_prev[i, vs : vs + f, hs : hs + f, c] = value
    return dA_prev
