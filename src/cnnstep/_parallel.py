"""Run independent pieces of a kernel on several threads.

Pooling is a series of memory-bound NumPy passes; NumPy releases the GIL inside them,
so a large batch split into parts handled by different threads uses every core (the
convolutions leave threading to BLAS: right after a matrix product BLAS's own workers
still hold the other cores, and extra threads there were measured to lose time). Each
part writes its own slice of the output, so results do not depend on the thread count
or on scheduling.

The number of threads defaults to the processors this process may run on; set it with
:func:`set_num_threads` or the environment variable ``CNNSTEP_NUM_THREADS`` (read at
import). One thread means everything runs in the caller's thread.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _from_environment() -> int:
    text = os.environ.get("CNNSTEP_NUM_THREADS", "").strip()
    if not text:
        return _available_cpus()
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"CNNSTEP_NUM_THREADS must be a positive integer, got {text!r}") from None
    if n < 1:
        raise ValueError(f"CNNSTEP_NUM_THREADS must be a positive integer, got {text!r}")
    return n


_threads = _from_environment()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()
_local = threading.local()


def num_threads() -> int:
    """How many threads the kernels use."""
    return _threads


def set_num_threads(n: int) -> int:
    """Set how many threads pooling uses (1 = the caller's thread only); return the previous.

    Matrix products run on BLAS's own threads, which this does not change.
    """
    global _threads
    from cnnstep._checks import positive_int

    n = positive_int(n, "set_num_threads", "n")
    previous, _threads = _threads, n
    return previous


def _submit(workers: int, fn, *args):
    """Submit to the shared pool, grown to ``workers`` threads if needed (under one lock, so a
    pool is never shut down while another caller submits to it)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)  # its queued work still runs
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnstep")
            _pool_size = workers
        return _pool.submit(fn, *args)


def _run_group(task, parts) -> list:
    _local.inside = True
    try:
        return [task(part) for part in parts]
    finally:
        _local.inside = False


# Below this many numbers of work, handing parts to another thread costs more than it saves
# (and on a busy machine the other thread may wait for a core).
MIN_PARALLEL_SIZE = 1 << 20


def run(task, parts, size: int | None = None) -> list:
    """``[task(part) for part in parts]``, the parts shared out over the threads.

    Parts are split into contiguous groups, one per thread; the caller's thread runs the
    first group. Results come back in the order of ``parts``. A task started from inside
    another task runs serially (no nested pools), and so does work of fewer than
    ``MIN_PARALLEL_SIZE`` numbers when ``size`` (the work's size) is given.
    """
    parts = list(parts)
    threads = min(_threads, len(parts))
    if size is not None and size < MIN_PARALLEL_SIZE:
        threads = 1
    if threads <= 1 or getattr(_local, "inside", False):
        return [task(part) for part in parts]
    per_group, extra = divmod(len(parts), threads)
    groups, start = [], 0
    for k in range(threads):
        stop = start + per_group + (1 if k < extra else 0)
        groups.append(parts[start:stop])
        start = stop
    futures = [_submit(threads - 1, _run_group, task, group) for group in groups[1:]]
    try:
        results = _run_group(task, groups[0])
    finally:
        for future in futures:  # never leave a worker writing after we return or raise
            future.exception()
    for future in futures:
        results.extend(future.result())
    return results
