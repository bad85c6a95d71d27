"""What the explainer page shows: the model and the one image it reads.

* :func:`digits_model` trains the default architecture on the built-in digits in about a
  second (the page's model when no MODEL is given) and keeps its test digits;
* :func:`saved_model` reads a model file, and the test set of its own data when the run's
  ``metrics.json`` beside it names that data;
* :func:`read_image` reads an image file (resized and converted to the model's input) or
  a ``.npy`` array (taken as it is).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.app.images import resize_images

FUNC = "explain"
DIGITS_EPOCHS = 6
DIGITS_SEED = 0
CHANNEL_WORDS = {1: "grayscale", 3: "RGB"}


@dataclass
class ModelSource:
    """A model, a sentence on where it came from, and its test images when known."""

    model: object
    description: str
    test_X: np.ndarray | None = None
    test_y: np.ndarray | None = None
    test_classes: list = field(default_factory=list)
    test_source: str = ""


@dataclass
class Picture:
    """One image as the model takes it, (n_H, n_W, n_C) float32, and an account of it."""

    x: np.ndarray
    source: str
    note: str
    label: str | None = None


def _size_text(shape) -> str:
    n_H, n_W, n_C = shape
    return f"{n_H}x{n_W} {CHANNEL_WORDS.get(n_C, f'{n_C}-channel')}"


# --------------------------------------------------------------------------- models


def digits_model(log=print) -> ModelSource:
    """The default architecture trained on scikit-learn's digits, with its test digits."""
    from cnnstep.app.data import load_digits, train_test_split
    from cnnstep.nn import Adam, build

    train, test = train_test_split(load_digits(), test_fraction=0.2, seed=DIGITS_SEED)
    model = build("default", train.X.shape[1:], len(train.classes), seed=DIGITS_SEED, classes=train.classes)
    started = time.perf_counter()
    model.fit(
        train.X,
        train.y,
        epochs=DIGITS_EPOCHS,
        batch_size=32,
        optimizer=Adam(lr=2e-3),
        seed=DIGITS_SEED,
        lr_schedule="cosine",
    )
    seconds = time.perf_counter() - started
    accuracy = model.evaluate(test.X, test.y)["accuracy"]
    description = (
        f"the default architecture trained on the built-in digits (8x8 grayscale, {len(train)} training "
        f"images) for {DIGITS_EPOCHS} epochs in {seconds:.1f} s: test accuracy {accuracy:.3f}"
    )
    log(f"model: {description}")
    return ModelSource(model, description, test.X, test.y, list(test.classes), "a test digit of the built-in digits")


def saved_model(path, log=print) -> ModelSource:
    """A model file, with the test set of its data when ``metrics.json`` beside it names that data."""
    from cnnstep.nn import load_model

    model = load_model(path)
    source = ModelSource(model, f"{os.fspath(path)} ({model.count_params():,} parameters)")
    metrics_file = Path(path).with_name("metrics.json")
    if not metrics_file.is_file():
        return source
    try:
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        data_info = metrics["data"]
        data_name, image_size = data_info["source"], data_info.get("image_size")
        settings = metrics.get("args", {})
        fraction, seed = settings.get("test_fraction", 0.2), settings.get("seed", 0)
    except (OSError, ValueError, KeyError, TypeError):
        return source  # not a run's metrics: the page asks for an image
    try:
        test = _test_set(data_name, image_size, fraction, seed)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        log(f"the model's data {data_name!r} (named in {metrics_file}) cannot be read: {exc}")
        return source
    if test.X.shape[1:] != model.input_shape or not set(test.classes) <= set(model.classes):
        return source
    source.test_X, source.test_y, source.test_classes = test.X, test.y, list(test.classes)
    source.test_source = f"a test image of the model's own data ({data_name})"
    return source


def _test_set(data_name, image_size, fraction, seed):
    """The test split a training run made of its data (the same loader, fraction and seed)."""
    from cnnstep.app import data as _data

    folder = image_size is not None and data_name != "digits" and Path(data_name).is_dir()
    whole, test = _data.load(data_name, image_size=image_size if folder else None)
    if test is None:
        _, test = _data.train_test_split(whole, test_fraction=fraction, seed=seed)
    return test


def picture_from_test_set(source: ModelSource, model_path) -> Picture:
    """The first test image of the model's data; an error asking for an image when there is none."""
    if source.test_X is None or len(source.test_X) == 0:
        shape = _size_text(source.model.input_shape)
        raise ValueError(
            f"{FUNC}: no IMAGE given, and the model {os.fspath(model_path)!r} has no data of its own saved "
            f"with it (a metrics.json beside it naming readable data); give an image for its {shape} "
            f"input: cnnstep explain MODEL IMAGE"
        )
    label = source.test_classes[int(source.test_y[0])]
    return Picture(
        np.asarray(source.test_X[0], dtype=np.float32),
        source.test_source,
        f"{_size_text(source.test_X.shape[1:])}, as the model was trained on it (true class {label!r})",
        label,
    )


# --------------------------------------------------------------------------- images


def read_image(path, input_shape) -> Picture:
    """An image file resized to ``input_shape``, or a ``.npy`` array of exactly that shape."""
    n_H, n_W, n_C = input_shape
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"{FUNC}: no image file at {name!r}")
    if name.lower().endswith(".npy"):
        return _array_picture(name, input_shape)
    if n_C not in CHANNEL_WORDS:
        raise ValueError(
            f"{FUNC}: the model takes {n_C}-channel images of {n_H}x{n_W}; an image file converts to 1 "
            f"(grayscale) or 3 (RGB) channels only: give a .npy array of shape {(n_H, n_W, n_C)}"
        )
    from cnnstep.app.data import load_image

    x = load_image(name, image_size=None, channels=n_C)
    h, w = x.shape[:2]
    if (h, w) == (n_H, n_W):
        how = "taken at its own size"
    else:
        x = resize_images(x[np.newaxis], n_H, n_W)[0]
        kept = "kept" if h * n_W == w * n_H else "not kept"
        how = f"resized from {w}x{h} to {n_W}x{n_H} pixels (width x height; Lanczos, aspect ratio {kept})"
    note = f"{how}, read as {CHANNEL_WORDS[n_C]}: the model's {_size_text(input_shape)} input"
    return Picture(x, name, note)


def _array_picture(name: str, input_shape) -> Picture:
    try:
        array = np.load(name, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{FUNC}: cannot read {name!r} as a NumPy array: {' '.join(str(exc).split())}") from exc
    x = _checks.real_array(array, FUNC, f"the array in {name!r}")
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.shape != tuple(input_shape):
        n_H, n_W, n_C = input_shape
        raise ValueError(
            f"{FUNC}: the model takes images of shape {tuple(input_shape)} (n_H, n_W, n_C: {n_H}x{n_W}, "
            f"{n_C} channel{'s' if n_C > 1 else ''}); {name!r} holds an array of shape {x.shape}. Arrays "
            f"are taken as they are; image files (.png, .jpg) are resized to {n_W}x{n_H} with Lanczos"
        )
    return Picture(x.astype(np.float32), name, f"a NumPy array of shape {x.shape}, taken as it is")
