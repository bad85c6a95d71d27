"""The vectorized top level agrees with the loops of cnnstep.reference (the oracle)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnstep
from cnnstep import reference
from tests.helpers import max_relative_difference, tolerance
from tests.strategies import conv_configs, pool_configs


def assert_agree(actual, expected):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert max_relative_difference(actual, expected) <= tolerance(expected.dtype)


@given(conv_configs())
def test_conv_forward_agrees_with_reference(config):
    A_prev, W, b, hp = config
    Z, _ = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev, W, b, hp)
    assert_agree(Z, Z_ref)


@given(conv_configs(), st.integers(0, 2**32 - 1))
def test_conv_backward_agrees_with_reference(config, seed):
    A_prev, W, b, hp = config
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = np.random.default_rng(seed).normal(size=Z.shape).astype(Z.dtype)
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ, cache), strict=False):
        assert_agree(fast, slow)


@given(pool_configs(), st.sampled_from(["max", "average"]))
def test_pool_forward_agrees_with_reference(config, mode):
    A_prev, hp = config
    A, _ = cnnstep.pool_forward(A_prev, hp, mode=mode)
    A_ref, _ = reference.pool_forward(A_prev, hp, mode=mode)
    assert_agree(A, A_ref)


@given(
    pool_configs(), st.sampled_from(["max", "average"]), st.sampled_from(["all", "first"]), st.integers(0, 2**32 - 1)
)
def test_pool_backward_agrees_with_reference(config, mode, ties, seed):
    A_prev, hp = config
    A, cache = cnnstep.pool_forward(A_prev, hp, mode=mode)
    dA = np.random.default_rng(seed).normal(size=A.shape).astype(A.dtype)
    fast = cnnstep.pool_backward(dA, cache, mode=mode, ties=ties)
    slow = reference.pool_backward(dA, cache, mode=mode, ties=ties)
    assert_agree(fast, slow)


@pytest.mark.parametrize(
    "f, stride, shape",
    [
        (2, 2, (2, 8, 8, 3)),  # tiled windows (the reshape path)
        (2, 2, (2, 9, 7, 3)),  # tiled, with rows and columns left over
        ((2, 3), (2, 3), (2, 8, 9, 2)),
        (3, 1, (2, 7, 7, 2)),  # overlapping windows
        (3, 2, (2, 7, 8, 2)),
        (2, 3, (2, 8, 8, 2)),  # gaps between windows
    ],
)
@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("ties", ["all", "first"])
def test_pool_paths_agree_on_both_sides_of_the_tiling_boundary(rng, f, stride, shape, mode, ties):
    A_prev = np.maximum(rng.normal(size=shape), 0)  # ties at zero
    hp = {"f": f, "stride": stride}
    A, cache = cnnstep.pool_forward(A_prev, hp, mode)
    assert_agree(A, reference.pool_forward(A_prev, hp, mode)[0])
    dA = rng.normal(size=A.shape)
    assert_agree(cnnstep.pool_backward(dA, cache, mode, ties=ties), reference.pool_backward(dA, cache, mode, ties=ties))


def test_caches_are_interchangeable(rng):
    A_prev, W, b = rng.normal(size=(2, 6, 5, 3)), rng.normal(size=(3, 2, 3, 4)), rng.normal(size=(1, 1, 1, 4))
    hp = {"stride": (2, 1), "pad": ((1, 0), (2, 1))}
    Z, fast_cache = cnnstep.conv_forward(A_prev, W, b, hp)
    _, slow_cache = reference.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    for x, y in zip(cnnstep.conv_backward(dZ, slow_cache), reference.conv_backward(dZ, fast_cache), strict=False):
        assert_agree(x, y)
    pool_hp = {"f": 3, "stride": 2}
    A, fast_pool = cnnstep.pool_forward(A_prev, pool_hp)
    _, slow_pool = reference.pool_forward(A_prev, pool_hp)
    dA = rng.normal(size=A.shape)
    assert_agree(cnnstep.pool_backward(dA, slow_pool), reference.pool_backward(dA, fast_pool))


def test_integer_input_agrees_and_is_computed_in_float64(rng):
    A_prev = rng.integers(-5, 6, size=(2, 5, 5, 2))
    W = rng.integers(-3, 4, size=(3, 3, 2, 3))
    b = rng.integers(-2, 3, size=(1, 1, 1, 3))
    hp = {"stride": 1, "pad": "same"}
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev, W, b, hp)
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, Z_ref)  # small integers: exact in float64
    A, _ = cnnstep.pool_forward(A_prev, {"f": 2, "stride": 1}, "average")
    np.testing.assert_allclose(A, reference.pool_forward(A_prev, {"f": 2, "stride": 1}, "average")[0])
