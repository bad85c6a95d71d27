"""The exercise's own test cells: same seeds, same calls, the values it prints.

Both implementations must reproduce them (the top level to floating-point rounding).
"""

import numpy as np
import pytest

import cnnstep
from cnnstep import reference

IMPLEMENTATIONS = [pytest.param(cnnstep, id="fast"), pytest.param(reference, id="reference")]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_zero_pad_cell(impl):
    np.random.seed(1)  # the exercise's own seeding, reproduced on purpose
    x = np.random.randn(4, 3, 3, 2)
    x_pad = impl.zero_pad(x, 3)
    assert x.shape == (4, 3, 3, 2)
    assert x_pad.shape == (4, 9, 9, 2)
    np.testing.assert_array_equal(x_pad[1, 1], np.zeros((9, 2)))
    np.testing.assert_array_equal(x_pad[:, 3:6, 3:6, :], x)
    assert x_pad.sum() == pytest.approx(x.sum())


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_conv_single_step_cell(impl):
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    Z = impl.conv_single_step(a_slice_prev, W, b)
    assert type(Z) is np.float64
    assert isinstance(Z, float)
    assert Z == pytest.approx(-6.999089450680221, rel=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_conv_forward_cell(impl):
    np.random.seed(1)
    A_prev = np.random.randn(10, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    hparameters = {"pad": 1, "stride": 2}
    Z, cache_conv = impl.conv_forward(A_prev, W, b, hparameters)
    assert Z.shape == (10, 3, 4, 8)
    assert np.mean(Z) == pytest.approx(0.692360880758, rel=1e-10)
    np.testing.assert_allclose(
        Z[3, 2, 1],
        [-1.28912231, 2.27650251, 6.61941931, 0.95527176, 8.25132576, 2.31329639, 13.00689405, 2.34576051],
        atol=1e-8,
    )
    assert cache_conv[0][1][2][3] == pytest.approx([-1.1191154, 1.9560789, -0.3264995, -1.34267579])
    dA, dW, db = impl.conv_backward(Z, cache_conv)
    assert dA.shape == A_prev.shape and dW.shape == W.shape and db.shape == b.shape


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_pool_forward_cell(impl):
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 5, 3)
    hparameters = {"stride": 1, "f": 3}
    A, cache = impl.pool_forward(A_prev, hparameters, mode="max")
    assert A.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(
        A[1, 1],
        [
            [1.96710175, 0.84616065, 1.27375593],
            [1.96710175, 0.84616065, 1.23616403],
            [1.62765075, 1.12141771, 1.2245077],
        ],
        atol=1e-8,
    )
    A, cache = impl.pool_forward(A_prev, hparameters, mode="average")
    np.testing.assert_allclose(
        A[1, 1],
        [
            [0.44497696, -0.00261695, -0.31040307],
            [0.50811474, -0.23493734, -0.23961183],
            [0.11872677, 0.17255229, -0.22112197],
        ],
        atol=1e-8,
    )


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_mask_and_distribute_cells(impl):
    np.random.seed(1)
    x = np.random.randn(2, 3)
    mask = impl.create_mask_from_window(x)
    np.testing.assert_array_equal(mask, [[True, False, False], [False, False, False]])
    a = impl.distribute_value(2, (2, 2))
    np.testing.assert_array_equal(a, np.full((2, 2), 0.5))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_pool_backward_cell(impl):
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    hparameters = {"stride": 1, "f": 2}
    A, cache = impl.pool_forward(A_prev, hparameters)
    dA = np.random.randn(5, 4, 2, 2)
    assert np.mean(dA) == pytest.approx(0.145713902729, rel=1e-9)
    dA_prev = impl.pool_backward(dA, cache, mode="max")
    np.testing.assert_allclose(dA_prev[1, 1], [[0.0, 0.0], [5.05844394, -1.68282702], [0.0, 0.0]], atol=1e-8)
    dA_prev = impl.pool_backward(dA, cache, mode="average")
    np.testing.assert_allclose(
        dA_prev[1, 1], [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]], atol=1e-8
    )
