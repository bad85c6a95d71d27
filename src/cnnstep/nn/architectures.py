"""Ready-made models, by name.

* :func:`application` -- the exercise's own model (CONV, RELU, MAXPOOL twice, then FLATTEN
  and a softmax DENSE);
* :func:`default` -- a slightly larger model for real images: three 3x3 convolution blocks.

:func:`build` picks one by name: ``build("default", (64, 64, 3), 6, seed=0)``.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.nn.args import example_shape
from cnnstep.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnstep.nn.model import Sequential

__all__ = ["application", "default", "build", "ARCHITECTURES"]


def _n_classes(n_classes, func: str) -> int:
    if not _checks.is_int(n_classes):
        raise TypeError(f"{func}: n_classes must be an integer >= 2, got {_checks.show(n_classes)}")
    if n_classes < 2:
        raise ValueError(f"{func}: n_classes must be at least 2 for a softmax classifier, got {n_classes!r}")
    return int(n_classes)


def application(input_shape, n_classes, seed=0, dtype=np.float32, classes=None) -> Sequential:
    """The model of the exercise, for images of ``input_shape`` (n_H, n_W, n_C).

    Layers, with the output shapes for the exercise's 64x64x3 images::

        Conv2D(8, 4x4, stride 1, 'same')       (64, 64, 8)
        ReLU                                   (64, 64, 8)
        MaxPool2D(8x8, stride 8, 'same')       (8, 8, 8)
        Conv2D(16, 2x2, stride 1, 'same')      (8, 8, 16)
        ReLU                                   (8, 8, 16)
        MaxPool2D(4x4, stride 4, 'same')       (2, 2, 16)
        Flatten                                (64,)
        Dense(n_classes), softmax in the loss  (n_classes,)

    'same' pooling gives ``ceil(n / stride)``, so any input size works.

    Parameters
    ----------
    input_shape : (n_H, n_W, n_C)
    n_classes : int >= 2
    seed, dtype, classes
        As :class:`~cnnstep.nn.Sequential` takes them.
    """
    n_classes = _n_classes(n_classes, "application")
    layers = [
        Conv2D(8, 4, stride=1, pad="same"),
        ReLU(),
        MaxPool2D(8, stride=8, pad="same"),
        Conv2D(16, 2, stride=1, pad="same"),
        ReLU(),
        MaxPool2D(4, stride=4, pad="same"),
        Flatten(),
        Dense(n_classes),
    ]
    return Sequential(layers, input_shape, classes=classes, seed=seed, dtype=dtype)


def default(input_shape, n_classes, seed=0, dtype=np.float32, classes=None) -> Sequential:
    """A three-block convolutional model for real images of ``input_shape`` (n_H, n_W, n_C).

    Three blocks of ``Conv2D(3x3, 'same') -> ReLU -> MaxPool2D(2x2)`` with 16, 32 and 64
    filters, then ``Flatten -> Dense(n_classes)``. A block pools only while the smaller
    side is at least 4, so small images keep at least 2x2 cells. Output shapes::

        input             64x64x3        8x8x1
        block 1 (16)      (32, 32, 16)   (4, 4, 16)
        block 2 (32)      (16, 16, 32)   (2, 2, 32)
        block 3 (64)      (8, 8, 64)     (2, 2, 64)   no pooling
        Flatten           (4096,)        (256,)
        Dense             (n_classes,)   (n_classes,)

    Parameters
    ----------
    input_shape : (n_H, n_W, n_C)
    n_classes : int >= 2
    seed, dtype, classes
        As :class:`~cnnstep.nn.Sequential` takes them.
    """
    n_classes = _n_classes(n_classes, "default")
    n_H, n_W, _ = example_shape(input_shape, "default", ndim=3)
    side = min(n_H, n_W)
    layers = []
    for filters in (16, 32, 64):
        layers += [Conv2D(filters, 3, stride=1, pad="same"), ReLU()]
        if side >= 4:
            layers.append(MaxPool2D(2))
            side //= 2
    layers += [Flatten(), Dense(n_classes)]
    return Sequential(layers, input_shape, classes=classes, seed=seed, dtype=dtype)


ARCHITECTURES = {"application": application, "default": default}


def build(name, input_shape, n_classes, seed=0, dtype=np.float32, classes=None) -> Sequential:
    """The architecture called ``name`` (``"application"`` or ``"default"``), built.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if not isinstance(name, str):
        raise TypeError(f"build: name must be one of {sorted(ARCHITECTURES)}, got {_checks.show(name)}")
    if name not in ARCHITECTURES:
        raise ValueError(f"build: unknown architecture {name!r}, expected one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](input_shape, n_classes, seed=seed, dtype=dtype, classes=classes)
