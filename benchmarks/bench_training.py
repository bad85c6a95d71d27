"""Training epochs of cnnstep's ready-made models against the same models in PyTorch, in one run.

Each model (``default`` and ``application`` from :mod:`cnnstep.nn.architectures`) gets a
twin in PyTorch: the same layers with the same shapes, TensorFlow-'same' padding written
out explicitly (the convolution's own symmetric padding where the two sides agree, a
``ZeroPad2d`` in front where they do not, -inf padding for a padded max-pool), a dense
layer on the channels-last flattening, channels_last memory for the weights and the
input, Adam with the same learning rate, the same batches of the same float32 data and
the same number of threads. Both run whole epochs: forward, softmax cross-entropy,
backward, Adam step, batch after batch. The data is random (a stand-in of the size of the
sign-digits training split): speed does not depend on the values.

Timing: per round, for each model in turn, the two contenders alternate (the order
swapped every round), each after a pause, one whole epoch each. The report quotes the
median and the fastest epoch of each and the ratios cnnstep / torch of both.

Per-layer breakdown: after the timed rounds, one more epoch of each contender with
timers. cnnstep's come from timing every step of the model's run (a layer, or a run of
layers the model executes as one, e.g. ReLU and the max-pool after it) -- its forward and
backward calls; torch's from forward hooks on the same groups of modules and tensor hooks
on their outputs (the moment each group's output gradient is ready). The loss and the
optimizer step are timed apart; what is left is "other".

Peak memory (``--memory``): in a fresh process per contender, the extra peak resident
size of one training step after a warm-up step, as ``bench_kernels.py`` measures it.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import harness
from cnnstep._kernels import checks as _checks
from cnnstep.nn import Adam, architectures, layers
from cnnstep.nn.losses import softmax_cross_entropy

__all__ = ["run", "format_report", "main", "MODELS"]

MODELS = ("default", "application")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


# --------------------------------------------------------------------------- the steps of a model's run


def steps(model) -> list:
    """``(layer indices, step)`` for every step of the model's run; a step has forward/backward.

    A model that plans its run (``model.plan``) says which layers it runs as one; otherwise
    every layer is a step of its own.
    """
    plan = getattr(model, "plan", None)
    if plan is not None:
        return [(tuple(indices), step) for indices, step in plan]
    return [((i,), layer) for i, layer in enumerate(model.layers)]


def _label(model, indices) -> str:
    names = "+".join(type(model.layers[i]).__name__ for i in indices)
    where = str(indices[0]) if len(indices) == 1 else f"{indices[0]}-{indices[-1]}"
    return f"{where} {names}"


# --------------------------------------------------------------------------- cnnstep


class _Clock:
    """Seconds accumulated per key while a timed epoch runs."""

    def __init__(self):
        self.seconds: dict = {}

    def add(self, key, seconds: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def backward_window(self, start: float, end: float) -> None:
        """Told when a batch's backward call started and ended (torch's breakdown uses it)."""


def _cnnstep_epoch(model, X, y, batch_size, clock: _Clock | None = None):
    optimizer = Adam(lr=1e-3)

    def epoch():
        for start in range(0, len(X), batch_size):
            Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            logits = model.forward(Xb)
            t0 = time.perf_counter()
            _, dlogits = softmax_cross_entropy(logits, yb)
            t1 = time.perf_counter()
            model.backward(dlogits, input_gradient=False)
            t2 = time.perf_counter()
            optimizer.step(model.params_and_grads())
            if clock is not None:
                clock.add("loss", t1 - t0)
                clock.add("optimizer", time.perf_counter() - t2)

    return epoch


def _timed(method, clock: _Clock, key):
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            clock.add(key, time.perf_counter() - start)

    return call


def _cnnstep_breakdown(model, X, y, batch_size) -> tuple[dict, float]:
    """One epoch with every step's forward and backward timed; (seconds per key, epoch seconds)."""
    clock = _Clock()
    patched = []
    for indices, step in steps(model):
        patched.append(step)
        step.forward = _timed(step.forward, clock, (indices, "forward"))
        step.backward = _timed(step.backward, clock, (indices, "backward"))
    try:
        start = time.perf_counter()
        _cnnstep_epoch(model, X, y, batch_size, clock)()
        total = time.perf_counter() - start
    finally:
        for step in patched:  # the instance attributes go; the class's methods are back
            del step.forward, step.backward
    return clock.seconds, total


# --------------------------------------------------------------------------- torch


def _pads(layer):
    """A built layer's padding as ((top, bottom), (left, right)) for the input it was built for."""
    n_H, n_W = layer.input_shape[:2]
    f_h, f_w = layer.kernel_size if isinstance(layer, layers.Conv2D) else layer.f
    s_h, s_w = layer.stride
    pad = _checks.explicit_padding(layer.pad, "bench_training", "pad")
    return _checks.resolve_padding(pad, n_H, n_W, f_h, f_w, s_h, s_w).as_pairs()


def _channels_last_flatten(torch):
    """A module flattening in (h, w, c) order, as cnnstep's Flatten does."""

    class Flatten(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)

    return Flatten()


def _torch_modules(torch, layer) -> list:
    """The PyTorch modules computing what one built cnnstep layer computes."""
    nn = torch.nn
    if isinstance(layer, layers.Conv2D):
        (top, bottom), (left, right) = _pads(layer)
        c_in = layer.params["W"].shape[2]
        if top == bottom and left == right:  # the convolution pads symmetric sides itself
            return [nn.Conv2d(c_in, layer.filters, layer.kernel_size, stride=layer.stride, padding=(top, left))]
        return [
            nn.ZeroPad2d((left, right, top, bottom)),
            nn.Conv2d(c_in, layer.filters, layer.kernel_size, stride=layer.stride),
        ]
    if isinstance(layer, layers.ReLU):
        return [nn.ReLU()]
    if isinstance(layer, layers.MaxPool2D):
        (top, bottom), (left, right) = _pads(layer)
        padding = []
        if top or bottom or left or right:
            padding.append(nn.ConstantPad2d((left, right, top, bottom), float("-inf")))
        return padding + [nn.MaxPool2d(layer.f, layer.stride)]
    if isinstance(layer, layers.Flatten):
        return [_channels_last_flatten(torch)]
    if isinstance(layer, layers.Dense):
        return [nn.Linear(layer.params["W"].shape[0], layer.units)]
    raise ValueError(f"bench_training: no PyTorch twin for {type(layer).__name__}")


def _torch_model(torch, model):
    """The same layers in PyTorch, one ``nn.Sequential`` group per step of cnnstep's run.

    NCHW tensors in channels_last memory, as the NHWC arrays cnnstep works on.
    """
    nn = torch.nn
    groups = [
        nn.Sequential(*[m for i in indices for m in _torch_modules(torch, model.layers[i])])
        for indices, _ in steps(model)
    ]
    return nn.Sequential(*groups).to(memory_format=torch.channels_last)


def _torch_epoch(torch, net, X, y, batch_size, clock: _Clock | None = None):
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    X_t = torch.from_numpy(X).permute(0, 3, 1, 2)  # channels_last views of the same data
    y_t = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for start in range(0, len(X), batch_size):
            optimizer.zero_grad(set_to_none=True)
            logits = net(X_t[start : start + batch_size])
            t0 = time.perf_counter()
            loss = loss_fn(logits, y_t[start : start + batch_size])
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            optimizer.step()
            if clock is not None:
                clock.add("loss", t1 - t0)
                clock.backward_window(t1, t2)
                clock.add("optimizer", time.perf_counter() - t2)

    return epoch


def _torch_breakdown(torch, net, keys, X, y, batch_size) -> tuple[dict, float]:
    """One epoch with hooks: each group's forward time, and its backward time from the moments
    the gradients of its output and of the previous group's output become ready."""
    clock = _Clock()
    ready = {}  # group index -> time its output's gradient was ready, this batch
    starts = {}
    handles = []

    def pre_hook(k):
        def hook(module, args):
            starts[k] = time.perf_counter()

        return hook

    def post_hook(k):
        def hook(module, args, output):
            clock.add((keys[k], "forward"), time.perf_counter() - starts[k])
            if output.requires_grad:
                output.register_hook(lambda grad: ready.__setitem__(k, time.perf_counter()))

        return hook

    for k, group in enumerate(net):
        handles.append(group.register_forward_pre_hook(pre_hook(k)))
        handles.append(group.register_forward_hook(post_hook(k)))

    def backward_window(start, end):
        # group k's backward runs from its output's gradient to its input's (the previous
        # group's output); the first group's ends with the backward call
        for k in ready:
            clock.add((keys[k], "backward"), (ready.get(k - 1, end) if k > 0 else end) - ready[k])
        if ready:
            clock.add("loss", ready[max(ready)] - start)  # the loss's own backward
        ready.clear()

    clock.backward_window = backward_window
    try:
        start = time.perf_counter()
        _torch_epoch(torch, net, X, y, batch_size, clock)()
        total = time.perf_counter() - start
    finally:
        for handle in handles:
            handle.remove()
    return clock.seconds, total


# --------------------------------------------------------------------------- memory


def _memory_probe(spec: dict) -> dict:
    """In a fresh process: the extra peak resident size of one training step, after a warm-up step."""
    rng = np.random.default_rng(spec["seed"])
    n = spec["image_size"]
    X = rng.random((spec["batch_size"], n, n, spec["channels"]), dtype=np.float32)
    y = rng.integers(0, spec["classes"], size=spec["batch_size"])
    model = architectures.build(spec["model"], (n, n, spec["channels"]), spec["classes"], seed=spec["seed"])
    torch = None
    if spec["contender"] == "torch":
        torch, _ = harness.load_torch()
        if torch is None:
            return {"mib": harness.NA, "method": harness.NA}
    with harness.thread_limits(spec["threads"], torch):
        if torch is None:
            epoch = _cnnstep_epoch(model, X, y, spec["batch_size"])
        else:
            epoch = _torch_epoch(torch, _torch_model(torch, model), X, y, spec["batch_size"])
        epoch()  # warm-up: the optimizer's state, the caches, the allocator
        gc.collect()
        trimmed = harness.malloc_trim()
        if not harness.reset_peak_rss():
            return {"mib": harness.NA, "method": "n/a (no /proc/self/clear_refs)"}
        baseline = harness.status_kib("VmRSS")
        epoch()
        peak = harness.status_kib("VmHWM")
    return {
        "mib": (peak - baseline) / 1024,
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
        "method": "VmHWM - VmRSS" + (" after malloc_trim" if trimmed else ""),
    }


def _memory_probe_main(text: str) -> int:
    print(json.dumps(_memory_probe(json.loads(text))))
    return 0


def _run_probe(spec: dict) -> dict:
    import cnnstep

    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.dirname(os.path.dirname(os.path.abspath(cnnstep.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, src, env.get("PYTHONPATH")]))
    code = "import sys; from bench_training import _memory_probe_main; sys.exit(_memory_probe_main(sys.argv[1]))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, env=env, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"mib": harness.NA, "method": harness.NA, "error": str(exc)}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"mib": harness.NA, "method": harness.NA, "error": lines[-1] if lines else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the run


def _summary(values: list) -> dict:
    return {"median_s": float(np.median(values)), "min_s": float(np.min(values)), "seconds": [float(v) for v in values]}


def _layer_rows(model, keys, ours: dict, theirs: dict | None) -> list:
    rows = []
    for indices in keys:
        row = {"layers": list(indices), "label": _label(model, indices)}
        for who, seconds in (("cnnstep", ours), ("torch", theirs)):
            if seconds is None:
                continue
            row[who] = {op: seconds.get((indices, op), 0.0) for op in ("forward", "backward")}
        rows.append(row)
    return rows


def run(
    models=MODELS,
    image_size=64,
    channels=3,
    classes=10,
    examples=1651,
    batch_size=32,
    rounds=3,
    pause=0.5,
    threads=2,
    seed=0,
    breakdown=True,
    memory=False,
) -> dict:
    """Epoch times of cnnstep and PyTorch on each model, alternating; a JSON-able dict."""
    if isinstance(models, str):
        models = (models,)
    rng = np.random.default_rng(seed)
    X = rng.random((examples, image_size, image_size, channels), dtype=np.float32)
    y = rng.integers(0, classes, size=examples)
    torch, why = harness.load_torch()
    settings = {
        "models": list(models),
        "input_shape": [image_size, image_size, channels],
        "classes": classes,
        "examples": examples,
        "batch_size": batch_size,
        "rounds": rounds,
        "pause_s": pause,
        "threads": threads,
        "seed": seed,
    }
    began = time.perf_counter()
    results = {"settings": settings, "conditions": harness.conditions(torch, why, settings), "models": {}}
    built = {}
    with harness.thread_limits(threads, torch):
        for name in models:
            model = architectures.build(name, (image_size, image_size, channels), classes, seed=seed)
            contenders = {"cnnstep": _cnnstep_epoch(model, X, y, batch_size)}
            net = None
            if torch is not None:
                net = _torch_model(torch, model)
                contenders["torch"] = _torch_epoch(torch, net, X, y, batch_size)
            built[name] = (model, net, contenders)
        times = {name: {who: [] for who in built[name][2]} for name in models}
        for r in range(rounds):
            for name in models:
                contenders = built[name][2]
                order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
                for who in order:
                    time.sleep(pause)
                    gc.collect()
                    start = time.perf_counter()
                    contenders[who]()
                    times[name][who].append(time.perf_counter() - start)
        for name in models:
            model, net, _ = built[name]
            entry = {"params": model.count_params(), "layers": [str(layer) for layer in model.layers]}
            entry["time"] = {who: _summary(values) for who, values in times[name].items()}
            if "torch" in entry["time"]:
                ours, theirs = entry["time"]["cnnstep"], entry["time"]["torch"]
                entry["ratio_median"] = ours["median_s"] / theirs["median_s"]
                entry["ratio_min"] = ours["min_s"] / theirs["min_s"]
            else:
                entry["ratio_median"] = entry["ratio_min"] = harness.NA
            if breakdown:
                keys = [indices for indices, _ in steps(model)]
                time.sleep(pause)
                ours, ours_total = _cnnstep_breakdown(model, X, y, batch_size)
                theirs, theirs_total = None, None
                if net is not None:
                    time.sleep(pause)
                    theirs, theirs_total = _torch_breakdown(torch, net, keys, X, y, batch_size)
                entry["breakdown"] = {
                    "rows": _layer_rows(model, keys, ours, theirs),
                    "epoch_s": {"cnnstep": ours_total, **({"torch": theirs_total} if net is not None else {})},
                    "extra_s": {
                        "cnnstep": {k: ours.get(k, 0.0) for k in ("loss", "optimizer")},
                        **({"torch": {k: theirs.get(k, 0.0) for k in ("loss", "optimizer")}} if net else {}),
                    },
                }
            results["models"][name] = entry
    if memory:
        for name in models:
            probes = {}
            for who in ("cnnstep", "torch") if torch is not None else ("cnnstep",):
                spec = {
                    "model": name,
                    "contender": who,
                    "image_size": image_size,
                    "channels": channels,
                    "classes": classes,
                    "batch_size": batch_size,
                    "threads": threads,
                    "seed": seed,
                }
                probes[who] = _run_probe(spec)
            ours, theirs = probes["cnnstep"]["mib"], probes.get("torch", {}).get("mib")
            ratio = ours / theirs if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0 else "n/a"
            results["models"][name]["memory"] = {"probes": probes, "ratio": ratio}
    results["elapsed_s"] = time.perf_counter() - began
    return results


# --------------------------------------------------------------------------- the report


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
        ]
        rows = [["step", "cnnstep fwd", "bwd", "torch fwd", "bwd", "ratio", "share of cnnstep"]]
        total = b["epoch_s"]["cnnstep"]
        accounted = {"cnnstep": 0.0, "torch": 0.0}
        for row in b["rows"]:
            ours = row["cnnstep"]
            theirs = row.get("torch")
            ours_sum = ours["forward"] + ours["backward"]
            accounted["cnnstep"] += ours_sum
            ratio = harness.NA
            if theirs is not None:
                accounted["torch"] += theirs["forward"] + theirs["backward"]
                both = theirs["forward"] + theirs["backward"]
                ratio = _r(ours_sum / both) if both > 0 else harness.NA
            rows.append(
                [
                    row["label"],
                    _s(ours["forward"]),
                    _s(ours["backward"]),
                    _s(theirs["forward"]) if theirs else harness.NA,
                    _s(theirs["backward"]) if theirs else harness.NA,
                    ratio,
                    f"{100 * ours_sum / total:.0f}%",
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
        lines += harness.table(rows, "<>>>>>>")
    return "\n".join(lines) + "\n"


def _write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(results: dict, folder: str, label: str) -> list[str]:
    """Write the report and the JSON as ``training-<date>-<label>.txt`` / ``.json`` in ``folder``."""
    date = datetime.date.today().isoformat()
    stem = os.path.join(folder, f"training-{date}-{label}")
    _write_atomic(stem + ".txt", format_report(results))
    _write_atomic(stem + ".json", json.dumps(results, indent=1, default=str) + "\n")
    return [stem + ".txt", stem + ".json"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_training.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: default,application")
    parser.add_argument("--image-size", type=harness.positive_int, default=64)
    parser.add_argument("--examples", type=harness.positive_int, default=1651)
    parser.add_argument("--batch-size", type=harness.positive_int, default=32)
    parser.add_argument("--rounds", type=harness.positive_int, default=3)
    parser.add_argument("--pause", type=harness.seconds, default=0.5)
    parser.add_argument("--threads", type=harness.positive_int, default=2)
    parser.add_argument("--no-breakdown", action="store_true", help="skip the instrumented epochs")
    parser.add_argument("--memory", action="store_true", help="probe the peak memory of one training step")
    parser.add_argument("--out", default=RESULTS, help="folder of the results files (default benchmarks/results)")
    parser.add_argument("--label", default="run", help="the results files' name: training-<date>-<label>.txt/.json")
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(architectures.ARCHITECTURES))
    if unknown or not models:
        parser.error(f"--models: unknown {unknown}, expected some of {sorted(architectures.ARCHITECTURES)}")
    results = run(
        models,
        image_size=args.image_size,
        examples=args.examples,
        batch_size=args.batch_size,
        rounds=args.rounds,
        pause=args.pause,
        threads=args.threads,
        breakdown=not args.no_breakdown,
        memory=args.memory,
    )
    print(format_report(results), end="")
    if not args.no_save:
        for path in save(results, args.out, args.label):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
