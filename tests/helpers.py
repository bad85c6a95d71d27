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


def tolerance(dtype):
    """The agreement promised between implementations: 1e-10 relative in float64."""
    return 1e-10 if np.dtype(dtype) == np.float64 else 2e-5


# The real photos beside the repository (CI has them; a user's clone may not).
SIGN_DIGITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sign-digits"
