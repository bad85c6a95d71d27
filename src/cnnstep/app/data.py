"""Data sets for training: images, labels, class names; splits and mini-batches.

Every loader returns a :class:`Dataset` whose images are channels-last float32 in [0, 1]
and whose labels are int64 indices into its class names::

    X : ndarray of float32, shape (m, n_H, n_W, n_C), values in [0, 1]
    y : ndarray of int64, shape (m,), values in 0 .. len(classes) - 1

Sources:

* :func:`load_digits` -- scikit-learn's bundled 8x8 digits (no download);
* :func:`load_image_folder` -- one subfolder per class of .jpg / .jpeg / .png files;
* :func:`load_h5` -- the course's ``train_signs.h5`` / ``test_signs.h5`` pair;
* :func:`load` -- the command line's ``--data``: any of the above from one string.

Pillow, h5py and scikit-learn are imported only by the functions that need them
(``pip install "cnnstep[app]"`` installs them).

Example
-------
>>> from cnnstep.app.data import load_digits, train_test_split, batches
>>> train, test = train_test_split(load_digits(), test_fraction=0.2, seed=0)
>>> train.X.shape, test.X.shape
((1438, 8, 8, 1), (359, 8, 8, 1))
>>> X_batch, y_batch = next(batches(train.X, train.y, batch_size=32, rng=0))
>>> X_batch.shape, y_batch.shape
((32, 8, 8, 1), (32,))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.app.common import optional
from cnnstep.app.dataset import Dataset, existing_arg, image_size_arg
from cnnstep.app.h5 import course_pairs, load_h5, pair_in_folder, pair_of_file
from cnnstep.app.images import IMAGE_EXTENSIONS, load_image, load_image_folder

__all__ = [
    "Dataset",
    "load_digits",
    "load_image_folder",
    "load_image",
    "load_h5",
    "load",
    "is_image_folder",
    "train_test_split",
    "batches",
    "random_shift",
    "IMAGE_EXTENSIONS",
]

DATA_FORMS = (
    "'digits', a folder with one subfolder of images per class, a folder holding a "
    "train_*.h5 / test_*.h5 pair, or a train_*.h5 file with its test_*.h5 sibling"
)


# --------------------------------------------------------------------------- scikit-learn's digits


def load_digits() -> Dataset:
    """scikit-learn's bundled handwritten digits: 1,797 grayscale 8x8 images, ten classes.

    The data ships inside scikit-learn; nothing is downloaded.

    Returns
    -------
    Dataset
        ``X`` float32, shape (1797, 8, 8, 1), the pixel values 0..16 divided by 16;
        ``y`` int64, shape (1797,); ``classes`` ``["0", ..., "9"]``; source ``"digits"``.
    """
    datasets = optional("sklearn.datasets", "load_digits")
    bunch = datasets.load_digits()
    X = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16))[..., np.newaxis]
    y = np.asarray(bunch.target, dtype=np.int64)
    classes = [str(int(name)) for name in bunch.target_names]
    return Dataset(X, y, classes, "digits")


# --------------------------------------------------------------------------- the CLI's --data


def load(data: str | os.PathLike, image_size: int | None = None) -> tuple[Dataset, Dataset | None]:
    """Load what the command line's ``--data`` names.

    Parameters
    ----------
    data : str or pathlib.Path
        ``"digits"`` (scikit-learn's digits); a folder holding ``train_signs.h5`` and
        ``test_signs.h5`` or exactly one ``train_<name>.h5`` / ``test_<name>.h5`` pair; a
        ``train_<name>.h5`` file with its ``test_<name>.h5`` sibling; or any other folder,
        read as one subfolder of images per class.
    image_size : int or None
        For image folders: the side every image is resized to (see
        :func:`load_image_folder`). The digits and the .h5 files keep their native size,
        and asking to resize them is an error.

    Returns
    -------
    (data_set, test_set) : tuple of (Dataset, Dataset or None)
        ``test_set`` is the source's own test split, None when it has none (digits,
        image folders).
    """
    func = "load"
    size = image_size_arg(image_size, func)
    if isinstance(data, str) and data == "digits":
        _native_only(size, "'digits' (8x8 images)", func)
        return load_digits(), None
    path = existing_arg(data, func, "data", DATA_FORMS)
    if path.is_dir():
        pair = pair_in_folder(path, func)
        if pair is None:
            return load_image_folder(path, image_size=size), None
        _native_only(size, f"the .h5 files in {str(path)!r}", func)
        return load_h5(*pair)
    if path.suffix == ".h5":
        pair = pair_of_file(path, func, "data")
        _native_only(size, f"the .h5 file {str(path)!r}", func)
        return load_h5(*pair)
    raise ValueError(f"{func}: data {str(path)!r} is a file that is not a train_<name>.h5 file; expected {DATA_FORMS}")


def _native_only(image_size: int | None, what: str, func: str) -> None:
    if image_size is not None:
        raise ValueError(
            f"{func}: image_size={image_size} cannot be applied to {what}, which keep their native "
            f"size; pass image_size=None (it resizes image folders only)"
        )


def is_image_folder(data) -> bool:
    """Whether ``data`` (a ``--data`` value) names a folder that :func:`load` reads as class subfolders.

    True for an existing folder that holds no course .h5 pair (:func:`cnnstep.app.h5.course_pairs`).
    """
    if isinstance(data, str) and data == "digits":
        return False
    if not isinstance(data, (str, os.PathLike)) or not Path(data).is_dir():
        return False
    return not course_pairs(Path(data))


# --------------------------------------------------------------------------- splits and mini-batches


_seed = _checks.seed


def _test_counts(dataset: Dataset, fraction: float, func: str) -> np.ndarray:
    """How many examples of each class go to the test set: round(fraction * count), at least 1 from 2 up."""
    counts = np.bincount(dataset.y, minlength=len(dataset.classes))
    n_test = np.array([max(round(fraction * n), 1 if n >= 2 else 0) for n in counts.tolist()], dtype=np.int64)
    starved = [(name, int(n)) for name, n, k in zip(dataset.classes, counts, n_test, strict=False) if n and k >= n]
    if starved:
        name, n = starved[0]
        raise ValueError(
            f"{func}: test_fraction={fraction:g} would leave class {name!r} ({n} example(s)) with no "
            f"training example; lower test_fraction or add examples of that class"
        )
    if n_test.sum() == 0:
        raise ValueError(
            f"{func}: test_fraction={fraction:g} would leave the test set empty "
            f"(every class has a single example); raise test_fraction or add examples"
        )
    return n_test


def train_test_split(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split a data set in two, stratified by class and seeded.

    Each class gives ``round(test_fraction * its count)`` of its examples, chosen at
    random, to the test set -- at least one when it has two or more -- and the rest to
    the training set.

    Parameters
    ----------
    dataset : Dataset
    test_fraction : float
        Strictly between 0 and 1.
    seed : int
        Seeds ``np.random.default_rng``; the same seed gives the same split. The global
        NumPy seed is neither used nor changed.

    Returns
    -------
    (train, test) : tuple of Dataset
        New arrays (the input is not modified), each in a random order drawn from the
        same seed, with the input's class names.
    """
    func = "train_test_split"
    if not isinstance(dataset, Dataset):
        raise TypeError(f"{func}: dataset must be a cnnstep.app.data.Dataset, got {_checks.show(dataset)}")
    fraction = _checks.fraction(test_fraction, func, "test_fraction")
    seed = _seed(seed, func)
    n_test = _test_counts(dataset, fraction, func)
    rng = np.random.default_rng(seed)
    test_parts, train_parts = [], []
    for label, k in enumerate(n_test.tolist()):
        members = rng.permutation(np.flatnonzero(dataset.y == label))
        test_parts.append(members[:k])
        train_parts.append(members[k:])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    tag = f"test_fraction={fraction:g}, seed={seed}"
    return _subset(dataset, train_idx, f"train, {tag}"), _subset(dataset, test_idx, f"test, {tag}")


def _subset(dataset: Dataset, idx: np.ndarray, tag: str) -> Dataset:
    """The examples ``idx`` as a new data set (copies, by fancy indexing)."""
    return Dataset(dataset.X[idx], dataset.y[idx], list(dataset.classes), f"{dataset.source} ({tag})")


def _generator(rng, func: str) -> np.random.Generator:
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if _checks.is_int(rng) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{func}: rng must be a numpy.random.Generator, a non-negative integer seed or None, got {_checks.show(rng)}"
    )


def batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = True, rng: np.random.Generator | int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mini-batches covering every example exactly once.

    Parameters
    ----------
    X : ndarray, shape (m, ...)
        The examples, along the first axis.
    y : ndarray, shape (m, ...)
        Their labels.
    batch_size : int
        Examples per batch; the last batch holds the remainder (it is kept, not dropped).
    shuffle : bool
        Draw the order at random (a new order at each call); False keeps the given order.
    rng : numpy.random.Generator, int or None
        The generator (or seed) that draws the order; None draws a fresh, unseeded one.

    Returns
    -------
    iterator of (X_batch, y_batch)
        ``X_batch`` shape (b, ...) and ``y_batch`` shape (b, ...), ``b = batch_size`` but
        for the last. Shuffled batches are copies; unshuffled ones are views of X and y.
        The arguments are checked when ``batches`` is called, not at the first batch.
    """
    func = "batches"
    X = _checks.real_array(X, func, "X")
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(y) != len(X):
        raise ValueError(
            f"{func}: X and y must have the same length along their first axis (one label per "
            f"example), got X.shape={X.shape} and y.shape={y.shape}"
        )
    if not _checks.is_int(batch_size):
        raise TypeError(f"{func}: batch_size must be a positive integer, got {_checks.show(batch_size)}")
    if batch_size < 1:
        raise ValueError(f"{func}: batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"{func}: shuffle must be True or False, got {_checks.show(shuffle)}")
    order = _generator(rng, func).permutation(len(X)) if shuffle else None
    return _batches(X, y, int(batch_size), order)


def _batches(X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None):
    for start in range(0, len(X), batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]


def random_shift(X: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by its own random offset of at most ``max_shift`` pixels per axis.

    A cheap augmentation for photos of a centred object: the edge pixels are repeated
    into the space the shift opens. Returns a new array; X is left untouched.

    Parameters
    ----------
    X : ndarray, shape (m, n_H, n_W, n_C)
    max_shift : int >= 0
        Offsets are drawn uniformly from ``-max_shift..max_shift`` (rows and columns apart).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape and dtype of X
    """
    func = "random_shift"
    X = _checks.ranked_array(X, func, "X", 4, "(m, n_H, n_W, n_C)")
    if not _checks.is_int(max_shift):
        raise TypeError(f"{func}: max_shift must be an integer >= 0, got {_checks.show(max_shift)}")
    if max_shift < 0:
        raise ValueError(f"{func}: max_shift must be an integer >= 0, got {max_shift!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng must be a numpy.random.Generator, got {_checks.show(rng)}")
    k = int(max_shift)
    if k == 0 or len(X) == 0:
        return X.copy()
    m, n_H, n_W, _ = X.shape
    framed = np.pad(X, ((0, 0), (k, k), (k, k), (0, 0)), mode="edge")
    offsets = rng.integers(0, 2 * k + 1, size=(m, 2))
    out = np.empty_like(X)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = framed[i, dy : dy + n_H, dx : dx + n_W]
    return out
