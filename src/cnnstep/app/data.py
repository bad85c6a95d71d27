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

import importlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = [
    "Dataset",
    "load_digits",
    "load_image_folder",
    "load_image",
    "load_h5",
    "load",
    "train_test_split",
    "batches",
    "random_shift",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DATA_FORMS = (
    "'digits', a folder with one subfolder of images per class, a folder holding a "
    "train_*.h5 / test_*.h5 pair, or a train_*.h5 file with its test_*.h5 sibling"
)
INSTALL = 'pip install "cnnstep[app]"'
PACKAGES = {"PIL": "Pillow", "h5py": "h5py", "sklearn": "scikit-learn"}


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
        self.classes = _class_names(self.classes, func)
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


def _class_names(classes, func: str) -> list[str]:
    if not isinstance(classes, (list, tuple)) or not all(isinstance(name, str) for name in classes):
        raise TypeError(f"{func}: classes must be a list of str (index = label), got {_checks.show(classes)}")
    duplicates = sorted(name for name, count in Counter(classes).items() if count > 1)
    if duplicates:
        raise ValueError(f"{func}: class names must be unique, got {duplicates} more than once in {list(classes)}")
    return list(classes)


# --------------------------------------------------------------------------- shared checks


def _optional(module: str, func: str):
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = PACKAGES[module.split(".")[0]]
        raise ImportError(
            f"{func} needs {package}, which is not installed ({exc}); "
            f"install the training tool's extras with: {INSTALL}"
        ) from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _path(value, func: str, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{func}: {name} must be a path (str or pathlib.Path), got {_checks.show(value)}")
    if isinstance(value, str) and not value:
        raise ValueError(f"{func}: {name} must be a path, got the empty string")
    return Path(value)


def _existing(value, func: str, name: str, expected: str) -> Path:
    """A path that exists; ``expected`` says what it should be, for the message."""
    path = _path(value, func, name)
    if not path.exists():
        raise FileNotFoundError(f"{func}: {name} {str(path)!r} does not exist; expected {expected}")
    return path


def _folder(value, func: str, name: str, expected: str) -> Path:
    path = _existing(value, func, name, expected)
    if not path.is_dir():
        raise ValueError(f"{func}: {name} {str(path)!r} is a file, expected {expected}")
    return path


def _file(value, func: str, name: str, expected: str) -> Path:
    path = _existing(value, func, name, expected)
    if path.is_dir():
        raise ValueError(f"{func}: {name} {str(path)!r} is a folder, expected {expected}")
    return path


def _image_size(image_size, func: str) -> int | None:
    expected = "a positive integer (the side of the square images, e.g. 64) or None to keep the native size"
    if image_size is None:
        return None
    if not _checks.is_int(image_size):
        raise TypeError(f"{func}: image_size must be {expected}, got {_checks.show(image_size)}")
    if image_size < 1:
        raise ValueError(f"{func}: image_size must be {expected}, got {image_size!r}")
    return int(image_size)


def _channels(channels, func: str) -> int:
    expected = "3 (RGB) or 1 (grayscale)"
    if not _checks.is_int(channels):
        raise TypeError(f"{func}: channels must be {expected}, got {_checks.show(channels)}")
    if channels not in (1, 3):
        raise ValueError(f"{func}: channels must be {expected}, got {channels!r}")
    return int(channels)


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


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
    datasets = _optional("sklearn.datasets", "load_digits")
    bunch = datasets.load_digits()
    X = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16))[..., np.newaxis]
    y = np.asarray(bunch.target, dtype=np.int64)
    classes = [str(int(name)) for name in bunch.target_names]
    return Dataset(X, y, classes, "digits")


# --------------------------------------------------------------------------- image files


def _read_pixels(file: Path, func: str, image_size: int | None, channels: int) -> np.ndarray:
    """One image file as uint8 pixels, shape (n_H, n_W, channels).

    EXIF orientation is applied (a phone's portrait photo stands upright); the image is
    converted to RGB or grayscale ("L"), then resized to ``image_size`` x ``image_size``
    with a Lanczos filter when ``image_size`` is given.
    """
    PIL = _optional("PIL", func)
    Image = _optional("PIL.Image", func)
    ImageOps = _optional("PIL.ImageOps", func)
    unreadable = (PIL.UnidentifiedImageError, OSError, SyntaxError, EOFError, Image.DecompressionBombError)
    try:
        with Image.open(file) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB" if channels == 3 else "L")
        if image_size is not None and image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
        pixels = np.asarray(image, dtype=np.uint8)
    except unreadable as exc:
        reason = (
            "Pillow cannot identify it as an image (not a valid JPEG or PNG file?)"
            if isinstance(exc, PIL.UnidentifiedImageError)
            else _one_line(exc)
        )
        raise ValueError(f"{func}: cannot read the image {str(file)!r}: {reason}") from exc
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)


def _unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 0..1."""
    return pixels.astype(np.float32) / np.float32(255)


def load_image(path: str | os.PathLike, image_size: int | None, channels: int = 3) -> np.ndarray:
    """One image file as an array, ready for a model's ``predict``.

    Parameters
    ----------
    path : str or pathlib.Path
        An image file Pillow can read (the extension is not checked).
    image_size : int or None
        Side of the square the image is resized to (Lanczos), or None to keep its size.
    channels : {3, 1}
        3 converts to RGB, 1 to grayscale.

    Returns
    -------
    image : ndarray of float32, shape (image_size, image_size, channels)
        Values in [0, 1]. Add the batch axis with ``image[np.newaxis]``.
    """
    func = "load_image"
    size = _image_size(image_size, func)
    channels = _channels(channels, func)
    file = _file(path, func, "path", "an image file (.jpg, .jpeg or .png)")
    return _unit_float(_read_pixels(file, func, size, channels))


def _integer_name(name: str) -> bool:
    return re.fullmatch(r"[+-]?[0-9]+", name) is not None


def _sorted_class_names(names: list[str]) -> list[str]:
    """Numeric order when every name is an integer ("9" before "10"), else alphabetical."""
    if names and all(_integer_name(name) for name in names):
        return sorted(names, key=lambda name: (int(name), name))
    return sorted(names)


def _class_folders(root: Path, func: str) -> list[Path]:
    """The class subfolders of ``root`` (hidden ones ignored), in class order."""
    folders = {entry.name: entry for entry in root.iterdir() if _visible(entry) and entry.is_dir()}
    if len(folders) < 2:
        files = [entry for entry in root.iterdir() if _visible(entry) and entry.is_file()]
        loose = sum(1 for entry in files if entry.suffix.lower() in IMAGE_EXTENSIONS)
        h5 = sum(1 for entry in files if entry.suffix == ".h5")
        hint = f"; its {loose} image file(s) must go into class subfolders" if loose else ""
        if h5:
            hint += "; .h5 files must come as one train_<name>.h5 / test_<name>.h5 pair"
        raise ValueError(
            f"{func}: path {str(root)!r} must hold one subfolder per class and at least two classes, "
            f"found {len(folders)} subfolder(s) {sorted(folders)}{hint}"
        )
    return [folders[name] for name in _sorted_class_names(list(folders))]


def _image_files(folder: Path, func: str) -> list[Path]:
    """The image files directly inside a class folder, sorted by name; hidden and other files ignored."""
    files = sorted(
        (
            entry
            for entry in folder.iterdir()
            if _visible(entry) and entry.suffix.lower() in IMAGE_EXTENSIONS and entry.is_file()
        ),
        key=lambda entry: entry.name,
    )
    if not files:
        raise ValueError(
            f"{func}: the class folder {str(folder)!r} holds no images "
            f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder"
        )
    return files


def _same_size(pixels: np.ndarray, file: Path, first: tuple[np.ndarray, Path], func: str) -> None:
    reference, reference_file = first
    if pixels.shape != reference.shape:
        h, w = pixels.shape[:2]
        h0, w0 = reference.shape[:2]
        raise ValueError(
            f"{func}: images differ in size: {str(file)!r} is {h}x{w} (height x width) but "
            f"{str(reference_file)!r} is {h0}x{w0}; pass image_size (e.g. image_size=64) "
            f"to resize every image to one square size"
        )


def load_image_folder(path: str | os.PathLike, image_size: int | None = None, channels: int = 3) -> Dataset:
    """A data set laid out as one subfolder of images per class.

    Parameters
    ----------
    path : str or pathlib.Path
        A folder whose subfolders are the classes; the subfolder names are the class
        names, sorted numerically when every name is an integer ("9" before "10"),
        alphabetically otherwise. Each holds .jpg / .jpeg / .png files (any case), read
        in sorted file-name order. Hidden entries (a name starting with '.'), files with
        other extensions, loose files in ``path`` and folders nested in a class folder
        are ignored.
    image_size : int or None
        Side of the square every image is resized to (Lanczos filter; the aspect ratio
        is not kept). None keeps the native size, which must then be the same for all.
    channels : {3, 1}
        3 converts every image to RGB (grayscale images included), 1 to grayscale.

    Returns
    -------
    Dataset
        ``X`` float32, shape (m, n_H, n_W, channels), values in [0, 1]; ``y`` int64, shape
        (m,); ``classes`` the folder names; source ``str(path)``.
    """
    func = "load_image_folder"
    size = _image_size(image_size, func)
    channels = _channels(channels, func)
    root = _folder(path, func, "path", "a folder with one subfolder of images per class")
    classes = _class_folders(root, func)
    files = [_image_files(folder, func) for folder in classes]
    images, labels, first = [], [], None
    for label, class_files in enumerate(files):
        for file in class_files:
            pixels = _read_pixels(file, func, size, channels)
            if first is None:
                first = (pixels, file)
            elif size is None:
                _same_size(pixels, file, first, func)
            images.append(pixels)
            labels.append(label)
    X = _unit_float(np.stack(images))
    y = np.asarray(labels, dtype=np.int64)
    return Dataset(X, y, [folder.name for folder in classes], str(root))


# --------------------------------------------------------------------------- the course's .h5 files

H5_TRAIN = re.compile(r"train_(.+)\.h5")
H5_TEST = re.compile(r"test_(.+)\.h5")


def _h5_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Every train_<name>.h5 in ``folder`` that has its test_<name>.h5 beside it."""
    pairs = []
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        match = H5_TRAIN.fullmatch(entry.name)
        sibling = folder / f"test_{match.group(1)}.h5" if match else None
        if match and entry.is_file() and sibling.is_file():
            pairs.append((entry, sibling))
    return pairs


def _h5_pair_in(folder: Path, func: str) -> tuple[Path, Path] | None:
    """The folder's one train/test pair (train_signs.h5 first), None when it has none."""
    pairs = _h5_pairs(folder)
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


def _h5_sibling(file: Path, func: str, name: str) -> tuple[Path, Path]:
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
        path = _existing(train_path, func, "train_path", expected)
        if not path.is_dir():
            return _h5_sibling(path, func, "train_path")
        pair = _h5_pair_in(path, func)
        if pair is None:
            raise ValueError(
                f"{func}: train_path {str(path)!r} holds no train_<name>.h5 file with its "
                f"test_<name>.h5 sibling; expected {expected}"
            )
        return pair
    train = _file(train_path, func, "train_path", "the train .h5 file (train_path and test_path given)")
    test = _file(test_path, func, "test_path", "the test .h5 file")
    return train, test


def _read_h5(h5py, file: Path, part: str, func: str) -> dict:
    """The arrays of one course file: ``{part}_set_x``, ``{part}_set_y`` and, when present, list_classes."""
    try:
        handle = h5py.File(file, "r")
    except OSError as exc:
        raise ValueError(f"{func}: {str(file)!r} is not a readable HDF5 file ({_one_line(exc)})") from exc
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
            raise ValueError(f"{func}: cannot read {str(file)!r}: {_one_line(exc)}") from exc


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
        return _unit_float(x.astype(np.uint8))
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
    _class_names(names, f"{func}: list_classes in {str(file)!r}")
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
    h5py = _optional("h5py", func)
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
    size = _image_size(image_size, func)
    if isinstance(data, str) and data == "digits":
        _native_only(size, "'digits' (8x8 images)", func)
        return load_digits(), None
    path = _existing(data, func, "data", DATA_FORMS)
    if path.is_dir():
        pair = _h5_pair_in(path, func)
        if pair is None:
            return load_image_folder(path, image_size=size), None
        _native_only(size, f"the .h5 files in {str(path)!r}", func)
        return load_h5(*pair)
    if path.suffix == ".h5":
        pair = _h5_sibling(path, func, "data")
        _native_only(size, f"the .h5 file {str(path)!r}", func)
        return load_h5(*pair)
    raise ValueError(f"{func}: data {str(path)!r} is a file that is not a train_<name>.h5 file; expected {DATA_FORMS}")


def _native_only(image_size: int | None, what: str, func: str) -> None:
    if image_size is not None:
        raise ValueError(
            f"{func}: image_size={image_size} cannot be applied to {what}, which keep their native "
            f"size; pass image_size=None (it resizes image folders only)"
        )


# --------------------------------------------------------------------------- splits and mini-batches


def _fraction(test_fraction, func: str) -> float:
    return _checks.fraction(test_fraction, func, "test_fraction")


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
    fraction = _fraction(test_fraction, func)
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
