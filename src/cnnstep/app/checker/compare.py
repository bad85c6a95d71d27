"""Expected against got: one output of one case, to a tolerance derived from the sum behind it.

A float64 sum of ``n`` terms computed in another order differs by at most about
``n * eps`` times the size of its terms; :func:`tolerance` allows ``16 * n * eps``
relative to the larger of the expected values' magnitude and 1. A learner's loops and the
reference agree far inside that, and every mistake the checker knows misses it by orders of
magnitude.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from cnnstep.app.checker.runner import Opaque

__all__ = ["Mismatch", "tolerance", "compare", "summarize_value", "same"]

EPS = float(np.finfo(np.float64).eps)


def tolerance(n_terms: int) -> float:
    """The relative bound for a value that is a float64 sum of ``n_terms`` terms."""
    return 16.0 * max(int(n_terms), 1) * EPS


@dataclass(frozen=True)
class Mismatch:
    """How one output differs: ``kind`` is "type", "shape", "dtype" or "value"."""

    output: str
    kind: str
    text: str
    index: tuple | None = None
    expected: object = None
    got: object = None
    count: int = 0
    total: int = 0


def summarize_value(value) -> str:
    """A short account of a value, for a sentence."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text[:60]})"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{value!r} ({type(value).__name__})"


def _number(value) -> bool:
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_))


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return f"{float(value):.8g}" if _number(value) else repr(value)


def _compare_arrays(name, expected: np.ndarray, got, n_terms) -> Mismatch | None:
    if not isinstance(got, np.ndarray):
        if got is None:
            return Mismatch(name, "type", f"{name} is None: a missing return statement?")
        return Mismatch(
            name, "type", f"{name} is {summarize_value(got)}; expected a NumPy array of shape {expected.shape}"
        )
    if got.shape != expected.shape:
        return Mismatch(name, "shape", f"{name} has shape {got.shape}; expected {expected.shape}")
    if expected.dtype == bool:
        if got.dtype != bool:
            if got.dtype.kind in "iuf" and np.array_equal(got, expected):
                return Mismatch(name, "dtype", f"{name} holds {got.dtype} 0/1 values; expected booleans (True/False)")
            if got.dtype.kind not in "iufb":
                return Mismatch(name, "type", f"{name} has dtype {got.dtype}; expected booleans")
        differ = np.asarray(got != expected)
    else:
        if got.dtype.kind not in "iufb":
            return Mismatch(name, "type", f"{name} has dtype {got.dtype}; expected real numbers")
        g = got.astype(np.float64)
        e = expected.astype(np.float64)
        scale = max(float(np.max(np.abs(e), initial=0.0)), 1.0)
        with np.errstate(invalid="ignore"):
            differ = ~(np.abs(g - e) <= tolerance(n_terms) * scale)
        differ &= ~(np.isnan(g) & np.isnan(e))
    if not differ.any():
        return None
    index = tuple(int(i) for i in np.argwhere(differ)[0])
    count, total = int(differ.sum()), int(differ.size)
    text = (
        f"{name}{list(index) if index else ''}: expected {_fmt(expected[index])}, got {_fmt(got[index])} "
        f"({count} of {total} values differ)"
    )
    return Mismatch(name, "value", text, index, expected[index], got[index], count, total)


def compare(name: str, expected, got, n_terms: int = 1, published=None) -> Mismatch | None:
    """None when ``got`` is ``expected`` to the tolerance; else how it differs.

    ``published`` (an exercise cell's printed value) is quoted beside the reference's.
    """
    mismatch = _compare(name, expected, got, n_terms)
    if mismatch is not None and published is not None and mismatch.kind == "value":
        return Mismatch(
            mismatch.output,
            mismatch.kind,
            f"{mismatch.text}; the notebook's Expected Output: {_short(published)}",
            mismatch.index,
            mismatch.expected,
            mismatch.got,
            mismatch.count,
            mismatch.total,
        )
    return mismatch


def _short(value) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _compare(name, expected, got, n_terms):
    if isinstance(expected, np.ndarray):
        return _compare_arrays(name, expected, got, n_terms)
    if isinstance(expected, tuple):  # a shape
        if got != expected:
            return Mismatch(name, "value", f"{name} is {summarize_value(got)}; expected {expected}")
        return None
    if _number(expected):
        if isinstance(got, np.ndarray):
            if got.ndim == 0:
                got = got[()]
            else:
                return Mismatch(
                    name, "type", f"{name} is {summarize_value(got)}; expected a number (one np.float64, not an array)"
                )
        if got is None:
            return Mismatch(name, "type", f"{name} is None: a missing return statement?")
        if not _number(got):
            return Mismatch(name, "type", f"{name} is {summarize_value(got)}; expected a number")
        scale = max(abs(float(expected)), 1.0)
        if not abs(float(got) - float(expected)) <= tolerance(n_terms) * scale:
            return Mismatch(
                name, "value", f"{name}: expected {_fmt(expected)}, got {_fmt(got)}", None, expected, got, 1, 1
            )
        return None
    if not same(expected, got):
        return Mismatch(name, "value", f"{name} is {summarize_value(got)}; expected {summarize_value(expected)}")
    return None


def same(a, b) -> bool:
    """Equal as values (arrays of one shape and dtype kind, to float64 rounding), for matching
    a learner's output with a known mistake's."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        if (a.dtype == bool) != (b.dtype == bool):
            return False
        if a.dtype.kind not in "iufb" or b.dtype.kind not in "iufb":
            return False
        return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=False))
    if _number(a) and _number(b):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-12, equal_nan=True))
    return type(a) is type(b) and a == b
