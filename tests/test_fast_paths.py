"""Every fast path agrees with the reference on both sides of its selection boundary.

The top level picks a kernel per geometry (Winograd F(2x2, 3x3) for 3x3 stride-1
convolutions with enough channels, im2col otherwise; reshapes for tiled pooling); these
tests pin the configurations that select each one, the edges between them, and chunking.
"""

import numpy as np
import pytest

import cnnstep
from cnnstep import _checks, _config, _winograd, reference
from tests.helpers import max_relative_difference


def geometry(A_prev, W, hp):
    return _checks.conv_call(A_prev, W, np.zeros((1, 1, 1, W.shape[3])), hp, "test")[3]


def check_against_reference(rng, a_shape, w_shape, hp, dtype=np.float64, tol=1e-10):
    A_prev = rng.normal(size=a_shape).astype(dtype)
    W = rng.normal(size=w_shape).astype(dtype)
    b = rng.normal(size=(1, 1, 1, w_shape[3])).astype(dtype)
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev.astype(np.float64), W.astype(np.float64), b.astype(np.float64), hp)
    assert Z.dtype == dtype
    assert max_relative_difference(Z, Z_ref) <= tol
    dZ = rng.normal(size=Z.shape).astype(dtype)
    ref_cache = (A_prev.astype(np.float64), W.astype(np.float64), b.astype(np.float64), hp)
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ.astype(np.float64), ref_cache)):
        assert fast.dtype == dtype
        assert max_relative_difference(fast, slow) <= tol


WINOGRAD_CASES = [
    ((2, 6, 6, 8), (3, 3, 8, 8), {"stride": 1, "pad": 1}),          # even output
    ((2, 7, 5, 8), (3, 3, 8, 9), {"stride": 1, "pad": 1}),          # odd output sizes
    ((1, 7, 8, 9), (3, 3, 9, 8), {"stride": 1, "pad": 0}),          # pad 0
    ((2, 5, 6, 8), (3, 3, 8, 8), {"stride": 1, "pad": "same"}),
    ((1, 6, 7, 8), (3, 3, 8, 10), {"stride": 1, "pad": ((2, 0), (1, 2))}),  # asymmetric
    ((1, 4, 5, 8), (3, 3, 8, 8), {"stride": 1, "pad": 3}),          # pad > 2: input gradient falls back
    ((3, 3, 3, 8), (3, 3, 8, 8), {"stride": 1, "pad": (0, 2)}),     # a single output row
]


@pytest.mark.parametrize("a_shape, w_shape, hp", WINOGRAD_CASES)
def test_winograd_path_agrees_with_reference(rng, a_shape, w_shape, hp):
    A_prev = np.zeros(a_shape)
    assert _winograd.applicable(geometry(A_prev, np.zeros(w_shape), hp))
    check_against_reference(rng, a_shape, w_shape, hp)


@pytest.mark.parametrize("channels, expected", [((7, 8), False), ((8, 7), False), ((8, 8), True)])
def test_both_sides_of_the_channel_boundary_agree(rng, channels, expected):
    c_prev, c = channels
    hp = {"stride": 1, "pad": 1}
    assert _winograd.applicable(geometry(np.zeros((1, 5, 5, c_prev)), np.zeros((3, 3, c_prev, c)), hp)) is expected
    check_against_reference(rng, (2, 5, 5, c_prev), (3, 3, c_prev, c), hp)


@pytest.mark.parametrize("w_shape, hp", [((3, 3, 8, 8), {"stride": 2, "pad": 1}), ((3, 2, 8, 8), {"stride": 1, "pad": 1}),
                                         ((2, 2, 8, 8), {"stride": 1, "pad": 1}), ((3, 3, 8, 8), {"stride": (1, 2), "pad": 1})])
def test_near_misses_use_im2col_and_agree(rng, w_shape, hp):
    assert not _winograd.applicable(geometry(np.zeros((1, 6, 6, 8)), np.zeros(w_shape), hp))
    check_against_reference(rng, (2, 6, 6, 8), w_shape, hp)


@pytest.mark.parametrize("a_shape, w_shape, hp", [WINOGRAD_CASES[1], ((5, 6, 6, 3), (4, 4, 3, 5), {"stride": 2, "pad": "same"})])
def test_chunked_batches_agree(rng, monkeypatch, a_shape, w_shape, hp):
    """One example per chunk, with a last chunk smaller than the others."""
    monkeypatch.setattr(_config, "CACHE_CHUNK_BYTES", 1)
    previous = cnnstep.set_workspace_limit(1)
    try:
        check_against_reference(rng, (5,) + a_shape[1:], w_shape, hp)
    finally:
        cnnstep.set_workspace_limit(previous)


def test_winograd_float32_error_is_bounded(rng):
    """F(2x2, 3x3) transforms use 0, +-1 and +-1/2 only: float32 stays within 1e-5 of float64."""
    check_against_reference(rng, (4, 12, 12, 16), (3, 3, 16, 16), {"stride": 1, "pad": 1}, dtype=np.float32, tol=1e-5)
