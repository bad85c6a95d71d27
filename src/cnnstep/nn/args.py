"""The argument checks the layers and the model share: shapes, dtypes, generators, inits, JSON.

Each raises the project's usual ``TypeError`` / ``ValueError`` naming the function, the
argument, what was received and what was expected.
"""

from __future__ import annotations

import math

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep._kernels.checks import positive_int

__all__ = [
    "positive_int",
    "example_shape",
    "float_dtype",
    "generator",
    "init_name",
    "layer_padding",
    "pad_text",
    "jsonable",
    "initial_weights",
    "INITS",
]

INITS = ("he", "glorot")


def example_shape(shape, func: str, name: str = "input_shape", ndim: int | None = None) -> tuple:
    """One example's shape: a tuple of positive integers (of ``ndim`` items when given)."""
    layout = {3: " (n_H, n_W, n_C)", 1: " (n,)"}.get(ndim, "")
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"{func}: {name} must be a tuple of positive integers{layout}, got {_checks.show(shape)}")
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{func}: {name} must have {ndim} item{'s' if ndim > 1 else ''}{layout}, got {tuple(shape)!r}")
    if not all(_checks.is_int(d) and d >= 1 for d in shape):
        raise ValueError(f"{func}: {name} must be a tuple of positive integers{layout}, got {tuple(shape)!r}")
    return tuple(int(d) for d in shape)


def float_dtype(dtype, func: str) -> np.dtype:
    """float32 or float64 (half precision is too coarse to train)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{func}: dtype must be float32 or float64, got {_checks.show(dtype)}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{func}: dtype must be float32 or float64, got {dt}")
    return dt


def generator(rng, func: str) -> np.random.Generator:
    """A ``np.random.Generator``; an int seed is turned into one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if _checks.is_int(rng):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{func}: rng must be a numpy.random.Generator or an int seed, got {_checks.show(rng)}")


def init_name(init, func: str, allow_none: bool = False) -> str | None:
    if init is None and allow_none:
        return None
    if not isinstance(init, str) or init not in INITS:
        expected = '"he" or "glorot"' + (" (or None)" if allow_none else "")
        raise ValueError(f"{func}: init must be {expected}, got {_checks.show(init)}")
    return init


def layer_padding(pad, func: str):
    """``"same"``, ``"valid"`` or ``((top, bottom), (left, right))``."""
    p = _checks.explicit_padding(pad, func, "pad")
    return p if isinstance(p, str) else p.as_pairs()


def pad_text(pad) -> str:
    if isinstance(pad, str):
        return pad
    (top, bottom), (left, right) = pad
    if top == bottom == left == right:
        return f"pad {top}"
    return f"pad {pad}"


def jsonable(value):
    """What JSON holds as it is: tuples (nested) as lists, NumPy values as Python ones, NaN and inf as None.

    A layer's config equals its JSON round trip; metrics files hold no NaN.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def initial_weights(rng: np.random.Generator, shape: tuple, fan_in: int, fan_out: int, init: str, dtype) -> np.ndarray:
    """He normal (std sqrt(2 / fan_in)) or Glorot uniform (limit sqrt(6 / (fan_in + fan_out)))."""
    if init == "he":
        W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    else:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-limit, limit, size=shape)
    return W.astype(dtype)
