"""Pooling kernels: max and average pooling, forward and backward, on chunks of examples.

Index algebra. At window offset (i, j) every output (h, w) looks at input cell
(h*s_h + i - pad_top, w*s_w + j - pad_left), so one strided slice of the input serves all
windows at once; the kernels loop over the f_h x f_w offsets, never over examples or output
positions. Offsets that fall into the padding are left out, which is what max-pooling with
-inf padding and average-pooling over the real cells both mean.

Two shapes of work:

* tiled windows (no padding, stride == window, every cell in at most one window): the
  input is viewed as whole rows ``m h i (w j c)``, reduced over ``i`` in one call and then
  over ``j`` by halving;
* any other windows: separable passes over strided slices, rows first, then columns;
  windows one column apart take the column pass of the max forward and of both backwards
  on flat runs, one per column offset (:func:`_column_runs`).

The max backward finds each window's maximum again (the cache is ``(A_prev, hparameters)``)
and routes ``dy`` to every cell equal to it; ``ties="first"`` and NaN maxima take the
general per-offset loop. A layer that keeps what its forward found (:func:`max_forward_routed`,
:func:`max_backward_routed`) routes without finding the maxima again: tiled windows keep the
mask of the cells equal to their window's maximum, others the first (column) pass.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import config as _config
from cnnstep._kernels.checks import PoolGeometry
from cnnstep._kernels.frame import frame


def _offset(k: int, s: int, pad_before: int, n_prev: int, n_out: int):
    """For window offset ``k``: (outputs, inputs) slices of the positions that read a real cell.

    Output ``h`` reads input row ``h*s + k - pad_before``; the outputs for which that row
    exists form one contiguous range. Returns None when there are none.
    """
    first = max(0, -(-(pad_before - k) // s))
    last = min(n_out - 1, (n_prev - 1 + pad_before - k) // s)
    if last < first:
        return None
    start = first * s + k - pad_before
    return slice(first, last + 1), slice(start, start + (last - first) * s + 1, s)


def _offsets(g: PoolGeometry):
    """Every window offset (i, j) in row-major order, with its output and input slices."""
    for i in range(g.f_h):
        rows = _offset(i, g.s_h, g.pad.top, g.n_H_prev, g.n_H)
        if rows is None:
            continue
        for j in range(g.f_w):
            cols = _offset(j, g.s_w, g.pad.left, g.n_W_prev, g.n_W)
            if cols is None:
                continue
            out = (slice(None), rows[0], cols[0], slice(None))
            inp = (slice(None), rows[1], cols[1], slice(None))
            yield out, inp


def _window_counts(g: PoolGeometry, dtype) -> np.ndarray | float:
    """How many real cells each window holds: (n_H, n_W, 1), or one number without padding."""
    if not g.pad.any:
        return float(g.f_h * g.f_w)
    rows = np.zeros(g.n_H)
    for i in range(g.f_h):
        sl = _offset(i, g.s_h, g.pad.top, g.n_H_prev, g.n_H)
        if sl is not None:
            rows[sl[0]] += 1
    cols = np.zeros(g.n_W)
    for j in range(g.f_w):
        sl = _offset(j, g.s_w, g.pad.left, g.n_W_prev, g.n_W)
        if sl is not None:
            cols[sl[0]] += 1
    return np.multiply.outer(rows, cols).astype(dtype)[:, :, None]


# --------------------------------------------------------------------------- chunked drivers
#
# Pooling is memory-bound: every pass reads and writes whole arrays. The batch is cut
# into chunks of a few examples whose arrays stay in the processor's caches, and the
# chunks are shared out over the threads (each writes its own slice of the output).


def parts(g: PoolGeometry, itemsize: int):
    """Chunks of examples: cache-sized for the many passes of overlapping windows; larger for
    side-by-side windows, whose few passes would otherwise pay more in per-call overhead."""
    per_example = (g.n_H_prev + g.pad.top + g.pad.bottom) * (g.n_W_prev + g.pad.left + g.pad.right) * g.n_C * itemsize
    budget = _config.POOL_CHUNK_BYTES * (4 if tiled(g) else 1)
    return _config.chunks(g.m, 3 * per_example, budget)


def _padded(x: np.ndarray, g: PoolGeometry, fill) -> np.ndarray:
    """A chunk inside a frame of ``fill`` (the padding), or x itself without padding."""
    return frame(x, g.pad, fill) if g.pad.any else x


def _span(n: int, s: int) -> int:
    return (n - 1) * s + 1


def _combine(op, views, out):
    """out = op(op(views[0], views[1]), ...) -- a running reduction over window offsets."""
    if len(views) == 1:
        np.copyto(out, views[0])
        return out
    op(views[0], views[1], out=out)
    for view in views[2:]:
        op(out, view, out=out)
    return out


def _halving(op, x: np.ndarray, k: int, out: np.ndarray) -> np.ndarray:
    """op over k neighbouring blocks of the last axis: x (..., k * C) -> out (..., C).

    Pairs of halves are combined (log2 k passes), so the runs stay long -- better than k
    passes over runs of C when C is small.
    """
    C = x.shape[-1] // k
    while k > 1:
        half = k // 2
        merged = np.empty(x.shape[:-1] + (half * C,), dtype=x.dtype) if half > 1 else out
        op(x[..., : half * C], x[..., half * C : 2 * half * C], out=merged)
        if k % 2:
            op(merged[..., :C], x[..., 2 * half * C :], out=merged[..., :C])
        x, k = merged, half
    if x is not out:
        np.copyto(out, x)
    return out


def _reduce_windows(x_pad: np.ndarray, g: PoolGeometry, op, out: np.ndarray, rows=None, wide=None, flat=False):
    """op over every f_h x f_w window of the padded chunk, separably: rows first, then columns.

    ``rows`` (m, n_H, W_pad, C) receives the first pass: ``op`` over each window's rows,
    column by column. Rows first: those slices keep whole rows (width x channels)
    contiguous, and the column pass then runs on an array already reduced by the window's
    height. Returns ``out``.

    ``flat`` (only for ``np.maximum``: an ``op`` that may overflow would warn about positions
    that are never used): windows one column apart take their column pass on flat runs
    (:func:`_column_runs`) into ``wide`` (given by the max backward, or scratch), which keeps
    every window's result at its first column, and ``out`` is copied from it (``out`` None:
    only ``rows`` and ``wide`` are filled; returns None).
    """
    span_h, span_w = _span(g.n_H, g.s_h), _span(g.n_W, g.s_w)
    if rows is None:
        rows = np.empty((x_pad.shape[0], g.n_H, x_pad.shape[2], g.n_C), dtype=x_pad.dtype)
    _combine(op, [x_pad[:, i : i + span_h : g.s_h] for i in range(g.f_h)], rows)
    if not (flat and _flat_columns(g, rows)):
        return _combine(op, [rows[:, :, j : j + span_w : g.s_w] for j in range(g.f_w)], out)
    if wide is None:
        wide = np.empty_like(rows)
    runs = _column_runs(rows, g)
    _combine(op, runs, wide.reshape(-1)[: runs[0].size])
    if out is not None:
        np.copyto(out, wide[:, :, : g.n_W])
    return out


def _flat_columns(g: PoolGeometry, rows: np.ndarray) -> bool:
    """Windows one column apart (s_w == 1, f_w > 1) on a non-empty chunk: see :func:`_column_runs`."""
    return g.s_w == 1 and g.f_w > 1 and rows.size > 0


def _column_runs(rows: np.ndarray, g: PoolGeometry) -> list:
    """For windows one column apart: column offset j of every window as one flat run of ``rows``.

    Flat position k of ``rows`` (m, n_H, W_pad, C) is cell (e, h, w, c); run j holds, at k,
    the cell j columns to its right, ``rows.reshape(-1)[k + j*C]``. For a window's first
    column (w < n_W) that cell lies in the same row; past the last window (w >= n_W) it
    runs over into the next row, and what is computed there is never used (the gradients
    put 0 there). One long run per offset is much faster in NumPy than a strided slice of
    the columns of every row.
    """
    flat = rows.reshape(-1)
    length = flat.size - (g.f_w - 1) * g.n_C
    return [flat[j * g.n_C : j * g.n_C + length] for j in range(g.f_w)]


def _first_columns(m: int, g: PoolGeometry, width: int, dtype) -> np.ndarray:
    """A buffer (m, n_H, width, C) for values at each window's first column: zeros past the
    last window, the first n_W columns left for the caller to fill."""
    out = np.empty((m, g.n_H, width, g.n_C), dtype=dtype)
    out[:, :, g.n_W :] = 0
    return out


def _reduce_tiled(x: np.ndarray, g: PoolGeometry, op, out: np.ndarray) -> np.ndarray:
    """op over side-by-side windows: whole rows first (long runs), then each window row by halving."""
    m = x.shape[0]
    covered = x[:, : g.n_H * g.f_h, : g.n_W * g.f_w, :].reshape(m, g.n_H, g.f_h, g.n_W * g.f_w * g.n_C)
    rows = np.empty((m, g.n_H, g.n_W * g.f_w * g.n_C), dtype=x.dtype)
    op.reduce(covered, axis=2, out=rows)  # m h i (w j c) -> m h (w j c); one call, whole rows
    return _halving(op, rows.reshape(m, g.n_H, g.n_W, g.f_w * g.n_C), g.f_w, out)  # -> m h w c


def max_forward(x: np.ndarray, g: PoolGeometry, out: np.ndarray, rows=None, wide=None) -> np.ndarray:
    # -inf padding is never chosen over a real cell; NaN propagates as np.max's does
    if tiled(g) and rows is None:
        return _reduce_tiled(x, g, np.maximum, out)
    return _reduce_windows(_padded(x, g, -np.inf), g, np.maximum, out, rows, wide, flat=True)


def average_forward(x: np.ndarray, g: PoolGeometry, out: np.ndarray) -> np.ndarray:
    if tiled(g):
        _reduce_tiled(x, g, np.add, out)
    else:
        _reduce_windows(_padded(x, g, 0), g, np.add, out)
    out /= _window_counts(g, x.dtype)  # real cells only
    return out


def tiled(g: PoolGeometry) -> bool:
    """Windows side by side: no padding, stride == window (every cell in at most one window)."""
    return not g.pad.any and g.f_h == g.s_h and g.f_w == g.s_w


def _widen(x: np.ndarray, g: PoolGeometry) -> np.ndarray:
    """Each output column repeated f_w times: (m, n_H, n_W, C) -> (m, n_H, 1, n_W * f_w * C) rows.

    A cell's C channels are viewed as one opaque item, so the repeat copies whole channel
    vectors (long runs even when C is small). ``x`` is C-contiguous.
    """
    cells = np.ascontiguousarray(x).view(np.dtype((np.void, g.n_C * x.itemsize)))
    wide = np.repeat(cells.reshape(x.shape[:3]), g.f_w, axis=2)
    return wide.view(x.dtype).reshape(x.shape[0], g.n_H, 1, g.n_W * g.f_w * g.n_C)


def _tiled_rows(x: np.ndarray, g: PoolGeometry) -> np.ndarray:
    """The covered part of a tiled input as a view (m, n_H, f_h, n_W * f_w * C): whole rows per window row.

    ``x`` is C-contiguous, so the view always exists (and writes through it reach ``x``).
    """
    covered = x[:, : g.n_H * g.f_h, : g.n_W * g.f_w, :]
    rows = covered.reshape(x.shape[0], g.n_H, g.f_h, g.n_W * g.f_w * g.n_C)
    if x.size and not np.may_share_memory(rows, x):
        raise RuntimeError("pooling kernel: expected a view of a C-contiguous array")
    return rows


def max_backward(dy, x, g: PoolGeometry, ties: str, out: np.ndarray) -> np.ndarray:
    rows = wide = None
    if not tiled(g):
        rows = np.empty((x.shape[0], g.n_H, g.n_W_prev + g.pad.left + g.pad.right, g.n_C), x.dtype)
        wide = np.empty_like(rows) if _flat_columns(g, rows) else None
    if wide is not None and ties == "all":
        # windows one column apart: the fast path reads the maxima from ``wide`` and needs no
        # copy of them; every column of ``rows`` lies in a window, so a NaN maximum shows there
        _reduce_windows(_padded(x, g, -np.inf), g, np.maximum, None, rows, wide, flat=True)
        if not np.isnan(rows).any():
            return _max_backward_fast(dy, x, None, rows, g, out, wide)
        x_max = np.ascontiguousarray(wide[:, :, : g.n_W])
    else:
        x_max = max_forward(x, g, np.empty(dy.shape, dtype=x.dtype), rows, wide)
        if ties == "all" and not np.isnan(x_max).any():
            return _max_backward_fast(dy, x, x_max, rows, g, out, wide)
    out[...] = 0
    return _max_backward_general(dy, x, x_max, g, ties, out)


def routing_buffers(x_shape: tuple, g: PoolGeometry, dtype) -> np.ndarray:
    """What :func:`max_forward_routed` fills for a whole batch: the mask of the maxima
    (tiled windows, booleans shaped like x) or the column pass (m, n_H, W_pad, n_C)."""
    if tiled(g):
        return np.empty(x_shape, dtype=bool)
    return np.empty((x_shape[0], g.n_H, g.n_W_prev + g.pad.left + g.pad.right, g.n_C), dtype=dtype)


def max_forward_routed(x: np.ndarray, g: PoolGeometry, out: np.ndarray, routing: np.ndarray) -> np.ndarray:
    """:func:`max_forward` on a chunk that also fills ``routing`` (from :func:`routing_buffers`) for
    :func:`max_backward_routed`: the same maxima, and the backward needs not find them again."""
    if not tiled(g):
        return max_forward(x, g, out, routing)
    _reduce_tiled(x, g, np.maximum, out)
    # m h i (w j c): every cell against its own window's maximum
    np.equal(_tiled_rows(x, g), _widen(out, g), out=_tiled_rows(routing, g))
    return out


def max_backward_routed(dy, x, x_max, routing, g: PoolGeometry, ties: str, out: np.ndarray) -> np.ndarray:
    """:func:`max_backward` from what :func:`max_forward_routed` kept (x, its maxima, ``routing``).

    The same rule and the same products as :func:`max_backward`, so the same numbers: every
    cell equal to its window's maximum takes ``dy`` (``mask * dy``), ``ties="first"`` and
    NaN maxima through the general loop.
    """
    if ties != "all" or np.isnan(x_max).any():
        out[...] = 0
        return _max_backward_general(dy, x, x_max, g, ties, out)
    if not tiled(g):
        return _max_backward_fast(dy, x, x_max, routing, g, out)
    target = _tiled_rows(out, g)
    np.copyto(target, _tiled_rows(routing, g))
    target *= _widen(dy, g)
    _zero_uncovered(out, g)
    return out


def _max_backward_fast(dy, x, x_max, rows, g: PoolGeometry, out: np.ndarray, wide=None) -> np.ndarray:
    """ties="all" without a NaN maximum: every cell equal to its window's maximum takes dy.

    The product ``mask * dy`` keeps the exercise's NaN behaviour (a NaN dy reaches its
    whole window). Overlapping windows route in two separable passes: a cell equals its
    window's maximum exactly when it equals the maximum of its column within the window's
    rows (``rows``, the forward's first pass) and that column maximum equals the window's,
    so the gradient goes window -> column maxima (over the window's columns), then column
    maxima -> cells (over the window's rows). ``wide``: the window maxima at their first
    columns (:func:`_reduce_windows`), or None; ``x_max`` is only read when windows are not
    one column apart (it may be None when they are).
    """
    if tiled(g):
        # m h i (w j c): every cell against its own window's maximum, whole rows at a time
        target = _tiled_rows(out, g)
        _masked(_tiled_rows(x, g), _widen(x_max, g), _widen(dy, g), target)
        _zero_uncovered(out, g)
        return out
    span_h, span_w = _span(g.n_H, g.s_h), _span(g.n_W, g.s_w)
    # windows -> column maxima: (m, n_H, W_pad, C)
    to_rows = np.empty(rows.shape, dtype=dy.dtype)
    # scratch of both passes (rows' shape holds either pass's)
    hit = np.empty(rows.shape, dtype=bool)
    share = np.empty_like(to_rows)
    if _flat_columns(g, rows):
        _route_columns(rows, wide, dy, g, to_rows, share, hit)
    else:
        window_hit = np.empty(dy.shape, dtype=bool)
        window_share = np.empty_like(dy)

        def to_columns(j, place):
            cells = rows[:, :, j : j + span_w : g.s_w]
            return _masked(cells, x_max, dy, window_share if place is None else place, window_hit)

        _accumulate(to_rows, 2, g.s_w, g.n_W, g.f_w, to_columns)
    # column maxima -> cells
    x_pad = _padded(x, g, -np.inf)
    target = _padded(out, g, 0) if g.pad.any else out

    def to_cells(i, place):
        return _masked(x_pad[:, i : i + span_h : g.s_h], rows, to_rows, share if place is None else place, hit)

    _accumulate(target, 1, g.s_h, g.n_H, g.f_h, to_cells)
    if g.pad.any:
        p = g.pad
        out[...] = target[:, p.top : p.top + g.n_H_prev, p.left : p.left + g.n_W_prev, :]
    return out


def _route_columns(rows, wide, dy, g: PoolGeometry, to_rows: np.ndarray, share=None, hit=None) -> np.ndarray:
    """Windows one column apart: each window's dy to its column maxima, on flat runs.

    ``to_rows[k + j*C] += (rows[k + j*C] == wide[k]) * dy_wide[k]`` over flat positions k
    (:func:`_column_runs`), where ``dy_wide`` is dy at each window's first column and 0 past
    the last window, so the positions that run over into the next row add exactly 0.
    ``wide`` None (the layer kept only the row pass): the column maxima are found again.
    ``share`` and ``hit``: optional scratch of at least ``rows``' size.
    """
    runs = _column_runs(rows, g)
    length = runs[0].size
    if wide is None:
        wide = np.empty_like(rows)
        _combine(np.maximum, runs, wide.reshape(-1)[:length])
    maxima = wide.reshape(-1)[:length]
    grad = _first_columns(dy.shape[0], g, rows.shape[2], dy.dtype)
    np.copyto(grad[:, :, : g.n_W], dy)
    grad = grad.reshape(-1)[:length]
    target = to_rows.reshape(-1)
    hit = np.empty(length, dtype=bool) if hit is None else hit.reshape(-1)[:length]
    share = np.empty(length, dtype=to_rows.dtype) if share is None else share.reshape(-1)[:length]
    for j, cells in enumerate(runs):
        if j == 0:
            _masked(cells, maxima, grad, target[:length], hit)
            target[length:] = 0
        else:
            target[j * g.n_C : j * g.n_C + length] += _masked(cells, maxima, grad, share, hit)
    return to_rows


def _accumulate(target: np.ndarray, axis: int, s: int, n: int, count: int, value) -> np.ndarray:
    """target = the sum of the values of window offsets k = 0 .. count - 1, each placed along
    ``axis`` at k, k + s, ..., k + (n - 1) * s; cells no offset reaches are zero.

    ``value(k, place)`` gives offset k's value: written into ``place`` (a view of ``target``)
    when one is given, otherwise any array (then added). With stride 1 the first offset's
    place is one contiguous range: its value is computed straight into it (no scratch to copy
    from) and the cells past it zeroed, instead of zeroing the whole target and adding (a -0
    it writes can stay -0 where the loops' 0 + -0 gives +0: equal numbers, another sign bit).
    Other strides zero the target and add every offset, as the loops do.
    """
    span = _span(n, s)

    def along(piece: slice) -> tuple:
        index = [slice(None)] * target.ndim
        index[axis] = piece
        return tuple(index)

    for k in range(count):
        place = target[along(slice(k, k + span, s))]
        if k == 0 and s == 1:
            value(0, place)
            target[along(slice(span, None))] = 0
            continue
        if k == 0:
            target[...] = 0
        place += value(k, None)
    return target


def _copied(array: np.ndarray):
    """A ``value`` for :func:`_accumulate` that is ``array`` at every offset."""

    def value(k: int, place):
        if place is None:
            return array
        np.copyto(place, array)
        return place

    return value


def _masked(cells, maxima, grad, out, hit=None) -> np.ndarray:
    """out = (cells == maxima) * grad (maxima and grad broadcast over the cells).

    The mask is compared into booleans, copied to numbers, then multiplied: measured
    faster than comparing straight into floats (a casting loop) and no slower than
    multiplying by the booleans (whose cast inside the product costs what the copy does).
    As in the exercise's ``mask * dy``, a NaN gradient reaches its whole window.
    """
    hit = np.equal(cells, maxima, out=hit)
    np.copyto(out, hit)
    out *= grad
    return out


def _zero_uncovered(out: np.ndarray, g: PoolGeometry) -> None:
    """Zero the rows and columns past the last window (tiled windows leave them untouched)."""
    out[:, g.n_H * g.s_h :] = 0
    out[:, :, g.n_W * g.s_w :] = 0


def _max_backward_general(dy, x, x_max, g: PoolGeometry, ties: str, out: np.ndarray) -> np.ndarray:
    """Any tie rule, NaN and infinities: ``mask * dy`` per window offset, real cells only.

    NaN in a window is its maximum (the mask marks it); a NaN or infinite dy reaches every
    cell of its window through the product, as in the exercise's loops.
    """
    nan_aware = bool(np.isnan(x_max).any())
    taken = np.zeros(x_max.shape, dtype=bool) if ties == "first" else None
    for o, a in _offsets(g):
        mask = x[a] == x_max[o]
        if nan_aware:
            mask |= np.isnan(x[a]) & np.isnan(x_max[o])
        if taken is not None:
            mask &= ~taken[o]  # row-major order: only the first maximum of each window
            taken[o] |= mask
        out[a] += mask * dy[o]
    return out


def average_backward(dy: np.ndarray, g: PoolGeometry, out: np.ndarray) -> np.ndarray:
    """Each dy spread evenly over its window's real cells; overlaps add up. Fills ``out``."""
    counts = _window_counts(g, dy.dtype)
    if tiled(g):
        np.copyto(_tiled_rows(out, g), _widen(dy / counts, g))
        _zero_uncovered(out, g)
        return out
    # separably: spread along the columns, then along the rows
    target = _padded(out, g, 0) if g.pad.any else out
    cols = np.empty((dy.shape[0], g.n_H, target.shape[2], g.n_C), dtype=dy.dtype)
    if _flat_columns(g, cols):
        # flat runs (see _column_runs): each share at its window's first column, 0 past the last
        share = _first_columns(dy.shape[0], g, target.shape[2], dy.dtype)
        np.divide(dy, counts, out=share[:, :, : g.n_W])
        share = share.reshape(-1)[: cols.size - (g.f_w - 1) * g.n_C]
        flat = cols.reshape(-1)
        flat[: share.size] = share
        flat[share.size :] = 0
        for j in range(1, g.f_w):
            flat[j * g.n_C : j * g.n_C + share.size] += share
    else:
        share = dy / counts
        _accumulate(cols, 2, g.s_w, g.n_W, g.f_w, _copied(share))
    _accumulate(target, 1, g.s_h, g.n_H, g.f_h, _copied(cols))
    if g.pad.any:
        p = g.pad
        out[...] = target[:, p.top : p.top + g.n_H_prev, p.left : p.left + g.n_W_prev, :]
    return out
