"""Hold NumPy's BLAS to one thread while cnnstep's own threads each run matrix products.

The convolution kernels split a batch into chunks and hand them to several threads; each
chunk's copies, transforms and matrix products then run on one core, and the cores work
on different chunks at once. That only pays if BLAS does not also start its own threads
inside every product (its idle workers wait busily for the next one and take the cores
from the chunk threads), so while such a run lasts, BLAS is set to one thread and is set
back afterwards.

The setting is process-wide in OpenBLAS, so it is changed under a lock with a count of
the runs in progress: the first run in sets one thread, the last run out restores the
number it found. Only the OpenBLAS that NumPy itself calls is controlled: its functions
are looked up through NumPy's own extension module (whose dependencies hold them), or in
the libraries shipped beside NumPy, and it must be threaded with its own pthreads (an
OpenMP build resets the count per call). With any other BLAS :func:`available` is False
and the kernels run their chunks one after another with BLAS's own threading, as a
single thread would.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import threading

import numpy as np

# (setter, getter, parallel) symbol names: NumPy's wheels ship scipy-openblas (64-bit
# integers, prefixed symbols); a system OpenBLAS has the plain names.
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_", "scipy_openblas_get_parallel64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads", "scipy_openblas_get_parallel"),
    ("openblas_set_num_threads", "openblas_get_num_threads", "openblas_get_parallel"),
)
_PTHREADS = 1  # what openblas_get_parallel() returns for a pthreads build


def _candidates() -> list[str]:
    """Libraries to look in: NumPy's extension module first (symbol lookup through a handle
    also searches the libraries it depends on, on Linux and macOS), then the OpenBLAS files
    shipped beside NumPy (Windows wheels, where it does not)."""
    paths = []
    try:
        from numpy._core import _multiarray_umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath
    paths.append(_multiarray_umath.__file__)
    root = os.path.dirname(np.__file__)
    for folder in (os.path.join(root, os.pardir, "numpy.libs"), os.path.join(root, ".dylibs")):
        paths.extend(sorted(glob.glob(os.path.join(folder, "*openblas*"))))
    return paths


def _controls():
    """(set_num_threads, get_num_threads) of the OpenBLAS NumPy calls, or None."""
    for path in _candidates():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter, parallel in _SYMBOLS:
            try:
                set_threads, get_threads, get_parallel = (getattr(library, name) for name in (setter, getter, parallel))
            except AttributeError:
                continue
            set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
            get_threads.argtypes, get_threads.restype = [], ctypes.c_int
            get_parallel.argtypes, get_parallel.restype = [], ctypes.c_int
            if get_parallel() != _PTHREADS:
                return None
            return set_threads, get_threads
    return None


_lock = threading.Lock()
_depth = 0
_saved = 1


@functools.cache
def _get_control():
    """:func:`_controls`, looked up once."""
    try:
        return _controls()
    except (OSError, ValueError):  # an unreadable library: not controllable
        return None


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
