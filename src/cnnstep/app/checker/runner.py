"""One case, run: the inputs drawn, the function called, its outcome turned into plain data.

:func:`run_case` is what the sandbox's child does for each case of a learner's function,
and what the parent does with the reference (the expected outcome) and with each known
mistake (the diagnosis): one code path, so that the three are compared like for like.
An outcome holds the outputs (arrays, numbers and containers of them, anything else as
an :class:`Opaque`), the exception as data (type, message, the frames in the learner's
own code), the inputs that were modified, whether a returned cache holds the very objects
passed in, and the warnings raised.
"""

from __future__ import annotations

import copy
import time
import traceback
from dataclasses import dataclass

__all__ = ["Opaque", "LineCounter", "run_case", "error_data"]


@dataclass(frozen=True)
class Opaque:
    """A value of the learner's that is neither an array, a number nor a container of those."""

    type_name: str
    text: str

    def __repr__(self) -> str:
        return self.text


class LineCounter:
    """A stand-in for sys.stdout/sys.stderr that counts lines and keeps nothing."""

    def __init__(self):
        self.lines = 0

    def write(self, text):
        self.lines += str(text).count("\n")
        return len(str(text))

    def flush(self):
        pass

    def isatty(self):
        return False


def _portable(value, depth=0):
    """The value as plain data that pickles: arrays, numbers, None, tuples/lists/dicts of those."""
    import numpy as np

    if depth > 6:
        return Opaque(type(value).__name__, "...")
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return Opaque("ndarray", f"an array of Python objects, shape {value.shape}")
        return np.array(value, copy=True)
    if value is None or isinstance(value, (bool, int, float, complex, str, np.generic)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_portable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {k: _portable(v, depth + 1) for k, v in value.items() if isinstance(k, (str, int))}
    text = " ".join(repr(value).split())
    return Opaque(type(value).__name__, text[:200])


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def error_data(exc: BaseException, labels: dict) -> dict:
    frames = []
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        label = frame.f_code.co_filename
        if label in labels:
            lines = labels[label]
            text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
            frames.append((label, lineno, frame.f_code.co_name, text))
    message = str(exc) if not isinstance(exc, SystemExit) else f"exit code {exc.code!r}"
    return {"type": type(exc).__name__, "message": " ".join(message.split())[:500], "frames": frames}


def run_case(ns_base: dict, case, labels: dict, counter: LineCounter) -> dict:
    import warnings

    ns = dict(ns_base)
    exec(compile(case.setup, f"<case {case.id}>", "exec"), ns)
    snapshot = {name: copy.deepcopy(ns[name]) for name in case.inputs}
    outcome = {"outputs": None, "error": None, "modified": [], "cache": None, "warnings": [], "returned": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        try:
            exec(compile(case.code, f"<case {case.id}>", "exec"), ns)
            values = tuple(eval(expression, ns) for expression in case.outputs)
            result = ns.get("result")
        except BaseException as exc:  # the learner's exceptions are data, SystemExit included
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome["error"] = error_data(exc, labels)
        outcome["seconds"] = time.perf_counter() - started
    outcome["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})[:3]
    outcome["modified"] = [name for name in case.inputs if not _same(ns[name], snapshot[name])]
    if outcome["error"] is not None:
        return outcome
    n = len(case.returns)
    if n == 0:  # an exercise cell: the values of its printed expressions
        outcome["outputs"] = _portable(values)
        return outcome
    if n > 1 and not (isinstance(result, (tuple, list)) and len(result) == n):
        outcome["returned"] = _portable(result)
        return outcome
    outputs = tuple(result) if n > 1 else (result,)
    if case.cache_of:
        cache = outputs[-1]
        if isinstance(cache, (tuple, list)) and len(cache) == len(case.cache_of):
            same = [item is ns[name] for item, name in zip(cache, case.cache_of, strict=False)]
            outcome["cache"] = {"kind": type(cache).__name__, "length": len(cache), "same": same}
        else:
            outcome["cache"] = {
                "kind": type(cache).__name__,
                "length": len(cache) if hasattr(cache, "__len__") else None,
            }
        outputs = outputs[:-1]
    outcome["outputs"] = _portable(outputs)
    return outcome
