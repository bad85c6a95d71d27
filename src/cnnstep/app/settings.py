"""The settings of a training run, checked once.

:class:`TrainingSettings` is a frozen dataclass: its defaults are the command line's
defaults, its ``__post_init__`` checks every field with the rule written once in
:data:`RULES`, and :class:`~cnnstep.app.train.Trainer` and ``cnnstep train`` both build
one. A mistake names the field (``Trainer: epochs must be an integer >= 1, got 0``) or,
built for the command line, the flag (``--epochs must be an integer >= 1, got 0``).
"""

from __future__ import annotations

import os
from dataclasses import InitVar, dataclass, fields
from pathlib import Path

from cnnstep._kernels import checks as _checks

__all__ = ["TrainingSettings", "RULES", "FOLDER_IMAGE_SIZE", "SCHEDULES", "AUGMENTATIONS"]

FOLDER_IMAGE_SIZE = 64  # image folders are resized to this side unless image_size says otherwise
SCHEDULES = {"cosine": "cosine", "constant": None}  # schedule -> Sequential.fit's lr_schedule
AUGMENTATIONS = ("shift", "none")


def _integer(value, at_least: int, where: str, name: str) -> int:
    if not _checks.is_int(value):
        raise TypeError(f"{where}{name} must be an integer >= {at_least}, got {_checks.show(value)}")
    if value < at_least:
        raise ValueError(f"{where}{name} must be an integer >= {at_least}, got {value!r}")
    return int(value)


def _choice(value, options, where: str, name: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{where}{name} must be one of {list(options)}, got {_checks.show(value)}")
    return value


def _data(value, where: str, name: str):
    if not (isinstance(value, (str, os.PathLike)) and os.fspath(value)):
        raise TypeError(f"{where}{name} must be 'digits' or a path, got {_checks.show(value)}")
    return value


def _folder(value, where: str, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        expected = "a path naming a folder (str or pathlib.Path)"
        raise TypeError(f"{where}{name} must be {expected}, got {_checks.show(value)}")
    return Path(value)


def _architecture(value, where: str, name: str) -> str:
    from cnnstep.nn import ARCHITECTURES

    return _choice(value, sorted(ARCHITECTURES), where, name)


# One rule per field: check(value, prefix, name) -> the value, normalised.
RULES = {
    "data": _data,
    "model": _architecture,
    "image_size": lambda v, w, n: None if v is None else _integer(v, 1, w, n),
    "epochs": lambda v, w, n: _integer(v, 1, w, n),
    "batch_size": lambda v, w, n: _integer(v, 1, w, n),
    "lr": lambda v, w, n: _checks.positive_number(v, "", f"{w}{n}"),
    "schedule": lambda v, w, n: _choice(v, SCHEDULES, w, n),
    "augment": lambda v, w, n: _choice(v, AUGMENTATIONS, w, n),
    "seed": lambda v, w, n: _integer(v, 0, w, n),
    "test_fraction": lambda v, w, n: _checks.fraction(v, "", f"{w}{n}"),
    "out": _folder,
}


@dataclass(frozen=True)
class TrainingSettings:
    """Everything a training run is told; checked when made, never changed after.

    Parameters
    ----------
    data : str or pathlib.Path
        ``"digits"``, an image folder (one subfolder per class) or the course's .h5 pair.
    model : {"default", "application"}
    image_size : int or None
        Image folders: the side every image is resized to (None: :data:`FOLDER_IMAGE_SIZE`).
        Digits and .h5 files keep their native size.
    epochs, batch_size : int >= 1
    lr : float > 0
        Adam's learning rate.
    schedule : {"cosine", "constant"}
    augment : {"shift", "none"}
    seed : int >= 0
        Seeds the split, the initial weights and the batch order.
    test_fraction : float in (0, 1)
        The share of each class held out when the data has no test set of its own.
    out : str or pathlib.Path
        The run's folder (a :class:`pathlib.Path` once checked).
    where : str
        Who is asking, for the messages (not stored): ``"Trainer"``, or ``"--"`` for the
        command line, whose messages then name the flags.
    """

    data: str | os.PathLike = "digits"
    model: str = "default"
    image_size: int | None = None
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    schedule: str = "cosine"  # the learning rate decays along half a cosine over the run
    augment: str = "shift"  # each training batch moved by up to a tenth of the image size
    seed: int = 0
    test_fraction: float = 0.2
    out: str | os.PathLike = "cnnstep-run"
    where: InitVar[str] = "TrainingSettings"

    def __post_init__(self, where: str) -> None:
        for name, check in RULES.items():
            if where == "--":
                prefix, shown = "--", name.replace("_", "-")
            else:
                prefix, shown = f"{where}: ", name
            object.__setattr__(self, name, check(getattr(self, name), prefix, shown))

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict:
        """The settings as metrics.json records them (paths as strings)."""
        values = {name: getattr(self, name) for name in self.names()}
        values["data"] = os.fspath(values["data"])
        values["out"] = os.fspath(values["out"])
        return values

    def effective_image_size(self, is_image_folder: bool) -> int | None:
        """The side images are read at: image folders default to :data:`FOLDER_IMAGE_SIZE`."""
        if self.image_size is None and is_image_folder:
            return FOLDER_IMAGE_SIZE
        return self.image_size
