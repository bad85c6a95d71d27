"""What the app's modules share: the optional packages and their install hint, JSON files, messages.

The training tool's extras (``pip install "cnnstep[app]"``) are imported only by the
functions that need them, through :func:`optional` (:func:`cnnstep._optional.require`),
which names the package and the install command when one is missing.
"""

from __future__ import annotations

import json

from cnnstep._optional import require as optional
from cnnstep.nn.args import jsonable
from cnnstep.nn.io import atomic_write

__all__ = ["optional", "write_json", "one_line"]


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def write_json(path, payload) -> None:
    """Write ``jsonable(payload)`` as indented JSON at ``path``, whole or not at all."""
    with atomic_write(path, "w", encoding="utf-8") as file:
        json.dump(jsonable(payload), file, indent=2, allow_nan=False)
        file.write("\n")
