"""Softmax and the softmax cross-entropy loss over integer class labels.

For logits ``z`` (m, k) and labels ``y`` (m,) in ``0..k-1``::

    softmax(z)[i, c] = exp(z[i, c] - max_c z[i]) / sum_c' exp(z[i, c'] - max_c z[i])
    loss             = mean_i ( logsumexp(z[i]) - z[i, y[i]] )
    dloss / dz       = (softmax(z) - onehot(y)) / m

Subtracting the row maximum first keeps ``exp`` from overflowing (the stable form).
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = ["softmax", "softmax_cross_entropy"]


def _logits(logits, func: str) -> np.ndarray:
    z = _checks.ranked_array(logits, func, "logits", 2, "(m, k)")
    if z.shape[1] == 0:
        raise ValueError(f"{func}: logits must have at least one class column, got shape {z.shape}")
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    return z


def class_labels(y, m: int, k: int, func: str, name: str = "y") -> np.ndarray:
    """Check integer class labels: shape (m,), every value in ``0..k-1``."""
    y = _checks.real_array(y, func, name)
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{func}: {name} must hold integer class indices 0..{k - 1}, got dtype {y.dtype} "
            f"(convert with {name}.astype(int); one-hot labels: {name}.argmax(axis=1))"
        )
    if y.shape != (m,):
        hint = ""
        if y.shape == (m, k):
            hint = f" -- one-hot labels? pass {name}.argmax(axis=1)"
        elif y.size == m:
            hint = f" -- pass {name}.ravel()"
        raise ValueError(f"{func}: {name} must have shape ({m},), one label per example, got shape {y.shape}{hint}")
    if m and (y.min() < 0 or y.max() >= k):
        bad = np.unique(y[(y < 0) | (y >= k)])[:5].tolist()
        raise ValueError(f"{func}: {name} must hold class indices 0..{k - 1} ({k} classes), got {bad}")
    return y


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits) -> np.ndarray:
    """Class probabilities, row by row, computed stably.

    Parameters
    ----------
    logits : ndarray, shape (m, k)

    Returns
    -------
    probabilities : ndarray, shape (m, k)
        Rows sum to 1; float dtypes are preserved.
    """
    z = _logits(logits, "softmax")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_sum(logits: np.ndarray, y: np.ndarray) -> float:
    """``sum_i -log softmax(logits)[i, y[i]]`` for checked inputs (no gradient)."""
    logp = _log_softmax(logits)
    return float(-logp[np.arange(len(y)), y].sum(dtype=np.float64))


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of ``softmax(logits)`` against integer labels, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (m, k)
        Unnormalised class scores (the last Dense layer's output), m >= 1.
    y : ndarray of int, shape (m,)
        The class of each example, in ``0..k-1``.

    Returns
    -------
    loss : float
        ``mean_i -log softmax(logits)[i, y[i]]``.
    dlogits : ndarray, shape (m, k)
        ``(softmax(logits) - onehot(y)) / m``, of the logits' float dtype.
    """
    func = "softmax_cross_entropy"
    z = _logits(logits, func)
    m, k = z.shape
    if m == 0:
        raise ValueError(f"{func}: logits must hold at least one example to average over, got shape {z.shape}")
    y = class_labels(y, m, k, func)
    logp = _log_softmax(z)
    rows = np.arange(m)
    loss = float(-logp[rows, y].sum(dtype=np.float64) / m)
    dlogits = np.exp(logp)
    dlogits[rows, y] -= 1
    dlogits /= m
    return loss, dlogits
