"""Benchmarks of the vectorized blocks: against PyTorch, against the loops, against a matmul.

One process, one run: every number in a report was measured under the same conditions,
which the report states (CPU, libraries, threads, environment). What is measured, for each
case (a layer geometry) and dtype:

* **time** of forward, backward and forward+backward, cnnstep against PyTorch's CPU
  kernels driven through autograd on the same NHWC arrays (zero-copy channels_last views),
  and the ratio of the medians, cnnstep / torch (below 1: cnnstep is faster);
* **loops**: the speed-up over :mod:`cnnstep.reference`, timed on a small batch and
  extrapolated per example (and per output position in quick mode);
* **GFLOP/s** of the convolutions (direct-convolution count) for both libraries, and of a
  plain ``np.matmul`` of the same GEMM shape, the practical limit of an im2col kernel;
* **peak extra memory** of one forward+backward, each measured in a fresh subprocess.

Timing, statistics and the run's conditions are ``harness.py``'s.

Entry points: :func:`run` (results as a JSON-able dict), :func:`format_table`,
:func:`main` (``python benchmarks/bench_kernels.py``), and :func:`configure_parser` /
:func:`run_from_args` to mount the same options as a subcommand.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

import harness
from cnnstep import reference
from cnnstep._kernels import checks as _checks
from kernel_cases import (
    CASES,
    DTYPES,
    LOOP_SECOND_TRY_S,
    NA,
    OPS,
    QUICK_LOOP_SIDE,
    QUICK_M,
    QUICK_PAUSE,
    QUICK_REPEAT,
    QUICK_ROUNDS,
    SEED,
    Case,
    cnnstep_ops,
    inputs,
    select_cases,
    select_dtypes,
    torch_ops,
    torch_tensors,
)
from kernel_report import format_table

__all__ = [
    "Case",
    "CASES",
    "run",
    "format_table",
    "add_arguments",
    "configure_parser",
    "run_from_args",
    "main",
]

# --------------------------------------------------------------------------- loops, GFLOP/s


def _loops(case: Case, g, dtype: str, quick: bool, ours_s: float) -> dict:
    """cnnstep.reference forward+backward on a small batch, extrapolated to the case's batch."""
    m_loop = min(g.m, 1 if case.kind == "conv" else 2)
    n_H_prev, n_W_prev = g.n_H_prev, g.n_W_prev
    if quick:  # a smaller image whose output has about QUICK_LOOP_SIDE positions per side
        n_H_prev = min(n_H_prev, (QUICK_LOOP_SIDE - 1) * g.s_h + g.f_h)
        n_W_prev = min(n_W_prev, (QUICK_LOOP_SIDE - 1) * g.s_w + g.f_w)
    small = case.geometry(m_loop, n_H_prev, n_W_prev)
    arrays = inputs(case, small, dtype, SEED + 1)
    op = cnnstep_ops(case, arrays, blocks=reference)["forward_backward"]
    calls = []
    while True:
        start = time.perf_counter()
        op.call(None)
        calls.append(time.perf_counter() - start)
        if quick or len(calls) == 2 or calls[0] >= LOOP_SECOND_TRY_S:
            break
    scale = (g.m * g.n_H * g.n_W) / (small.m * small.n_H * small.n_W)
    extrapolated = min(calls) * scale
    method = f"loops timed on m={small.m}"
    if (small.n_H, small.n_W) != (g.n_H, g.n_W):
        method += (
            f" with a {small.n_H_prev}x{small.n_W_prev} input "
            f"({small.n_H}x{small.n_W} of {g.n_H}x{g.n_W} output positions)"
        )
    method += f", extrapolated to m={g.m}" + (" by output positions" if scale != g.m / small.m else "")
    return {
        "speedup": extrapolated / ours_s,
        "extrapolated_s": extrapolated,
        "timed_s": [float(t) for t in calls],
        "m_timed": small.m,
        "input_timed": [small.m, small.n_H_prev, small.n_W_prev, case.n_C_prev],
        "output_positions_timed": [small.n_H, small.n_W],
        "scale": scale,
        "method": method,
    }


def _conv_flop(g) -> int:
    """Direct convolution, forward: 2 m n_H n_W n_C f_h f_w n_C_prev (a multiply and an add each)."""
    return 2 * g.m * g.n_H * g.n_W * g.n_C * g.f_h * g.f_w * g.n_C_prev


def _gflops(g, dtype: str, times: dict, rounds: int, repeat: int, pause: float) -> dict:
    forward = _conv_flop(g)
    flop = {"forward": forward, "backward": 2 * forward, "forward_backward": 3 * forward}
    M, K, N = g.m * g.n_H * g.n_W, g.f_h * g.f_w * g.n_C_prev, g.n_C
    rng = np.random.default_rng(SEED + 2)
    X = rng.standard_normal((M, K), dtype=np.dtype(dtype))
    Y = rng.standard_normal((K, N), dtype=np.dtype(dtype))
    out = np.empty((M, N), dtype=np.dtype(dtype))
    matmul = harness.stats(
        harness.measure(
            {"matmul": harness.Op(harness.nothing, lambda _, X=X, Y=Y, out=out: np.matmul(X, Y, out=out))},
            rounds,
            repeat,
            pause,
        )["matmul"]
    )
    del X, Y, out

    def rates(who):
        if not isinstance(times[OPS[0]][who], dict):
            return NA
        return {op: flop[op] / (times[op][who]["median_ms"] * 1e-3) / 1e9 for op in OPS}

    return {
        "flop": flop,
        "gemm": {"M": M, "K": K, "N": N},
        "cnnstep": rates("cnnstep"),
        "torch": rates("torch"),
        "matmul": 2 * M * K * N / (matmul["median_ms"] * 1e-3) / 1e9,
        "matmul_time": matmul,
    }


# --------------------------------------------------------------------------- memory


def _memory_probe(spec: dict) -> dict:
    """In a fresh process: the extra peak memory of one forward+backward, after a warm-up."""
    case = Case(**spec["case"])
    g = case.geometry()
    contender, threads = spec["contender"], spec["threads"]
    arrays = inputs(case, g, spec["dtype"])
    torch = None
    if contender == "torch":
        torch, _ = harness.load_torch()
        if torch is None:
            return {"mib": NA, "method": NA}
    with harness.thread_limits(threads, torch):
        if torch is None:
            op = cnnstep_ops(case, arrays)["forward_backward"]
        else:
            op = torch_ops(torch, case, g, torch_tensors(torch, case, arrays))["forward_backward"]
        out = op.call(op.prepare())  # warm-up
        del out
        prepared = op.prepare()
        measured = harness.peak_rss(lambda: op.call(prepared))
        if measured is not None:
            return measured
        if torch is None:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
            out = op.call(prepared)  # held until the peak is read: the outputs count
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del out
            return {"mib": (peak - baseline) / 2**20, "method": "tracemalloc"}
        return {"mib": NA, "method": NA}


def _memory(rows: list[dict], by_name: dict[str, Case], threads: int, torch_available: bool) -> None:
    """Probe every row's memory (two subprocesses each, run side by side after all timing)."""
    jobs = []
    for row in rows:
        case = replace(by_name[row["case"]], m=row["m"])
        for contender in ("cnnstep", "torch"):
            if contender == "torch" and not torch_available:
                continue
            spec = {"case": case.to_dict(), "dtype": row["dtype"], "contender": contender, "threads": threads}
            jobs.append((row, contender, spec))
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(lambda job: harness.run_probe("bench_kernels", job[2]), jobs))
    for row in rows:
        row["memory"] = {"cnnstep_mib": NA, "torch_mib": NA, "ratio": NA, "method": {}}
    for (row, contender, _), probe in zip(jobs, found, strict=False):
        row["memory"][f"{contender}_mib"] = probe["mib"]
        row["memory"]["method"][contender] = probe.get("error", probe["method"])
    for row in rows:
        ours, theirs = row["memory"]["cnnstep_mib"], row["memory"]["torch_mib"]
        if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0:
            row["memory"]["ratio"] = ours / theirs


# --------------------------------------------------------------------------- conditions


# --------------------------------------------------------------------------- the run


def run(
    cases=None,
    rounds=5,
    repeat=3,
    pause=0.2,
    threads=2,
    quick=False,
    memory=True,
    loops=True,
    dtypes=DTYPES,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure every case in every dtype; return the results as a JSON-able dict.

    Parameters
    ----------
    cases : None (all of :data:`CASES`), or names ("S1", "P3", also "S1,P3"), :class:`Case`
        objects or dicts of Case fields, mixed freely.
    rounds, repeat, pause : the timing method (see the module's docstring).
    threads : torch.set_num_threads and cnnstep.set_num_threads, and numpy's BLAS threads where
        threadpoolctl is installed.
    quick : batch at most ``QUICK_M`` examples, rounds/repeat/pause capped at
        ``QUICK_ROUNDS``/``QUICK_REPEAT``/``QUICK_PAUSE``, loops timed on an output of about
        ``QUICK_LOOP_SIDE`` x ``QUICK_LOOP_SIDE`` positions timed once, memory probed for the
        conv cases in the first dtype only (each probe is a fresh process: seconds apiece).
    memory, loops : whether to measure the peak memory and the speed-up over the loops.
    dtypes : among "float32", "float64".
    progress : called with a line of text as each case and dtype is done (None: silent).

    Returns
    -------
    dict with "settings", "conditions", "rows" (one per case and dtype: "time" per
    operation with "cnnstep", "torch", "ratio" and "ratio_band"; "loops"; "gflops" for conv
    cases; "memory"), and "elapsed_s". Unavailable values are "n/a"; parts not measured
    (switched off) are None.
    """
    began = time.perf_counter()
    chosen = select_cases(cases)
    dtypes = select_dtypes(dtypes)
    for name, value in (("rounds", rounds), ("repeat", repeat), ("threads", threads)):
        if not _checks.is_int(value) or value < 1:
            raise ValueError(f"bench_kernels: {name} must be a positive integer, got {value!r}")
    if not isinstance(pause, (int, float)) or isinstance(pause, bool) or not pause >= 0:
        raise ValueError(f"bench_kernels: pause must be a number of seconds >= 0, got {pause!r}")
    if quick:
        rounds, repeat, pause = min(rounds, QUICK_ROUNDS), min(repeat, QUICK_REPEAT), min(pause, QUICK_PAUSE)
        chosen = [replace(case, m=min(case.m, QUICK_M)) for case in chosen]
    settings = {
        "rounds": rounds,
        "repeat": repeat,
        "pause_s": float(pause),
        "threads": threads,
        "quick": bool(quick),
        "memory": bool(memory),
        "loops": bool(loops),
        "dtypes": dtypes,
        "seed": SEED,
    }
    torch, torch_missing = harness.load_torch()
    rows = []
    with harness.thread_limits(threads, torch), _grad_enabled(torch):
        conditions = harness.conditions(torch, torch_missing, settings)
        for case in chosen:
            g = case.geometry()
            for dtype in dtypes:
                rows.append(_run_row(case, g, dtype, torch, settings))
                if progress is not None:
                    progress(f"{case.name} {dtype}: done ({time.perf_counter() - began:.0f} s)")
    if memory:
        probed = [row for row in rows if not quick or (row["kind"] == "conv" and row["dtype"] == dtypes[0])]
        _memory(probed, {case.name: case for case in chosen}, threads, torch is not None)
        if progress is not None:
            progress(f"memory: done ({time.perf_counter() - began:.0f} s)")
    return {
        "settings": settings,
        "conditions": conditions,
        "cases": [case.to_dict() for case in chosen],
        "rows": rows,
        "elapsed_s": time.perf_counter() - began,
    }


@contextlib.contextmanager
def _grad_enabled(torch):
    if torch is None:
        yield
    else:
        with torch.enable_grad():
            yield


def _run_row(case: Case, g, dtype: str, torch, settings: dict) -> dict:
    rounds, repeat, pause = settings["rounds"], settings["repeat"], settings["pause_s"]
    gc.collect()  # once per row: with torch loaded a full collection takes a good part of a second
    arrays = inputs(case, g, dtype)
    ours = cnnstep_ops(case, arrays)
    theirs = torch_ops(torch, case, g, torch_tensors(torch, case, arrays)) if torch is not None else None
    times = {}
    for op in OPS:
        contenders = {"cnnstep": ours[op]}
        if theirs is not None:
            contenders["torch"] = theirs[op]
        measured = harness.measure(contenders, rounds, repeat, pause)
        entry = {name: harness.stats(calls) for name, calls in measured.items()}
        entry.setdefault("torch", NA)
        entry["ratio"], entry["ratio_band"] = harness.ratio(entry["cnnstep"], entry["torch"])
        times[op] = entry
    del ours, theirs, arrays
    row = {
        "case": case.name,
        "kind": case.kind,
        "dtype": dtype,
        "m": g.m,
        "description": case.label(),
        "output_shape": [g.m, g.n_H, g.n_W, g.n_C],
        "time": times,
        "gflops": None,
        "loops": None,
        "memory": None,
    }
    if case.kind == "conv":
        row["gflops"] = _gflops(g, dtype, times, rounds, repeat, pause)
    if settings["loops"]:
        ours_s = times["forward_backward"]["cnnstep"]["median_ms"] * 1e-3
        row["loops"] = _loops(case, g, dtype, settings["quick"], ours_s)
    return row


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The benchmark's options, on any parser (its own, or a subcommand's)."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: batch <= {QUICK_M}, rounds <= {QUICK_ROUNDS}, repeat <= {QUICK_REPEAT}, "
        "loops on a small output, memory for conv cases in the first dtype only",
    )
    parser.add_argument("--rounds", type=harness.positive_int, default=5, help="rounds of timed calls (default 5)")
    parser.add_argument("--repeat", type=harness.positive_int, default=3, help="timed calls per round (default 3)")
    parser.add_argument(
        "--pause",
        type=harness.seconds,
        default=0.2,
        help="seconds of sleep before each contender's calls (default 0.2)",
    )
    parser.add_argument(
        "--threads",
        type=harness.positive_int,
        default=2,
        help="torch and cnnstep threads, and numpy BLAS threads where threadpoolctl is there (default 2)",
    )
    parser.add_argument(
        "--cases", default=None, help=f"comma-separated case names (default all: {','.join(c.name for c in CASES)})"
    )
    parser.add_argument(
        "--dtype",
        action="append",
        default=None,
        metavar="DTYPE",
        help="float32 or float64; repeat or comma-separate for both (default both)",
    )
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak-memory probes")
    parser.add_argument("--no-loops", dest="loops", action="store_false", help="skip the loops comparison")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write every measurement to PATH")
    return parser


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options and ``run=run_from_args`` as the parser's default (for a subcommand)."""
    add_arguments(parser)
    parser.set_defaults(run=run_from_args)
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    """Run with parsed options, print the table, write the JSON where asked; exit code 0."""
    dtypes = DTYPES if not args.dtype else [d for item in args.dtype for d in item.split(",") if d.strip()]

    def progress(line):
        print(line, file=sys.stderr, flush=True)

    results = run(
        cases=args.cases,
        rounds=args.rounds,
        repeat=args.repeat,
        pause=args.pause,
        threads=args.threads,
        quick=args.quick,
        memory=args.memory,
        loops=args.loops,
        dtypes=dtypes,
        progress=progress,
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, allow_nan=False)
            fh.write("\n")
    print(format_table(results), end="")
    return 0


def main(argv=None, prog: str = "python benchmarks/bench_kernels.py") -> int:
    parser = configure_parser(
        argparse.ArgumentParser(
            prog=prog, description="Time cnnstep's blocks against PyTorch, the loops and a matmul, in one run."
        )
    )
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
