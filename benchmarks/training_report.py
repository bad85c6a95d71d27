"""The training benchmark's report and its results files."""

from __future__ import annotations

import datetime
import json
import os

import harness
from cnnstep.nn.io import atomic_write


def _s(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else harness.NA


def _r(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else harness.NA


def format_report(results: dict) -> str:
    s, c = results["settings"], results["conditions"]
    shape = "x".join(map(str, s["input_shape"]))
    blas = c["blas"]["runtime"][0] if c["blas"]["runtime"] else {}
    env = ", ".join(f"{k} {'unset' if v is None else v}" for k, v in c["environment"].items())
    lines = [
        f"cnnstep {c['cnnstep']} training benchmark, {c['date']}, {results.get('elapsed_s', 0):.0f} s",
        f"CPU: {c['cpu']}, {c['cores']} cores ({c['usable_cores']} usable); {c['platform']}; Python {c['python']}",
        f"numpy {c['numpy']}, BLAS {blas.get('internal_api', '?')} {blas.get('version', '')} "
        f"core {blas.get('architecture', '?')}; torch {c['torch']}; {s['threads']} threads each",
        f"environment: {env}",
        f"one epoch: {s['examples']} random images {shape}, {s['classes']} classes, batch {s['batch_size']}, "
        f"Adam lr 1e-3; {s['rounds']} rounds, contenders alternating, pause {s['pause_s']} s",
        "",
        "Epoch, seconds; ratio = cnnstep / torch (< 1: cnnstep faster), of the fastest epochs and of the medians",
    ]
    rows = [["model", "params", "cnnstep min", "median", "torch min", "median", "ratio min", "ratio median"]]
    for name, entry in results["models"].items():
        t = entry["time"]
        torch_t = t.get("torch", {})
        rows.append(
            [
                name,
                f"{entry['params']:,}",
                _s(t["cnnstep"]["min_s"]),
                _s(t["cnnstep"]["median_s"]),
                _s(torch_t.get("min_s")),
                _s(torch_t.get("median_s")),
                _r(entry["ratio_min"]),
                _r(entry["ratio_median"]),
            ]
        )
    lines += harness.table(rows, "<>>>>>>>")
    for name, entry in results["models"].items():
        mem = entry.get("memory")
        if mem:
            probes = mem["probes"]
            text = ", ".join(f"{who} {harness.num(p['mib'], 1, ' MiB')}" for who, p in probes.items())
            lines.append(f"peak extra memory of one training step, {name}: {text}, ratio {_r(mem['ratio'])}")
    for name, entry in results["models"].items():
        b = entry.get("breakdown")
        if not b:
            continue
        has_torch = "torch" in b["epoch_s"]
        lines += [
            "",
            f"{name}: one instrumented epoch, seconds per step (cnnstep {_s(b['epoch_s']['cnnstep'])} s"
            + (f", torch {_s(b['epoch_s']['torch'])} s" if has_torch else "")
            + "); ratio = cnnstep / torch of forward + backward",
            "products: the plain matmuls of an im2col convolution of that layer's shapes (fwd + bwd, s), and each "
            "side's time over them"
            + (
                f"; a square 1024^3 product runs at {b['square_gflops']:.0f} GFLOP/s here"
                if "square_gflops" in b
                else ""
            ),
        ]
        rows = [
            [
                "step",
                "cnnstep fwd",
                "bwd",
                "torch fwd",
                "bwd",
                "ratio",
                "share of cnnstep",
                "products",
                "cnnstep/",
                "torch/",
            ]
        ]
        total = b["epoch_s"]["cnnstep"]
        accounted = {"cnnstep": 0.0, "torch": 0.0}
        for row in b["rows"]:
            ours = row["cnnstep"]
            theirs = row.get("torch")
            ours_sum = ours["forward"] + ours["backward"]
            accounted["cnnstep"] += ours_sum
            ratio = harness.NA
            both = None
            if theirs is not None:
                accounted["torch"] += theirs["forward"] + theirs["backward"]
                both = theirs["forward"] + theirs["backward"]
                ratio = _r(ours_sum / both) if both > 0 else harness.NA
            floor = row.get("products")
            floor_s = floor["forward"] + floor["backward"] if floor else None
            over = [_r(t / floor_s) if floor_s and t is not None else "" for t in (ours_sum, both)]
            rows.append(
                [
                    row["label"],
                    _s(ours["forward"]),
                    _s(ours["backward"]),
                    _s(theirs["forward"]) if theirs else harness.NA,
                    _s(theirs["backward"]) if theirs else harness.NA,
                    ratio,
                    f"{100 * ours_sum / total:.0f}%",
                    _s(floor_s) if floor_s else "",
                    *over,
                ]
            )
        for key in ("loss", "optimizer"):
            ours = b["extra_s"]["cnnstep"][key]
            theirs = b["extra_s"].get("torch", {}).get(key)
            accounted["cnnstep"] += ours
            if theirs is not None:
                accounted["torch"] += theirs
            rows.append(
                [
                    key,
                    _s(ours),
                    "",
                    _s(theirs),
                    "",
                    _r(ours / theirs) if theirs else harness.NA,
                    f"{100 * ours / total:.0f}%",
                ]
            )
        other = total - accounted["cnnstep"]
        other_torch = b["epoch_s"]["torch"] - accounted["torch"] if has_torch else None
        rows.append(["other", _s(other), "", _s(other_torch), "", "", f"{100 * other / total:.0f}%"])
        width = len(rows[0])
        lines += harness.table([row + [""] * (width - len(row)) for row in rows], "<" + ">" * (width - 1))
    return "\n".join(lines) + "\n"


def _write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def save(results: dict, folder: str, label: str) -> list[str]:
    """Write the report and the JSON as ``training-<date>-<label>.txt`` / ``.json`` in ``folder``."""
    date = datetime.date.today().isoformat()
    stem = os.path.join(folder, f"training-{date}-{label}")
    _write_atomic(stem + ".txt", format_report(results))
    _write_atomic(stem + ".json", json.dumps(results, indent=1, default=str) + "\n")
    return [stem + ".txt", stem + ".json"]
