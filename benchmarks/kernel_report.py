"""The kernel suite's report: the run's conditions, times and ratios, loops, GFLOP/s and memory."""

from __future__ import annotations

import harness
from kernel_cases import NA, NOISY_BAND, OPS

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
