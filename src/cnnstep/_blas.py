"""Hold NumPy's BLAS to one thread while cnnstep's own threads each run matrix products.

The convolution kernels split a batch into chunks and hand them to several threads; each
chunk's copies, transforms and matrix products then run on one core, and the cores work
on different chunks at once. That only pays if BLAS does not also start its own threads
inside every product (its idle workers wait busily for the next one and take the cores
from the chunk threads), so while such a run lasts, BLAS is set to one thread and is set
back afterwards.

The setting is process-wide in OpenBLAS, so it is changed under a lock with a count of
the runs in progress: the first run in sets one thread, the last run out restores the
number it found. Only NumPy's OpenBLAS is controlled (found among the loaded libraries,
or beside NumPy); with any other BLAS :func:`available` is False and the kernels run
their chunks one after another with BLAS's own threading, as a single thread would.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading

import numpy as np

# (setter, getter) symbol pairs: NumPy's wheels ship scipy-openblas (64-bit integers, with
# prefixed symbols); a system OpenBLAS has the plain names.
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def _loaded_libraries() -> list[str]:
    """Paths of the OpenBLAS libraries to try, NumPy's own first.

    On Linux, the libraries mapped into this process (another package may have loaded an
    OpenBLAS of its own, so those under NumPy's folders come first); elsewhere, or if
    none is mapped, the ones shipped beside NumPy.
    """
    root = os.path.dirname(np.__file__)
    beside = [os.path.realpath(folder) for folder in (os.path.join(root, os.pardir, "numpy.libs"), os.path.join(root, ".dylibs"))]
    mapped = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in mapped:
                    mapped.append(path)
    except OSError:
        pass
    if mapped:
        return sorted(mapped, key=lambda path: not any(path.startswith(folder + os.sep) for folder in beside))
    return [path for folder in beside for path in sorted(glob.glob(os.path.join(folder, "*openblas*")))]


def _controls():
    """(set_num_threads, get_num_threads) of NumPy's OpenBLAS, or None."""
    for path in _loaded_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in _SYMBOLS:
            try:
                set_threads, get_threads = getattr(library, setter), getattr(library, getter)
            except AttributeError:
                continue
            set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
            get_threads.argtypes, get_threads.restype = [], ctypes.c_int
            return set_threads, get_threads
    return None


_lock = threading.Lock()
_found = False
_control = None
_depth = 0
_saved = 1


def _get_control():
    global _found, _control
    if not _found:
        with _lock:
            if not _found:
                try:
                    _control = _controls()
                except (OSError, ValueError):  # an unreadable library: not controllable
                    _control = None
                _found = True
    return _control


def available() -> bool:
    """True when NumPy's BLAS threads can be held to one during a threaded run."""
    return _get_control() is not None


@contextlib.contextmanager
def single_threaded():
    """BLAS on one thread inside the block (nestable, and safe from several threads)."""
    global _depth, _saved
    control = _get_control()
    if control is None:
        yield
        return
    set_threads, get_threads = control
    with _lock:
        if _depth == 0:
            _saved = get_threads()
            if _saved != 1:
                set_threads(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved != 1:
                set_threads(_saved)
