"""cnnstep.nn.optim: SGD and Adam minimise, update in place, keep state per key, check input."""

import numpy as np
import pytest

from cnnstep import nn
from tests.helpers import assert_close


def quadratic(p, target, scale):
    """0.5 * sum(scale * (p - target)**2) and its gradient."""
    diff = p - target
    return 0.5 * float(np.sum(scale * diff**2)), scale * diff


@pytest.mark.parametrize(
    "optimizer", [nn.SGD(lr=0.05, momentum=0.9), nn.SGD(lr=0.1, momentum=0.0), nn.Adam(lr=0.05)], ids=repr
)
def test_optimizers_minimise_a_quadratic_in_place(rng, optimizer):
    p = rng.normal(size=(3, 4))
    target, scale = rng.normal(size=(3, 4)), rng.uniform(0.5, 2.0, size=(3, 4))
    same = p
    start, _ = quadratic(p, target, scale)
    for _ in range(300):
        _, grad = quadratic(p, target, scale)
        optimizer.step([("0.W", p, grad)])
    end, _ = quadratic(p, target, scale)
    assert same is p  # the very array was updated
    assert end < 1e-3 * start


def test_sgd_step_is_the_textbook_update():
    p, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    sgd = nn.SGD(lr=0.1, momentum=0.5)
    sgd.step([("k", p, g)])
    np.testing.assert_allclose(p, [1.0 - 0.05, 2.0 + 0.1])
    sgd.step([("k", p, g)])  # v = 0.5 * g + g
    np.testing.assert_allclose(p, [0.95 - 0.075, 2.1 + 0.15])


def test_adam_first_step_moves_each_parameter_by_lr():
    p = np.array([1.0, -3.0, 0.5], dtype=np.float32)
    nn.Adam(lr=0.01).step([("k", p, np.array([4.0, -0.2, 1e-3], dtype=np.float32))])
    assert_close(p, [0.99, -2.99, 0.49], np.float32, n_terms=4)  # a handful of float32 operations
    assert p.dtype == np.float32


def test_state_is_kept_per_key(rng):
    a, b = np.zeros(2), np.zeros(2)
    sgd = nn.SGD(lr=1.0, momentum=0.5)
    sgd.step([("0.W", a, np.ones(2)), ("1.W", b, -np.ones(2))])
    sgd.step([("0.W", a, np.ones(2))])
    np.testing.assert_allclose(a, [-2.5, -2.5])
    np.testing.assert_allclose(b, [1.0, 1.0])
    assert set(sgd.state) == {"0.W", "1.W"}


def test_optimizers_reduce_a_model_loss(rng):
    X = rng.normal(size=(24, 4, 4, 1)).astype(np.float32)
    y = (X.mean(axis=(1, 2, 3)) > 0).astype(int)
    for optimizer in (nn.SGD(lr=0.05), nn.Adam(lr=1e-2)):
        model = nn.Sequential([nn.Conv2D(4, 3), nn.ReLU(), nn.Flatten(), nn.Dense(2)], (4, 4, 1), seed=1)
        before = model.evaluate(X, y)["loss"]
        model.fit(X, y, epochs=5, batch_size=8, optimizer=optimizer)
        assert model.evaluate(X, y)["loss"] < 0.7 * before


def test_config_and_repr():
    assert nn.SGD().config() == {"type": "SGD", "lr": 0.01, "momentum": 0.9}
    assert nn.Adam().config() == {"type": "Adam", "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert repr(nn.SGD(lr=0.5, momentum=0)) == "SGD(lr=0.5, momentum=0.0)"


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.SGD(lr=0), ValueError, r"SGD: lr must be in \(0, inf\), got 0\.0"),
        (lambda: nn.SGD(lr=float("nan")), ValueError, r"SGD: lr must be in \(0, inf\), got nan"),
        (lambda: nn.SGD(lr="0.1"), TypeError, r"SGD: lr must be a number, got '0.1' \(str\)"),
        (lambda: nn.SGD(momentum=1.0), ValueError, r"SGD: momentum must be in \[0, 1\), got 1\.0"),
        (lambda: nn.Adam(lr=-1e-3), ValueError, r"Adam: lr must be in \(0, inf\)"),
        (lambda: nn.Adam(beta1=1.0), ValueError, r"Adam: beta1 must be in \[0, 1\), got 1\.0"),
        (lambda: nn.Adam(beta2=-0.1), ValueError, r"Adam: beta2 must be in \[0, 1\)"),
        (lambda: nn.Adam(eps=0), ValueError, r"Adam: eps must be in \(0, inf\), got 0\.0"),
        (lambda: nn.Adam(eps=True), TypeError, r"Adam: eps must be a number, got True"),
    ],
)
def test_bad_hyperparameters_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_steps_are_refused():
    adam = nn.Adam()
    with pytest.raises(
        ValueError, match=r"Adam.step: the gradient of '0.W' must have the parameter's shape \(2,\), got \(3,\)"
    ):
        adam.step([("0.W", np.zeros(2), np.zeros(3))])
    with pytest.raises(TypeError, match=r"SGD.step: the parameter '0.W' must be a float ndarray"):
        nn.SGD().step([("0.W", [0.0, 1.0], np.zeros(2))])
    adam.step([("0.W", np.zeros(2), np.zeros(2))])
    with pytest.raises(ValueError, match=r"Adam.step: the parameter '0.W' changed shape from \(2,\) to \(4,\)"):
        adam.step([("0.W", np.zeros(4), np.zeros(4))])
