"""Every backward against finite differences, and the checker catching a wrong backward."""

import numpy as np
import pytest

import cnnstep
from cnnstep import reference
from cnnstep.gradcheck import check_gradients, numerical_gradient, relative_error

CONV_CASES = [
    ((2, 5, 5, 3), (3, 3, 3, 4), {"stride": 1, "pad": 0}),  # pad 0
    ((2, 7, 6, 2), (3, 3, 2, 3), {"stride": 2, "pad": 1}),  # stride > 1
    ((1, 7, 7, 2), (2, 2, 2, 2), {"stride": 3, "pad": 0}),  # stride > f: gaps
    ((2, 6, 5, 2), (4, 4, 2, 3), {"stride": 1, "pad": "same"}),  # even kernel, 'same'
    ((2, 7, 6, 2), (4, 2, 2, 2), {"stride": (2, 1), "pad": "same"}),  # rectangular, odd extra pixel
    ((1, 5, 6, 2), (2, 3, 2, 2), {"stride": 2, "pad": ((2, 0), (1, 3))}),  # asymmetric
]


@pytest.mark.parametrize("impl", [cnnstep, reference], ids=["fast", "reference"])
@pytest.mark.parametrize("a_shape, w_shape, hp", CONV_CASES)
def test_conv_backward_matches_finite_differences(rng, impl, a_shape, w_shape, hp):
    A_prev, W = rng.normal(size=a_shape), rng.normal(size=w_shape)
    b = rng.normal(size=(1, 1, 1, w_shape[3]))
    Z, cache = impl.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    dA, dW, db = impl.conv_backward(dZ, cache)
    result = check_gradients(
        lambda A_prev, W, b: impl.conv_forward(A_prev, W, b, hp),
        {"A_prev": A_prev, "W": W, "b": b},
        {"A_prev": dA, "W": dW, "b": db},
        dZ,
    )
    assert result.passed, str(result)


POOL_CASES = [
    ((2, 4, 4, 2), {"f": 2, "stride": 2}),  # tiled
    ((2, 5, 5, 2), {"f": 3, "stride": 1}),  # overlapping
    ((2, 6, 7, 2), {"f": (3, 2), "stride": (2, 1)}),  # overlapping, rectangular
    ((1, 7, 7, 2), {"f": 2, "stride": 3}),  # gaps
    ((2, 5, 6, 2), {"f": 3, "stride": 2, "pad": "same"}),  # padded
    ((1, 5, 5, 2), {"f": 3, "stride": 1, "pad": ((2, 0), (0, 1))}),
]


@pytest.mark.parametrize("impl", [cnnstep, reference], ids=["fast", "reference"])
@pytest.mark.parametrize("shape, hp", POOL_CASES)
@pytest.mark.parametrize("mode", ["max", "average"])
def test_pool_backward_matches_finite_differences(rng, impl, shape, hp, mode):
    A_prev = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 7.0  # no ties
    A, cache = impl.pool_forward(A_prev, hp, mode=mode)
    dA = rng.normal(size=A.shape)
    for ties in ("all", "first"):  # identical without ties
        dA_prev = impl.pool_backward(dA, cache, mode=mode, ties=ties)
        result = check_gradients(
            lambda A_prev: impl.pool_forward(A_prev, hp, mode=mode), {"A_prev": A_prev}, {"A_prev": dA_prev}, dA
        )
        assert result.passed, str(result)


def _conv_backward_ignoring_stride(dZ, cache):
    """The classic mistake: windows placed at h, w instead of h*stride, w*stride."""
    A_prev, W, b, hp = cache
    stride, pad = hp["stride"], hp["pad"]
    A_pad, dA_pad = cnnstep.zero_pad(A_prev, pad), np.zeros_like(cnnstep.zero_pad(A_prev, pad))
    dW, db = np.zeros_like(W), dZ.sum(axis=(0, 1, 2)).reshape(b.shape)
    f = W.shape[0]
    for h in range(dZ.shape[1]):
        for w in range(dZ.shape[2]):
            window = A_pad[:, h : h + f, w : w + f, :]
            dA_pad[:, h : h + f, w : w + f, :] += np.einsum("mk,ijck->mijc", dZ[:, h, w, :], W)
            dW += np.einsum("mijc,mk->ijck", window, dZ[:, h, w, :])
    del stride
    return dA_pad[:, pad : pad + A_prev.shape[1], pad : pad + A_prev.shape[2], :], dW, db


def test_checker_catches_a_backward_that_ignores_stride(rng):
    A_prev, W, b = rng.normal(size=(2, 7, 7, 2)), rng.normal(size=(3, 3, 2, 2)), rng.normal(size=(1, 1, 1, 2))
    hp = {"stride": 2, "pad": 1}
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    dA, dW, db = _conv_backward_ignoring_stride(dZ, cache)
    result = check_gradients(
        lambda A_prev, W, b: cnnstep.conv_forward(A_prev, W, b, hp),
        {"A_prev": A_prev, "W": W, "b": b},
        {"A_prev": dA, "W": dW, "b": db},
        dZ,
    )
    assert not result.passed
    assert result.errors["A_prev"] > 1e-2 and result.errors["W"] > 1e-2
    assert result.errors["b"] < 1e-7  # the bias gradient does not depend on the stride
    # the same wrong backward is right when the stride is 1: the checker is not just always failing
    hp1 = {"stride": 1, "pad": 1}
    Z1, cache1 = cnnstep.conv_forward(A_prev, W, b, hp1)
    dZ1 = rng.normal(size=Z1.shape)
    dA1, dW1, db1 = _conv_backward_ignoring_stride(dZ1, cache1)
    ok = check_gradients(
        lambda A_prev, W, b: cnnstep.conv_forward(A_prev, W, b, hp1),
        {"A_prev": A_prev, "W": W, "b": b},
        {"A_prev": dA1, "W": dW1, "b": db1},
        dZ1,
    )
    assert ok.passed, str(ok)


def test_checker_catches_max_pool_gradient_sent_to_the_wrong_cell(rng):
    A_prev = rng.normal(size=(2, 4, 4, 2))
    hp = {"f": 2, "stride": 2}
    A, cache = cnnstep.pool_forward(A_prev, hp)
    dA = rng.normal(size=A.shape)
    wrong = cnnstep.pool_backward(dA, cache, mode="average")  # spread instead of routed to the max
    result = check_gradients(lambda A_prev: cnnstep.pool_forward(A_prev, hp), {"A_prev": A_prev}, {"A_prev": wrong}, dA)
    assert not result.passed and result.worst > 0.1


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.normal(size=(3, 4))
    dout = rng.normal(size=(3, 4))
    grad = numerical_gradient(lambda x: x**3, {"x": x}, "x", dout)
    np.testing.assert_allclose(grad, 3 * x**2 * dout, rtol=1e-6, atol=1e-8)


def test_numerical_gradient_leaves_inputs_untouched(rng):
    x = rng.normal(size=(2, 3))
    before = x.copy()
    numerical_gradient(lambda x: np.sin(x), {"x": x}, "x", np.ones((2, 3)))
    np.testing.assert_array_equal(x, before)


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.sqrt(2) / 2)
    with pytest.raises(ValueError, match="differ in shape"):
        relative_error(np.ones(2), np.ones(3))


def test_nan_gradient_fails_the_check(rng):
    x = rng.normal(size=(2, 2))
    result = check_gradients(lambda x: 2 * x, {"x": x}, {"x": np.full((2, 2), np.nan)}, np.ones((2, 2)))
    assert not result.passed


def test_check_gradients_rejects_misnamed_or_misshapen_gradients(rng):
    x = rng.normal(size=(2, 2))
    with pytest.raises(ValueError, match="not one of the inputs"):
        check_gradients(lambda x: x, {"x": x}, {"y": x}, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"must have the shape of inputs\['x'\]"):
        check_gradients(lambda x: x, {"x": x}, {"x": np.ones(3)}, np.ones((2, 2)))
    with pytest.raises(ValueError, match="dout must have the shape"):
        numerical_gradient(lambda x: x, {"x": x}, "x", np.ones(3))
    with pytest.raises(ValueError, match="wrt must name an array input"):
        numerical_gradient(lambda x: x, {"x": x}, "z", np.ones((2, 2)))
