"""Run independent pieces of a kernel on several threads.

A large batch is cut into chunks of examples and the chunks are shared out over the
threads; NumPy releases the GIL inside its passes and matrix products, so every core
works. Pooling's chunks are memory-bound passes. The convolutions' chunks hold copies,
transforms and matrix products: while they run, BLAS is held to one thread
(:mod:`cnnstep._kernels.blas`), so each core runs one chunk from start to end instead of BLAS's
workers waiting busily between products. The chunks do not depend on the thread count
and each writes its own slice of the output; sums over the batch (weight gradients) are
added per thread and then in thread order, so results depend on the thread count only
through that order of addition. BLAS stays on one thread also when the chunks run one after
another (one thread, one chunk, small work): BLAS's own threads split a product differently
and change the last bits of its result, which would make the outputs depend on the thread count.

The number of threads defaults to the processors this process may run on; set it with
:func:`set_num_threads` or the environment variable ``CNNSTEP_NUM_THREADS`` (read at
import). One thread means everything runs in the caller's thread, BLAS included.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from cnnstep._kernels import blas as _blas
from cnnstep._kernels import config as _config


def _from_environment() -> int:
    text = os.environ.get("CNNSTEP_NUM_THREADS", "").strip()
    if not text:
        return _config.available_cpus()
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
    """Set how many threads the kernels use (1 = the caller's thread only, BLAS included); return the previous."""
    global _threads
    from cnnstep._kernels.checks import positive_int

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


def _run_group(task, group):
    _local.inside = True
    try:
        return task(group)
    finally:
        _local.inside = False


# Below this many numbers of work, handing parts to another thread costs more than it saves
# (and on a busy machine the other thread may wait for a core).
MIN_PARALLEL_SIZE = 1 << 20


def _groups(parts: list, threads: int) -> list[list]:
    """``parts`` split into ``threads`` contiguous groups, sizes differing by at most one."""
    per_group, extra = divmod(len(parts), threads)
    groups, start = [], 0
    for k in range(threads):
        stop = start + per_group + (1 if k < extra else 0)
        groups.append(parts[start:stop])
        start = stop
    return groups


def run_groups(task, parts, size: int | None = None, blas: bool = False, scratch: int | None = None) -> list:
    """``[task(group) for group in groups]``: ``parts`` split into one contiguous group per thread.

    Each thread calls ``task`` once with its whole group (a list of parts), so it can set
    up its scratch buffers once and reuse them part after part; the caller's thread runs
    the first group. Results come back in group order. It runs serially (one group holding
    every part) when there is one thread or one part, from inside another task (no nested
    pools), for work of fewer than ``MIN_PARALLEL_SIZE`` numbers when ``size`` is given,
    and, for tasks whose parts run matrix products (``blas=True``), when BLAS's own threads
    cannot be held to one while the groups run (see :mod:`cnnstep._kernels.blas`). Such tasks
    run with BLAS on one thread whether serially or not, so a part's products round the same
    way for any thread count. ``scratch``: the bytes of scratch one group holds; no more groups
    run at once than the workspace limit holds (at least one).
    """
    parts = list(parts)
    threads = min(_threads, len(parts))
    if scratch is not None:
        threads = min(threads, max(1, _config.workspace_limit() // max(1, scratch)))
    small = _threads > 1 and size is not None and size < MIN_PARALLEL_SIZE
    if small:
        threads = 1
    if blas and threads > 1 and not _blas.available():
        threads = 1
    if threads <= 1 or getattr(_local, "inside", False):
        # one BLAS thread: the same bits as the threaded run, and small products run faster
        # so, far faster when the other core is busy (a 32x4096 @ 4096x10 product on a loaded
        # 2-core machine: 0.2 ms against up to 18 on BLAS's two threads)
        with _blas.single_threaded() if blas else contextlib.nullcontext():
            return [task(parts)]
    groups = _groups(parts, threads)
    with _blas.single_threaded() if blas else contextlib.nullcontext():
        futures = [_submit(threads - 1, _run_group, task, group) for group in groups[1:]]
        try:
            results = [_run_group(task, groups[0])]
        finally:
            for future in futures:  # never leave a worker writing after we return or raise
                future.exception()
    results.extend(future.result() for future in futures)
    return results


def run_chunks(task, parts, bytes_per_example: int, size: int) -> list:
    """:func:`run_groups` for a convolution's chunks of examples (slices), whose parts run
    matrix products: each group's scratch is its largest chunk's examples times
    ``bytes_per_example``."""
    scratch = _config.largest(parts) * bytes_per_example
    return run_groups(task, parts, size, blas=True, scratch=scratch)


def run(task, parts, size: int | None = None) -> list:
    """``[task(part) for part in parts]``, the parts shared out over the threads.

    As :func:`run_groups` (for tasks without matrix products), one part at a time;
    results come back in the order of ``parts``.
    """
    results = []
    for group in run_groups(lambda group: [task(part) for part in group], parts, size):
        results.extend(group)
    return results
