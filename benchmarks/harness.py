"""What every benchmark here shares: timing, statistics, memory probes, run conditions, tables.

Timing method -- these machines are noisy, so no single absolute time is trusted. For
each round, each contender in turn (the order swapped every round) sleeps ``pause``
seconds (so that the other library's worker threads go idle), makes one untimed warm-up
call, then ``repeat`` timed calls (``time.perf_counter``; the garbage collector is off
while they run, and the outputs are released outside the timed region). A time is the
median over all rounds' timed calls; the quartiles and extremes travel with it, and every
ratio comes with a band ``q1(ours)/q3(torch) .. q3(ours)/q1(torch)`` that shows the noise.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import cnnstep

NA = "n/a"


@dataclass(frozen=True)
class Op:
    """One thing to time: ``prepare()`` runs untimed before every call, ``call(prepared)`` is timed."""

    prepare: Callable[[], object]
    call: Callable[[object], object]


def nothing():
    return None


def timed_calls(op: Op, repeat: int, pause: float) -> list[float]:
    """Pause, one untimed warm-up call, then ``repeat`` timed calls (seconds)."""
    time.sleep(pause)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        prepared = op.prepare()
        out = op.call(prepared)
        del out, prepared
        times = []
        for _ in range(repeat):
            prepared = op.prepare()
            start = time.perf_counter()
            out = op.call(prepared)
            times.append(time.perf_counter() - start)
            del out, prepared
    finally:
        if was_enabled:
            gc.enable()
    return times


def measure(contenders: dict[str, Op], rounds: int, repeat: int, pause: float) -> dict[str, list[list[float]]]:
    """Per contender, per round, the timed calls; the contenders' order is swapped every round."""
    names = list(contenders)
    times: dict[str, list[list[float]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(timed_calls(contenders[name], repeat, pause))
    return times


def stats(rounds_s: list[list[float]]) -> dict:
    """Median, quartiles and extremes in milliseconds, with every call's time."""
    flat = np.array([t for calls in rounds_s for t in calls]) * 1e3
    q1, median, q3 = np.percentile(flat, [25, 50, 75])
    return {
        "median_ms": float(median),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "min_ms": float(flat.min()),
        "max_ms": float(flat.max()),
        "calls": int(flat.size),
        "per_round_ms": [[float(t * 1e3) for t in calls] for calls in rounds_s],
    }


def ratio(ours, theirs):
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return NA, NA
    ratio = ours["median_ms"] / theirs["median_ms"]
    band = [ours["q1_ms"] / theirs["q3_ms"], ours["q3_ms"] / theirs["q1_ms"]]
    return ratio, band


def status_kib(field: str):
    """A VmXXX line of /proc/self/status in KiB, or None where there is none."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def malloc_trim() -> bool:
    """Hand the C heap's free memory back to the system (glibc only)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


def reset_peak_rss() -> bool:
    """Set the peak resident size (VmHWM) to the current one (Linux: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return status_kib("VmHWM") is not None and status_kib("VmRSS") is not None


def load_torch():
    """(torch, None) or (None, why it is unavailable)."""
    try:
        import torch
    except Exception as exc:  # an ImportError, or a broken installation
        return None, f"{type(exc).__name__}: {exc}"
    return torch, None


@contextlib.contextmanager
def thread_limits(threads: int, torch):
    """torch.set_num_threads(threads), cnnstep's own threads alike, and numpy's BLAS where threadpoolctl is there."""
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    previous_cnnstep = cnnstep.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limiter = None
    else:
        limiter = threadpool_limits(limits=threads, user_api="blas")
    try:
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        if previous is not None:
            torch.set_num_threads(previous)
        cnnstep.set_num_threads(previous_cnnstep)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def blas_info() -> dict:
    info: dict = {"build": "unknown", "runtime": []}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["build"] = " ".join(str(blas.get(key, "")) for key in ("name", "version")).strip()
        if blas.get("openblas configuration"):
            info["build"] += f" ({blas['openblas configuration']})"
    except Exception:  # older numpy: no dict form of the build configuration
        pass
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return info
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            info["runtime"].append(
                {key: lib.get(key) for key in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            )
    return info


def conditions(torch, torch_missing, settings: dict) -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cnnstep": cnnstep.__version__,
        "numpy": np.__version__,
        "blas": blas_info(),
        "torch": torch.__version__ if torch is not None else f"{NA} ({torch_missing})",
        "threads": settings["threads"],
        "workspace_limit_bytes": cnnstep.workspace_limit(),
        "environment": {
            name: os.environ.get(name)
            for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        },
    }


def ms(value) -> str:
    if not isinstance(value, (int, float)):
        return NA
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def num(value, digits=1, suffix="") -> str:
    if value is None:
        return "off"
    if not isinstance(value, (int, float)):
        return NA
    return f"{value:.{digits}f}{suffix}"


def table(rows: list[list[str]], align: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) if a == "<" else cell.rjust(w) for cell, w, a in zip(row, widths, align, strict=False)]
        lines.append("  ".join(cells).rstrip())
    return lines


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def run_probe(module: str, spec: dict) -> dict:
    """``module._memory_probe(spec)`` in a fresh Python process (a script of this folder); its JSON result.

    Failures come back as data: ``{"mib": "n/a", "method": "n/a", "error": ...}``.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.dirname(os.path.dirname(os.path.abspath(cnnstep.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, src, env.get("PYTHONPATH")]))
    code = (
        f"import json, sys; from {module} import _memory_probe; "
        "print(json.dumps(_memory_probe(json.loads(sys.argv[1]))))"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, env=env, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"mib": NA, "method": NA, "error": str(exc)}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"mib": NA, "method": NA, "error": lines[-1] if lines else f"exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Clock:
    """Seconds accumulated per key while a timed epoch runs."""

    def __init__(self):
        self.seconds: dict = {}

    def add(self, key, seconds: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def backward_window(self, start: float, end: float) -> None:
        """Told when a batch's backward call started and ended (torch's breakdown uses it)."""


def peak_rss(call) -> dict | None:
    """The extra peak resident size of ``call()`` (Linux: VmHWM reset by clear_refs), or None where
    it cannot be measured. The result of ``call()`` is held until the peak is read: outputs count."""
    gc.collect()
    trimmed = malloc_trim()
    if not reset_peak_rss():
        return None
    baseline = status_kib("VmRSS")
    out = call()
    peak = status_kib("VmHWM")
    del out
    return {
        "mib": (peak - baseline) / 1024,
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
        "method": "VmHWM - VmRSS" + (" after malloc_trim" if trimmed else ""),
    }
