"""Parity with PyTorch (conv2d, max_pool2d, avg_pool2d and autograd) through an NHWC<->NCHW adapter.

Skipped only where torch is not installed; the test extra installs it and CI runs these.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnstep
from tests import torch_adapter
from tests.helpers import max_relative_difference
from tests.strategies import conv_configs

pytest.importorskip("torch")
torch_adapter.load()

TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


@given(conv_configs(), st.integers(0, 2**32 - 1))
def test_conv_matches_torch_forward_and_autograd(config, seed):
    A_prev, W, b, hp = config
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = np.random.default_rng(seed).normal(size=Z.shape).astype(Z.dtype)
    ours = (Z, *cnnstep.conv_backward(dZ, cache))
    theirs = torch_adapter.conv(A_prev, W, b, hp, dZ)
    for mine, peer in zip(ours, theirs, strict=False):
        assert mine.dtype == peer.dtype
        assert max_relative_difference(mine, peer) <= TOL[mine.dtype]


POOLS = [
    ((2, 8, 8, 3), {"f": 2, "stride": 2}),
    ((2, 9, 7, 3), {"f": 3, "stride": 1}),
    ((2, 9, 9, 2), {"f": (3, 2), "stride": (2, 1)}),
    ((2, 8, 8, 2), {"f": 2, "stride": 3}),
    ((2, 8, 7, 2), {"f": 3, "stride": 2, "pad": 1}),
    ((1, 9, 9, 2), {"f": (4, 3), "stride": 2, "pad": (2, 1)}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, hp", POOLS)
def test_max_pool_first_tie_rule_matches_torch(rng, dtype, shape, hp):
    A_prev = np.maximum(rng.normal(size=shape), 0).astype(dtype)  # ReLU output: many ties at 0
    A, cache = cnnstep.pool_forward(A_prev, hp, mode="max")
    dA = rng.normal(size=A.shape).astype(dtype)
    A_t, dA_prev_t = torch_adapter.pool(A_prev, hp, "max", dA)
    np.testing.assert_array_equal(A, A_t)
    dA_prev = cnnstep.pool_backward(dA, cache, mode="max", ties="first")
    assert max_relative_difference(dA_prev, dA_prev_t) <= TOL[np.dtype(dtype)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, hp", POOLS)
def test_average_pool_matches_torch(rng, dtype, shape, hp):
    A_prev = rng.normal(size=shape).astype(dtype)
    A, cache = cnnstep.pool_forward(A_prev, hp, mode="average")
    dA = rng.normal(size=A.shape).astype(dtype)
    A_t, dA_prev_t = torch_adapter.pool(A_prev, hp, "average", dA)
    assert max_relative_difference(A, A_t) <= TOL[np.dtype(dtype)]
    assert max_relative_difference(cnnstep.pool_backward(dA, cache, mode="average"), dA_prev_t) <= TOL[np.dtype(dtype)]


def test_all_ties_rule_differs_from_torch_exactly_where_ties_are(rng):
    A_prev = np.zeros((1, 4, 4, 1))
    A_prev[0, 0, 0, 0] = 1.0  # window (0, 0) has one maximum; the other three windows are all ties
    hp = {"f": 2, "stride": 2}
    A, cache = cnnstep.pool_forward(A_prev, hp)
    dA = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    ours = cnnstep.pool_backward(dA, cache, mode="max", ties="all")
    _, theirs = torch_adapter.pool(A_prev, hp, "max", dA)
    np.testing.assert_array_equal(cnnstep.pool_backward(dA, cache, mode="max", ties="first"), theirs)
    expected = np.zeros((4, 4))
    expected[0, 0] = 1.0
    expected[0:2, 2:4] = 2.0
    expected[2:4, 0:2] = 3.0
    expected[2:4, 2:4] = 4.0
    np.testing.assert_array_equal(ours[0, :, :, 0], expected)
    assert theirs.sum() == dA.sum()
