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

Products (``products`` in the breakdown): for every convolution, the plain ``np.matmul`` calls an
im2col convolution of its shapes cannot do without -- forward ``cols @ W`` (rows = examples x output
positions, columns = f_h x f_w x n_C_prev), backward ``dZ^T @ cols`` for dW and, where the model asks
for the input gradient, ``dZ @ W^T`` -- on random matrices of those shapes, BLAS on the same threads,
the fastest of a few calls for a full batch and for the last, partial one, summed over an epoch's
batches. It is the cost of the arithmetic at BLAS's own speed on these shapes with no other work (no
window copies, no scatter, no bias): a kernel below it saves multiplications (Winograd) or multiplies
faster than BLAS does. Beside it, the BLAS speed of one square product (1024^3) on the same threads.

Peak memory (``--memory``): in a fresh process per contender, the extra peak resident
size of one training step after a warm-up step, as ``bench_kernels.py`` measures it.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np

import harness
from cnnstep._kernels import checks
from cnnstep.nn import Adam, Conv2D, architectures
from cnnstep.nn.losses import softmax_cross_entropy
from training_report import format_report, save
from training_torch import _torch_breakdown, _torch_epoch, _torch_model

__all__ = ["run", "format_report", "main", "MODELS"]

MODELS = ("default", "application")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


# --------------------------------------------------------------------------- the steps of a model's run


def _label(model, indices) -> str:
    names = "+".join(type(model.layers[i]).__name__ for i in indices)
    where = str(indices[0]) if len(indices) == 1 else f"{indices[0]}-{indices[-1]}"
    return f"{where} {names}"


# --------------------------------------------------------------------------- cnnstep


def _cnnstep_epoch(model, X, y, batch_size, clock: harness.Clock | None = None):
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


def _timed(method, clock: harness.Clock, key):
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            clock.add(key, time.perf_counter() - start)

    return call


def _cnnstep_breakdown(model, X, y, batch_size) -> tuple[dict, float]:
    """One epoch with every step's forward and backward timed; (seconds per key, epoch seconds)."""
    clock = harness.Clock()
    patched = []
    for indices, step in model.plan:
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


# --------------------------------------------------------------------------- the products' floor


def _fastest(call, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _conv_products(layer, m: int, input_gradient: bool, rng, repeat: int) -> dict:
    """Seconds of the plain products of one im2col convolution of ``layer`` on a batch of ``m``."""
    W = layer.params["W"]
    g = checks.conv_geometry((m, *layer.input_shape), W.shape, layer.hparameters, "products")
    rows, depth = m * g.n_H * g.n_W, g.f_h * g.f_w * g.n_C_prev
    cols = rng.random((rows, depth), dtype=np.float32)
    dZ = rng.random((rows, g.n_C), dtype=np.float32)
    W2 = W.reshape(depth, g.n_C)
    seconds = {"forward": _fastest(lambda: cols @ W2, repeat), "backward": _fastest(lambda: dZ.T @ cols, repeat)}
    if input_gradient:
        seconds["backward"] += _fastest(lambda: dZ @ W2.T, repeat)
    seconds["flop"] = {
        "forward": 2.0 * rows * depth * g.n_C,
        "backward": (4.0 if input_gradient else 2.0) * rows * depth * g.n_C,
    }
    return seconds


def _products(model, examples: int, batch_size: int, seed: int, repeat: int = 5) -> dict:
    """Per convolution step: the epoch's seconds (and FLOPs) of its plain products; see the module's text."""
    rng = np.random.default_rng(seed)
    full, rest = divmod(examples, batch_size)
    first = next(i for i, layer in enumerate(model.layers) if layer.params)
    out = {}
    for indices, _ in model.plan:
        layer = model.layers[indices[0]]
        if not isinstance(layer, Conv2D):
            continue
        total = {"forward": 0.0, "backward": 0.0, "flop": {"forward": 0.0, "backward": 0.0}}
        for m, count in ((batch_size, full), (rest, 1)):
            if m == 0 or count == 0:
                continue
            one = _conv_products(layer, m, indices[0] != first, rng, repeat)
            for op in ("forward", "backward"):
                total[op] += count * one[op]
                total["flop"][op] += count * one["flop"][op]
        out[indices] = total
    return out


def _square_gflops(size: int = 1024, repeat: int = 5) -> float:
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    return 2.0 * size**3 / _fastest(lambda: a @ a, repeat) / 1e9


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
        measured = harness.peak_rss(epoch)
    return measured if measured is not None else {"mib": harness.NA, "method": "n/a (no /proc/self/clear_refs)"}


# --------------------------------------------------------------------------- the run


def _summary(values: list) -> dict:
    return {"median_s": float(np.median(values)), "min_s": float(np.min(values)), "seconds": [float(v) for v in values]}


def _layer_rows(model, keys, ours: dict, theirs: dict | None, products: dict) -> list:
    rows = []
    for indices in keys:
        row = {"layers": list(indices), "label": _label(model, indices)}
        for who, seconds in (("cnnstep", ours), ("torch", theirs)):
            if seconds is None:
                continue
            row[who] = {op: seconds.get((indices, op), 0.0) for op in ("forward", "backward")}
        if indices in products:
            row["products"] = products[indices]
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
                keys = [indices for indices, _ in model.plan]
                time.sleep(pause)
                ours, ours_total = _cnnstep_breakdown(model, X, y, batch_size)
                theirs, theirs_total = None, None
                if net is not None:
                    time.sleep(pause)
                    theirs, theirs_total = _torch_breakdown(torch, net, keys, X, y, batch_size)
                time.sleep(pause)
                products = _products(model, examples, batch_size, seed)
                entry["breakdown"] = {
                    "rows": _layer_rows(model, keys, ours, theirs, products),
                    "square_gflops": _square_gflops(),
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
                probes[who] = harness.run_probe("bench_training", spec)
            ours, theirs = probes["cnnstep"]["mib"], probes.get("torch", {}).get("mib")
            ratio = ours / theirs if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0 else "n/a"
            results["models"][name]["memory"] = {"probes": probes, "ratio": ratio}
    results["elapsed_s"] = time.perf_counter() - began
    return results


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
