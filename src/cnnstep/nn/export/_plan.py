"""What every exporter reads off a model: its layers in order, each with its input shape and
the padding cnnstep resolved for that shape.

``"same"`` padding is resolved per input size (``cnnstep._kernels.checks.resolve_padding``),
so an exported graph holds explicit ``(top, bottom, left, right)`` amounts, the very ones
cnnstep's kernels use.
"""

from __future__ import annotations

from typing import NamedTuple

from cnnstep._kernels import checks as _checks
from cnnstep.nn.layers import AvgPool2D, Conv2D, Dense, Flatten, Layer, MaxPool2D, ReLU
from cnnstep.nn.model import Sequential

KINDS = (Conv2D, MaxPool2D, AvgPool2D, ReLU, Flatten, Dense)
KIND_NAMES = ", ".join(kind.__name__ for kind in KINDS)


class Step(NamedTuple):
    """One layer of a model with what an exporter needs to write it."""

    index: int
    layer: Layer
    input_shape: tuple  # one example's shape, (n_H, n_W, n_C) or (n,)


def checked_model(model, func: str) -> Sequential:
    if not isinstance(model, Sequential):
        raise TypeError(
            f"{func}: model must be a cnnstep.nn.Sequential (e.g. from cnnstep.nn.load_model), "
            f"got {_checks.show(model)}"
        )
    return model


def steps(model: Sequential, func: str) -> list[Step]:
    """The model's layers with their input shapes; a layer of a kind no exporter knows is a TypeError."""
    shapes = [model.input_shape, *model.output_shapes[:-1]]
    out = []
    for i, (layer, shape) in enumerate(zip(model.layers, shapes, strict=True)):
        if type(layer) not in KINDS:
            raise TypeError(
                f"{func}: layer {i} is a {type(layer).__name__}, which cannot be exported; "
                f"the kinds that can: {KIND_NAMES}"
            )
        out.append(Step(i, layer, shape))
    return out


def padding(step: Step) -> _checks.Padding:
    """The padding of a convolution or pooling layer as cnnstep applies it to this input shape."""
    layer = step.layer
    n_H_prev, n_W_prev, _ = step.input_shape
    f_h, f_w = layer.kernel_size if isinstance(layer, Conv2D) else layer.f
    s_h, s_w = layer.stride
    pad = _checks.explicit_padding(layer.pad, type(layer).__name__, "pad")
    return _checks.resolve_padding(pad, n_H_prev, n_W_prev, f_h, f_w, s_h, s_w)
