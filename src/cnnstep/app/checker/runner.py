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

__all__ = ["Opaque", "LineCounter", "run_case", "error_data", "frame_lines", "innermost"]


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


_PLAIN_KINDS = "biufcUS"  # booleans, integers, floats, complex numbers, text, bytes


def _text(value) -> str:
    """A str of exactly the built-in type, whatever subclass of str ``value`` is."""
    return str.__str__(value) if isinstance(value, str) else " ".join(repr(value).split())


def _opaque(value, text=None) -> Opaque:
    if text is None:
        try:
            text = " ".join(repr(value).split())
        except Exception:  # a repr that raises is still described
            text = f"a {type(value).__name__} whose repr fails"
    return Opaque(_text(type(value).__name__), _text(text)[:200])


def _plain_number(value):
    """``value`` as an instance of exactly bool, int, float, complex, str, bytes or a NumPy scalar
    type; None when it is none of those. The base types' own methods do the conversion, so that
    a subclass's overrides (``__reduce__``, ``__float__``, ...) never reach the result."""
    import numpy as np

    if isinstance(value, np.generic):
        dtype = np.generic.dtype.__get__(value)  # the scalar's own, not a subclass's attribute
        if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None:
            return None
        plain = np.dtype(dtype.str)
        number = np.array(np.asarray(value), dtype=plain, copy=True, subok=False)[()]
        return number if type(number) is plain.type else None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, complex):
        return complex(complex.real.__get__(value), complex.imag.__get__(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes(memoryview(value))
    return None


def _portable(value, depth=0):
    """The value as plain data that pickles and unpickles without running anything of the learner's:
    plain ndarrays of plain dtypes, numbers and strings of exactly the built-in types, NumPy scalars,
    None, and exact tuples, lists and dicts of those; anything else as an :class:`Opaque`."""
    import numpy as np

    if depth > 6:
        return _opaque(value, "...")
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        dtype = np.ndarray.dtype.__get__(value)  # the array's own, not a subclass's attribute
        shape = tuple(int(n) for n in np.ndarray.shape.__get__(value))
        if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            kind = "Python objects" if dtype.kind == "O" else f"dtype {_text(str(dtype))}"
            return _opaque(value, f"an array of {kind}, shape {shape}")
        plain = np.array(np.ndarray.view(value, np.ndarray), dtype=np.dtype(dtype.str), copy=True)
        return plain if type(plain) is np.ndarray else _opaque(value)
    number = _plain_number(value)
    if number is not None:
        return number
    if isinstance(value, tuple):
        return tuple(_portable(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [_portable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = _plain_number(k) if isinstance(k, (str, int)) else None
            if key is not None:
                out[key] = _portable(v, depth + 1)
        return out
    return _opaque(value)


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


REPEATS_SHOWN = 3  # a frame repeated more times than this is shown this often, then counted
FRAMES_KEPT = 5  # at each end of a traceback longer than twice this


def _shorten(frames: list) -> list:
    """Runs of one frame (a recursion) shown :data:`REPEATS_SHOWN` times and then counted as a
    ``(None, n, "repeated", "")`` entry; of a traceback still longer than ``2 * FRAMES_KEPT``, the
    first and last :data:`FRAMES_KEPT` entries around a ``(None, n, "left out", "")`` entry."""
    runs = []
    for frame in frames:
        if runs and runs[-1][0] == frame:
            runs[-1][1] += 1
        else:
            runs.append([frame, 1])
    entries = []  # (entry, how many frames it stands for)
    for frame, count in runs:
        entries += [(frame, 1)] * min(count, REPEATS_SHOWN)
        if count > REPEATS_SHOWN:
            entries.append(((None, count - REPEATS_SHOWN, "repeated", ""), count - REPEATS_SHOWN))
    if len(entries) > 2 * FRAMES_KEPT:
        middle = sum(n for _, n in entries[FRAMES_KEPT:-FRAMES_KEPT])
        entries = [*entries[:FRAMES_KEPT], ((None, middle, "left out", ""), middle), *entries[-FRAMES_KEPT:]]
    return [entry for entry, _ in entries]


def frame_lines(frames: list) -> list:
    """The frames of :func:`error_data` as lines: 'file, line N, in f: code', and the counts."""
    lines = []
    for label, n, func, text in frames:
        if label is None:
            many = "time" if n == 1 else "times"
            lines.append(
                f"... the previous line repeated {n} more {many}"
                if func == "repeated"
                else f"... {n} more frame{'s' if n != 1 else ''} left out"
            )
        else:
            lines.append(f"{label}, line {n}, in {func}: {text}")
    return lines


def innermost(error: dict):
    """The learner's innermost frame (label, lineno, function, code) of an error, or None."""
    frames = [frame for frame in error.get("frames") or () if frame[0] is not None]
    return frames[-1] if frames else None


def error_data(exc: BaseException, labels: dict) -> dict:
    """An exception as plain data: its type's name, its message, the frames in the learner's code
    (shortened by :func:`_shorten`: a recursion is a few frames and a count)."""
    frames = []
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        label = frame.f_code.co_filename
        if label in labels:
            lines = labels[label]
            text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
            frames.append((_text(label), int(lineno), _text(frame.f_code.co_name), _text(text)))
    try:
        message = str(exc) if not isinstance(exc, SystemExit) else f"exit code {exc.code!r}"
    except Exception:  # an exception whose str fails is still reported
        message = "(its message cannot be shown)"
    return {
        "type": _text(type(exc).__name__),
        "message": " ".join(_text(message).split())[:500],
        "frames": _shorten(frames),
    }


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
            outcome["cache"] = {"kind": _text(type(cache).__name__), "length": len(cache), "same": same}
        else:
            outcome["cache"] = {
                "kind": _text(type(cache).__name__),
                "length": int(len(cache)) if hasattr(cache, "__len__") else None,
            }
        outputs = outputs[:-1]
    outcome["outputs"] = _portable(outputs)
    return outcome
