"""The course's .h5 files: ``train_<name>.h5`` with its ``test_<name>.h5`` sibling.

:func:`course_pairs` is the one rule of what counts as such a pair; h5py is imported only
when a file is read (``pip install "cnnstep[app]"``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.app.common import one_line, optional
from cnnstep.app.dataset import Dataset, class_names_arg, existing_arg, file_arg
from cnnstep.app.images import unit_float

__all__ = ["load_h5", "course_pairs", "pair_in_folder", "pair_of_file"]


# --------------------------------------------------------------------------- the course's .h5 files

H5_TRAIN = re.compile(r"train_(.+)\.h5")
H5_TEST = re.compile(r"test_(.+)\.h5")


def course_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Every train_<name>.h5 in ``folder`` that has its test_<name>.h5 beside it."""
    pairs = []
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        match = H5_TRAIN.fullmatch(entry.name)
        sibling = folder / f"test_{match.group(1)}.h5" if match else None
        if match and entry.is_file() and sibling.is_file():
            pairs.append((entry, sibling))
    return pairs


def pair_in_folder(folder: Path, func: str) -> tuple[Path, Path] | None:
    """The folder's one train/test pair (train_signs.h5 first), None when it has none."""
    pairs = course_pairs(folder)
    for train, test in pairs:
        if train.name == "train_signs.h5":
            return train, test
    if len(pairs) > 1:
        names = ", ".join(f"{train.name}/{test.name}" for train, test in pairs)
        raise ValueError(
            f"{func}: the folder {str(folder)!r} holds {len(pairs)} train/test .h5 pairs ({names}); "
            f"pass the path of the train file to choose one"
        )
    return pairs[0] if pairs else None


def pair_of_file(file: Path, func: str, name: str) -> tuple[Path, Path]:
    """A train_<name>.h5 file and its test_<name>.h5 sibling."""
    match = H5_TRAIN.fullmatch(file.name)
    if match is None:
        role = "a test file" if H5_TEST.fullmatch(file.name) else "not named train_<name>.h5"
        raise ValueError(
            f"{func}: {name} {str(file)!r} is {role}; expected a train_<name>.h5 file with its "
            f"test_<name>.h5 sibling, or the folder holding both"
        )
    sibling = file.with_name(f"test_{match.group(1)}.h5")
    if not sibling.is_file():
        raise FileNotFoundError(
            f"{func}: {name} {str(file)!r} has no test set beside it: {str(sibling)!r} "
            f"does not exist; expected the pair train_<name>.h5 / test_<name>.h5"
        )
    return file, sibling


def _h5_files(train_path, test_path, func: str) -> tuple[Path, Path]:
    expected = "a folder holding train_*.h5 and test_*.h5, or the train .h5 file"
    if test_path is None:
        path = existing_arg(train_path, func, "train_path", expected)
        if not path.is_dir():
            return pair_of_file(path, func, "train_path")
        pair = pair_in_folder(path, func)
        if pair is None:
            raise ValueError(
                f"{func}: train_path {str(path)!r} holds no train_<name>.h5 file with its "
                f"test_<name>.h5 sibling; expected {expected}"
            )
        return pair
    train = file_arg(train_path, func, "train_path", "the train .h5 file (train_path and test_path given)")
    test = file_arg(test_path, func, "test_path", "the test .h5 file")
    return train, test


def _read_h5(h5py, file: Path, part: str, func: str) -> dict:
    """The arrays of one course file: ``{part}_set_x``, ``{part}_set_y`` and, when present, list_classes."""
    try:
        handle = h5py.File(file, "r")
    except OSError as exc:
        raise ValueError(f"{func}: {str(file)!r} is not a readable HDF5 file ({one_line(exc)})") from exc
    keys = (f"{part}_set_x", f"{part}_set_y", "list_classes")
    with handle:
        found = sorted(handle.keys())
        for key in keys[:2] + (("list_classes",) if part == "train" else ()):
            if key not in handle or not isinstance(handle[key], h5py.Dataset):
                raise ValueError(
                    f"{func}: {str(file)!r} has no dataset {key!r} (it holds {found}); expected the "
                    f"course's layout {part}_set_x, {part}_set_y, list_classes"
                )
        try:
            return {key: np.asarray(handle[key][()]) for key in keys if key in handle}
        except OSError as exc:
            raise ValueError(f"{func}: cannot read {str(file)!r}: {one_line(exc)}") from exc


def _h5_images(x: np.ndarray, file: Path, key: str, func: str) -> np.ndarray:
    """Images stored as uint8 0..255 (or floats in [0, 1]) -> float32 (m, n_H, n_W, n_C) in [0, 1]."""
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.dtype.kind not in "iuf":
        raise ValueError(
            f"{func}: {key} in {str(file)!r} must be images of shape (m, n_H, n_W, n_C), got {_checks.show(x)}"
        )
    low, high = (x.min(), x.max()) if x.size else (0, 0)
    if x.dtype.kind in "iu" and 0 <= low and high <= 255:
        return unit_float(x.astype(np.uint8))
    if x.dtype.kind == "f" and 0 <= low and high <= 1:
        return x.astype(np.float32)
    raise ValueError(
        f"{func}: {key} in {str(file)!r} must hold integers 0..255 or floats in [0, 1], "
        f"got {x.dtype} values from {low} to {high}"
    )


def _h5_classes(raw: np.ndarray, file: Path, func: str) -> tuple[list[str], list | None]:
    """Class names from list_classes, and the label values they stand for (None for names)."""
    values = []
    for item in raw.reshape(-1).tolist():
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{func}: list_classes in {str(file)!r} holds a name that is not UTF-8: {item!r}"
                ) from exc
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        values.append(item)
    names = [str(value) for value in values]
    if len(names) < 2:
        raise ValueError(f"{func}: list_classes in {str(file)!r} must name at least two classes, got {names}")
    class_names_arg(names, f"{func}: list_classes in {str(file)!r}")
    numeric = all(isinstance(value, (int, float)) for value in values)
    return names, (values if numeric else None)


def _h5_labels(
    raw: np.ndarray, m: int, names: list[str], values: list | None, file: Path, key: str, func: str
) -> np.ndarray:
    """Labels as indices 0..k-1 in list_classes order."""
    if raw.size != m or raw.ndim not in (1, 2):
        raise ValueError(f"{func}: {key} in {str(file)!r} must hold one label per image ({m}), got shape {raw.shape}")
    labels = raw.reshape(-1).tolist()
    if values is not None:
        lookup = {value: index for index, value in enumerate(values)}
    elif raw.dtype.kind in "SUO":
        lookup = {name: index for index, name in enumerate(names)}
        labels = [label.decode("utf-8", "replace") if isinstance(label, bytes) else label for label in labels]
    else:
        lookup = {index: index for index in range(len(names))}
    unknown = sorted({str(label) for label in labels if label not in lookup})
    if unknown:
        raise ValueError(
            f"{func}: {key} in {str(file)!r} holds labels {unknown[:5]} that are not in list_classes {names}"
        )
    return np.asarray([lookup[label] for label in labels], dtype=np.int64)


def _h5_dataset(arrays: dict, part: str, file: Path, names: list[str], values: list | None, func: str) -> Dataset:
    x_key, y_key = f"{part}_set_x", f"{part}_set_y"
    X = _h5_images(arrays[x_key], file, x_key, func)
    y = _h5_labels(arrays[y_key], X.shape[0], names, values, file, y_key, func)
    return Dataset(X, y, list(names), str(file))


def load_h5(train_path: str | os.PathLike, test_path: str | os.PathLike | None = None) -> tuple[Dataset, Dataset]:
    """The course's HDF5 pair, such as ``train_signs.h5`` / ``test_signs.h5``.

    Each file holds ``{part}_set_x`` (m, n_H, n_W, n_C) uint8 and ``{part}_set_y`` (m,)
    with ``part`` "train" or "test"; the train file also holds ``list_classes``. The
    images keep their native size.

    Parameters
    ----------
    train_path : str or pathlib.Path
        The folder holding both files (``train_signs.h5`` / ``test_signs.h5``, or else its
        one ``train_<name>.h5`` / ``test_<name>.h5`` pair) when ``test_path`` is None, or
        the train file (whose ``test_<name>.h5`` sibling is used when ``test_path`` is None).
    test_path : str or pathlib.Path, optional
        The test file.

    Returns
    -------
    (train, test) : tuple of Dataset
        ``X`` float32 in [0, 1] (uint8 divided by 255); ``y`` int64, the position of each
        label's value in ``list_classes`` (when list_classes holds names rather than
        numbers, the labels are taken as indices already); ``classes`` the entries of
        list_classes as strings (bytes decoded as UTF-8); source the file's path.
    """
    func = "load_h5"
    train_file, test_file = _h5_files(train_path, test_path, func)
    h5py = optional("h5py", func)
    train_arrays = _read_h5(h5py, train_file, "train", func)
    test_arrays = _read_h5(h5py, test_file, "test", func)
    names, values = _h5_classes(train_arrays["list_classes"], train_file, func)
    if "list_classes" in test_arrays:
        test_names, _ = _h5_classes(test_arrays["list_classes"], test_file, func)
        if test_names != names:
            raise ValueError(
                f"{func}: the two files disagree on list_classes: {names} in {str(train_file)!r}, "
                f"{test_names} in {str(test_file)!r}"
            )
    train = _h5_dataset(train_arrays, "train", train_file, names, values, func)
    test = _h5_dataset(test_arrays, "test", test_file, names, values, func)
    if train.X.shape[1:] != test.X.shape[1:]:
        raise ValueError(
            f"{func}: the train images are {train.X.shape[1:]} (n_H, n_W, n_C) but the test images "
            f"are {test.X.shape[1:]}; expected one size for both"
        )
    return train, test
