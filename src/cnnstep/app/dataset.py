"""The data set every loader returns, and the argument checks the loaders share.

A :class:`Dataset`'s images are channels-last float32 in [0, 1] and its labels int64
indices into its class names::

    X : ndarray of float32, shape (m, n_H, n_W, n_C), values in [0, 1]
    y : ndarray of int64, shape (m,), values in 0 .. len(classes) - 1
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = ["Dataset"]


# --------------------------------------------------------------------------- the data set


@dataclass(eq=False, repr=False)
class Dataset:
    """Images, their labels and the class names, as every loader returns them.

    Parameters
    ----------
    X : ndarray of float32, shape (m, n_H, n_W, n_C)
        The images, channels-last, values in [0, 1].
    y : ndarray of int64, shape (m,)
        The labels, indices into ``classes``.
    classes : list of str
        The class names; ``classes[k]`` names label ``k``. Names are unique.
    source : str
        Where the data came from (``"digits"``, a path, ...), for summaries.

    The structure (ranks, lengths, label range, unique names) is checked on creation;
    the arrays are kept as given, never copied or modified.
    """

    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    source: str

    def __post_init__(self) -> None:
        func = "Dataset"
        if not isinstance(self.X, np.ndarray):
            raise TypeError(f"{func}: X must be a NumPy array (m, n_H, n_W, n_C), got {_checks.show(self.X)}")
        _checks.ranked_array(self.X, func, "X", 4, "(m, n_H, n_W, n_C)")
        if not isinstance(self.y, np.ndarray) or self.y.dtype.kind not in "iu":
            raise TypeError(f"{func}: y must be a NumPy array of integer labels, got {_checks.show(self.y)}")
        if self.y.shape != (self.X.shape[0],):
            raise ValueError(
                f"{func}: y must have shape (m,) = ({self.X.shape[0]},) to match X.shape={self.X.shape}, "
                f"got shape {self.y.shape}"
            )
        self.classes = class_names_arg(self.classes, func)
        if self.y.size and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError(
                f"{func}: labels must lie in 0..{len(self.classes) - 1} (one per class name), "
                f"got labels from {self.y.min()} to {self.y.max()}"
            )
        if not isinstance(self.source, str):
            raise TypeError(f"{func}: source must be a str, got {_checks.show(self.source)}")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(source={self.source!r}, examples={len(self)}, image_shape={tuple(self.X.shape[1:])}, "
            f"classes={self.classes!r})"
        )

    def summary(self) -> dict:
        """A JSON-serialisable account of the data set.

        Returns
        -------
        dict
            ``source`` (str), ``examples`` (int), ``image_shape`` ([n_H, n_W, n_C]),
            ``classes`` (list of str, index = label) and ``class_counts``
            (class name -> number of examples, in class order).
        """
        counts = np.bincount(self.y, minlength=len(self.classes))
        return {
            "source": self.source,
            "examples": len(self),
            "image_shape": [int(d) for d in self.X.shape[1:]],
            "classes": list(self.classes),
            "class_counts": {name: int(count) for name, count in zip(self.classes, counts, strict=False)},
        }


def class_names_arg(classes, func: str) -> list[str]:
    if not isinstance(classes, (list, tuple)) or not all(isinstance(name, str) for name in classes):
        raise TypeError(f"{func}: classes must be a list of str (index = label), got {_checks.show(classes)}")
    duplicates = sorted(name for name, count in Counter(classes).items() if count > 1)
    if duplicates:
        raise ValueError(f"{func}: class names must be unique, got {duplicates} more than once in {list(classes)}")
    return list(classes)


# --------------------------------------------------------------------------- shared checks


def path_arg(value, func: str, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{func}: {name} must be a path (str or pathlib.Path), got {_checks.show(value)}")
    if isinstance(value, str) and not value:
        raise ValueError(f"{func}: {name} must be a path, got the empty string")
    return Path(value)


def existing_arg(value, func: str, name: str, expected: str) -> Path:
    """A path that exists; ``expected`` says what it should be, for the message."""
    path = path_arg(value, func, name)
    if not path.exists():
        raise FileNotFoundError(f"{func}: {name} {str(path)!r} does not exist; expected {expected}")
    return path


def folder_arg(value, func: str, name: str, expected: str) -> Path:
    path = existing_arg(value, func, name, expected)
    if not path.is_dir():
        raise ValueError(f"{func}: {name} {str(path)!r} is a file, expected {expected}")
    return path


def file_arg(value, func: str, name: str, expected: str) -> Path:
    path = existing_arg(value, func, name, expected)
    if path.is_dir():
        raise ValueError(f"{func}: {name} {str(path)!r} is a folder, expected {expected}")
    return path


def image_size_arg(image_size, func: str) -> int | None:
    expected = "a positive integer (the side of the square images, e.g. 64) or None to keep the native size"
    if image_size is None:
        return None
    if not _checks.is_int(image_size):
        raise TypeError(f"{func}: image_size must be {expected}, got {_checks.show(image_size)}")
    if image_size < 1:
        raise ValueError(f"{func}: image_size must be {expected}, got {image_size!r}")
    return int(image_size)


def channels_arg(channels, func: str) -> int:
    expected = "3 (RGB) or 1 (grayscale)"
    if not _checks.is_int(channels):
        raise TypeError(f"{func}: channels must be {expected}, got {_checks.show(channels)}")
    if channels not in (1, 3):
        raise ValueError(f"{func}: channels must be {expected}, got {channels!r}")
    return int(channels)


def is_visible(path: Path) -> bool:
    return not path.name.startswith(".")
