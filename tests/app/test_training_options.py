"""Learning-rate schedules, batch augmentation, and the random shift they use."""

import numpy as np
import pytest

from cnnstep.app.data import random_shift
from cnnstep.nn import Adam, architectures


def test_random_shift_moves_each_image_within_bounds(rng):
    X = rng.random((6, 9, 7, 2)).astype(np.float32)
    before = X.copy()
    out = random_shift(X, 2, np.random.default_rng(3))
    assert out.shape == X.shape and out.dtype == X.dtype and not np.shares_memory(out, X)
    np.testing.assert_array_equal(X, before)
    framed = np.pad(X, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    for i in range(len(X)):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.array_equal(out[i], framed[i, dy : dy + 9, dx : dx + 7])
        ]
        assert matches, f"image {i} is not a shifted copy"
    again = random_shift(X, 2, np.random.default_rng(3))
    np.testing.assert_array_equal(out, again)


def test_random_shift_of_zero_is_a_copy(rng):
    X = rng.random((2, 4, 4, 1))
    out = random_shift(X, 0, rng)
    np.testing.assert_array_equal(out, X)
    assert not np.shares_memory(out, X)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((np.ones((2, 4, 4)), 1, np.random.default_rng()), ValueError, "random_shift: X must be a 4-D array"),
        (
            (np.ones((2, 4, 4, 1)), -1, np.random.default_rng()),
            ValueError,
            "random_shift: max_shift must be an integer >= 0",
        ),
        ((np.ones((2, 4, 4, 1)), 1.5, np.random.default_rng()), TypeError, "random_shift: max_shift"),
        ((np.ones((2, 4, 4, 1)), 1, 7), TypeError, "random_shift: rng must be a numpy.random.Generator"),
    ],
)
def test_random_shift_errors(args, error, match):
    with pytest.raises(error, match=match):
        random_shift(*args)


def small_problem(rng):
    model = architectures.default((8, 8, 1), 3, seed=0)
    X = rng.random((24, 8, 8, 1)).astype(np.float32)
    y = np.arange(24) % 3
    return model, X, y


def test_cosine_schedule_sets_each_epochs_rate_and_restores_it(rng):
    model, X, y = small_problem(rng)
    optimizer = Adam(lr=0.01)
    seen = []
    model.fit(
        X,
        y,
        epochs=4,
        batch_size=8,
        optimizer=optimizer,
        lr_schedule="cosine",
        on_epoch_end=lambda epoch, logs: seen.append(optimizer.lr),
    )
    np.testing.assert_allclose(seen, [0.01 * 0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)])
    assert optimizer.lr == 0.01


def test_custom_schedule_and_bad_schedules(rng):
    model, X, y = small_problem(rng)
    optimizer = Adam(lr=0.01)
    seen = []
    model.fit(
        X,
        y,
        epochs=3,
        batch_size=8,
        optimizer=optimizer,
        lr_schedule=lambda e, n: 1 / (e + 1),
        on_epoch_end=lambda epoch, logs: seen.append(optimizer.lr),
    )
    np.testing.assert_allclose(seen, [0.01, 0.005, 0.01 / 3])
    with pytest.raises(ValueError, match='lr_schedule must be None, "cosine" or a callable'):
        model.fit(X, y, epochs=1, lr_schedule="linear")


def test_augment_sees_every_training_batch_and_only_those(rng):
    model, X, y = small_problem(rng)
    calls = []

    def augment(Xb, generator):
        assert isinstance(generator, np.random.Generator)
        calls.append(len(Xb))
        return Xb[:, ::-1]  # a visible change, same shape

    model.fit(X, y, epochs=2, batch_size=10, augment=augment, validation_data=(X, y))
    assert calls == [10, 10, 4, 10, 10, 4]


def test_augment_errors(rng):
    model, X, y = small_problem(rng)
    with pytest.raises(TypeError, match="augment must be callable"):
        model.fit(X, y, epochs=1, augment="shift")
    with pytest.raises(ValueError, match=r"Sequential.fit \(augment\): X must have shape"):
        model.fit(X, y, epochs=1, augment=lambda Xb, r: Xb[:, :4])
