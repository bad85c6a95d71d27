"""Convolution kernels on the window matrix (im2col) and on kernel offsets.

Inputs here are already validated and cast to the working dtype. Notation::

    A_pad  (m, H_p, W_p, C)          the zero-padded input
    cols   (m, n_H, n_W, f_h, f_w, C) every window, one row of K = f_h*f_w*C per output
    W2     (K, n_C)                   the filters as a matrix (W's memory, reshaped)
"""

from __future__ import annotations

import numpy as np

from cnnstep import _config
from cnnstep._checks import ConvGeometry, Padding


def pad(X: np.ndarray, p: Padding) -> np.ndarray:
    """A new zero-padded copy of X (m, n_H, n_W, n_C) -- a copy even when nothing is padded."""
    m, n_H, n_W, n_C = X.shape
    X_pad = np.zeros((m, n_H + p.top + p.bottom, n_W + p.left + p.right, n_C), dtype=X.dtype)
    X_pad[:, p.top : p.top + n_H, p.left : p.left + n_W, :] = X
    return X_pad


def windows(A_pad: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """A read-only strided view (m, n_H, n_W, f_h, f_w, C) of every window of A_pad."""
    sm, sh, sw, sc = A_pad.strides
    return np.lib.stride_tricks.as_strided(
        A_pad,
        shape=(A_pad.shape[0], g.n_H, g.n_W, g.f_h, g.f_w, A_pad.shape[3]),
        strides=(sm, sh * g.s_h, sw * g.s_w, sh, sw, sc),
        writeable=False,
    )


def im2col(A_pad: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The window matrix, shape (m * n_H * n_W, f_h * f_w * C), C-contiguous."""
    m = A_pad.shape[0]
    cols = np.empty((m, g.n_H, g.n_W, g.f_h, g.f_w, A_pad.shape[3]), dtype=A_pad.dtype)
    np.copyto(cols, windows(A_pad, g))
    return cols.reshape(m * g.n_H * g.n_W, g.f_h * g.f_w * A_pad.shape[3])


def _cols_bytes(g: ConvGeometry, dtype: np.dtype) -> int:
    return g.n_H * g.n_W * g.f_h * g.f_w * g.n_C_prev * np.dtype(dtype).itemsize


def conv_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Z = im2col(A_pad) @ W2 + b, in chunks of examples bounded by the workspace limit."""
    A_pad = pad(A, g.pad) if g.pad.any else A
    W2 = W.reshape(-1, g.n_C)
    Z = np.empty((g.m, g.n_H, g.n_W, g.n_C), dtype=A.dtype)
    for part in _config.chunks(g.m, _cols_bytes(g, A.dtype)):
        cols = im2col(A_pad[part], g)  # (M, K)
        # m h w (i j c) , (i j c) k -> m h w k
        np.matmul(cols, W2, out=Z[part].reshape(-1, g.n_C))
    Z += b.reshape(g.n_C)
    return Z


def weight_gradient(dZ: np.ndarray, A: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """dW (f_h, f_w, C, n_C): the windows of A against dZ, one GEMM per chunk of examples."""
    A_pad = pad(A, g.pad) if g.pad.any else A
    dW = np.zeros((g.f_h * g.f_w * g.n_C_prev, g.n_C), dtype=dZ.dtype)
    for part in _config.chunks(g.m, _cols_bytes(g, A.dtype)):
        dZ2 = np.ascontiguousarray(dZ[part]).reshape(-1, g.n_C)  # (M, n_C)
        cols = im2col(A_pad[part], g)
        # (i j c) M , M k -> (i j c) k
        dW += cols.T @ dZ2
    return dW.reshape(g.f_h, g.f_w, g.n_C_prev, g.n_C)


def input_gradient(dZ: np.ndarray, W: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """dA_prev: per kernel offset one GEMM, added into the strided cells that offset touched."""
    shape = (g.m, g.n_H_prev + g.pad.top + g.pad.bottom, g.n_W_prev + g.pad.left + g.pad.right, g.n_C_prev)
    dA_pad = np.zeros(shape, dtype=dZ.dtype)
    rows_end = (g.n_H - 1) * g.s_h + 1
    cols_end = (g.n_W - 1) * g.s_w + 1
    dZ2 = np.ascontiguousarray(dZ).reshape(-1, g.n_C)  # (M, n_C)
    for i in range(g.f_h):
        for j in range(g.f_w):
            # M k , k c -> M c: what offset (i, j) of every window receives
            back = (dZ2 @ W[i, j].T).reshape(-1, g.n_H, g.n_W, g.n_C_prev)
            target = dA_pad[:, i : i + rows_end : g.s_h, j : j + cols_end : g.s_w, :]
            target += back
    dA = dA_pad[:, g.pad.top : g.pad.top + g.n_H_prev, g.pad.left : g.pad.left + g.n_W_prev, :]
    return np.ascontiguousarray(dA) if g.pad.any else dA
