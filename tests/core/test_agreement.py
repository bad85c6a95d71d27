"""The vectorized top level agrees with the loops of cnnstep.reference (the oracle)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnstep
from cnnstep import reference
from cnnstep._kernels import checks as _checks
from tests.helpers import max_relative_difference, tolerance
from tests.strategies import conv_configs, pool_configs


def assert_agree(actual, expected, n_terms):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert max_relative_difference(actual, expected) <= tolerance(expected.dtype, n_terms)


def conv_terms(W, Z) -> int:
    """The longest sum of a convolution's passes: a window (forward), dW over m n_H n_W, dA_prev over f f n_C."""
    f_h, f_w, n_C_prev, n_C = W.shape
    return max(f_h * f_w * n_C_prev, Z.shape[0] * Z.shape[1] * Z.shape[2], f_h * f_w * n_C)


def pool_terms(hp) -> int:
    """The longest sum of pooling: one window (a cell's overlapping windows in the backward are fewer)."""
    f_h, f_w = _checks.positive_pair(hp["f"], "test", "f")
    return f_h * f_w


@given(conv_configs())
def test_conv_forward_agrees_with_reference(config):
    A_prev, W, b, hp = config
    Z, _ = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev, W, b, hp)
    assert_agree(Z, Z_ref, conv_terms(W, Z))


@given(conv_configs(), st.integers(0, 2**32 - 1))
def test_conv_backward_agrees_with_reference(config, seed):
    A_prev, W, b, hp = config
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = np.random.default_rng(seed).normal(size=Z.shape).astype(Z.dtype)
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ, cache), strict=True):
        assert_agree(fast, slow, conv_terms(W, Z))


@given(pool_configs(), st.sampled_from(["max", "average"]))
def test_pool_forward_agrees_with_reference(config, mode):
    A_prev, hp = config
    A, _ = cnnstep.pool_forward(A_prev, hp, mode=mode)
    A_ref, _ = reference.pool_forward(A_prev, hp, mode=mode)
    assert_agree(A, A_ref, pool_terms(hp))


@given(
    pool_configs(), st.sampled_from(["max", "average"]), st.sampled_from(["all", "first"]), st.integers(0, 2**32 - 1)
)
def test_pool_backward_agrees_with_reference(config, mode, ties, seed):
    A_prev, hp = config
    A, cache = cnnstep.pool_forward(A_prev, hp, mode=mode)
    dA = np.random.default_rng(seed).normal(size=A.shape).astype(A.dtype)
    fast = cnnstep.pool_backward(dA, cache, mode=mode, ties=ties)
    slow = reference.pool_backward(dA, cache, mode=mode, ties=ties)
    assert_agree(fast, slow, pool_terms(hp))


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
    assert_agree(A, reference.pool_forward(A_prev, hp, mode)[0], pool_terms(hp))
    dA = rng.normal(size=A.shape)
    fast, slow = cnnstep.pool_backward(dA, cache, mode, ties=ties), reference.pool_backward(dA, cache, mode, ties=ties)
    assert_agree(fast, slow, pool_terms(hp))


def test_caches_are_interchangeable(rng):
    A_prev, W, b = rng.normal(size=(2, 6, 5, 3)), rng.normal(size=(3, 2, 3, 4)), rng.normal(size=(1, 1, 1, 4))
    hp = {"stride": (2, 1), "pad": ((1, 0), (2, 1))}
    Z, fast_cache = cnnstep.conv_forward(A_prev, W, b, hp)
    _, slow_cache = reference.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    for x, y in zip(cnnstep.conv_backward(dZ, slow_cache), reference.conv_backward(dZ, fast_cache), strict=True):
        assert_agree(x, y, conv_terms(W, Z))
    pool_hp = {"f": 3, "stride": 2}
    A, fast_pool = cnnstep.pool_forward(A_prev, pool_hp)
    _, slow_pool = reference.pool_forward(A_prev, pool_hp)
    dA = rng.normal(size=A.shape)
    assert_agree(cnnstep.pool_backward(dA, slow_pool), reference.pool_backward(dA, fast_pool), pool_terms(pool_hp))


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
