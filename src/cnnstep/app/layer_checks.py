"""Every layer's backward against finite differences, as :func:`cnnstep.gradcheck.check_blocks` does for the blocks.

:func:`check_layers` is the second half of ``cnnstep gradcheck``: each layer kind, the loss
and a small model, in float64, on inputs chosen away from ReLU's kink and max-pooling's ties.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_layers"]


def _away_from_zero(rng: np.random.Generator, shape: tuple, margin: float = 0.1) -> np.ndarray:
    """Normal values with no entry within ``margin`` of 0 (no ReLU kink under a finite difference)."""
    x = rng.normal(size=shape)
    return np.where(x >= 0, x + margin, x - margin)


def _distinct(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values 0.0, 0.1, 0.2, ... in random order: no ties for max-pooling."""
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) / 10.0


def _check_layer(layer, x: np.ndarray, rng: np.random.Generator, tol: float):
    """Build ``layer`` in float64 for ``x``; check dx and every parameter's gradient."""
    from cnnstep.gradcheck import check_gradients

    layer.build(x.shape[1:], rng, np.float64)
    if "b" in layer.params:  # non-zero biases, as after some training
        layer.params["b"] = layer.params["b"] + rng.normal(scale=0.1, size=layer.params["b"].shape)
    out = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    analytic = {"x": layer.backward(dout), **{name: layer.grads[name] for name in layer.params}}
    inputs = {"x": x, **{name: param.copy() for name, param in layer.params.items()}}

    def forward(x, **params):
        layer.params.update(params)
        return layer.forward(x, training=False)

    return check_gradients(forward, inputs, analytic, dout, tol=tol)


def _check_loss(rng: np.random.Generator, tol: float):
    from cnnstep.gradcheck import check_gradients
    from cnnstep.nn import softmax_cross_entropy

    logits, y = rng.normal(size=(4, 5)), rng.integers(0, 5, size=4)
    _, dlogits = softmax_cross_entropy(logits, y)
    return check_gradients(
        lambda logits: np.array(softmax_cross_entropy(logits, y)[0]),
        {"logits": logits},
        {"logits": dlogits},
        np.array(1.0),
        tol=tol,
    )


def _check_model(rng: np.random.Generator, tol: float):
    """The loss of a small Sequential against its input and every parameter."""
    from cnnstep.gradcheck import check_gradients
    from cnnstep.nn import (
        Conv2D,
        Dense,
        Flatten,
        MaxPool2D,
        ReLU,
        Sequential,
        softmax_cross_entropy,
    )

    model = Sequential(
        [Conv2D(3, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(3)],
        (4, 4, 2),
        seed=int(rng.integers(2**31)),
        dtype=np.float64,
    )
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"] = layer.params["b"] + rng.normal(scale=0.1, size=layer.params["b"].shape)
    x, y = rng.normal(size=(3, 4, 4, 2)), rng.integers(0, 3, size=3)
    _, dlogits = softmax_cross_entropy(model.forward(x, training=True), y)
    analytic = {"x": model.backward(dlogits)}
    inputs = {"x": x}
    for i, layer in enumerate(model.layers):
        for name, param in layer.params.items():
            analytic[f"{i}_{name}"] = layer.grads[name]
            inputs[f"{i}_{name}"] = param.copy()

    def loss(x, **params):
        for key, value in params.items():
            i, name = key.split("_", 1)
            model.layers[int(i)].params[name] = value
        return np.array(softmax_cross_entropy(model.forward(x, training=False), y)[0])

    return check_gradients(loss, inputs, analytic, np.array(1.0), tol=tol)


def check_layers(seed: int = 0, tol: float = 1e-7) -> list:
    """Check every layer's backward, the loss and a whole model against finite differences.

    Conv2D (stride 1 'same'; 4x4, stride 2, pad 1), MaxPool2D and AvgPool2D (tiling and
    'same'), ReLU, Flatten, Dense, the softmax cross-entropy, and a small Sequential
    (conv, ReLU, max-pool, flatten, dense, loss), all in float64. Each layer is checked
    with respect to its input ``x`` and each parameter.

    Returns
    -------
    list of (str, cnnstep.gradcheck.GradcheckResult)
        One per case, as :func:`cnnstep.gradcheck.check_blocks` returns them.
    """
    from cnnstep.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU

    rng = np.random.default_rng(seed)
    cases = [
        ("Conv2D 3x3, stride 1, 'same'", Conv2D(3, 3), rng.normal(size=(2, 5, 5, 2))),
        ("Conv2D 4x4, stride 2, pad 1", Conv2D(2, 4, stride=2, pad=1), rng.normal(size=(2, 7, 6, 2))),
        ("MaxPool2D 2x2/2", MaxPool2D(2), _distinct(rng, (2, 4, 4, 2))),
        ("MaxPool2D 3x3/2 'same'", MaxPool2D(3, stride=2, pad="same"), _distinct(rng, (2, 5, 6, 2))),
        ("AvgPool2D 2x2/2", AvgPool2D(2), rng.normal(size=(2, 4, 4, 2))),
        ("AvgPool2D 3x3/2 'same'", AvgPool2D(3, stride=2, pad="same"), rng.normal(size=(2, 5, 6, 2))),
        ("ReLU", ReLU(), _away_from_zero(rng, (2, 3, 4, 2))),
        ("Flatten", Flatten(), rng.normal(size=(2, 3, 3, 2))),
        ("Dense", Dense(4, init="he"), rng.normal(size=(3, 6))),
    ]
    results = [(name, _check_layer(layer, x, rng, tol)) for name, layer, x in cases]
    results.append(("softmax cross-entropy", _check_loss(rng, tol)))
    results.append(("Sequential + loss", _check_model(rng, tol)))
    return results
