"""Convolution kernels on the window matrix (im2col) and on kernel offsets.

Inputs here are already validated and cast to the working dtype. Notation::

    A_pad  (m, H_p, W_p, C)          the zero-padded input
    cols   (m * n_H * n_W, K)         every window, one row of K = f_h*f_w*C per output
    W2     (K, n_C)                   the filters as a matrix (W's memory, reshaped)
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import config as _config
from cnnstep._kernels import frame as _frame
from cnnstep._kernels import parallel as _parallel
from cnnstep._kernels.checks import ConvGeometry


def windows(A_pad: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """A read-only strided view (m, n_H, n_W, f_h, f_w, C) of every window of A_pad."""
    sm, sh, sw, sc = A_pad.strides
    return np.lib.stride_tricks.as_strided(
        A_pad,
        shape=(A_pad.shape[0], g.n_H, g.n_W, g.f_h, g.f_w, A_pad.shape[3]),
        strides=(sm, sh * g.s_h, sw * g.s_w, sh, sw, sc),
        writeable=False,
    )


def _per_example(g: ConvGeometry, itemsize: int) -> int:
    """Scratch bytes per example: its window matrix and that matrix's gradient."""
    return 2 * g.n_H * g.n_W * g.f_h * g.f_w * g.n_C_prev * itemsize


def _parts(g: ConvGeometry, itemsize: int):
    """Chunks of examples whose window matrices (and their gradient) stay cache-sized."""
    return _config.chunks(g.m, _per_example(g, itemsize), _config.chunk_budget(2 * _config.CACHE_CHUNK_BYTES))


def pointwise(g: ConvGeometry) -> bool:
    """1x1 windows at stride 1 without padding: every window is one pixel's channels, so the
    window matrix is the input itself (a Dense layer, a 1x1 convolution)."""
    return g.f_h == g.f_w == 1 and g.s_h == g.s_w == 1 and not g.pad.any


class _Windows:
    """One thread's window matrix for chunks of up to ``mc`` examples, and the zero frame
    (padding only) the chunks are placed in: both reused from chunk to chunk."""

    def __init__(self, g: ConvGeometry, mc: int, dtype):
        self.g = g
        self.buffer = np.empty((mc * g.n_H * g.n_W, g.f_h * g.f_w * g.n_C_prev), dtype=dtype)
        self.framed = _frame.blank(mc, g.n_H_prev, g.n_W_prev, g.n_C_prev, g.pad, dtype) if g.pad.any else None

    def cols(self, A_part: np.ndarray, read_only: bool = False) -> np.ndarray:
        """(mp * n_H * n_W, K) <- the windows of the chunk A_part.

        ``read_only``: the caller only reads the matrix, so 1x1 windows of a contiguous chunk
        may be the chunk's own memory (no copy).
        """
        g = self.g
        if read_only and pointwise(g) and A_part.flags.c_contiguous:
            return A_part.reshape(-1, g.n_C_prev)
        source = A_part if self.framed is None else _frame.put(self.framed, A_part, g.pad)
        cols = self.buffer[: A_part.shape[0] * g.n_H * g.n_W]
        np.copyto(cols.reshape(-1, g.n_H, g.n_W, g.f_h, g.f_w, g.n_C_prev), windows(source, g))
        return cols


def _run(task, parts, g: ConvGeometry, itemsize: int) -> list:
    """Chunks shared out over cnnstep's threads, BLAS on one thread in each."""
    size = g.m * g.n_H * g.n_W * g.f_h * g.f_w * g.n_C_prev
    return _parallel.run_chunks(task, parts, _per_example(g, itemsize), size)


def conv_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Z = im2col(A_pad) @ W2 + b, chunk by chunk."""
    W2 = W.reshape(-1, g.n_C)
    Z = np.empty((g.m, g.n_H, g.n_W, g.n_C), dtype=A.dtype)
    parts = _parts(g, A.dtype.itemsize)

    def task(group):
        scratch = _Windows(g, _config.largest(parts), A.dtype)
        for part in group:
            rows = (part.stop - part.start) * g.n_H * g.n_W
            cols = scratch.cols(A[part], read_only=True)
            Z_part = Z[part].reshape(rows, g.n_C)
            # m h w (i j c) , (i j c) k -> m h w k
            np.matmul(cols, W2, out=Z_part)
            Z_part += b.reshape(g.n_C)

    _run(task, parts, g, A.dtype.itemsize)
    return Z


def _col2im(dcols: np.ndarray, g: ConvGeometry, grad: np.ndarray) -> None:
    """Add each window's gradient row back onto the padded input gradient ``grad`` (zeros).

    For kernel row i the window rows of outputs w, w + q, w + 2q, ... (q = ceil(f_w / s_w))
    do not overlap, so each such family is one add of whole window rows (f_w * C numbers).
    """
    mp, C = grad.shape[0], g.n_C_prev
    d6 = dcols.reshape(mp, g.n_H, g.n_W, g.f_h, g.f_w * C)
    q = -(-g.f_w // g.s_w)
    span_h = (g.n_H - 1) * g.s_h + 1
    for i in range(g.f_h):
        rows = grad[:, i : i + span_h : g.s_h]  # (mp, n_H, W_p, C)
        s = rows.strides
        for r in range(min(q, g.n_W)):
            family = d6[:, :, r::q, i, :]
            start = rows[:, :, r * g.s_w :]
            target = np.lib.stride_tricks.as_strided(
                start, shape=family.shape, strides=(s[0], s[1], q * g.s_w * s[2], s[3])
            )
            target += family


def conv_backward(dZ: np.ndarray, A: np.ndarray, W: np.ndarray, g: ConvGeometry, input_gradient: bool = True):
    """(dA_prev or None, dW) of :func:`conv_forward`, chunk by chunk.

    ``dW^T += dZ^T @ cols`` (this orientation runs fastest in BLAS); ``dcols = dZ @ W2^T``
    goes back onto the input gradient window row by window row. Each thread sums dW over
    its own chunks; the threads' sums are added in a fixed order.
    """
    W2 = W.reshape(-1, g.n_C)
    K = W2.shape[0]
    parts = _parts(g, A.dtype.itemsize)
    dx = _input_gradient_array(g, dZ.dtype) if input_gradient else None

    def task(group):
        dWt = np.zeros((g.n_C, K), dtype=dZ.dtype)
        scratch = _Windows(g, _config.largest(parts), A.dtype)
        back = _InputGradient(g, parts, dx) if input_gradient and not pointwise(g) else None
        for part in group:
            rows = (part.stop - part.start) * g.n_H * g.n_W
            dZ2 = np.ascontiguousarray(dZ[part]).reshape(rows, g.n_C)
            cols = scratch.cols(A[part], read_only=pointwise(g))
            # k M , M (i j c) -> k (i j c)
            dWt += dZ2.T @ cols
            if back is not None:
                back.add(part, np.matmul(dZ2, W2.T, out=cols))  # M k , k (i j c) -> M (i j c)
            elif input_gradient:  # 1x1 windows: the window matrix's gradient is dA_prev itself
                np.matmul(dZ2, W2.T, out=dx[part].reshape(rows, g.n_C_prev))
        return dWt

    dWt = sum(_run(task, parts, g, A.dtype.itemsize))
    dW = np.ascontiguousarray(dWt.T).reshape(g.f_h, g.f_w, g.n_C_prev, g.n_C)
    return dx, dW


def _input_gradient_array(g: ConvGeometry, dtype) -> np.ndarray:
    return np.empty((g.m, g.n_H_prev, g.n_W_prev, g.n_C_prev), dtype=dtype)


class _InputGradient:
    """One thread's assembly of dA_prev, chunk by chunk, from window-row gradients.

    Each chunk accumulates into a zeroed padded frame (reused from chunk to chunk, so no
    fresh memory is touched) and copies the frame's interior out to its slice of ``dx``.
    """

    def __init__(self, g: ConvGeometry, parts, dx: np.ndarray):
        self.g = g
        self.dx = dx
        p = g.pad
        shape = (g.n_H_prev + p.top + p.bottom, g.n_W_prev + p.left + p.right, g.n_C_prev)
        self.frame = np.empty((_config.largest(parts),) + shape, dtype=dx.dtype)

    def add(self, part: slice, dcols: np.ndarray) -> None:
        g, p = self.g, self.g.pad
        grad = self.frame[: part.stop - part.start]
        grad[...] = 0
        _col2im(dcols, g, grad)
        self.dx[part] = grad[:, p.top : p.top + g.n_H_prev, p.left : p.left + g.n_W_prev, :]
