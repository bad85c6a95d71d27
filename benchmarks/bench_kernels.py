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
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace

import numpy as np

import cnnstep
import harness
from cnnstep import reference
from cnnstep._kernels import checks as _checks

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

NA = harness.NA
OPS = ("forward", "backward", "forward_backward")
DTYPES = ("float32", "float64")
SEED = 20261126

# --quick: caps on rounds / repeat / pause, and the batch size of every case.
QUICK_ROUNDS = 2
QUICK_REPEAT = 2
QUICK_PAUSE = 0.02
QUICK_M = 8
# --quick times the loops on an output of at most this many positions per side.
QUICK_LOOP_SIDE = 8
# The report marks a ratio whose noise band spans more than this factor.
NOISY_BAND = 2.0
# A loop timing shorter than this is taken twice and the faster kept.
LOOP_SECOND_TRY_S = 0.5


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One benchmark geometry.

    ``kind="conv"``: A_prev (m, n_H_prev, n_W_prev, n_C_prev) convolved with ``n_C``
    filters of f x f, ``stride``, ``pad`` (anything ``conv_forward`` accepts).
    ``kind="pool"``: an f x f window, ``stride``, ``mode`` "max" or "average", no padding.
    """

    name: str
    kind: str
    m: int
    n_H_prev: int
    n_W_prev: int
    n_C_prev: int
    f: int
    stride: int = 1
    n_C: int | None = None
    pad: int | str = 0
    mode: str = "max"

    def __post_init__(self):
        func = "bench_kernels.Case"
        if not isinstance(self.name, str) or not self.name or "," in self.name:
            raise ValueError(f"{func}: name must be a non-empty string without commas, got {self.name!r}")
        if self.kind not in ("conv", "pool"):
            raise ValueError(f'{func}: kind must be "conv" or "pool", got {self.kind!r} (case {self.name})')
        for field in ("m", "n_H_prev", "n_W_prev", "n_C_prev", "f", "stride"):
            value = getattr(self, field)
            if not _checks.is_int(value) or value < 1:
                raise ValueError(f"{func}: {field} must be a positive integer, got {value!r} (case {self.name})")
        if self.kind == "conv" and (not _checks.is_int(self.n_C) or self.n_C < 1):
            raise ValueError(
                f"{func}: a conv case needs n_C, a positive number of filters, got {self.n_C!r} (case {self.name})"
            )
        if self.kind == "pool":
            _checks.pool_mode(self.mode, func)
        self.geometry(0)  # the layer's own validation: window fits, padding form, ...

    def hparameters(self) -> dict:
        if self.kind == "conv":
            return {"stride": self.stride, "pad": self.pad}
        return {"f": self.f, "stride": self.stride}

    def geometry(self, m: int | None = None, n_H_prev: int | None = None, n_W_prev: int | None = None):
        """The validated ConvGeometry or PoolGeometry (m: the case's by default), from the shape rules."""
        shape = (self.m if m is None else m, n_H_prev or self.n_H_prev, n_W_prev or self.n_W_prev, self.n_C_prev)
        func = f"bench_kernels case {self.name}"
        if self.kind == "conv":
            W_shape = (self.f, self.f, self.n_C_prev, self.n_C)
            g = _checks.conv_geometry(shape, W_shape, self.hparameters(), func)
        else:
            g = _checks.pool_geometry(shape, self.hparameters(), self.mode, func)
        return g

    def label(self) -> str:
        size = f"{self.n_H_prev}x{self.n_W_prev}x{self.n_C_prev}"
        if self.kind == "conv":
            return f"m={self.m} {size} -> {self.f}x{self.f}x{self.n_C} pad {self.pad!r} stride {self.stride}"
        return f"m={self.m} {size} {self.mode} f={self.f} s={self.stride}"

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(name, m, n_H_prev, n_W_prev, n_C_prev, f, n_C, pad, stride=1) -> Case:
    return Case(name, "conv", m, n_H_prev, n_W_prev, n_C_prev, f, stride=stride, n_C=n_C, pad=pad)


def _pool(name, m, n_H_prev, n_W_prev, n_C, f, stride, mode) -> Case:
    return Case(name, "pool", m, n_H_prev, n_W_prev, n_C, f, stride=stride, mode=mode)


CASES = (
    _conv("S1", 64, 32, 32, 3, f=3, n_C=16, pad=1),
    _conv("S2", 64, 32, 32, 64, f=3, n_C=64, pad=1),
    _conv("S3", 32, 64, 64, 3, f=4, n_C=8, pad="same"),
    _conv("S4", 64, 28, 28, 32, f=5, n_C=64, pad=2, stride=2),
    _pool("P1", 64, 32, 32, 64, f=2, stride=2, mode="max"),
    _pool("P2", 64, 32, 32, 64, f=2, stride=2, mode="average"),
    _pool("P3", 64, 32, 32, 64, f=3, stride=1, mode="max"),
    _pool("P4", 64, 32, 32, 64, f=3, stride=1, mode="average"),
    _pool("P5", 64, 64, 64, 8, f=8, stride=8, mode="max"),
    _pool("P6", 64, 64, 64, 8, f=8, stride=8, mode="average"),
)


def _select_cases(cases) -> list[Case]:
    """Cases from None (all), names (a list or a comma-separated string), Case objects or dicts."""
    if cases is None:
        return list(CASES)
    if isinstance(cases, (str, Case, Mapping)):
        cases = [cases]
    known = {case.name: case for case in CASES}
    chosen: list[Case] = []
    for item in cases:
        if isinstance(item, Case):
            chosen.append(item)
        elif isinstance(item, Mapping):
            chosen.append(Case(**item))
        elif isinstance(item, str):
            for name in filter(None, (part.strip() for part in item.split(","))):
                if name not in known:
                    raise ValueError(f"bench_kernels: unknown case {name!r}, expected one of {', '.join(known)}")
                chosen.append(known[name])
        else:
            raise TypeError(f"bench_kernels: a case must be a name, a Case or a dict, got {_checks.show(item)}")
    if not chosen:
        raise ValueError("bench_kernels: no case selected")
    names = [case.name for case in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"bench_kernels: case names must be unique, got {names}")
    return chosen


def _select_dtypes(dtypes) -> list[str]:
    if isinstance(dtypes, str):
        dtypes = dtypes.split(",")
    chosen = [str(np.dtype(d.strip() if isinstance(d, str) else d)) for d in dtypes]
    for d in chosen:
        if d not in DTYPES:
            raise ValueError(f"bench_kernels: dtype must be one of {', '.join(DTYPES)}, got {d!r}")
    if not chosen:
        raise ValueError("bench_kernels: no dtype selected")
    return list(dict.fromkeys(chosen))


# --------------------------------------------------------------------------- inputs and contenders


def _inputs(case: Case, g, dtype: str, seed: int = SEED) -> dict:
    """The arrays both contenders get: A_prev, the output gradient and (conv) W, b."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    arrays = {"A": rng.standard_normal((g.m, g.n_H_prev, g.n_W_prev, case.n_C_prev), dtype=dt)}
    if case.kind == "conv":
        fan_in = case.f * case.f * case.n_C_prev
        arrays["W"] = (rng.standard_normal((case.f, case.f, case.n_C_prev, case.n_C)) / np.sqrt(fan_in)).astype(dt)
        arrays["b"] = rng.standard_normal((1, 1, 1, case.n_C), dtype=dt)
    arrays["dZ"] = rng.standard_normal((g.m, g.n_H, g.n_W, g.n_C), dtype=dt)
    return arrays


def _cnnstep_ops(case: Case, arrays: dict, blocks=cnnstep) -> dict[str, harness.Op]:
    """forward, backward (after an untimed forward) and forward+backward of cnnstep's blocks."""
    hp = case.hparameters()
    A, dZ = arrays["A"], arrays["dZ"]
    if case.kind == "conv":
        W, b = arrays["W"], arrays["b"]

        def forward(_=None):
            return blocks.conv_forward(A, W, b, hp)

        def backward(out_cache):
            return blocks.conv_backward(dZ, out_cache[1])

        def forward_backward(_):
            out, cache = blocks.conv_forward(A, W, b, hp)
            return out, blocks.conv_backward(dZ, cache)
    else:
        mode = case.mode

        def forward(_=None):
            return blocks.pool_forward(A, hp, mode)

        def backward(out_cache):
            return blocks.pool_backward(dZ, out_cache[1], mode)

        def forward_backward(_):
            out, cache = blocks.pool_forward(A, hp, mode)
            return out, blocks.pool_backward(dZ, cache, mode)

    return {
        "forward": harness.Op(harness.nothing, forward),
        "backward": harness.Op(forward, backward),
        "forward_backward": harness.Op(harness.nothing, forward_backward),
    }


def _torch_tensors(torch, case: Case, arrays: dict) -> dict:
    """The arrays as torch leaves, converted once, outside every timed region.

    A_prev and dZ are zero-copy channels_last views of the very NHWC arrays cnnstep gets;
    W is copied once to torch's (n_C, n_C_prev, f_h, f_w) layout.
    """
    tensors = {
        "x": torch.from_numpy(arrays["A"]).permute(0, 3, 1, 2).requires_grad_(True),
        "dz": torch.from_numpy(arrays["dZ"]).permute(0, 3, 1, 2),
    }
    if case.kind == "conv":
        # f_h f_w c k -> k c f_h f_w
        tensors["w"] = torch.from_numpy(np.ascontiguousarray(arrays["W"].transpose(3, 2, 0, 1))).requires_grad_(True)
        tensors["bias"] = torch.from_numpy(arrays["b"].reshape(-1).copy()).requires_grad_(True)
    return tensors


def _torch_ops(torch, case: Case, g, tensors: dict) -> dict[str, harness.Op]:
    """The same three operations in PyTorch, through autograd: ``z.backward(dz)``."""
    F = torch.nn.functional
    x, dz = tensors["x"], tensors["dz"]
    if case.kind == "conv":
        w, bias = tensors["w"], tensors["bias"]
        leaves = (x, w, bias)
        p, stride = g.pad, (g.s_h, g.s_w)
        if p.top == p.bottom and p.left == p.right:
            explicit, padding = None, (p.top, p.left)
        else:  # torch pads symmetrically: the odd extra row/column goes in by F.pad
            explicit, padding = (p.left, p.right, p.top, p.bottom), 0

        def forward():
            x_in = x if explicit is None else F.pad(x, explicit)
            return F.conv2d(x_in, w, bias, stride=stride, padding=padding)
    else:
        leaves = (x,)
        window, stride = (g.f_h, g.f_w), (g.s_h, g.s_w)
        pool = F.max_pool2d if case.mode == "max" else F.avg_pool2d

        def forward():
            return pool(x, window, stride)

    def clear():
        for leaf in leaves:
            leaf.grad = None

    def fresh_forward():
        clear()
        return forward()

    def forward_backward(_):
        z = forward()
        z.backward(dz)
        return z

    return {
        "forward": harness.Op(clear, lambda _: forward()),
        "backward": harness.Op(fresh_forward, lambda z: z.backward(dz)),
        "forward_backward": harness.Op(clear, forward_backward),
    }


# --------------------------------------------------------------------------- timing


# --------------------------------------------------------------------------- loops, GFLOP/s


def _loops(case: Case, g, dtype: str, quick: bool, ours_s: float) -> dict:
    """cnnstep.reference forward+backward on a small batch, extrapolated to the case's batch."""
    m_loop = min(g.m, 1 if case.kind == "conv" else 2)
    n_H_prev, n_W_prev = g.n_H_prev, g.n_W_prev
    if quick:  # a smaller image whose output has about QUICK_LOOP_SIDE positions per side
        n_H_prev = min(n_H_prev, (QUICK_LOOP_SIDE - 1) * g.s_h + g.f_h)
        n_W_prev = min(n_W_prev, (QUICK_LOOP_SIDE - 1) * g.s_w + g.f_w)
    small = case.geometry(m_loop, n_H_prev, n_W_prev)
    arrays = _inputs(case, small, dtype, SEED + 1)
    op = _cnnstep_ops(case, arrays, blocks=reference)["forward_backward"]
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
    arrays = _inputs(case, g, spec["dtype"])
    torch = None
    if contender == "torch":
        torch, _ = harness.load_torch()
        if torch is None:
            return {"mib": NA, "method": NA}
    with harness.thread_limits(threads, torch):
        if torch is None:
            op = _cnnstep_ops(case, arrays)["forward_backward"]
        else:
            op = _torch_ops(torch, case, g, _torch_tensors(torch, case, arrays))["forward_backward"]
        out = op.call(op.prepare())  # warm-up
        del out
        prepared = op.prepare()
        gc.collect()
        trimmed = harness.malloc_trim()
        if harness.reset_peak_rss():
            baseline = harness.status_kib("VmRSS")
            out = op.call(prepared)
            peak = harness.status_kib("VmHWM")
            return {
                "mib": (peak - baseline) / 1024,
                "baseline_mib": baseline / 1024,
                "peak_mib": peak / 1024,
                "method": "VmHWM - VmRSS" + (" after malloc_trim" if trimmed else ""),
            }
        if torch is None:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
            out = op.call(prepared)  # held until the peak is read: the outputs count
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del out
            return {"mib": (peak - baseline) / 2**20, "method": "tracemalloc"}
        return {"mib": NA, "method": NA}


def _memory_probe_main(text: str) -> int:
    print(json.dumps(_memory_probe(json.loads(text))))
    return 0


def _run_probe(spec: dict) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.dirname(os.path.dirname(os.path.abspath(cnnstep.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, src, env.get("PYTHONPATH")]))
    code = "import sys; from bench_kernels import _memory_probe_main; sys.exit(_memory_probe_main(sys.argv[1]))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"mib": NA, "method": NA, "error": str(exc)}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"mib": NA, "method": NA, "error": lines[-1] if lines else f"exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
        found = list(pool.map(lambda job: _run_probe(job[2]), jobs))
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
    chosen = _select_cases(cases)
    dtypes = _select_dtypes(dtypes)
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
    arrays = _inputs(case, g, dtype)
    ours = _cnnstep_ops(case, arrays)
    theirs = _torch_ops(torch, case, g, _torch_tensors(torch, case, arrays)) if torch is not None else None
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


# --------------------------------------------------------------------------- the report


def _ratio_cell(entry) -> str:
    if not isinstance(entry["ratio"], (int, float)):
        return NA
    low, high = entry["ratio_band"]
    noisy = "*" if high > NOISY_BAND * low else " "
    return f"{entry['ratio']:.2f} [{low:.2f}-{high:.2f}]{noisy}"


def _speedup(loops) -> str:
    if loops is None:
        return "off"
    value = loops["speedup"]
    return f"{value:.0f}x" if value >= 10 else f"{value:.1f}x"


def _header(results: dict) -> list[str]:
    c, s = results["conditions"], results["settings"]
    blas = c["blas"]
    runtime = (
        "; ".join(
            f"{lib['internal_api']} {lib['version']} core {lib['architecture']}, {lib['num_threads']} threads"
            for lib in blas.get("runtime", [])
        )
        or "not known (no threadpoolctl)"
    )
    env = ", ".join(
        f"{name}={value}" if value is not None else f"{name} unset" for name, value in c["environment"].items()
    )
    return [
        f"cnnstep {c['cnnstep']} benchmark, {c['date']}, {results['elapsed_s']:.0f} s",
        f"CPU: {c['cpu']}, {c['cores']} cores ({c['usable_cores']} usable); {c['platform']}; Python {c['python']}",
        f"numpy {c['numpy']}, BLAS {blas['build']}",
        f"  BLAS at run time: {runtime}",
        f"torch {c['torch']}, {c['threads']} threads (torch.set_num_threads); cnnstep {c['threads']} threads",
        f"rounds {s['rounds']} x repeat {s['repeat']} timed calls, pause {s['pause_s']:g} s, "
        f"median of {s['rounds'] * s['repeat']}; quick {'yes' if s['quick'] else 'no'}; "
        f"workspace limit {c['workspace_limit_bytes'] / 2**20:g} MiB",
        f"environment: {env}",
    ]


def format_table(results: dict) -> str:
    """The report: the run's conditions, then times and ratios, then loops, GFLOP/s and memory."""
    rows = results["rows"]
    lines = _header(results) + [""]
    lines.append(
        "Time, ms (median); ratio = cnnstep/torch of the medians (< 1: cnnstep faster), "
        f"[q1/q3 - q3/q1] its noise band, * where that spans more than {NOISY_BAND:g}x (noisy: rerun)"
    )
    head = ["case", "dtype", "m"]
    for op in ("fwd", "bwd", "fwd+bwd"):
        head += [f"{op} cnnstep", "torch", "ratio"]
    body = [head]
    for row in rows:
        cells = [row["case"], row["dtype"], str(row["m"])]
        for op in OPS:
            entry = row["time"][op]
            theirs = entry["torch"]
            cells += [
                harness.ms(entry["cnnstep"]["median_ms"]),
                harness.ms(theirs["median_ms"]) if isinstance(theirs, dict) else NA,
                _ratio_cell(entry),
            ]
        body.append(cells)
    lines += harness.table(body, "<<>" + ">>>" * 3)
    lines += ["", "Loops, throughput, memory (fwd+bwd)"]
    head = [
        "case",
        "dtype",
        "m",
        "loops speed-up",
        "GFLOP/s cnnstep",
        "torch",
        "matmul",
        "peak extra MiB cnnstep",
        "torch",
        "ratio",
    ]
    body = [head]
    for row in rows:
        gf, mem = row["gflops"], row["memory"]
        if gf is None:
            rates = ["-", "-", "-"]
        else:
            theirs = gf["torch"]["forward_backward"] if isinstance(gf["torch"], dict) else NA
            rates = [harness.num(gf["cnnstep"]["forward_backward"]), harness.num(theirs), harness.num(gf["matmul"])]
        if mem is None:
            memory = ["-", "-", "-"] if results["settings"]["memory"] else ["off", "off", "off"]
        else:
            memory = [harness.num(mem["cnnstep_mib"]), harness.num(mem["torch_mib"]), harness.num(mem["ratio"], 2)]
        body.append([row["case"], row["dtype"], str(row["m"]), _speedup(row["loops"])] + rates + memory)
    lines += harness.table(body, "<<>" + ">" * 7)
    lines += ["", *_notes(results)]
    return "\n".join(lines) + "\n"


def _notes(results: dict) -> list[str]:
    rows = results["rows"]
    notes = ["loops speed-up = cnnstep.reference fwd+bwd, extrapolated / cnnstep fwd+bwd median:"]
    methods: dict[str, list[str]] = {}
    for row in rows:
        if row["loops"] is not None:
            names = methods.setdefault(row["loops"]["method"], [])
            if row["case"] not in names:
                names.append(row["case"])
    notes += [f"  {', '.join(names)}: ({method})" for method, names in methods.items()] or ["  off"]
    seen = {}
    for row in rows:
        seen.setdefault(row["case"], row["description"])
    notes += ["cases:"] + [f"  {name:<4} {text}" for name, text in seen.items()]
    notes += [
        "GFLOP/s = direct-convolution count (fwd 2*m*n_H*n_W*n_C*f*f*n_C_prev, fwd+bwd 3x) / median time;",
        "  matmul = np.matmul of the im2col GEMM (m*n_H*n_W x f*f*n_C_prev x n_C), same dtype, same run.",
        "peak extra MiB = VmHWM - VmRSS around one fwd+bwd after a warm-up, fresh process per cell"
        + (" (quick: conv cases, first dtype only)" if results["settings"]["quick"] else "")
        + ".",
        "torch: autograd on channels_last views of the same arrays; max-pool ties go to one cell in torch, "
        'to every tied cell in cnnstep (ties="all").',
    ]
    return notes


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
