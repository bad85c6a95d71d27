"""One training epoch of a cnnstep model against the same model in PyTorch, in one run.

The model is :func:`cnnstep.nn.architectures.default` (or ``application``) for the given
image shape; PyTorch gets the same layers (same shapes, 'same' paddings, max-pooling,
a dense layer on the channels-last flattening), Adam with the same learning rate, the
same batches of the same float32 data, and the same number of threads. Both run whole
epochs: forward, softmax cross-entropy, backward, Adam step, batch after batch. The data
is random (a stand-in of the sign-digits training split's size): speed does not depend
on the values.

Timing as in ``harness.py``: the contenders alternate, with a pause before each,
and the report quotes medians and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import harness
from cnnstep._kernels import checks as _checks
from cnnstep.nn import Adam, architectures, layers
from cnnstep.nn.losses import softmax_cross_entropy

__all__ = ["run", "format_report", "main"]


def _cnnstep_epoch(model, X, y, batch_size):
    optimizer = Adam(lr=1e-3)

    def epoch():
        for start in range(0, len(X), batch_size):
            Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            _, dlogits = softmax_cross_entropy(model.forward(Xb), yb)
            model.backward(dlogits, input_gradient=False)
            optimizer.step(model.params_and_grads())

    return epoch


def _torch_model(torch, model):
    """The same layers in PyTorch (NCHW internally, channels_last memory)."""
    nn = torch.nn
    modules = []
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            (f_h, f_w), ((top, bottom), (left, right)) = layer.kernel_size, _pads(layer)
            c_in = layer.params["W"].shape[2]
            modules += [
                nn.ZeroPad2d((left, right, top, bottom)),
                nn.Conv2d(c_in, layer.filters, (f_h, f_w), stride=layer.stride),
            ]
        elif isinstance(layer, layers.ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, layers.MaxPool2D):
            (top, bottom), (left, right) = _pads(layer)
            if top or bottom or left or right:
                modules.append(nn.ConstantPad2d((left, right, top, bottom), float("-inf")))
            modules.append(nn.MaxPool2d(layer.f, layer.stride))
        elif isinstance(layer, layers.Flatten):
            modules.append(_channels_last_flatten(torch))
        elif isinstance(layer, layers.Dense):
            modules.append(nn.Linear(layer.params["W"].shape[0], layer.units))
        else:
            raise ValueError(f"bench_training: no PyTorch twin for {type(layer).__name__}")
    return nn.Sequential(*modules).to(memory_format=torch.channels_last)


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


def _torch_epoch(torch, net, X, y, batch_size):
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    X_t = torch.from_numpy(X).permute(0, 3, 1, 2)  # channels_last views of the same data
    y_t = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for start in range(0, len(X), batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(X_t[start : start + batch_size]), y_t[start : start + batch_size])
            loss.backward()
            optimizer.step()

    return epoch


def run(
    model_name="default",
    image_size=64,
    channels=3,
    classes=10,
    examples=1651,
    batch_size=32,
    rounds=3,
    pause=0.5,
    threads=2,
    seed=0,
) -> dict:
    """Median seconds per epoch of cnnstep and PyTorch on the same model and data."""
    rng = np.random.default_rng(seed)
    X = rng.random((examples, image_size, image_size, channels), dtype=np.float32)
    y = rng.integers(0, classes, size=examples)
    model = architectures.build(model_name, (image_size, image_size, channels), classes, seed=seed)
    torch, why = harness.load_torch()
    contenders = {"cnnstep": _cnnstep_epoch(model, X, y, batch_size)}
    with harness.thread_limits(threads, torch):
        if torch is not None:
            contenders["torch"] = _torch_epoch(torch, _torch_model(torch, model), X, y, batch_size)
        times = {name: [] for name in contenders}
        for r in range(rounds):
            order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
            for name in order:
                time.sleep(pause)
                start = time.perf_counter()
                contenders[name]()
                times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(values)) for name, values in times.items()}
    ratio = medians["cnnstep"] / medians["torch"] if "torch" in medians else "n/a"
    return {
        "model": model_name,
        "input_shape": [image_size, image_size, channels],
        "classes": classes,
        "examples": examples,
        "batch_size": batch_size,
        "rounds": rounds,
        "threads": threads,
        "params": model.count_params(),
        "seconds": times,
        "median_seconds": medians,
        "ratio": ratio,
        "torch": "n/a" if torch is None else torch.__version__,
        "torch_missing": why,
    }


def format_report(result: dict) -> str:
    med = result["median_seconds"]
    torch_text = f"{med['torch']:.2f} s" if "torch" in med else "n/a"
    ratio = result["ratio"]
    ratio_text = f"{ratio:.2f}" if isinstance(ratio, float) else "n/a"
    shape = "x".join(map(str, result["input_shape"]))
    return (
        f"one training epoch, model {result['model']} ({result['params']:,} parameters) on {result['examples']} "
        f"images {shape}, batch {result['batch_size']}, Adam, {result['threads']} threads, median of "
        f"{result['rounds']}:\n  cnnstep {med['cnnstep']:.2f} s   torch {torch_text}   ratio cnnstep/torch "
        f"{ratio_text}\n"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_training.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", choices=sorted(architectures.ARCHITECTURES))
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--examples", type=int, default=1651)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    result = run(
        args.model, image_size=args.image_size, examples=args.examples, rounds=args.rounds, threads=args.threads
    )
    print(format_report(result), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
