"""Input validation and output-size arithmetic shared by every entry point.

Every public function validates its whole input here *before* computing anything, so
that a mistake surfaces as one ``ValueError`` (a wrong value or shape) or ``TypeError``
(a wrong type) whose message names the function, the argument, what was received and
what was expected -- never as an obscure NumPy broadcasting or index error later on.

Hyperparameters are normalised: strides and pooling windows become ``(s_h, s_w)`` /
``(f_h, f_w)`` tuples, and every accepted padding form becomes a :class:`Padding`
``(top, bottom, left, right)``; a call's whole geometry is a :class:`ConvGeometry` or
:class:`PoolGeometry`.

Output sizes use floor division, as PyTorch and Keras 'valid' do::

    n_H = (n_H_prev + pad_top + pad_bottom - f_h) // s_h + 1
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

REAL_KINDS = "iuf"  # signed ints, unsigned ints, floats; never bool, complex, object, str


class Padding(NamedTuple):
    top: int
    bottom: int
    left: int
    right: int

    @property
    def any(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)

    def as_pairs(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return ((self.top, self.bottom), (self.left, self.right))


class ConvGeometry(NamedTuple):
    """Everything a convolution kernel needs to know, already validated."""

    m: int
    n_H_prev: int
    n_W_prev: int
    n_C_prev: int
    f_h: int
    f_w: int
    n_C: int
    s_h: int
    s_w: int
    pad: Padding
    n_H: int
    n_W: int


class PoolGeometry(NamedTuple):
    """Everything a pooling kernel needs to know, already validated."""

    m: int
    n_H_prev: int
    n_W_prev: int
    n_C: int
    f_h: int
    f_w: int
    s_h: int
    s_w: int
    pad: Padding
    n_H: int
    n_W: int


# --------------------------------------------------------------------------- arrays


def show(value) -> str:
    """A short, readable account of a received value for error messages, on one line
    (a command line prints messages as one line on stderr)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = " ".join(repr(value).split())
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def real_array(value, func: str, name: str) -> np.ndarray:
    """Return ``value`` as an ndarray of real numbers, without copying an ndarray.

    Array-likes (lists, NumPy scalars) are accepted; anything whose elements are not
    real numbers -- booleans, complex, objects, strings -- is a ``TypeError``.
    """
    if isinstance(value, np.ndarray):
        arr = value
    elif value is None or isinstance(value, (str, bytes, Mapping)):
        raise TypeError(f"{func}: {name} must be a NumPy array of real numbers, got {show(value)}")
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{func}: {name} must be a NumPy array of real numbers, got {show(value)} "
                f"which NumPy cannot turn into an array ({exc})"
            ) from None
    if arr.dtype.kind not in REAL_KINDS:
        raise TypeError(f"{func}: {name} must hold real numbers (integer or floating dtype), got dtype {arr.dtype}")
    return arr


def ranked_array(value, func: str, name: str, ndim: int, layout: str) -> np.ndarray:
    """A real array of exactly ``ndim`` dimensions; ``layout`` names them for the message."""
    arr = real_array(value, func, name)
    if arr.ndim != ndim:
        raise ValueError(f"{func}: {name} must be a {ndim}-D array {layout}, got shape {arr.shape} ({arr.ndim}-D)")
    return arr


def nonempty_dims(arr: np.ndarray, func: str, name: str, layout: str, skip_first: bool) -> None:
    """Every dimension (but the batch, when ``skip_first``) must be at least 1."""
    dims = arr.shape[1:] if skip_first else arr.shape
    if any(d == 0 for d in dims):
        raise ValueError(
            f"{func}: {name} has an empty dimension: shape {arr.shape}, expected {layout} with every size >= 1"
            + (" (only the batch size m may be 0)" if skip_first else "")
        )


def result_dtype(*arrays) -> np.dtype:
    """The dtype of the outputs: NumPy's promotion of the inputs, integers computed in float64.

    Python numbers count as NumPy 2 counts them (weakly): a float32 slice plus a bias of 0.5
    stays float32.
    """
    dtype = np.result_type(*arrays)
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return dtype


def work_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype arithmetic runs in: half precision is accumulated in float32."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


# --------------------------------------------------------------------------- hyperparameters


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools (which Python counts as ints)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def hparameters_mapping(hparameters, func: str, keys: tuple[str, ...], example: str) -> Mapping:
    if not isinstance(hparameters, Mapping):
        raise TypeError(f"{func}: hparameters must be a dict such as {example}, got {show(hparameters)}")
    for key in keys:
        if key not in hparameters:
            raise ValueError(
                f"{func}: hparameters is missing the key {key!r}: got keys {sorted(map(str, hparameters))}, "
                f"expected a dict such as {example}"
            )
    return hparameters


def positive_pair(value, func: str, what: str) -> tuple[int, int]:
    """An int ``k`` or a pair ``(k_h, k_w)`` of positive integers, as ``(k_h, k_w)``."""
    expected = "a positive integer or a pair (height, width) of them"
    if is_int(value):
        items = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        items = tuple(value)
    elif isinstance(value, (tuple, list)):
        raise ValueError(f"{func}: {what} must be {expected}, got {show(value)} with {len(value)} items")
    else:
        raise TypeError(f"{func}: {what} must be {expected}, got {show(value)}")
    for item in items:
        if not is_int(item):
            raise TypeError(f"{func}: {what} must be {expected}, got {show(value)}")
        if item < 1:
            raise ValueError(f"{func}: {what} must be {expected}, got {value!r}")
    return int(items[0]), int(items[1])


def _pad_amount(item, func: str, what: str, received) -> int:
    if not is_int(item):
        raise TypeError(f"{func}: {what} must be made of non-negative integers, got {show(received)}")
    if item < 0:
        raise ValueError(f"{func}: {what} must not be negative, got {received!r}")
    return int(item)


PAD_FORMS = "an int p >= 0, (p_h, p_w), ((top, bottom), (left, right)), 'valid' or 'same'"


def explicit_padding(value, func: str, what: str, allow_words: bool = True) -> Padding | str:
    """Parse a padding into :class:`Padding`, or return ``'same'`` / ``'valid'`` for later resolution."""
    forms = PAD_FORMS if allow_words else PAD_FORMS.replace(", 'valid' or 'same'", "")
    if isinstance(value, str):
        word = value.lower()
        if allow_words and word in ("same", "valid"):
            return word
        raise ValueError(f"{func}: {what} must be {forms}, got the unknown form {value!r}")
    if is_int(value):
        p = _pad_amount(value, func, what, value)
        return Padding(p, p, p, p)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        first, second = value
        if isinstance(first, (tuple, list)) and isinstance(second, (tuple, list)):
            if len(first) != 2 or len(second) != 2:
                raise ValueError(f"{func}: {what} must be {forms}, got {value!r}")
            top, bottom = (_pad_amount(v, func, what, value) for v in first)
            left, right = (_pad_amount(v, func, what, value) for v in second)
            return Padding(top, bottom, left, right)
        if isinstance(first, (tuple, list)) or isinstance(second, (tuple, list)):
            raise ValueError(f"{func}: {what} must be {forms}, got the mixed form {value!r}")
        p_h = _pad_amount(first, func, what, value)
        p_w = _pad_amount(second, func, what, value)
        return Padding(p_h, p_h, p_w, p_w)
    if isinstance(value, (tuple, list)):
        raise ValueError(f"{func}: {what} must be {forms}, got {value!r} with {len(value)} items")
    raise TypeError(f"{func}: {what} must be {forms}, got {show(value)}")


def same_padding(n_prev: int, f: int, s: int) -> tuple[int, int]:
    """TensorFlow/Keras 'same': output ceil(n_prev / s), the odd extra pixel at the end."""
    n_out = -(-n_prev // s)
    total = max((n_out - 1) * s + f - n_prev, 0)
    return total // 2, total - total // 2


def resolve_padding(pad, n_H_prev: int, n_W_prev: int, f_h: int, f_w: int, s_h: int, s_w: int) -> Padding:
    if pad == "valid":
        return Padding(0, 0, 0, 0)
    if pad == "same":
        top, bottom = same_padding(n_H_prev, f_h, s_h)
        left, right = same_padding(n_W_prev, f_w, s_w)
        return Padding(top, bottom, left, right)
    return pad


def output_size(n_prev: int, before: int, after: int, f: int, s: int) -> int:
    """Floor arithmetic: ``(n_prev + before + after - f) // s + 1``."""
    return (n_prev + before + after - f) // s + 1


def window_fits(func: str, what: str, n_H_prev, n_W_prev, pad: Padding, f_h, f_w, layout: str) -> None:
    padded_h = n_H_prev + pad.top + pad.bottom
    padded_w = n_W_prev + pad.left + pad.right
    if f_h > padded_h or f_w > padded_w:
        raise ValueError(
            f"{func}: window larger than the padded input: {what} is {f_h}x{f_w} but the padded input is "
            f"{padded_h}x{padded_w} ({layout} {n_H_prev}x{n_W_prev}, padding top/bottom "
            f"{pad.top}/{pad.bottom}, left/right {pad.left}/{pad.right})"
        )


# --------------------------------------------------------------------------- whole calls

CONV_EXAMPLE = '{"stride": 1, "pad": 0}'
POOL_EXAMPLE = '{"f": 2, "stride": 2}'
A_LAYOUT = "(m, n_H_prev, n_W_prev, n_C_prev)"
W_LAYOUT = "(f_h, f_w, n_C_prev, n_C)"


def conv_geometry(A_shape: tuple, W_shape: tuple, hparameters, func: str) -> ConvGeometry:
    """The shape rule of a convolution: shapes and hyperparameters in, the geometry out.

    ``A_shape`` is (m, n_H_prev, n_W_prev, n_C_prev) and ``W_shape`` (f_h, f_w, n_C_prev, n_C);
    ``m`` may be 0 (a layer asking for one example's output shape). Raises the same errors
    ``conv_forward`` does for these shapes and hyperparameters.
    """
    m, n_H_prev, n_W_prev, n_C_prev = A_shape
    f_h, f_w, w_C_prev, n_C = W_shape
    if w_C_prev != n_C_prev:
        raise ValueError(
            f"{func}: channel mismatch: A_prev has n_C_prev={n_C_prev} but W.shape={tuple(W_shape)} expects {w_C_prev}"
        )
    hp = hparameters_mapping(hparameters, func, ("stride", "pad"), CONV_EXAMPLE)
    s_h, s_w = positive_pair(hp["stride"], func, 'hparameters["stride"]')
    pad = explicit_padding(hp["pad"], func, 'hparameters["pad"]')
    pad = resolve_padding(pad, n_H_prev, n_W_prev, f_h, f_w, s_h, s_w)
    window_fits(func, f"W ({W_LAYOUT} = {tuple(W_shape)})", n_H_prev, n_W_prev, pad, f_h, f_w, "A_prev")
    n_H = output_size(n_H_prev, pad.top, pad.bottom, f_h, s_h)
    n_W = output_size(n_W_prev, pad.left, pad.right, f_w, s_w)
    return ConvGeometry(m, n_H_prev, n_W_prev, n_C_prev, f_h, f_w, n_C, s_h, s_w, pad, n_H, n_W)


def conv_call(A_prev, W, b, hparameters, func: str):
    """Validate a ``conv_forward`` call; return the arrays and the :class:`ConvGeometry`."""
    A_prev = ranked_array(A_prev, func, "A_prev", 4, A_LAYOUT)
    W = ranked_array(W, func, "W", 4, W_LAYOUT)
    b = real_array(b, func, "b")
    nonempty_dims(A_prev, func, "A_prev", A_LAYOUT, skip_first=True)
    nonempty_dims(W, func, "W", W_LAYOUT, skip_first=False)
    if W.shape[2] == A_prev.shape[3] and b.shape != (1, 1, 1, W.shape[3]):
        n_C = W.shape[3]
        raise ValueError(
            f"{func}: b must have shape (1, 1, 1, n_C) = {(1, 1, 1, n_C)} for W.shape={W.shape}, got shape {b.shape}"
        )
    return A_prev, W, b, conv_geometry(A_prev.shape, W.shape, hparameters, func)


def pool_geometry(A_shape: tuple, hparameters, mode, func: str) -> PoolGeometry:
    """The shape rule of pooling: a shape and hyperparameters in, the geometry out (``m`` may be 0)."""
    pool_mode(mode, func)
    hp = hparameters_mapping(hparameters, func, ("f", "stride"), POOL_EXAMPLE)
    f_h, f_w = positive_pair(hp["f"], func, 'hparameters["f"]')
    s_h, s_w = positive_pair(hp["stride"], func, 'hparameters["stride"]')
    m, n_H_prev, n_W_prev, n_C = A_shape
    pad = explicit_padding(hp.get("pad", 0), func, 'hparameters["pad"]')
    pad = resolve_padding(pad, n_H_prev, n_W_prev, f_h, f_w, s_h, s_w)
    if max(pad.top, pad.bottom) >= f_h or max(pad.left, pad.right) >= f_w:
        raise ValueError(
            f"{func}: pooling padding must be smaller than the window on every side so that each window "
            f"holds a real cell: got padding top/bottom {pad.top}/{pad.bottom}, left/right "
            f"{pad.left}/{pad.right} for a {f_h}x{f_w} window"
        )
    window_fits(func, 'the window hparameters["f"]', n_H_prev, n_W_prev, pad, f_h, f_w, "A_prev")
    n_H = output_size(n_H_prev, pad.top, pad.bottom, f_h, s_h)
    n_W = output_size(n_W_prev, pad.left, pad.right, f_w, s_w)
    return PoolGeometry(m, n_H_prev, n_W_prev, n_C, f_h, f_w, s_h, s_w, pad, n_H, n_W)


def pool_call(A_prev, hparameters, mode, func: str):
    """Validate a ``pool_forward`` call; return the array and the :class:`PoolGeometry`."""
    A_prev = ranked_array(A_prev, func, "A_prev", 4, A_LAYOUT)
    nonempty_dims(A_prev, func, "A_prev", A_LAYOUT, skip_first=True)
    return A_prev, pool_geometry(A_prev.shape, hparameters, mode, func)


def pool_mode(mode, func: str) -> str:
    if not isinstance(mode, str):
        raise TypeError(f'{func}: mode must be "max" or "average", got {show(mode)}')
    if mode not in ("max", "average"):
        raise ValueError(f'{func}: unknown mode {mode!r}, expected "max" or "average"')
    return mode


def tie_rule(ties, func: str) -> str:
    if not isinstance(ties, str):
        raise TypeError(f'{func}: ties must be "all" or "first", got {show(ties)}')
    if ties not in ("all", "first"):
        raise ValueError(
            f'{func}: unknown ties rule {ties!r}, expected "all" (every tied maximum) '
            f'or "first" (the first in row-major window order)'
        )
    return ties


def unpack_cache(cache, func: str, length: int, layout: str, forward: str) -> tuple:
    expected = f"the {layout} tuple returned by {forward}"
    if not isinstance(cache, (tuple, list)):
        raise TypeError(f"{func}: cache must be {expected}, got {show(cache)}")
    if len(cache) != length:
        raise ValueError(f"{func}: cache must be {expected}, got a {type(cache).__name__} of {len(cache)} items")
    return tuple(cache)


def gradient_shape(grad, func: str, name: str, expected: tuple, source: str) -> np.ndarray:
    grad = real_array(grad, func, name)
    if grad.shape != tuple(expected):
        raise ValueError(
            f"{func}: {name} must have shape {tuple(expected)} (implied by {source}), got shape {grad.shape}"
        )
    return grad


class BackwardCall(NamedTuple):
    """A validated backward call: the upstream gradient and the forward's inputs, cast to the
    working dtype, the geometry, and the dtype the results are returned in."""

    grad: np.ndarray
    inputs: tuple
    geometry: object
    out_dtype: np.dtype
    work_dtype: np.dtype


def conv_backward_call(dZ, cache, func: str) -> BackwardCall:
    """Validate ``conv_backward(dZ, cache)``; inputs are (A_prev, W, b) in the working dtype."""
    A_prev, W, b, hparameters = unpack_cache(cache, func, 4, "(A_prev, W, b, hparameters)", "conv_forward")
    A, Wt, bt, g = conv_call(A_prev, W, b, hparameters, func)
    dZ = gradient_shape(dZ, func, "dZ", (g.m, g.n_H, g.n_W, g.n_C), "the cache: Z's shape")
    out_dtype = result_dtype(dZ, A, Wt, bt)
    work = work_dtype(out_dtype)
    cast = tuple(x.astype(work, copy=False) for x in (A, Wt, bt))
    return BackwardCall(dZ.astype(work, copy=False), cast, g, out_dtype, work)


def pool_backward_call(dA, cache, mode, ties, func: str) -> BackwardCall:
    """Validate ``pool_backward(dA, cache, mode, ties)``; inputs are (A_prev,) in the working dtype."""
    A_prev, hparameters = unpack_cache(cache, func, 2, "(A_prev, hparameters)", "pool_forward")
    A_in, g = pool_call(A_prev, hparameters, mode, func)
    tie_rule(ties, func)
    dA = gradient_shape(dA, func, "dA", (g.m, g.n_H, g.n_W, g.n_C), "the cache: A's shape")
    out_dtype = result_dtype(dA, A_in)
    work = work_dtype(out_dtype)
    return BackwardCall(dA.astype(work, copy=False), (A_in.astype(work, copy=False),), g, out_dtype, work)


def positive_int(value, func: str, name: str) -> int:
    """A positive integer (not a bool, not a float), as a Python int."""
    if not is_int(value):
        raise TypeError(f"{func}: {name} must be a positive integer, got {show(value)}")
    if value < 1:
        raise ValueError(f"{func}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _who(func: str, name: str) -> str:
    """``func: name``, or the name alone where ``func`` is empty (a command-line flag says it all)."""
    return f"{func}: {name}" if func else name


def positive_number(value, func: str, name: str, unit: str = "") -> float:
    """A real, finite number > 0 (not a bool), as a Python float."""
    who = _who(func, name)
    expected = f"a positive number{unit}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who} must be {expected}, got {show(value)}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{who} must be {expected}, got {value!r}")
    return float(value)


def fraction(value, func: str, name: str) -> float:
    """A number strictly between 0 and 1 (a share of the data)."""
    who = _who(func, name)
    expected = "a number strictly between 0 and 1, e.g. 0.2"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who} must be {expected}, got {show(value)}")
    if not 0 < value < 1:
        raise ValueError(f"{who} must be {expected}, got {value!r}")
    return float(value)


def seed(value, func: str) -> int:
    """A non-negative integer seed."""
    if not is_int(value):
        raise TypeError(f"{func}: seed must be a non-negative integer, got {show(value)}")
    if value < 0:
        raise ValueError(f"{func}: seed must be a non-negative integer, got {value!r}")
    return int(value)
