"""Process-wide settings of the kernels.

``workspace_limit`` bounds the scratch memory one kernel call may use for its
window matrix (im2col) and transform buffers. Batches whose scratch would exceed it are
processed in chunks of examples, so peak memory stays bounded for any batch size while a
typical batch runs in one piece. The default can be set with the environment variable
``CNNSTEP_WORKSPACE_MB`` before the first import, or at run time with
:func:`set_workspace_limit`.
"""

from __future__ import annotations

import os

_DEFAULT_MB = 64


def _from_environment() -> int:
    text = os.environ.get("CNNSTEP_WORKSPACE_MB", "").strip()
    if not text:
        return _DEFAULT_MB * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"CNNSTEP_WORKSPACE_MB must be a number of megabytes, got {text!r}") from None
    if megabytes <= 0:
        raise ValueError(f"CNNSTEP_WORKSPACE_MB must be positive, got {text!r}")
    return int(megabytes * 2**20)


_workspace_bytes = _from_environment()


def workspace_limit() -> int:
    """The scratch-memory budget of one kernel call, in bytes."""
    return _workspace_bytes


def set_workspace_limit(nbytes: int) -> int:
    """Set the scratch-memory budget of one kernel call (bytes); return the previous one.

    A smaller budget means more, smaller chunks (less memory, somewhat slower); at
    least one example is always processed at a time whatever the budget.
    """
    global _workspace_bytes
    from cnnstep._kernels.checks import positive_int

    nbytes = positive_int(nbytes, "set_workspace_limit", "nbytes")
    previous, _workspace_bytes = _workspace_bytes, nbytes
    return previous


# Kernels whose passes are memory-bound (elementwise transforms) run fastest when one
# chunk's buffers stay in the processor's caches: they use chunks of about this size.
CACHE_CHUNK_BYTES = 2 * 2**20
# Pooling's passes touch a few arrays of the input's size per chunk.
POOL_CHUNK_BYTES = 2 * 2**20


def chunk_budget(cap: int) -> int:
    """Scratch bytes for one chunk: ``cap``, or the workspace limit if smaller.

    It does not depend on the thread count, so neither do the chunks (nor, with them, the
    rounding of the outputs); threaded runs use fewer threads when the workspace limit
    would not hold one chunk's scratch per thread (see :func:`cnnstep._kernels.parallel.run_groups`).
    """
    return min(cap, _workspace_bytes)


def available_cpus() -> int:
    """The processors this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# The threads take the chunks in contiguous groups of equal count (see
# :func:`cnnstep._kernels.parallel.run_groups`), so a call takes as long as its largest group:
# 32 examples in chunks of 7 on two threads is 21 examples against 11. The count of chunks is
# therefore rounded up to a multiple of the processors this process may run on, and the
# examples spread evenly over them (6 chunks of 5 or 6, 16 examples a thread). It depends on
# the machine, not on the thread count set, so neither do the outputs' bits.
BALANCE = available_cpus()


def chunks(m: int, bytes_per_example: int, budget: int | None = None):
    """Slices of at most ``budget // bytes_per_example`` examples covering ``range(m)``.

    ``budget`` defaults to the workspace limit; at least one example per chunk. The count of
    chunks is a multiple of ``BALANCE`` where there are enough examples, their sizes differing
    by at most one and the larger ones spread out, so contiguous groups of them hold equal work.
    """
    budget = _workspace_bytes if budget is None else budget
    step = max(1, budget // max(1, bytes_per_example))
    if m == 0:
        return [slice(0, 0)]
    count = -(-m // step)
    if count > 1:
        count = min(m, -(-count // BALANCE) * BALANCE)
    bounds = [k * m // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def largest(parts) -> int:
    """The most examples any of the slices from :func:`chunks` holds: what scratch buffers are sized for."""
    return max(part.stop - part.start for part in parts)
