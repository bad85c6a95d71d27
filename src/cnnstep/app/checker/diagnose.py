"""From outcomes to a diagnosis: which cases fail, what they depend on, which mistake it is.

For each case the learner's outcome is judged against the reference's (:func:`judge`).
For a function that fails, :func:`diagnose` then

- finds what the failures depend on, one factor at a time: a factor explains them when
  the cases that share its value all pass or all fail (passes at stride 1, fails at 2 → the
  stride; fails only with pad 0; only with overlapping windows; only with ties; ...);
- runs every known mistake of :mod:`~cnnstep.app.checker.catalogue` on the same cases and
  names the one that reproduces the learner's outputs and errors on every case;
- reads the signatures no written-out mistake needs: every example given the same output,
  a cache that does not hold the objects passed in, an input modified, a known exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from cnnstep import reference
from cnnstep.app.checker import cases as case_module
from cnnstep.app.checker.catalogue import CATALOGUE
from cnnstep.app.checker.compare import compare, same, summarize_value
from cnnstep.app.checker.runner import innermost
from cnnstep.app.exercise import FUNCTIONS

__all__ = ["CaseResult", "judge", "diagnose", "exception_hint"]

FACTOR_ORDER = ("pad", "stride", "overlap", "ties", "m", "mode", "shape", "f")


@dataclass
class CaseResult:
    """One case's verdict: ``status`` is "pass", "fail" or "error"."""

    case: object
    status: str
    problem: str | None = None
    mismatch: object = None
    error: dict | None = None
    outcome: dict = field(default_factory=dict)


def _cache_problem(case, cache) -> str | None:
    if not case.cache_of:
        return None
    expected = f"({', '.join(case.cache_of)})"
    if cache is None or cache.get("length") != len(case.cache_of):
        return f"the cache is a {cache['kind'] if cache else 'missing value'}; expected the tuple {expected}"
    for name, is_same in zip(case.cache_of, cache["same"], strict=True):
        if not is_same:
            return f"the cache does not hold the {name} passed in (it must be {expected}, the very objects)"
    return None


def judge(case, outcome: dict | None, expected: dict) -> CaseResult:
    """The learner's outcome on one case against the reference's."""
    if outcome is None:
        return CaseResult(case, "error", "not run (the function stopped earlier)")
    if outcome.get("error"):
        err = outcome["error"]
        return CaseResult(case, "error", f"raises {err['type']}: {err['message']}", error=err, outcome=outcome)
    if outcome.get("returned") is not None or outcome.get("outputs") is None:
        wanted = f"a tuple ({', '.join(case.returns)})"
        returned = outcome.get("returned")
        if returned is None:
            return CaseResult(
                case, "fail", f"returns None; expected {wanted}: a missing return statement?", outcome=outcome
            )
        return CaseResult(case, "fail", f"returns {summarize_value(returned)}; expected {wanted}", outcome=outcome)
    names = case.outputs if case.is_cell else case.returns[: len(expected["outputs"])]
    published = case.published or (None,) * len(names)
    for name, exp, got, pub in zip(names, expected["outputs"], outcome["outputs"], published, strict=False):
        mismatch = compare(name, exp, got, case.n_terms, pub if not isinstance(pub, tuple) else None)
        if mismatch is not None:
            return CaseResult(case, "fail", mismatch.text, mismatch=mismatch, outcome=outcome)
    problem = _cache_problem(case, outcome.get("cache"))
    if problem:
        return CaseResult(case, "fail", problem, outcome=outcome)
    if outcome.get("modified"):
        return CaseResult(case, "fail", f"modifies its input {', '.join(outcome['modified'])}", outcome=outcome)
    return CaseResult(case, "pass", outcome=outcome)


# --------------------------------------------------------------------------- what it depends on


def _values(values) -> str:
    values = sorted(values, key=str)
    text = [str(v) for v in values]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def depends_on(results: list) -> str | None:
    """The one factor the failures follow, as a sentence; None when none does."""
    seeded = [r for r in results if not r.case.is_cell]
    for factor in FACTOR_ORDER:
        groups = {}
        for r in seeded:
            if factor in r.case.factors:
                groups.setdefault(r.case.factors[factor], set()).add(r.status == "pass")
        if len(groups) < 2 or any(len(s) > 1 for s in groups.values()):
            continue
        passing = [v for v, s in groups.items() if True in s]
        failing = [v for v, s in groups.items() if False in s]
        if not passing or not failing:
            continue
        return _sentence(factor, passing, failing)
    return None


def _sentence(factor, passing, failing) -> str:
    if factor == "pad" and failing == [0]:
        return "fails only with pad 0"
    if factor == "overlap":
        return "fails only where windows overlap (f > stride)" if failing == [True] else "fails only where windows tile"
    if factor == "ties":
        return "fails only when a window holds its maximum more than once (ties)" if failing == [True] else None
    if factor == "m" and min(failing) > max(passing):
        return "fails only with more than one example (m > 1)"
    if factor == "mode":
        return f"fails only in mode {_values(failing)!r}".replace("'", '"')
    if factor == "shape":
        return f"fails only on {_values(failing)} inputs"
    word = {"stride": "stride", "pad": "pad", "m": "m", "f": "window size f"}[factor]
    return f"passes at {word} {_values(passing)}, fails at {word} {_values(failing)}"


# --------------------------------------------------------------------------- signatures


def _same_every_example(results) -> bool:
    """Every example gets one output while the reference's differ: the example index is unused."""
    seen = False
    for r in results:
        if r.status != "fail" or r.case.factors.get("m", 1) < 2 or r.mismatch is None or r.mismatch.kind != "value":
            continue
        got = r.outcome["outputs"][0]
        exp = case_module.expected(r.case.id)["outputs"][0]
        if not (isinstance(got, np.ndarray) and got.ndim == 4 and got.shape == exp.shape):
            return False
        if not all(np.allclose(got[i], got[0]) for i in range(len(got))) or np.allclose(exp[1], exp[0]):
            return False
        seen = True
    return seen


EXCEPTION_HINTS = (
    (
        r"only (0-dimensional|length-1|size-1) arrays can be converted",
        "float() of an array with dimensions, e.g. float(b) on b of shape (1, 1, 1): NumPy 2 refuses it; "
        "take the number with b.item() (or float(np.squeeze(b)))",
    ),
    (r"could not broadcast input array from shape \((0, ?)+", "an empty slice: [pad:-pad] is empty when pad is 0"),
    (r"cannot unpack non-iterable|not enough values to unpack|too many values to unpack", "a return value "
     "of the wrong form: the exercise's functions return (Z, cache), (A, cache) and (dA_prev, dW, db)"),
    (r"name '(\w+)' is not defined", "only your imports and function definitions are run: define or import "
     "{0} in your code, not in a test cell"),
    (r"out of bounds", "an index past the end of an array: check the loop ranges (n_H, n_W) and the window's start"),
    (r"network access is refused", "the checker runs your code without network access"),
)  # fmt: skip


def exception_hint(error: dict) -> str | None:
    if error["type"] == "MemoryError":
        return "your code ran out of the memory the checker allows it"
    if error["type"] == "SystemExit":
        return "your code calls sys.exit() or exit(): return a value instead"
    for pattern, hint in EXCEPTION_HINTS:
        match = re.search(pattern, error["message"])
        if match:
            return hint.format(*match.groups())
    helper = error["message"].split(":", 1)[0]
    if helper in FUNCTIONS:
        return f"the call to {helper} (checked with cnnstep.reference.{helper}) has wrong arguments"
    return None


def where(error: dict) -> str:
    """The learner's innermost frame, as 'file, line N, in f: code'."""
    frame = innermost(error)
    if frame is None:
        return ""
    label, lineno, func, text = frame
    return f"{label}, line {lineno}, in {func}: {text}"


# --------------------------------------------------------------------------- known mistakes


def _agrees(mistake, results) -> bool:
    ns_base = {"np": np, **{name: getattr(reference, name) for name in FUNCTIONS}}
    from cnnstep.app.checker.runner import LineCounter, run_case

    ns_base[mistake.function] = mistake.impl
    failing = 0
    for r in results:
        with np.errstate(all="ignore"):
            theirs = run_case(ns_base, r.case, {}, LineCounter())
        mine = judge(r.case, theirs, case_module.expected(r.case.id))
        if (mine.status == "pass") != (r.status == "pass"):
            return False
        if r.status == "pass":
            continue
        failing += 1
        if r.status == "error":
            if mine.status != "error" or mine.error["type"] != r.error["type"]:
                return False
            if mine.error["message"] != r.error["message"]:
                return False
        elif mine.status == "error" or not same(theirs.get("outputs"), r.outcome.get("outputs")):
            return False
        elif theirs.get("cache") != r.outcome.get("cache"):
            return False
    return failing > 0


def known_mistake(function: str, results: list):
    """The catalogue's mistake that reproduces every outcome, or None."""
    for mistake in CATALOGUE:
        if mistake.function == function and _agrees(mistake, results):
            return mistake
    return None


def diagnose(function: str, results: list) -> str:
    """One sentence: what is wrong with a failing function, and why it looks so."""
    failing = [r for r in results if r.status != "pass"]
    factor = depends_on(results)
    mistake = known_mistake(function, results)
    if mistake is not None:
        text = f"{mistake.title} (exercise's hint: {mistake.hint})"
    elif _same_every_example(results):
        text = (
            "every example gets the same output: the example index i is not used "
            "(exercise's hint: select the i-th example, A_prev_pad[i] / A_prev[i, ...])"
        )
    else:
        first = min(failing, key=lambda r: (r.case.is_cell, r.case.size))
        text = first.problem
        if first.error is not None:
            hint = exception_hint(first.error)
            at = where(first.error)
            text = f"{text}" + (f" at {at}" if at else "") + (f"; hint: {hint}" if hint else "")
    if factor:
        text = f"{text}; {factor}"
    return text
