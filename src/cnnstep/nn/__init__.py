"""cnnstep.nn: layers, losses, optimizers and a sequential model on the eight blocks.

The exercise's model, trained and saved::

    import numpy as np
    from cnnstep import nn

    model = nn.application((64, 64, 3), n_classes=6, seed=0)
    print(model.summary())
    history = model.fit(X_train, y_train, epochs=20, batch_size=64, optimizer=nn.Adam(lr=1e-3),
                        validation_data=(X_test, y_test))
    model.save("signs.npz")
    same = nn.load_model("signs.npz")

Images are channels-last ``(m, n_H, n_W, n_C)`` floats, labels integer class indices. The
layers call ``cnnstep.conv_forward`` / ``conv_backward`` / ``pool_forward`` /
``pool_backward``, so the model is built from the very blocks the exercise teaches.
"""

from cnnstep.nn.architectures import ARCHITECTURES, application, build, default
from cnnstep.nn.export import OnnxModel, from_torch, load_predictor, to_onnx, to_torch
from cnnstep.nn.io import ModelFileError, layer_from_config, load_model
from cnnstep.nn.layers import (
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
)
from cnnstep.nn.losses import softmax, softmax_cross_entropy
from cnnstep.nn.model import Sequential, TrainingDiverged
from cnnstep.nn.optim import SGD, Adam, Optimizer

__all__ = [
    "Layer",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "ReLU",
    "Flatten",
    "Dense",
    "layer_from_config",
    "softmax",
    "softmax_cross_entropy",
    "Optimizer",
    "SGD",
    "Adam",
    "Sequential",
    "load_model",
    "TrainingDiverged",
    "ModelFileError",
    "application",
    "default",
    "build",
    "ARCHITECTURES",
    "to_onnx",
    "to_torch",
    "from_torch",
    "OnnxModel",
    "load_predictor",
]
