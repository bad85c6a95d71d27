"""Pooling windows one column apart: the column pass on flat runs, against the loops.

Windows with a column stride of 1 (and more than one column) take their column pass on
flat runs of the row pass (``pooling._column_runs``), whose positions past the last window
run over into the next row; every other geometry keeps the strided slices. Both sides of
that line, every mode and tie rule, padding, several chunks, NaN and infinities.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnstep
from cnnstep import reference
from cnnstep._kernels import checks as _checks
from cnnstep._kernels import config as _config
from cnnstep._kernels import pooling
from tests.helpers import assert_close

FLAT = [
    ((3, 7, 8, 3), {"f": 3, "stride": 1}),
    ((3, 6, 9, 2), {"f": 2, "stride": 1}),
    ((2, 8, 9, 4), {"f": (2, 4), "stride": (2, 1)}),
    ((2, 7, 8, 3), {"f": 3, "stride": 1, "pad": "same"}),
    ((2, 5, 6, 1), {"f": (3, 2), "stride": (3, 1), "pad": 1}),  # gaps between window rows
]
STRIDED = [
    ((3, 7, 9, 3), {"f": 3, "stride": (1, 2)}),
    ((2, 7, 7, 2), {"f": 3, "stride": 2, "pad": "same"}),
    ((3, 6, 6, 2), {"f": (2, 1), "stride": 1}),  # one column per window
]


def _flat(shape, hp) -> bool:
    g = _checks.pool_geometry(shape, hp, "max", "test")
    rows = np.empty((shape[0], g.n_H, g.n_W_prev + g.pad.left + g.pad.right, g.n_C))
    return not pooling.tiled(g) and pooling._flat_columns(g, rows)


@pytest.mark.parametrize("shape, hp", FLAT + STRIDED)
def test_which_geometries_take_the_flat_runs(shape, hp):
    assert _flat(shape, hp) == ((shape, hp) in FLAT)


@pytest.mark.parametrize("shape, hp", FLAT + STRIDED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode, ties", [("max", "all"), ("max", "first"), ("average", "all")])
def test_both_sides_agree_with_the_loops(rng, shape, hp, dtype, mode, ties):
    A_prev = np.maximum(rng.normal(size=shape), 0).astype(dtype)  # ties at zero
    A_prev[0, 0, :2] = 3.0  # ties between neighbouring columns of one window
    kept = A_prev.copy()
    A, cache = cnnstep.pool_forward(A_prev, hp, mode)
    dA = rng.normal(size=A.shape).astype(dtype)
    dA_prev = cnnstep.pool_backward(dA, cache, mode, ties=ties)
    np.testing.assert_array_equal(A_prev, kept)  # inputs never modified
    A_ref, _ = reference.pool_forward(A_prev, hp, mode)
    expected = reference.pool_backward(dA, cache, mode, ties=ties)
    assert A.dtype == dA_prev.dtype == dtype
    g = _checks.pool_geometry(shape, hp, mode, "test")
    n_terms = g.f_h * g.f_w
    assert_close(A, A_ref, dtype, n_terms)
    assert_close(dA_prev, expected, dtype, n_terms)


@pytest.mark.parametrize("shape, hp", FLAT + STRIDED)
@pytest.mark.parametrize("mode", ["max", "average"])
def test_one_example_per_chunk_agrees(rng, monkeypatch, shape, hp, mode):
    """Runs that pass the end of one example into the next chunk's never mix examples."""
    monkeypatch.setattr(_config, "POOL_CHUNK_BYTES", 1)
    A_prev = np.maximum(rng.normal(size=shape), 0)
    A, cache = cnnstep.pool_forward(A_prev, hp, mode)
    dA = rng.normal(size=A.shape)
    assert_close(cnnstep.pool_backward(dA, cache, mode), reference.pool_backward(dA, cache, mode), np.float64, 16)


@pytest.mark.parametrize("shape, hp", FLAT)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("mode", ["max", "average"])
def test_nan_and_infinities_land_where_the_loops_put_them(rng, shape, hp, bad, mode):
    """A bad gradient at a row's last window, or a bad input at a row's end, reaches no other row."""
    A_prev = rng.normal(size=shape)
    A_prev[0, 1, -1, 0] = bad if not np.isnan(bad) else 7.0
    A_prev[-1, -1, 0, -1] = -np.inf
    A, cache = cnnstep.pool_forward(A_prev, hp, mode)
    dA = rng.normal(size=A.shape)
    dA[0, 1, -1, 0] = bad
    dA[-1, 0, -1, -1] = bad
    fast = cnnstep.pool_backward(dA, cache, mode)
    slow = reference.pool_backward(dA, cache, mode)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_array_equal(np.isposinf(fast), np.isposinf(slow))
    np.testing.assert_array_equal(np.isneginf(fast), np.isneginf(slow))
    finite = np.isfinite(slow)
    np.testing.assert_allclose(fast[finite], slow[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, hp", FLAT + STRIDED)
def test_the_layers_routing_gives_the_same_gradient(rng, shape, hp):
    """The layer keeps only the row pass; its backward finds the column maxima again."""
    A_prev = np.maximum(rng.normal(size=shape), 0)
    A, kept = cnnstep.pool.max_forward_routed(A_prev, hp)
    A_public, cache = cnnstep.pool_forward(A_prev, hp)
    np.testing.assert_array_equal(A, A_public)
    dA = rng.normal(size=A.shape)
    np.testing.assert_array_equal(cnnstep.pool.max_backward_routed(dA, kept), cnnstep.pool_backward(dA, cache))


@pytest.mark.parametrize("shape, hp", FLAT)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["row end", "row start"])
@pytest.mark.parametrize("ties", ["all", "first"])
def test_a_nan_input_takes_the_general_rule_as_the_loops_do(rng, shape, hp, dtype, where, ties):
    """The max backward looks for NaN maxima in the row pass (every column lies in a window
    when windows are one column apart); a NaN at either end of a row is found there."""
    A_prev = np.maximum(rng.normal(size=shape), 0).astype(dtype)
    A_prev[0, 1, -1 if where == "row end" else 0, 0] = np.nan
    A, cache = cnnstep.pool_forward(A_prev, hp)
    dA = rng.normal(size=A.shape).astype(dtype)
    fast = cnnstep.pool_backward(dA, cache, ties=ties)
    slow = reference.pool_backward(dA, cache, ties=ties)
    assert np.isnan(A).any()
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    g = _checks.pool_geometry(shape, hp, "max", "test")
    assert_close(fast, slow, dtype, g.f_h * g.f_w)
