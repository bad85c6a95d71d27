"""Optional packages: which extra of ``pyproject.toml`` brings each, and the one way to import them.

The library itself needs NumPy only. The app, the export and the checks of others' code import
their packages at the moment a function needs one, through :func:`require`, which turns a
missing package into one ``ImportError`` line naming the function and the ``pip install`` that
brings it.
"""

from __future__ import annotations

import importlib

# top-level module -> (the package's name on PyPI, the extra that installs it)
EXTRAS = {
    "PIL": ("Pillow", "app"),
    "h5py": ("h5py", "app"),
    "sklearn": ("scikit-learn", "app"),
    "matplotlib": ("matplotlib", "app"),
    "tqdm": ("tqdm", "app"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "torch": ("torch", "torch"),
}


def install_hint(module: str) -> str:
    """``pip install "cnnstep[extra]"`` for the extra that brings ``module``'s package."""
    return f'pip install "cnnstep[{EXTRAS[module.split(".")[0]][1]}]"'


def require(module: str, func: str):
    """Import ``module`` (e.g. ``"PIL.Image"``), or raise an ImportError naming ``func`` and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = EXTRAS[module.split(".")[0]][0]
        raise ImportError(
            f"{func}: needs the {package} package, which is not installed: {install_hint(module)}"
        ) from None
