"""Models for the export tests: every layer kind with every padding form, and the agreement bound."""

import numpy as np

from cnnstep import nn

# The promise of the export: probabilities within 1e-5 absolute of predict_proba, in float32.
TARGET = 1e-5


def probability_tolerance(model, dtype=np.float32) -> float:
    """How far two evaluations of ``model``'s probabilities in ``dtype`` may lie apart.

    Every reduction of length n (a convolution's f_h * f_w * n_C_prev products, a pooling
    window, a Dense layer's n inputs, the softmax's k terms) is summed in another order by
    another engine, each order within n * eps(dtype) of the exact sum relative to the sum of
    the terms' magnitudes; the errors of the layers add up and the softmax passes on at most
    its input's error. With unit-scale inputs and weights that is eps * (sum of the n) times a
    small growth factor, capped at the promised TARGET.
    """
    eps = float(np.finfo(dtype).eps)
    n = model.n_classes
    shapes = [model.input_shape, *model.output_shapes[:-1]]
    for layer, shape in zip(model.layers, shapes, strict=True):
        if isinstance(layer, nn.Conv2D):
            n += layer.kernel_size[0] * layer.kernel_size[1] * shape[-1]
        elif isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D)):
            n += layer.f[0] * layer.f[1]
        elif isinstance(layer, nn.Dense):
            n += shape[0]
    return min(TARGET, 8 * n * eps)


# name -> (layers before Flatten, Dense, input shape): each layer kind, each padding form
SHAPE = (7, 9, 3)
CASES = {
    "conv valid": [nn.Conv2D(4, 3, pad="valid")],
    "conv pad 1": [nn.Conv2D(4, 3, pad=1)],
    "conv pad (1, 2)": [nn.Conv2D(4, 3, pad=(1, 2))],
    "conv asymmetric": [nn.Conv2D(4, (2, 3), pad=((0, 2), (1, 0)))],
    "conv same, even kernel": [nn.Conv2D(4, 4, pad="same")],
    "conv same, stride 2": [nn.Conv2D(4, 3, stride=2, pad="same")],
    "conv stride (2, 1)": [nn.Conv2D(4, (3, 2), stride=(2, 1), pad=1)],
    "max pool": [nn.MaxPool2D(2)],
    "max pool overlapping": [nn.MaxPool2D(3, stride=1)],
    "max pool pad 1": [nn.MaxPool2D(3, stride=2, pad=1)],
    "max pool pad 2 of 3": [nn.MaxPool2D(3, stride=2, pad=2)],
    "max pool asymmetric": [nn.MaxPool2D(3, stride=2, pad=((1, 0), (0, 2)))],
    "max pool same": [nn.MaxPool2D(4, stride=3, pad="same")],
    "average pool": [nn.AvgPool2D(2)],
    "average pool pad 1": [nn.AvgPool2D(3, stride=2, pad=1)],
    "average pool pad 2 of 3": [nn.AvgPool2D(3, stride=2, pad=2)],
    "average pool asymmetric": [nn.AvgPool2D((3, 2), stride=(2, 1), pad=((2, 0), (0, 1)))],
    "average pool same": [nn.AvgPool2D(4, stride=3, pad="same")],
    "relu first": [nn.ReLU(), nn.Conv2D(4, 3, pad=1), nn.ReLU()],
    "conv relu pool": [nn.Conv2D(5, 3, pad="same"), nn.ReLU(), nn.MaxPool2D(2, pad="same"), nn.AvgPool2D(2)],
}
CASE_NAMES = sorted(CASES)


def case_model(name: str, n_classes: int = 4, dtype=np.float32):
    """``CASES[name]``, then Flatten and a Dense of ``n_classes``, on 7x9x3 images."""
    layers = [nn.layer_from_config(layer.config()) for layer in CASES[name]]
    return confident(nn.Sequential([*layers, nn.Flatten(), nn.Dense(n_classes)], SHAPE, seed=3, dtype=dtype))


def dense_only_model():
    """Flatten first (no convolution), ReLU between two Dense layers."""
    layers = [nn.Flatten(), nn.Dense(6), nn.ReLU(), nn.Dense(3)]
    return confident(nn.Sequential(layers, (4, 5, 2), seed=4))


def flatten_last_model():
    """A model whose class scores are its last image, flattened: no Dense to absorb an order."""
    layers = [nn.Conv2D(2, 2, pad="valid"), nn.MaxPool2D(2), nn.Flatten()]
    return nn.Sequential(layers, (5, 5, 1), seed=5)


def confident(model, spread: float = 4.0):
    """Scale the last Dense layer so that the probabilities are far from uniform (a sharper test)."""
    last = model.layers[-1]
    last.params["W"] *= last.params["W"].dtype.type(spread)
    last.params["b"][...] = np.linspace(-1, 1, last.units, dtype=last.params["b"].dtype)
    return model


def images(rng, model, m: int) -> np.ndarray:
    """Normal values, negative ones included (max-pooling's padding then matters), float32."""
    return rng.normal(size=(m, *model.input_shape)).astype(np.float32)


def conv_model(A_prev, W, b, hp, n_classes=3):
    """A float32 model of one Conv2D with the filters ``W``, ``b`` (a ``conv_configs`` draw), Flatten, Dense."""
    f_h, f_w, _, n_C = W.shape
    layer = nn.Conv2D(n_C, (f_h, f_w), stride=hp["stride"], pad=hp["pad"])
    model = nn.Sequential([layer, nn.Flatten(), nn.Dense(n_classes)], A_prev.shape[1:], seed=0)
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return model


def pool_model(A_prev, hp, mode, n_classes=3):
    """A float32 model of one pooling layer of ``hp`` (a ``pool_configs`` draw), Flatten, Dense."""
    kind = nn.MaxPool2D if mode == "max" else nn.AvgPool2D
    layer = kind(hp["f"], stride=hp["stride"], pad=hp.get("pad", 0))
    return confident(nn.Sequential([layer, nn.Flatten(), nn.Dense(n_classes)], A_prev.shape[1:], seed=0))
