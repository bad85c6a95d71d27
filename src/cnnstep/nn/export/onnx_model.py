"""An exported ``.onnx`` file run by onnxruntime, with the inference side of ``Sequential``.

:class:`OnnxModel` has what ``cnnstep evaluate`` and ``cnnstep predict`` use of a model --
``input_shape``, ``classes``, ``n_classes``, ``predict_proba(X)``, ``predict(X)`` -- so an
exported model is checked with the same commands as the ``.npz`` it came from.
:func:`load_predictor` picks the reader by the file's suffix.

Needs the ``onnxruntime`` package (``pip install "cnnstep[export]"``), imported when called.
"""

from __future__ import annotations

import json
import os

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep._optional import require
from cnnstep.nn import layers as _layers
from cnnstep.nn.export.onnx_export import INPUT, OUTPUT
from cnnstep.nn.io import ModelFileError

__all__ = ["OnnxModel", "load_predictor"]


class OnnxModel:
    """A model exported by :func:`~cnnstep.nn.to_onnx`, run by onnxruntime on the CPU.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.onnx`` file written by ``cnnstep export`` / ``to_onnx``.

    Attributes
    ----------
    path : str
    input_shape : (n_H, n_W, n_C)
    classes : list of str
    n_classes : int
    dtype : numpy.dtype
        float32, what the graph computes in.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError (a ValueError)
        onnxruntime cannot load the file, or it was not written by cnnstep (no class names
        and input shape in its metadata, other input or output names).
    ImportError
        onnxruntime is not installed.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, path):
        func = "OnnxModel"
        name = _file_name(path, func)
        ort = require("onnxruntime", func)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"{func}: no ONNX model file at {name!r}")
        try:
            session = ort.InferenceSession(name, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's errors (InvalidProtobuf, Fail, ...) share no narrower base
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelFileError(
                f"{func}: {name!r} is not an ONNX model onnxruntime can load: {type(exc).__name__}: {first}"
            ) from exc
        self.path = name
        self.input_shape, self.classes = _read_metadata(session, name, func)
        self._session = session

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return f"OnnxModel({self.path!r}, input_shape={self.input_shape}, classes={self.n_classes})"

    def predict_proba(self, X, batch_size=256) -> np.ndarray:
        """Class probabilities ``(m, n_classes)`` float32 for images ``X (m, n_H, n_W, n_C)``."""
        func = "OnnxModel.predict_proba"
        X = _checks.real_array(X, func, "X")
        if X.ndim != 4 or X.shape[1:] != self.input_shape:
            raise ValueError(
                f"{func}: X must have shape (m, {', '.join(map(str, self.input_shape))}) (m examples of the "
                f"model's input_shape {self.input_shape}), got shape {X.shape}"
            )
        batch_size = _layers.positive_int(batch_size, func, "batch_size")
        out = np.empty((len(X), self.n_classes), dtype=self.dtype)
        for start in range(0, len(X), batch_size):
            rows = slice(start, start + batch_size)
            batch = np.ascontiguousarray(X[rows], dtype=self.dtype)
            out[rows] = self._session.run([OUTPUT], {INPUT: batch})[0]
        return out

    def predict(self, X, batch_size=256) -> np.ndarray:
        """The most probable class index of each image, shape (m,); names: ``classes[i]``."""
        return self.predict_proba(X, batch_size=batch_size).argmax(axis=1)


def _read_metadata(session, name: str, func: str):
    """The input shape and class names that ``to_onnx`` wrote, checked against the graph."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT] or [o.name for o in outputs] != [OUTPUT]:
        raise ModelFileError(
            f"{func}: {name!r} is an ONNX model but not one cnnstep exported: it takes "
            f"{[i.name for i in inputs]} and gives {[o.name for o in outputs]}, expected [{INPUT!r}] and [{OUTPUT!r}]"
        )
    meta = session.get_modelmeta().custom_metadata_map
    try:
        classes = json.loads(meta["cnnstep.classes"])
        input_shape = tuple(json.loads(meta["cnnstep.input_shape"]))
    except (KeyError, ValueError) as exc:
        raise ModelFileError(
            f"{func}: {name!r} is an ONNX model but not one cnnstep exported: its metadata lacks a readable "
            f"cnnstep.classes and cnnstep.input_shape ({type(exc).__name__}: {exc})"
        ) from None
    well_formed = (
        isinstance(classes, list)
        and classes
        and all(isinstance(c, str) for c in classes)
        and len(input_shape) == 3
        and all(_checks.is_int(d) and d >= 1 for d in input_shape)
    )
    if not well_formed or list(inputs[0].shape[1:]) != list(input_shape) or outputs[0].shape[1:] != [len(classes)]:
        raise ModelFileError(
            f"{func}: {name!r}: the metadata (classes {_checks.show(classes)}, input_shape {input_shape}) does not "
            f"match the graph (input {inputs[0].shape}, output {outputs[0].shape})"
        )
    return tuple(int(d) for d in input_shape), list(classes)


def _file_name(path, func: str) -> str:
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(name, str):
        raise TypeError(f"{func}: path must be a file path (str or os.PathLike), got {_checks.show(path)}")
    return name


def load_predictor(path):
    """A model to predict with, by the file's suffix: ``.onnx`` -> :class:`OnnxModel`, else ``load_model``.

    Both have ``input_shape``, ``classes``, ``n_classes``, ``predict_proba(X)`` and ``predict(X)``.
    """
    name = _file_name(path, "load_predictor")
    if name.lower().endswith(".onnx"):
        return OnnxModel(name)
    from cnnstep.nn import load_model

    return load_model(name)
