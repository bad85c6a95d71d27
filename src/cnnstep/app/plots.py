"""Figures: zero padding, feature maps, pooling, filters, learning curves, confusion matrices.

Every function draws on its own ``matplotlib.figure.Figure`` and writes a PNG file, so
nothing touches pyplot's global state or the selected backend: importing this module
has no side effect, and the figures can be made on a machine without a display.
matplotlib is imported by the functions that draw (``pip install "cnnstep[app]"``
installs it); :func:`confusion_counts` needs NumPy only.

Example
-------
>>> import numpy as np
>>> from cnnstep.app import plots
>>> matrix = plots.confusion_counts(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
>>> matrix.tolist()
[[1, 0], [1, 1]]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.app.common import optional
from cnnstep.nn.io import atomic_write

__all__ = [
    "confusion_counts",
    "confusion_matrix",
    "learning_curves",
    "padding_figure",
    "feature_maps",
    "pooling_figure",
    "filters",
]

DPI = 100
MAX_ANNOTATED_CLASSES = 30  # above this, the confusion matrix's cells are too small for counts


# --------------------------------------------------------------------------- shared


def _figure(func: str, width: float, height: float):
    """A new Figure of ``width`` x ``height`` inches, outside pyplot."""
    Figure = optional("matplotlib.figure", func).Figure
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path, func: str) -> str:
    """Write ``fig`` as a PNG file at ``path``; return the path as a str."""
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and not path):
        raise TypeError(f"{func}: path must be a file path (str or pathlib.Path), got {_checks.show(path)}")
    path = os.fspath(path)
    with atomic_write(path) as file:
        fig.savefig(file, format="png", dpi=DPI)
    return path


def _image(value, func: str, name: str) -> np.ndarray:
    """A 2-D real array (one channel of one image), as float64 for drawing."""
    return _checks.ranked_array(value, func, name, 2, "(n_H, n_W)").astype(np.float64)


def _show(ax, image: np.ndarray, title: str, cmap: str = "gray", colorbar: bool = False, limits=None) -> None:
    """One image on ``ax``: pixel cells, no interpolation, no ticks; ``limits`` (low, high) fix the colours."""
    low, high = limits if limits is not None else (None, None)
    shown = ax.imshow(image, cmap=cmap, interpolation="nearest", vmin=low, vmax=high)
    ax.set_title(f"{title}\n{image.shape[0]}x{image.shape[1]}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, shrink=0.8)


# --------------------------------------------------------------------------- the blocks


def padding_figure(image, image_padded, path, titles=("x", "x_pad")) -> str:
    """An image before and after :func:`cnnstep.zero_pad`, side by side.

    Parameters
    ----------
    image : ndarray, shape (n_H, n_W)
        One channel of one example, e.g. ``x[0, :, :, 0]``.
    image_padded : ndarray, shape (n_H + 2*pad, n_W + 2*pad)
        The same channel of the padded array, e.g. ``x_pad[0, :, :, 0]``.
    path : str or pathlib.Path
        The PNG file to write.
    titles : (str, str)

    Returns
    -------
    str
        The path written.
    """
    func = "padding_figure"
    before, after = _image(image, func, "image"), _image(image_padded, func, "image_padded")
    limits = (min(before.min(), after.min()), max(before.max(), after.max()))  # one colour per value
    fig = _figure(func, 7, 4)
    left, right = fig.subplots(1, 2)
    _show(left, before, titles[0], limits=limits)
    _show(right, after, titles[1], limits=limits, colorbar=True)
    return _save(fig, path, func)


def feature_maps(image, maps, path, titles=None, image_title="input") -> str:
    """An input image and the feature maps a convolution made of it.

    Parameters
    ----------
    image : ndarray, shape (n_H_prev, n_W_prev)
        One channel of the input.
    maps : ndarray, shape (n_H, n_W, n_C)
        The output of one example, e.g. ``Z[0]``; each channel is drawn with its colour bar.
    path : str or pathlib.Path
        The PNG file to write.
    titles : list of str, optional
        One per channel of ``maps``; default ``"feature map 0"``, ...
    image_title : str

    Returns
    -------
    str
        The path written.
    """
    func = "feature_maps"
    image = _image(image, func, "image")
    maps = _checks.ranked_array(maps, func, "maps", 3, "(n_H, n_W, n_C)").astype(np.float64)
    n_C = maps.shape[2]
    titles = _titles(titles, n_C, "feature map", func)
    fig = _figure(func, 3.6 * (n_C + 1), 3.8)
    axes = fig.subplots(1, n_C + 1)
    _show(axes[0], image, image_title)
    for c in range(n_C):
        _show(axes[c + 1], maps[:, :, c], titles[c], cmap="RdBu_r", colorbar=True)
    return _save(fig, path, func)


def pooling_figure(image, pooled_max, pooled_average, path, image_title="input") -> str:
    """An image and its max-pooled and average-pooled versions, side by side, on one colour scale.

    Parameters
    ----------
    image : ndarray, shape (n_H_prev, n_W_prev)
    pooled_max, pooled_average : ndarray, shape (n_H, n_W)
        The same channel after ``pool_forward(..., mode="max")`` and ``mode="average"``.
    path : str or pathlib.Path
        The PNG file to write.
    image_title : str

    Returns
    -------
    str
        The path written.
    """
    func = "pooling_figure"
    panels = [
        (_image(image, func, "image"), image_title),
        (_image(pooled_max, func, "pooled_max"), "max pooling"),
        (_image(pooled_average, func, "pooled_average"), "average pooling"),
    ]
    limits = (min(p.min() for p, _ in panels), max(p.max() for p, _ in panels))  # one scale for the three
    fig = _figure(func, 10.5, 4)
    for i, (ax, (panel, title)) in enumerate(zip(fig.subplots(1, 3), panels, strict=False)):
        _show(ax, panel, title, limits=limits, colorbar=i == 2)
    return _save(fig, path, func)


def filters(W, path, channel=0) -> str:
    """The filters of a convolution, one panel each, for one input channel.

    Parameters
    ----------
    W : ndarray, shape (f, f, n_C_prev, n_C)
        Filters as ``conv_forward`` takes them (a ``Conv2D`` layer's ``params["W"]``).
    path : str or pathlib.Path
        The PNG file to write.
    channel : int
        The input channel drawn, ``0 <= channel < n_C_prev``.

    Returns
    -------
    str
        The path written.
    """
    func = "filters"
    W = _checks.ranked_array(W, func, "W", 4, "(f, f, n_C_prev, n_C)").astype(np.float64)
    n_C_prev, n_C = W.shape[2], W.shape[3]
    if not _checks.is_int(channel) or not 0 <= channel < n_C_prev:
        raise ValueError(
            f"{func}: channel must be an integer in 0..{n_C_prev - 1} (W has n_C_prev={n_C_prev}), "
            f"got {_checks.show(channel)}"
        )
    cols = min(n_C, 8)
    rows = math.ceil(n_C / cols)
    fig = _figure(func, 1.6 * cols, 1.7 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    limit = float(np.abs(W[:, :, channel, :]).max()) or 1.0
    for c, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if c < n_C:
            ax.imshow(W[:, :, channel, c], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_title(f"filter {c}", fontsize=9)
        else:
            ax.set_axis_off()
    return _save(fig, path, func)


def _titles(titles, n: int, stem: str, func: str) -> list[str]:
    if titles is None:
        return [f"{stem} {i}" for i in range(n)]
    if isinstance(titles, str) or not isinstance(titles, Sequence) or len(titles) != n:
        raise ValueError(f"{func}: titles must be a list of {n} strings (one per channel), got {_checks.show(titles)}")
    return [str(title) for title in titles]


# --------------------------------------------------------------------------- training


def _series(history: Mapping, key: str, func: str) -> list[float]:
    values = history.get(key, [])
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(
            f"{func}: history[{key!r}] must be a list of numbers (one per epoch), got {_checks.show(values)}"
        )
    return [float(v) for v in values]


def learning_curves(history, path) -> str:
    """Loss and accuracy per epoch, training and test, in two panels.

    Parameters
    ----------
    history : dict of str -> list of float
        As :meth:`cnnstep.nn.Sequential.fit` returns it: ``loss`` and ``accuracy`` (means
        over each epoch's batches), and optionally ``val_loss`` and ``val_accuracy`` (the
        data passed as ``validation_data``, drawn as "test").
    path : str or pathlib.Path
        The PNG file to write.

    Returns
    -------
    str
        The path written.
    """
    func = "learning_curves"
    if not isinstance(history, Mapping):
        raise TypeError(f"{func}: history must be a dict such as Sequential.fit returns, got {_checks.show(history)}")
    series = {key: _series(history, key, func) for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    if not series["loss"]:
        raise ValueError(f"{func}: history['loss'] must hold at least one epoch, got {history.get('loss')!r}")
    fig = _figure(func, 10, 4)
    from matplotlib.ticker import MaxNLocator

    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, key, label in ((loss_ax, "loss", "loss (cross-entropy)"), (acc_ax, "accuracy", "accuracy")):
        for prefix, name, style in (("", "train", "o-"), ("val_", "test", "s--")):
            values = series[prefix + key]
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=name, markersize=4)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    acc_ax.set_ylim(-0.02, 1.02)
    loss_ax.set_title("loss")
    acc_ax.set_title("accuracy")
    return _save(fig, path, func)


def _labels(values, func: str, name: str, n_classes: int) -> np.ndarray:
    labels = _checks.ranked_array(values, func, name, 1, "(m,)")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{func}: {name} must hold integer class indices, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{func}: {name} must hold class indices 0..{n_classes - 1}, "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return labels


def confusion_counts(y_true, y_pred, n_classes) -> np.ndarray:
    """How often each true class was predicted as each class.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (m,)
        Class indices ``0..n_classes-1``.
    n_classes : int

    Returns
    -------
    matrix : ndarray of int64, shape (n_classes, n_classes)
        ``matrix[t, p]`` counts the examples of true class ``t`` predicted as ``p``; rows
        sum to the class counts, the diagonal holds the correct predictions.
    """
    func = "confusion_counts"
    if not _checks.is_int(n_classes) or n_classes < 1:
        raise ValueError(f"{func}: n_classes must be a positive integer, got {_checks.show(n_classes)}")
    y_true = _labels(y_true, func, "y_true", n_classes)
    y_pred = _labels(y_pred, func, "y_pred", n_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{func}: y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    flat = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def confusion_matrix(y_true, y_pred, classes, path=None) -> np.ndarray:
    """The confusion matrix, drawn with class names on the axes and counts in the cells.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (m,)
        True and predicted class indices.
    classes : list of str
        The class names, index = label.
    path : str, pathlib.Path or None
        The PNG file to write; None only computes the matrix.

    Returns
    -------
    matrix : ndarray of int64, shape (k, k)
        As :func:`confusion_counts`: rows are true classes, columns predicted ones.
    """
    func = "confusion_matrix"
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
        raise TypeError(f"{func}: classes must be a non-empty list of class names, got {_checks.show(classes)}")
    names = [str(name) for name in classes]
    matrix = confusion_counts(y_true, y_pred, len(names))
    if path is not None:
        _draw_confusion(matrix, names, path, func)
    return matrix


def _draw_confusion(matrix: np.ndarray, names: list[str], path, func: str) -> str:
    k = len(names)
    side = min(max(4.0, 0.5 * k + 2.5), 20.0)
    fig = _figure(func, side + 1.2, side)
    ax = fig.subplots()
    shown = ax.imshow(matrix, cmap="Blues", interpolation="nearest", vmin=0)
    fig.colorbar(shown, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=90 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(matrix.sum())
    correct = int(np.trace(matrix))
    accuracy = f"{correct / total:.3f}" if total else "n/a"
    ax.set_title(f"confusion matrix: {correct}/{total} correct (accuracy {accuracy})", fontsize=10)
    if k <= MAX_ANNOTATED_CLASSES:
        threshold = matrix.max() / 2 if matrix.size else 0
        for t in range(k):
            for p in range(k):
                colour = "white" if matrix[t, p] > threshold else "black"
                ax.text(
                    p, t, str(int(matrix[t, p])), ha="center", va="center", color=colour, fontsize=9 if k <= 12 else 7
                )
    return _save(fig, path, func)
