"""Images from files: one image, or a folder with one subfolder of images per class.

Pillow is imported only when an image is read (``pip install "cnnstep[app]"``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from cnnstep.app.common import one_line, optional
from cnnstep.app.dataset import Dataset, channels_arg, file_arg, folder_arg, image_size_arg, is_visible

__all__ = ["load_image", "load_image_folder", "resize_images", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


# --------------------------------------------------------------------------- image files


def _read_pixels(file: Path, func: str, image_size: int | None, channels: int) -> np.ndarray:
    """One image file as uint8 pixels, shape (n_H, n_W, channels).

    EXIF orientation is applied (a phone's portrait photo stands upright); the image is
    converted to RGB or grayscale ("L"), then resized to ``image_size`` x ``image_size``
    with a Lanczos filter when ``image_size`` is given.
    """
    PIL = optional("PIL", func)
    Image = optional("PIL.Image", func)
    ImageOps = optional("PIL.ImageOps", func)
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
            else one_line(exc)
        )
        raise ValueError(f"{func}: cannot read the image {str(file)!r}: {reason}") from exc
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)


def unit_float(pixels: np.ndarray) -> np.ndarray:
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
    size = image_size_arg(image_size, func)
    channels = channels_arg(channels, func)
    file = file_arg(path, func, "path", "an image file (.jpg, .jpeg or .png)")
    return unit_float(_read_pixels(file, func, size, channels))


def _integer_name(name: str) -> bool:
    return re.fullmatch(r"[+-]?[0-9]+", name) is not None


def _sorted_class_names(names: list[str]) -> list[str]:
    """Numeric order when every name is an integer ("9" before "10"), else alphabetical."""
    if names and all(_integer_name(name) for name in names):
        return sorted(names, key=lambda name: (int(name), name))
    return sorted(names)


def _class_folders(root: Path, func: str) -> list[Path]:
    """The class subfolders of ``root`` (hidden ones ignored), in class order."""
    folders = {entry.name: entry for entry in root.iterdir() if is_visible(entry) and entry.is_dir()}
    if len(folders) < 2:
        files = [entry for entry in root.iterdir() if is_visible(entry) and entry.is_file()]
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
            if is_visible(entry) and entry.suffix.lower() in IMAGE_EXTENSIONS and entry.is_file()
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
    size = image_size_arg(image_size, func)
    channels = channels_arg(channels, func)
    root = folder_arg(path, func, "path", "a folder with one subfolder of images per class")
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
    X = unit_float(np.stack(images))
    y = np.asarray(labels, dtype=np.int64)
    return Dataset(X, y, [folder.name for folder in classes], str(root))


def resize_images(X: np.ndarray, n_H: int, n_W: int) -> np.ndarray:
    """Images in [0, 1] (m, h, w, n_C) resized to (m, n_H, n_W, n_C) with Pillow's Lanczos filter.

    The images come from 8-bit files, so ``round(X * 255)`` recovers their pixels exactly.
    """
    Image = optional("PIL.Image", "resize_images")
    out = np.empty((X.shape[0], n_H, n_W, X.shape[3]), dtype=np.float32)
    for i, image in enumerate(X):
        pixels = np.rint(image * 255).astype(np.uint8)
        pil = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        resized = np.asarray(pil.resize((n_W, n_H), Image.Resampling.LANCZOS, reducing_gap=3.0))
        out[i] = resized.reshape(n_H, n_W, X.shape[3]).astype(np.float32) / np.float32(255)
    return out
