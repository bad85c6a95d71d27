"""How long ``cnnstep check`` takes: one correct loop solution, and a teacher's folder of notebooks.

    python benchmarks/bench_checker.py [--repeat 5] [--notebooks 30]

Targets (the checker's issue): a correct loop solution checked in under 10 s, a folder of
30 notebooks in under 3 minutes. The single file is checked ``--repeat`` times (the fastest
and the median are printed, with their ratio to the target); the folder once, through the
command line's folder mode, with a third of its notebooks broken in a different function
each (so that the diagnosis, which only runs on failures, is part of the time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cnnstep.app.checker import check_folder, check_path

SOLUTION = Path(__file__).resolve().parents[1] / "tests" / "app" / "checker_data" / "solution.py"
TARGET_FILE = 10.0
TARGET_FOLDER = 180.0
BREAKS = [
    ("vert_start = h * stride", "vert_start = h"),
    ("horiz_start:horiz_end, :] +=", "horiz_start:horiz_end, :] ="),
    ("dz / (n_H * n_W)", "dz / n_H * n_W"),
    ("A_prev[i, vert_start", "A_prev[vert_start"),
    ("b.item()", "float(b)"),
]


def as_notebook(text: str) -> str:
    cells = ["%matplotlib inline"] + ["def " + part for part in text.split("\ndef ")[1:]]
    cells[1:1] = [text.split("\ndef ")[0]]
    return json.dumps(
        {
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": c} for c in cells],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--notebooks", type=int, default=30)
    args = parser.parse_args(argv)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        report = check_path(SOLUTION)
        times.append(time.perf_counter() - started)
        if not report.ok:
            print(report, file=sys.stderr)
            return 1
    fastest, median = min(times), statistics.median(times)
    print(
        f"one correct loop solution: fastest {fastest:.2f} s, median {median:.2f} s over {args.repeat} runs; "
        f"target {TARGET_FILE:g} s: fastest/target {fastest / TARGET_FILE:.3f} (median {median / TARGET_FILE:.3f})"
    )
    text = SOLUTION.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.notebooks):
            body = text
            if k % 3 == 2:
                old, new = BREAKS[(k // 3) % len(BREAKS)]
                body = body.replace(old, new, 1)
            Path(folder, f"learner_{k:02d}.ipynb").write_text(as_notebook(body), encoding="utf-8")
        started = time.perf_counter()
        reports, unreadable = check_folder(folder)
        seconds = time.perf_counter() - started
    passed = sum(r.ok for r in reports)
    print(
        f"a folder of {len(reports)} notebooks ({passed} correct, {len(reports) - passed} broken, "
        f"{len(unreadable)} unreadable): {seconds:.1f} s, {seconds / max(len(reports), 1):.2f} s per notebook; "
        f"target {TARGET_FOLDER:g} s: time/target {seconds / TARGET_FOLDER:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
