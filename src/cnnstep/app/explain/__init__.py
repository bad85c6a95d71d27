"""``cnnstep explain``: one page that shows a trained model reading one image.

:func:`explain` writes a folder::

    index.html       the page: inline CSS and JavaScript, the data inline; opens from file://
    input.png        the image as the model sees it (enlarged)
    animations/      the blocks' animations (cnnstep.app.animate)
    model.npz        without a model given: the model trained on the digits, to reuse

The page shows the input, every layer's output as a grid of feature maps (name,
configuration, output shape), the first convolution's filters and the class
probabilities; a click on a feature-map cell shows the window it read in the layer below,
the filter, and the arithmetic of that one output with its numbers. Nothing is fetched:
no CDN, no network.

The folder is built beside ``out`` under a temporary name and moved into place when it is
complete, so an interrupted or failed run leaves no half-written page. An existing
``out`` is replaced only when it is empty or holds an earlier page of this command.

Example
-------
>>> from cnnstep.app.explain import explain
>>> explain(out="explained")                        # doctest: +SKIP
'explained/index.html'
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from cnnstep._kernels import checks as _checks
from cnnstep.app.explain import page, sources

__all__ = ["explain", "DEFAULT_OUT", "PAGE"]

DEFAULT_OUT = "cnnstep-explain"
PAGE = "index.html"
ANIMATIONS = "animations"
MODEL = "model.npz"
FUNC = sources.FUNC


def explain(model=None, image=None, out=DEFAULT_OUT, log=print) -> str:
    """Write the explainer page of ``model`` reading ``image`` into the folder ``out``.

    Parameters
    ----------
    model : str, pathlib.Path or None
        A model file written by ``cnnstep train`` (``Sequential.save``). None trains the
        default architecture on the built-in digits (about a second).
    image : str, pathlib.Path or None
        An image file (resized to the model's input with Lanczos, converted to its
        channels) or a ``.npy`` array of exactly the model's input shape. None takes a
        test image of the model's own data: the built-in digits for the default model,
        or the data that the ``metrics.json`` beside a model file names.
    out : str or pathlib.Path
        The page's folder; it must not exist, be empty, or hold an earlier page.
    log : callable
        Receives each line of the account.

    Returns
    -------
    str
        The path of ``index.html``.

    Raises
    ------
    ValueError, TypeError, OSError
        An unreadable model or image, an image the model cannot take, an ``out`` that
        cannot be written; nothing is left behind.
    """
    for value, what in ((model, "model"), (image, "image")):
        if value is not None and (not isinstance(value, (str, os.PathLike)) or not os.fspath(value)):
            raise TypeError(f"{FUNC}: {what} must be a path (str or pathlib.Path), got {_checks.show(value)}")
    if model is None and image is not None:
        raise ValueError(f"{FUNC}: an IMAGE needs a MODEL to read it: cnnstep explain MODEL IMAGE")
    target = _target(out)
    _outside(model, target, "MODEL")
    _outside(image, target, "IMAGE")
    source = None
    if model is not None:
        source = sources.saved_model(model, log=log)
        picture = (
            sources.picture_from_test_set(source, model)
            if image is None
            else sources.read_image(image, source.model.input_shape)
        )
    staging = _staging(target)
    try:
        if source is None:
            source = sources.digits_model(log=log)
            picture = sources.picture_from_test_set(source, "the default model")
            source.model.save(staging / MODEL)
            source.description += f"; saved beside this page as {MODEL}"
        views, logits = page.layer_views(source.model, picture.x)
        animations = _write_animations(staging / ANIMATIONS)
        page.input_png(picture.x, staging / "input.png")
        data = page.payload(source.model, source.description, picture, views, logits, animations)
        (staging / PAGE).write_text(page.render(data), encoding="utf-8")
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    best = data["classes"][data["predicted"]]
    log(f"predicted class {best!r} (probability {data['probabilities'][data['predicted']]:.3f}) for {picture.source}")
    return os.fspath(Path(out) / PAGE)


# --------------------------------------------------------------------------- the animations


@functools.cache
def _animation_bytes() -> tuple:
    """The blocks' animations as (name, bytes): drawn once per process, they depend on nothing else."""
    from cnnstep.app import animate

    with tempfile.TemporaryDirectory(prefix="cnnstep-animations-") as folder:
        return tuple((Path(p).name, Path(p).read_bytes()) for p in animate.write_all(folder))


def _write_animations(folder: Path) -> list:
    from cnnstep.app import animate

    folder.mkdir()
    shown = []
    for name, content in _animation_bytes():
        (folder / name).write_bytes(content)
        shown.append({"file": f"{ANIMATIONS}/{name}", "caption": animate.ANIMATIONS[name]})
    return shown


# --------------------------------------------------------------------------- the folder


def _target(out) -> Path:
    """``out`` as a Path, after checking that a page may be written there."""
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
        raise TypeError(f"{FUNC}: out must be a folder path (str or pathlib.Path), got {_checks.show(out)}")
    target = Path(os.path.abspath(out))  # "." and "a/.." name their folder, not ""
    if target == target.parent:
        raise ValueError(f"{FUNC}: --out {os.fspath(out)!r} is the root folder; give a folder for the page")
    if target.exists() and not target.is_dir():
        raise ValueError(f"{FUNC}: --out {os.fspath(out)!r} is a file; expected a folder for the page")
    if target.is_dir() and not _replaceable(target):
        raise ValueError(
            f"{FUNC}: --out {os.fspath(out)!r} holds other files than an earlier page of cnnstep explain; "
            f"give a new or empty folder"
        )
    return target


def _outside(path, target: Path, what: str) -> None:
    """Refuse an input inside the folder that the new page replaces."""
    if path is not None and target in Path(os.path.abspath(path)).parents:
        raise ValueError(
            f"{FUNC}: {what} {os.fspath(path)!r} is inside --out {os.fspath(target)!r}, which the new page "
            f"replaces; give another --out"
        )


def _replaceable(folder: Path) -> bool:
    """An empty folder, or one that holds an earlier page of this command (and nothing else)."""
    names = {entry.name for entry in folder.iterdir()}
    if not names:
        return True
    if not names <= {PAGE, "input.png", ANIMATIONS, MODEL}:
        return False
    try:
        head = (folder / PAGE).read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return False
    return f'content="{page.GENERATOR}' in head


def _staging(target: Path) -> Path:
    """A new, empty folder beside ``target`` for the page under construction."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()
    except OSError as exc:
        raise OSError(f"{FUNC}: cannot write the page's folder {os.fspath(target)!r}: {exc.strerror or exc}") from None
    return staging


def _publish(staging: Path, target: Path) -> None:
    """Move the finished page into place; an earlier page there is replaced.

    A new folder is renamed into place whole. An existing one keeps its identity (it may
    be the current folder): the earlier page's entries are set aside, the new ones moved
    in with index.html last, so that the page is complete once it is there; on failure
    the earlier page is put back.
    """
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
    old.mkdir()
    set_aside, moved_in = [], []
    try:
        for entry in list(target.iterdir()):
            os.replace(entry, old / entry.name)
            set_aside.append(entry.name)
        for name in sorted((p.name for p in staging.iterdir()), key=lambda name: name == PAGE):
            os.replace(staging / name, target / name)
            moved_in.append(name)
    except BaseException:
        for name in moved_in:
            os.replace(target / name, staging / name)
        for name in set_aside:
            os.replace(old / name, target / name)
        old.rmdir()
        raise
    staging.rmdir()
    shutil.rmtree(old, ignore_errors=True)
