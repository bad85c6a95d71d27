"""Comparison helpers shared by the tests."""

from pathlib import Path

import numpy as np


def max_relative_difference(actual, expected):
    """max |actual - expected| / max |expected| (or the absolute difference when expected is 0)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    return float(np.max(np.abs(actual - expected))) / scale


def tolerance(dtype, n_terms: int = 1):
    """The agreement between the kernels and the loops: the SPEC's 1e-10 relative in float64; in float32
    the rounding bound of the longest sum involved (``n_terms`` terms)."""
    return 1e-10 if np.dtype(dtype) == np.float64 else rounding_bound(dtype, n_terms)


# The rule for every comparison of two correct computations of the same values that may
# round differently (another batching, thread count, chunking, kernel or BLAS build): a
# sum of n terms computed in two orders differs by at most about n * eps relative to the
# sum of the terms' magnitudes (the classic gamma_n bound), a chain of `depth` such
# reductions (the layers of a network) by depth times that; SAFETY covers the terms'
# magnitudes exceeding the result's and the few operations around each reduction.
SAFETY = 8


def rounding_bound(dtype, n_terms: int, depth: int = 1) -> float:
    """The largest relative difference (to the values' scale) rounding alone may cause."""
    return SAFETY * depth * max(int(n_terms), 1) * float(np.finfo(dtype).eps)


def assert_close(actual, expected, dtype, n_terms: int, depth: int = 1):
    """``max |actual - expected| <= rounding_bound(...) * max |expected|`` (shapes must agree)."""
    actual, expected = np.asarray(actual), np.broadcast_to(np.asarray(expected, dtype=np.float64), np.shape(actual))
    bound = rounding_bound(dtype, n_terms, depth)
    difference = max_relative_difference(actual, expected)
    assert difference <= bound, f"relative difference {difference:.3g} > {bound:.3g} ({np.dtype(dtype)}, n={n_terms})"


def model_reduction(model) -> tuple[int, int]:
    """(longest reduction, depth) of a Sequential's forward: the largest fan-in and the layers with weights."""
    fan_ins = [int(np.prod(layer.params["W"].shape[:-1])) for layer in model.layers if "W" in layer.params]
    return max(fan_ins), len(fan_ins) + 1  # + 1: the softmax's sum


# The real photos beside the repository (CI has them; a user's clone may not).
SIGN_DIGITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sign-digits"
