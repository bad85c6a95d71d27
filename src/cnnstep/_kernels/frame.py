"""Placing a batch of images inside a padded frame: the one padding routine of the kernels."""

from __future__ import annotations

import numpy as np

from cnnstep._kernels.checks import Padding


def blank(m: int, n_H: int, n_W: int, C: int, p: Padding, dtype, fill=0, width: int | None = None) -> np.ndarray:
    """A frame of ``fill`` for m images of n_H x n_W x C: (m, n_H + top + bottom, width, C).

    ``width`` defaults to n_W + left + right (a wider frame leaves more ``fill`` on the right).
    """
    width = n_W + p.left + p.right if width is None else width
    shape = (m, n_H + p.top + p.bottom, width, C)
    # np.zeros takes memory already zeroed where the allocator has it; np.full writes every cell
    return np.zeros(shape, dtype=dtype) if fill == 0 else np.full(shape, fill, dtype=dtype)


def put(framed: np.ndarray, X: np.ndarray, p: Padding) -> np.ndarray:
    """X written at (top, left) into the first len(X) images of a frame from :func:`blank`.

    Only the interior is written, so the border keeps its fill: one frame serves chunk
    after chunk of the same geometry. Returns the view ``framed[:len(X)]``.
    """
    m, n_H, n_W, _ = X.shape
    framed = framed[:m]
    framed[:, p.top : p.top + n_H, p.left : p.left + n_W, :] = X
    return framed


def frame(X: np.ndarray, p: Padding, fill=0, width: int | None = None) -> np.ndarray:
    """A new array holding X (m, n_H, n_W, C) at (top, left) inside a frame of ``fill``.

    The frame is (m, n_H + top + bottom, width, C), ``width`` defaulting to
    n_W + left + right. Always a copy, in X's dtype, even when nothing is padded.
    """
    return put(blank(*X.shape, p, X.dtype, fill, width), X, p)
