"""The model file: one ``.npz`` of every parameter and the architecture as JSON, written atomically.

:func:`layer_from_config` rebuilds one layer from its ``config()``, as the file stores it.

``save_model(model, path)`` (also ``Sequential.save``) writes ``param.<layer index>.<name>``
for every parameter array and, under ``architecture``, the JSON of ``model.config()`` as a
NumPy unicode array, so ``np.load(path, allow_pickle=False)`` reads the file without
cnnstep. :func:`load_model` rebuilds the model and checks every entry. :func:`atomic_write`
is the one way cnnstep writes a file: whole, or not at all.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import secrets
import zipfile
import zlib

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.nn.layers import AvgPool2D, Conv2D, Dense, Flatten, Layer, MaxPool2D, ReLU
from cnnstep.nn.model import FORMAT, FORMAT_VERSION, Sequential

__all__ = [
    "save_model",
    "load_model",
    "layer_from_config",
    "ModelFileError",
    "atomic_write",
    "FORMAT",
    "FORMAT_VERSION",
]

ARCHITECTURE_KEY = "architecture"


class ModelFileError(ValueError):
    """A file that :func:`load_model` cannot read as a model (its message names the file)."""


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **open_options):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    ``open_options`` go to :func:`open` (``encoding``, ``newline``).

    On any exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is left as it was: no reader ever sees a half-written file.
    """
    path = os.fspath(path)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    try:
        try:
            file = open(tmp, mode.replace("w", "x"), **open_options)
        except OSError as exc:  # name the file asked for, not the temporary one
            raise type(exc)(exc.errno, f"cannot write {path!r}: {exc.strerror}") from exc
        with file:
            yield file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


LAYERS = {cls.__name__: cls for cls in (Conv2D, MaxPool2D, AvgPool2D, ReLU, Flatten, Dense)}  # config types


def layer_from_config(config) -> Layer:
    """A new, unbuilt layer from a dict made by ``Layer.config()``."""
    func = "layer_from_config"
    if not isinstance(config, dict):
        raise TypeError(f"{func}: config must be a dict made by Layer.config(), got {_checks.show(config)}")
    kind = config.get("type")
    if kind not in LAYERS:
        raise ValueError(f"{func}: unknown layer type {kind!r}, expected one of {sorted(LAYERS)}")
    cls = LAYERS[kind]
    args = {k: v for k, v in config.items() if k != "type"}
    try:
        inspect.signature(cls).bind(**args)
    except TypeError as exc:
        raise TypeError(f"{func}: a {kind} cannot be made from the arguments {sorted(args)}: {exc}") from None
    return cls(**args)


def _param_key(index: int, name: str) -> str:
    return f"param.{index}.{name}"


def save_model(model: Sequential, path) -> str:
    """Write ``model`` to one ``.npz`` file at ``path`` (exactly; no suffix is added); return the path."""
    path = os.fspath(path)
    arrays = {
        _param_key(i, name): param for i, layer in enumerate(model.layers) for name, param in layer.params.items()
    }
    arrays[ARCHITECTURE_KEY] = np.array(json.dumps(model.config()))
    with atomic_write(path) as file:
        np.savez(file, **arrays)
    return path


_UNREADABLE = (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, TypeError)


def load_model(path) -> Sequential:
    """Rebuild a model written by :meth:`Sequential.save`; it predicts identically.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError (a ValueError)
        The file is not a cnnstep model: not a zip, truncated, corrupt, a NumPy archive
        written by something else, or a newer format version. The message names the file.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"load_model: no model file at {name!r}")
    with open(name, "rb") as file:  # ours to close, whatever np.load makes of it
        try:
            archive = np.load(file, allow_pickle=False)
        except _UNREADABLE as exc:
            raise ModelFileError(
                f"load_model: {name!r} is not a cnnstep model file (.npz written by "
                f"Sequential.save): {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ModelFileError(
                f"load_model: {name!r} is not a cnnstep model file: it holds a single NumPy "
                f"array, not the .npz archive Sequential.save writes"
            )
        with archive:
            try:
                return _model_from(archive, name)
            except ModelFileError:
                raise
            except _UNREADABLE as exc:
                raise ModelFileError(
                    f"load_model: {name!r} is not a valid cnnstep model file (corrupt or "
                    f"truncated?): {type(exc).__name__}: {exc}"
                ) from exc


def _architecture(archive, name: str) -> dict:
    """The JSON architecture, after checking that it is ours and of a version we read."""
    if ARCHITECTURE_KEY not in archive.files:
        raise ModelFileError(
            f"load_model: {name!r} is a NumPy archive but not a cnnstep model: it has no "
            f"{ARCHITECTURE_KEY!r} entry (entries: {sorted(archive.files)[:8]})"
        )
    text = archive[ARCHITECTURE_KEY]
    if text.dtype.kind != "U" or text.ndim != 0:
        raise ModelFileError(
            f"load_model: {name!r}: the {ARCHITECTURE_KEY!r} entry must be a JSON string, "
            f"got an array of shape {text.shape} and dtype {text.dtype}"
        )
    arch = json.loads(str(text[()]))
    if not isinstance(arch, dict) or arch.get("format") != FORMAT:
        raise ModelFileError(f"load_model: {name!r}: the architecture is not one of a {FORMAT} model")
    version = arch.get("version")
    if not _checks.is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(
            f"load_model: {name!r} has format version {version!r}; this cnnstep reads versions 1 to {FORMAT_VERSION}"
        )
    return arch


def _model_from(archive, name: str) -> Sequential:
    """Build the architecture, then copy in every parameter, checking shape and dtype."""
    arch = _architecture(archive, name)
    layer_configs = arch["layers"]
    if not isinstance(layer_configs, list):
        raise ModelFileError(f"load_model: {name!r}: the architecture's layers must be a list")
    model = Sequential(
        [layer_from_config(c) for c in layer_configs],
        tuple(arch["input_shape"]),
        classes=arch["classes"],
        seed=arch.get("seed", 0),
        dtype=arch["dtype"],
    )
    expected = {ARCHITECTURE_KEY}
    for i, layer in enumerate(model.layers):
        for pname, param in layer.params.items():
            key = _param_key(i, pname)
            expected.add(key)
            if key not in archive.files:
                raise ModelFileError(f"load_model: {name!r} lacks the parameter {key!r} of layer {i} {layer!r}")
            stored = archive[key]
            if stored.shape != param.shape or stored.dtype != param.dtype:
                raise ModelFileError(
                    f"load_model: {name!r}: the parameter {key!r} has shape {stored.shape} and "
                    f"dtype {stored.dtype}, layer {i} {layer!r} needs {param.shape} {param.dtype}"
                )
            np.copyto(param, stored)
    extra = sorted(set(archive.files) - expected)
    if extra:
        raise ModelFileError(f"load_model: {name!r} holds entries that belong to no layer: {extra[:8]}")
    return model
