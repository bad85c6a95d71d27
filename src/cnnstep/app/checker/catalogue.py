"""The known mistakes: each one named, with the exercise's hint it breaks.

A :class:`Mistake` is one of the eight with one thing wrong (written out in
:mod:`~cnnstep.app.checker.mistakes`), the way it circulates in the
copies of the exercise (the window at ``h`` instead of ``h*stride``, ``[pad:-pad]``,
``A_prev[vert_start:…, c]`` without ``i``, ``=`` where overlapping windows must add up,
``float(b)`` on a ``(1, 1, 1)`` array, ...). The diagnosis runs each candidate on the same
cases as the learner's function; the one that gives the learner's outputs (and errors) on
every case is named, with the line of the exercise's hints that it breaks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cnnstep.app.checker.mistakes import (
    mistaken_conv_backward,
    mistaken_conv_forward,
    mistaken_conv_forward_padded_cache,
    mistaken_conv_single_step,
    mistaken_distribute,
    mistaken_mask,
    mistaken_pool_backward,
    mistaken_pool_forward,
    mistaken_zero_pad,
)

__all__ = ["Mistake", "CATALOGUE"]


@dataclass(frozen=True)
class Mistake:
    function: str
    key: str
    title: str
    hint: str
    impl: object


P = functools.partial
STRIDE_HINT = (
    "vert_start = h * stride, horiz_start = w * stride: the window of output (h, w) starts stride rows/columns per step"
)
PLUS_HINT = (
    "da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] += W[:, :, :, c] * dZ[i, h, w, c]: "
    "overlapping windows add up"
)
EXAMPLE_HINT = (
    "a_prev_slice = A_prev[i, vert_start:vert_end, horiz_start:horiz_end, c]: the example index i comes first"
)
POOL_PLUS_HINT = "dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += ...: overlapping windows add up"
PAD_HINT = (
    "dA_prev[i, :, :, :] = da_prev_pad[pad:-pad, pad:-pad, :] is empty when pad is 0; "
    "cut with explicit ends: da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]"
)
DIVIDE_HINT = "average = dz / (n_H * n_W); a = np.ones(shape) * average"

CATALOGUE = (
    Mistake(
        "zero_pad",
        "all axes",
        "pads every axis, the examples and channels too",
        "np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0))): pad the height and width only",
        P(mistaken_zero_pad, widths=lambda p: p),
    ),
    Mistake(
        "zero_pad",
        "wrong axes",
        "pads the example and height axes instead of height and width",
        "np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0))): the first pair is the examples' axis",
        P(mistaken_zero_pad, widths=lambda p: ((p, p), (p, p), (0, 0), (0, 0))),
    ),
    Mistake(
        "zero_pad",
        "height only",
        "pads the height only",
        "np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0))): pad the width too",
        P(mistaken_zero_pad, widths=lambda p: ((0, 0), (p, p), (0, 0), (0, 0))),
    ),
    Mistake(
        "conv_single_step",
        "float(b)",
        "float(b) on b of shape (1, 1, 1): NumPy 2 refuses to make a Python float of an array with dimensions",
        "Z = Z + float(b), casting b to a float, holds under NumPy 1 only; write Z = Z + b.item()",
        P(mistaken_conv_single_step, variant="float"),
    ),
    Mistake(
        "conv_single_step",
        "no bias",
        "the bias b is not added",
        "Z = np.sum(s) and then Z = Z + b (as one number)",
        P(mistaken_conv_single_step, variant="no bias"),
    ),
    Mistake(
        "conv_single_step",
        "bias everywhere",
        "b is added to every product before the sum (f*f*n_C times)",
        "s = np.multiply(a_slice_prev, W); Z = np.sum(s); then add b once",
        P(mistaken_conv_single_step, variant="bias everywhere"),
    ),
    Mistake(
        "conv_single_step",
        "array",
        "returns an array of b's shape (1, 1, 1), not a number",
        "Z = Z + b.item(): take b's one number so that Z stays a scalar",
        P(mistaken_conv_single_step, variant="array"),
    ),
    Mistake(
        "conv_forward",
        "stride",
        "the stride is ignored: the window of output (h, w) starts at row h, not h*stride",
        STRIDE_HINT,
        P(mistaken_conv_forward, step=1),
    ),
    Mistake(
        "conv_forward",
        "horiz from h",
        "horiz_start is computed from h, not w",
        "horiz_start = w * stride",
        P(mistaken_conv_forward, horiz_from_h=True),
    ),
    Mistake(
        "conv_forward",
        "one example",
        "every example is convolved from example 0",
        "a_prev_pad = A_prev_pad[i]: select the i-th example",
        P(mistaken_conv_forward, one_example=True),
    ),
    Mistake(
        "conv_forward",
        "unpadded",
        "the windows are cut from A_prev, not from the padded A_prev_pad",
        "A_prev_pad = zero_pad(A_prev, pad); a_prev_pad = A_prev_pad[i]",
        P(mistaken_conv_forward, padded=False),
    ),
    Mistake(
        "conv_forward",
        "padded cache",
        "the cache holds the padded input, not A_prev",
        "cache = (A_prev, W, b, hparameters): the very objects passed in",
        mistaken_conv_forward_padded_cache,
    ),
    Mistake(
        "conv_backward",
        "pad slice",
        "[pad:-pad] with pad 0 cuts everything away",
        PAD_HINT,
        P(mistaken_conv_backward, cut="negative"),
    ),
    Mistake(
        "conv_backward",
        "pad slice",
        "[pad:-pad] with pad 0 cuts everything away",
        PAD_HINT,
        P(mistaken_conv_backward, cut="whole negative"),
    ),
    Mistake(
        "conv_backward",
        "not cut",
        "the padding is not cut off: da_prev_pad keeps the padded shape",
        "dA_prev[i, :, :, :] = da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]",
        P(mistaken_conv_backward, cut="none"),
    ),
    Mistake(
        "conv_backward",
        "assign",
        "'=' instead of '+=': one window's gradient overwrites what overlapping windows and other filters put there",
        PLUS_HINT,
        P(mistaken_conv_backward, accumulate=False),
    ),
    Mistake(
        "conv_backward",
        "stride",
        "the stride is ignored: the window of output (h, w) starts at row h, not h*stride",
        STRIDE_HINT,
        P(mistaken_conv_backward, step=1),
    ),
    Mistake(
        "conv_backward",
        "cut once",
        "the padding is cut off once after the example loop: only the last example gets its gradient",
        "dA_prev[i, :, :, :] = ... belongs inside the loop over i",
        P(mistaken_conv_backward, cut="once"),
    ),
    Mistake(
        "conv_backward",
        "dW assign",
        "dW[:, :, :, c] = ... instead of += : dW keeps only the last window",
        "dW[:, :, :, c] += a_slice * dZ[i, h, w, c]",
        P(mistaken_conv_backward, dW_accumulate=False),
    ),
    Mistake(
        "pool_forward",
        "example",
        "A_prev[vert_start:vert_end, horiz_start:horiz_end, c] without the example index i",
        EXAMPLE_HINT,
        P(mistaken_pool_forward, no_example=True),
    ),
    Mistake(
        "pool_forward",
        "stride",
        "the stride is ignored: the window of output (h, w) starts at row h, not h*stride",
        STRIDE_HINT,
        P(mistaken_pool_forward, step=1),
    ),
    Mistake(
        "pool_forward",
        "always max",
        "mode is ignored: every window takes its maximum",
        'if mode == "max": A[i, h, w, c] = np.max(a_prev_slice) elif mode == "average": ... np.mean(a_prev_slice)',
        P(mistaken_pool_forward, use_mode="max"),
    ),
    Mistake(
        "pool_forward",
        "always average",
        "mode is ignored: every window takes its mean",
        'if mode == "max": A[i, h, w, c] = np.max(a_prev_slice) elif mode == "average": ... np.mean(a_prev_slice)',
        P(mistaken_pool_forward, use_mode="average"),
    ),
    Mistake(
        "create_mask_from_window",
        "first",
        "ties: only the first maximum is marked (argmax)",
        "mask = (x == np.max(x)): True at every position equal to the maximum",
        P(mistaken_mask, variant="first"),
    ),
    Mistake(
        "create_mask_from_window",
        "int",
        "the mask holds 0/1 integers, not booleans",
        "mask = (x == np.max(x)) is already boolean; no astype(int)",
        P(mistaken_mask, variant="int"),
    ),
    Mistake(
        "create_mask_from_window",
        "column",
        "compares with each column's maximum (np.max(x, axis=0))",
        "mask = (x == np.max(x)): the maximum of the whole window",
        P(mistaken_mask, variant="column"),
    ),
    Mistake(
        "create_mask_from_window",
        "row",
        "compares with each row's maximum (np.max(x, axis=1))",
        "mask = (x == np.max(x)): the maximum of the whole window",
        P(mistaken_mask, variant="row"),
    ),
    Mistake(
        "distribute_value",
        "precedence",
        "dz / n_H * n_W divides by n_H and multiplies by n_W",
        DIVIDE_HINT + ": parentheses around n_H * n_W",
        P(mistaken_distribute, variant="precedence"),
    ),
    Mistake(
        "distribute_value",
        "sum",
        "divides by n_H + n_W instead of n_H * n_W",
        DIVIDE_HINT,
        P(mistaken_distribute, variant="sum"),
    ),
    Mistake(
        "distribute_value",
        "floor",
        "integer division // rounds the average down",
        DIVIDE_HINT + " (with /)",
        P(mistaken_distribute, variant="floor"),
    ),
    Mistake(
        "distribute_value",
        "height twice",
        "divides by n_H * n_H: the width is not used (wrong on non-square shapes)",
        DIVIDE_HINT,
        P(mistaken_distribute, variant="height twice"),
    ),
    Mistake(
        "distribute_value",
        "product",
        "multiplies dz by n_H * n_W instead of dividing",
        DIVIDE_HINT,
        P(mistaken_distribute, variant="product"),
    ),
    Mistake(
        "distribute_value",
        "plus dz",
        "adds dz again on top of the average",
        DIVIDE_HINT,
        P(mistaken_distribute, variant="plus dz"),
    ),
    Mistake(
        "distribute_value",
        "number",
        "returns the average as one number, not an array of the shape",
        DIVIDE_HINT,
        P(mistaken_distribute, variant="number"),
    ),
    Mistake(
        "pool_backward",
        "example",
        "A_prev[vert_start:vert_end, horiz_start:horiz_end, c] without the example index i",
        EXAMPLE_HINT,
        P(mistaken_pool_backward, no_example=True),
    ),
    Mistake(
        "pool_backward",
        "assign",
        "'=' instead of '+=': where windows overlap, one window's gradient overwrites the other's",
        POOL_PLUS_HINT,
        P(mistaken_pool_backward, accumulate=False),
    ),
    Mistake(
        "pool_backward",
        "stride",
        "the stride is ignored: the window of output (h, w) starts at row h, not h*stride",
        STRIDE_HINT,
        P(mistaken_pool_backward, step=1),
    ),
    Mistake(
        "pool_backward",
        "dA at start",
        "dA is read at (vert_start, horiz_start) instead of the output position (h, w)",
        "... += mask * dA[i, h, w, c]",
        P(mistaken_pool_backward, dA_at_start=True),
    ),
    Mistake(
        "pool_backward",
        "plus da",
        "average mode adds da again on top of distribute_value(da, shape)",
        "dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += distribute_value(da, shape)",
        P(mistaken_pool_backward, plus_da=True),
    ),
    Mistake(
        "pool_backward",
        "first",
        "ties: only the first maximum of a window gets the gradient",
        "mask = create_mask_from_window(a_prev_slice): every tied maximum gets dA[i, h, w, c]",
        P(mistaken_pool_backward, first=True),
    ),
)
