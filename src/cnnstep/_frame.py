"""Placing a batch of images inside a padded frame: the one padding routine of the kernels."""

from __future__ import annotations

import numpy as np

from cnnstep._checks import Padding


def frame(X: np.ndarray, p: Padding, fill=0, width: int | None = None) -> np.ndarray:
    """A new array holding X (m, n_H, n_W, C) at (top, left) inside a frame of ``fill``.

    The frame is (m, n_H + top + bottom, width, C), ``width`` defaulting to
    n_W + left + right (a wider frame leaves more ``fill`` on the right). Always a copy,
    in X's dtype, even when nothing is padded.
    """
    m, n_H, n_W, C = X.shape
    width = n_W + p.left + p.right if width is None else width
    shape = (m, n_H + p.top + p.bottom, width, C)
    # np.zeros takes memory already zeroed where the allocator has it; np.full writes every cell
    framed = np.zeros(shape, dtype=X.dtype) if fill == 0 else np.full(shape, fill, dtype=X.dtype)
    framed[:, p.top : p.top + n_H, p.left : p.left + n_W, :] = X
    return framed
