"""cnnstep.nn.losses: softmax and the softmax cross-entropy, its gradient and its checks."""

import numpy as np
import pytest

from cnnstep import nn
from cnnstep.gradcheck import check_gradients
from tests.helpers import assert_close


def test_softmax_rows_are_probabilities_and_shift_invariant(rng):
    z = rng.normal(size=(4, 5))
    p = nn.softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert (p > 0).all()
    np.testing.assert_allclose(nn.softmax(z + 100.0), p, rtol=1e-12)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-12)


def test_softmax_is_stable_for_huge_logits_and_keeps_float32():
    z = np.array([[1000.0, 0.0, -1000.0], [-5e4, -5e4, -5e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = nn.softmax(z)
    assert p.dtype == np.float32
    assert_close(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], np.float32, n_terms=3)


def test_cross_entropy_value_and_gradient_by_hand():
    z = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    loss, dz = nn.softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-(np.log(p[0, 0]) + np.log(p[1, 2])) / 2, rel=1e-12)
    expected = p.copy()
    expected[[0, 1], y] -= 1
    np.testing.assert_allclose(dz, expected / 2, rtol=1e-12)


def test_cross_entropy_is_finite_for_huge_logits():
    loss, dz = nn.softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))
    assert loss == pytest.approx(2e4)
    assert np.isfinite(dz).all()


def test_cross_entropy_gradient_matches_finite_differences(rng):
    z, y = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    _, dz = nn.softmax_cross_entropy(z, y)
    result = check_gradients(
        lambda logits: np.array(nn.softmax_cross_entropy(logits, y)[0]), {"logits": z}, {"logits": dz}, np.array(1.0)
    )
    assert result.passed, str(result)


def test_cross_entropy_keeps_float32_and_leaves_its_inputs_alone(rng):
    z = rng.normal(size=(3, 4)).astype(np.float32)
    y = np.array([0, 3, 1])
    z_before, y_before = z.copy(), y.copy()
    loss, dz = nn.softmax_cross_entropy(z, y)
    assert isinstance(loss, float) and dz.dtype == np.float32
    np.testing.assert_array_equal(z, z_before)
    np.testing.assert_array_equal(y, y_before)


SCE = r"softmax_cross_entropy: "
Z = np.zeros((2, 3))


@pytest.mark.parametrize(
    "logits, y, error, message",
    [
        (np.zeros(3), np.array([0]), ValueError, SCE + r"logits must be a 2-D array \(m, k\), got shape \(3,\)"),
        (np.zeros((0, 3)), np.zeros(0, int), ValueError, SCE + r"logits must hold at least one example"),
        (Z, np.array([0, 3]), ValueError, SCE + r"y must hold class indices 0\.\.2 \(3 classes\), got \[3\]"),
        (Z, np.array([-1, 0]), ValueError, SCE + r"y must hold class indices 0\.\.2 \(3 classes\), got \[-1\]"),
        (Z, np.array([0.0, 1.0]), TypeError, SCE + r"y must hold integer class indices 0\.\.2, got dtype float64"),
        (
            Z,
            np.array([0, 1, 2]),
            ValueError,
            SCE + r"y must have shape \(2,\), one label per example, got shape \(3,\)",
        ),
        (
            Z,
            np.eye(3)[[0, 1]].astype(int),
            ValueError,
            r"got shape \(2, 3\) -- one-hot labels\? pass y.argmax\(axis=1\)",
        ),
        (Z, np.array([[0, 1]]), ValueError, SCE + r"y must have shape \(2,\).*got shape \(1, 2\) -- pass y.ravel\(\)"),
        (Z.astype(complex), np.array([0, 1]), TypeError, SCE + r"logits must hold real numbers"),
    ],
)
def test_cross_entropy_refuses_bad_input(logits, y, error, message):
    with pytest.raises(error, match=message):
        nn.softmax_cross_entropy(logits, y)


def test_softmax_refuses_bad_input():
    with pytest.raises(ValueError, match=r"softmax: logits must be a 2-D array \(m, k\), got shape \(2, 2, 2\)"):
        nn.softmax(np.zeros((2, 2, 2)))
