"""What the command line does with a trained model: ``cnnstep evaluate`` and ``cnnstep predict``.

Both read images at the model's input size and channels (resizing with Pillow's Lanczos
filter where the source's size differs) and match class names, not indices.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.app.images import resize_images

__all__ = ["evaluate", "predict_files"]


def _model_data(data, model, func: str):
    """The data ``data`` names, as the model takes it; the split evaluated ("test" or "all")."""
    from cnnstep.app import data as _data

    n_H, n_W, n_C = model.input_shape
    if _data.is_image_folder(data):
        dataset = _data.load_image_folder(data, image_size=n_H if n_H == n_W else None, channels=n_C)
        if dataset.X.shape[1:3] != (n_H, n_W):
            dataset = _data.Dataset(resize_images(dataset.X, n_H, n_W), dataset.y, dataset.classes, dataset.source)
        return dataset, "all"
    whole, test = _data.load(data)
    dataset, split = (whole, "all") if test is None else (test, "test")
    if dataset.X.shape[1:] != model.input_shape:
        raise ValueError(
            f"{func}: the model takes images of shape {model.input_shape} (n_H, n_W, n_C) but "
            f"{dataset.source!r} holds images of shape {tuple(dataset.X.shape[1:])}"
        )
    return dataset, split


def _model_labels(dataset, model, func: str) -> np.ndarray:
    """The data's labels as indices into the model's classes, matched by class name."""
    unknown = [name for name in dataset.classes if name not in model.classes]
    if unknown:
        raise ValueError(
            f"{func}: the data's classes {unknown} are not among the model's classes "
            f"{model.classes}; evaluate on data of the classes the model was trained on"
        )
    index = np.array([model.classes.index(name) for name in dataset.classes], dtype=np.int64)
    return index[dataset.y]


def evaluate(model, data) -> dict:
    """Accuracy of a trained model on the data ``data`` names, overall and per class.

    Parameters
    ----------
    model : cnnstep.nn.Sequential
    data : str or pathlib.Path
        As ``--data`` takes it. Image folders are read at the model's input size and
        channels; their class names must be among the model's (labels are matched by
        name). A source with a test set of its own (the .h5 pair) is evaluated on that
        test set; other sources (digits, image folders) on every example they hold.

    Returns
    -------
    dict
        ``data`` (source), ``split`` ("test" or "all"), ``examples``, ``accuracy``,
        ``per_class`` (one dict per model class: ``class``, ``examples``, ``correct``,
        ``accuracy`` -- None for a class without examples) and ``confusion`` (rows: true
        class, columns: predicted, in the model's class order).
    """
    from cnnstep.app import plots

    func = "evaluate"
    dataset, split = _model_data(data, model, func)
    y = _model_labels(dataset, model, func)
    predicted = model.predict(dataset.X)
    matrix = plots.confusion_counts(y, predicted, model.n_classes)
    per_class = []
    for k, name in enumerate(model.classes):
        examples, correct = int(matrix[k].sum()), int(matrix[k, k])
        per_class.append(
            {
                "class": name,
                "examples": examples,
                "correct": correct,
                "accuracy": correct / examples if examples else None,
            }
        )
    return {
        "data": dataset.source,
        "split": split,
        "examples": len(y),
        "accuracy": float(np.trace(matrix)) / len(y),
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }


def predict_files(model, paths: Sequence) -> list[dict]:
    """The class of each image file, by a trained model.

    Parameters
    ----------
    model : cnnstep.nn.Sequential
    paths : list of str or pathlib.Path
        Image files; each is read with :func:`cnnstep.app.data.load_image` at the model's
        channels and resized to its input size (Lanczos).

    Returns
    -------
    list of dict
        One per path, in order: ``path``, ``class`` (the most probable class's name),
        ``probability`` (its probability) and ``probabilities`` (class name -> probability).
    """
    from cnnstep.app.data import load_image

    func = "predict_files"
    if isinstance(paths, (str, os.PathLike)) or not isinstance(paths, Sequence) or not paths:
        raise TypeError(f"{func}: paths must be a non-empty list of image paths, got {_checks.show(paths)}")
    n_H, n_W, n_C = model.input_shape
    images = []
    for path in paths:
        image = load_image(path, image_size=n_H if n_H == n_W else None, channels=n_C)
        if image.shape[:2] != (n_H, n_W):
            image = resize_images(image[np.newaxis], n_H, n_W)[0]
        images.append(image)
    probabilities = model.predict_proba(np.stack(images))
    results = []
    for path, row in zip(paths, probabilities, strict=False):
        best = int(row.argmax())
        results.append(
            {
                "path": os.fspath(path),
                "class": model.classes[best],
                "probability": float(row[best]),
                "probabilities": {name: float(p) for name, p in zip(model.classes, row, strict=False)},
            }
        )
    return results
