"""The learner's checker: which of a learner's eight functions is wrong, on which input, and why.

    cnnstep check solution.ipynb            # the command line
    cnnstep.check(globals())                # in the learner's notebook

The learner's imports and definitions (:mod:`.source`) run in a child process
(:mod:`.sandbox`) on the exercise's own cells and on small seeded cases
(:mod:`.cases`), each function with the reference versions of the other seven, so that a
mistake is reported on the function that makes it. Outcomes are judged against
:mod:`cnnstep.reference` and a failing function is diagnosed (:mod:`.diagnose`): what
it depends on, and which known mistake (:mod:`.catalogue`) it is.
"""

from __future__ import annotations

import os
import time

from cnnstep._kernels.checks import positive_number
from cnnstep.app.checker import cases as _cases
from cnnstep.app.checker.diagnose import diagnose, exception_hint, judge
from cnnstep.app.checker.report import FunctionReport, Report, folder_json, folder_text, write_csv
from cnnstep.app.checker.runner import frame_lines
from cnnstep.app.checker.sandbox import DEFAULT_MEMORY, DEFAULT_TIMEOUT, run_jobs
from cnnstep.app.checker.source import Source, SourceError, from_namespace, load
from cnnstep.app.exercise import FUNCTIONS

__all__ = [
    "check",
    "check_path",
    "check_source",
    "check_folder",
    "Report",
    "FunctionReport",
    "SourceError",
    "write_csv",
    "folder_json",
    "folder_text",
    "DEFAULT_TIMEOUT",
]


def _indent(text: str, by: str = "    ") -> list:
    return [by + line for line in text.split("\n")]


def _case_dict(r) -> dict:
    out = {"id": r.case.id, "status": r.status}
    if r.status != "pass":
        out["problem"] = r.problem
        out["code"] = r.case.as_code()
        if r.error is not None:
            out["traceback"] = frame_lines(r.error["frames"])
    return out


def _details(results: list, printed: int) -> list:
    failing = [r for r in results if r.status != "pass"]
    lines = []
    if failing:
        smallest = min(failing, key=lambda r: (r.case.is_cell, r.case.size))
        lines.append(f"smallest failing case ({smallest.case.id}), to paste below your definitions:")
        lines += _indent(smallest.case.as_code())
        lines.append(f"  -> {smallest.problem}")
        if smallest.error is not None:
            lines += [f"     {line}" for line in frame_lines(smallest.error["frames"])]
            hint = exception_hint(smallest.error)
            if hint:
                lines.append(f"     hint: {hint}")
        lines.append(f"{len(failing)} of {len(results)} cases fail: " + ", ".join(r.case.id for r in failing[:8]))
    warnings = sorted({w for r in results for w in r.outcome.get("warnings", [])})
    if warnings:
        lines.append("warnings: " + "; ".join(warnings[:3]))
    if printed:
        lines.append(f"(your code printed {printed} lines while checked; not shown)")
    return lines


def _function_report(name, run, timeout) -> FunctionReport:
    cases = _cases.cases_for(name)
    results = [judge(c, run.outcomes[c.id], _cases.expected(c.id)) for c in cases if c.id in run.outcomes]
    if run.status == "timeout":
        diagnosis = (
            f"took longer than {timeout:g} s and was stopped (in case {run.current}): "
            "an infinite loop, or a loop that never reaches its end?"
        )
        return FunctionReport(name, "timeout", diagnosis, [_case_dict(r) for r in results], _details(results, 0))
    if run.status == "crashed":
        return FunctionReport(name, "error", run.detail, [_case_dict(r) for r in results], _details(results, 0))
    case_dicts = [_case_dict(r) for r in results]
    if all(r.status == "pass" for r in results):
        return FunctionReport(name, "pass", None, case_dicts, _details(results, run.printed))
    status = "error" if all(r.status in ("pass", "error") for r in results) else "fail"
    return FunctionReport(name, status, diagnose(name, results), case_dicts, _details(results, run.printed))


def check_source(source: Source, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY) -> Report:
    """Check the eight functions of a :class:`~.source.Source`."""
    timeout = positive_number(timeout, "check", "timeout", unit=" of seconds")
    started = time.monotonic()
    present = [name for name in FUNCTIONS if name in source.defined]
    notes, runs = run_jobs(source.chunks, {name: _cases.cases_for(name) for name in present}, timeout, memory)
    functions = []
    for name in FUNCTIONS:
        if name not in runs:
            diagnosis = f"no function named {name} was found (def {name}(...) at the top level of a cell or file)"
            functions.append(FunctionReport(name, "missing", diagnosis))
        else:
            functions.append(_function_report(name, runs[name], timeout))
    return Report(source.path, functions, list(source.notes) + list(notes), time.monotonic() - started)


def check_path(path, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY) -> Report:
    """Check a learner's ``.py`` file or ``.ipynb`` notebook (raises SourceError when unreadable)."""
    report = check_source(load(path), timeout, memory)
    report.file = os.fspath(path)
    return report


def check(namespace, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY) -> Report:
    """Check a learner's functions where they are: ``check(globals())``, a module, a dict of
    functions, one function (``check(zero_pad)``: only that one is reported), or a path."""
    if isinstance(namespace, (str, os.PathLike)):
        return check_path(namespace, timeout, memory)
    one = getattr(namespace, "__name__", None) if callable(namespace) and not isinstance(namespace, dict) else None
    if one is not None and one not in FUNCTIONS and not hasattr(namespace, "__file__"):
        raise ValueError(f"check: {one} is not one of the exercise's eight functions ({', '.join(FUNCTIONS)})")
    report = check_source(from_namespace(namespace), timeout, memory)
    if one in FUNCTIONS:
        report.functions = [report[one]]
        report.file = one
    return report


def python_files(folder) -> list:
    """The .py and .ipynb files of a folder and its subfolders, sorted (checkpoints left out)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [os.path.join(root, f) for f in sorted(files) if f.endswith((".py", ".ipynb"))]
    return found


def check_folder(folder, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY, progress: bool = False):
    """Check every file of a folder; return (reports, unreadable) with unreadable (file, message) pairs."""
    files = python_files(folder)
    if not files:
        raise ValueError(f"check: {os.fspath(folder)!r} holds no .py or .ipynb file")
    iterator = files
    if progress:
        try:
            from tqdm import tqdm

            iterator = tqdm(files, unit="file", desc="checking", leave=False, disable=None)
        except ImportError:
            pass
    reports, unreadable = [], []
    for path in iterator:
        try:
            reports.append(check_path(path, timeout, memory))
        except SourceError as exc:
            unreadable.append((path, str(exc)))
    return reports, unreadable
