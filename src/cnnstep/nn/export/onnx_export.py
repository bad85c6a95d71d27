"""A cnnstep model as an ONNX graph, for onnxruntime on servers, phones and the web.

The graph takes what cnnstep takes and gives what ``predict_proba`` gives:

    images         float32 (batch, n_H, n_W, n_C), channels-last, the batch size free
    probabilities  float32 (batch, n_classes), the softmax included

Inside, the images are transposed once to ONNX's channels-first layout before the first
convolution or pooling, and back to channels-last before a ``Flatten``, so that the
flattened vector is in cnnstep's (h, w, c) order and a ``Dense`` layer's weights are
written as they are. Paddings are explicit per side, as cnnstep resolved them for the
model's input size: max-pooling ignores the padded cells (ONNX's MaxPool pads with
-inf), average-pooling divides by the number of real cells (``count_include_pad=0``).
The class names and the input shape are in the model's ``metadata_props`` (as JSON).

Needs the ``onnx`` package (``pip install "cnnstep[export]"``), imported when called.
"""

from __future__ import annotations

import json
import os

import numpy as np

import cnnstep
from cnnstep._kernels import checks as _checks
from cnnstep._optional import require
from cnnstep.nn.export import _plan
from cnnstep.nn.io import atomic_write
from cnnstep.nn.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU

__all__ = ["to_onnx", "OPSET", "IR_VERSION", "INPUT", "OUTPUT", "METADATA_KEYS"]

OPSET = 21  # the default domain's opset: ONNX 1.16 and onnxruntime 1.18 onwards read it
IR_VERSION = 10  # the IR version of opset 21
INPUT = "images"
OUTPUT = "probabilities"
# metadata_props: name -> what it holds
METADATA_KEYS = {
    "cnnstep.classes": "the class names, a JSON list of strings, in the order of the output's columns",
    "cnnstep.input_shape": "one image's shape (n_H, n_W, n_C), a JSON list",
    "cnnstep.input_layout": "channels-last float32 (batch, n_H, n_W, n_C)",
    "cnnstep.output": "probabilities (batch, n_classes), the softmax included",
}


def to_onnx(model, path) -> str:
    """Write ``model`` as an ONNX file at ``path``; return the path.

    Parameters
    ----------
    model : cnnstep.nn.Sequential
        Any model of cnnstep's layers. A float64 model is written with its weights rounded
        to float32 (the graph computes in float32).
    path : str or os.PathLike
        The file to write (``.onnx`` by convention; exactly this name). It is written whole
        or not at all, through a temporary file beside it.

    The graph (opset :data:`OPSET`) is checked by ``onnx.checker`` before it is written.

    Raises
    ------
    TypeError
        ``model`` is not a cnnstep ``Sequential``, or holds a layer of a kind not listed in
        ``cnnstep.nn.layers``; ``path`` is not a path.
    OSError
        ``path`` cannot be written (no such folder, a folder, no permission).
    ImportError
        The ``onnx`` package is not installed.
    """
    func = "to_onnx"
    model = _plan.checked_model(model, func)
    path = _file_path(path, func)
    steps = _plan.steps(model, func)
    onnx = require("onnx", func)
    proto = _graph(model, steps, onnx)
    onnx.checker.check_model(proto, full_check=True)
    _write_whole(proto.SerializeToString(), path, func)
    return path


def _file_path(path, func: str) -> str:
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str) or not os.fspath(path):
        raise TypeError(f"{func}: path must be a file path (str or os.PathLike), got {_checks.show(path)}")
    return os.fspath(path)


def _write_whole(data: bytes, path: str, func: str) -> None:
    """``data`` into ``path``, whole or not at all (:func:`cnnstep.nn.io.atomic_write`)."""
    try:
        with atomic_write(path) as file:
            file.write(data)
    except OSError as exc:
        raise OSError(f"{func}: cannot write {path!r}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- the graph


class _Graph:
    """Nodes appended one after another; ``value`` is the name of the latest output."""

    def __init__(self, onnx):
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.nodes, self.initializers = [], []
        self.value, self.channels_first = INPUT, False

    def weight(self, name: str, array) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, name: str, inputs=(), output=None, **attributes) -> None:
        output = output or name
        self.nodes.append(self.helper.make_node(op, [self.value, *inputs], [output], name=name, **attributes))
        self.value = output

    def to_channels_first(self, name: str) -> None:
        """(batch, h, w, c) -> (batch, c, h, w), once before the first convolution or pooling."""
        if not self.channels_first:
            self.node("Transpose", f"{name}.channels_first", perm=[0, 3, 1, 2])
            self.channels_first = True

    def to_channels_last(self, name: str) -> None:
        if self.channels_first:
            self.node("Transpose", f"{name}.channels_last", perm=[0, 2, 3, 1])
            self.channels_first = False


def _window(step: _plan.Step, f: tuple) -> dict:
    """The attributes a convolution or pooling node shares: window, strides, explicit pads."""
    p = _plan.padding(step)
    return {"kernel_shape": list(f), "strides": list(step.layer.stride), "pads": [p.top, p.left, p.bottom, p.right]}


def _conv(g: _Graph, step: _plan.Step, name: str) -> None:
    layer = step.layer
    g.to_channels_first(name)
    # cnnstep W (f_h, f_w, n_C_prev, n_C) -> ONNX (n_C, n_C_prev, f_h, f_w)
    W = g.weight(f"{name}.W", layer.params["W"].transpose(3, 2, 0, 1))
    b = g.weight(f"{name}.b", layer.params["b"].reshape(-1))
    g.node("Conv", name, [W, b], dilations=[1, 1], group=1, **_window(step, layer.kernel_size))


def _max_pool(g: _Graph, step: _plan.Step, name: str) -> None:
    g.to_channels_first(name)
    g.node("MaxPool", name, ceil_mode=0, **_window(step, step.layer.f))


def _average_pool(g: _Graph, step: _plan.Step, name: str) -> None:
    g.to_channels_first(name)
    g.node("AveragePool", name, ceil_mode=0, count_include_pad=0, **_window(step, step.layer.f))


def _relu(g: _Graph, step: _plan.Step, name: str) -> None:
    g.node("Relu", name)  # element-wise: either layout


def _flatten(g: _Graph, step: _plan.Step, name: str) -> None:
    g.to_channels_last(name)  # cnnstep flattens in (h, w, c) order
    g.node("Flatten", name, axis=1)


def _dense(g: _Graph, step: _plan.Step, name: str) -> None:
    layer = step.layer
    W = g.weight(f"{name}.W", layer.params["W"])  # (n, units): x @ W + b
    b = g.weight(f"{name}.b", layer.params["b"].reshape(-1))
    g.node("Gemm", name, [W, b])


_WRITERS = {
    Conv2D: _conv,
    MaxPool2D: _max_pool,
    AvgPool2D: _average_pool,
    ReLU: _relu,
    Flatten: _flatten,
    Dense: _dense,
}


def _graph(model, steps: list, onnx):
    """The whole ModelProto: the layers, the softmax, the typed input and output, the metadata."""
    helper = onnx.helper
    g = _Graph(onnx)
    for step in steps:
        _WRITERS[type(step.layer)](g, step, f"layer{step.index}.{type(step.layer).__name__}")
    g.node("Softmax", "softmax", output=OUTPUT, axis=1)
    float32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        "cnnstep",
        [helper.make_tensor_value_info(INPUT, float32, ["batch", *model.input_shape])],
        [helper.make_tensor_value_info(OUTPUT, float32, ["batch", model.n_classes])],
        initializer=g.initializers,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="cnnstep",
        producer_version=cnnstep.__version__,
        doc_string=(
            f"A cnnstep model: images {INPUT} float32 (batch, {', '.join(map(str, model.input_shape))}) "
            f"channels-last -> {OUTPUT} (batch, {model.n_classes}), softmax included"
        ),
    )
    helper.set_model_props(
        proto,
        {
            "cnnstep.classes": json.dumps(list(model.classes)),
            "cnnstep.input_shape": json.dumps(list(model.input_shape)),
            "cnnstep.input_layout": METADATA_KEYS["cnnstep.input_layout"],
            "cnnstep.output": METADATA_KEYS["cnnstep.output"],
        },
    )
    return proto
