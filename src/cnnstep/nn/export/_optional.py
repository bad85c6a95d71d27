"""The optional packages of the export modules, imported only when a function needs them.

``import cnnstep.nn`` loads NumPy and nothing else; :func:`require` imports onnx,
onnxruntime or torch at the moment a function needs one, and turns its absence into one
``ImportError`` line that names the function and the ``pip install`` that brings it.
"""

from __future__ import annotations

import importlib

# the extra of pyproject.toml that brings each package
EXTRAS = {"onnx": "export", "onnxruntime": "export", "torch": "torch"}


def install_hint(package: str) -> str:
    return f'pip install "cnnstep[{EXTRAS[package]}]"'


def require(package: str, func: str):
    """The module ``package``, or an ImportError naming ``func`` and the install command."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(
            f"{func}: needs the {package} package, which is not installed: {install_hint(package)}"
        ) from None
