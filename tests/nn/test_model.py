"""cnnstep.nn.Sequential: whole-model gradients, training, callbacks, divergence, inference,
summary and every promised error."""

import numpy as np
import pytest

from cnnstep import nn
from cnnstep.gradcheck import check_gradients
from tests.helpers import assert_close, model_reduction


def small_model(seed=0, dtype=np.float32, classes=None):
    """8x8x1 images, 4 classes: conv, relu, max-pool, flatten, dense."""
    layers = [nn.Conv2D(8, 3), nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(4)]
    return nn.Sequential(layers, (8, 8, 1), classes=classes, seed=seed, dtype=dtype)


def sixteen_samples(rng):
    return rng.normal(size=(16, 8, 8, 1)).astype(np.float32), rng.integers(0, 4, size=16)


# --------------------------------------------------------------------------- gradients


def test_whole_model_gradients_match_finite_differences(rng):
    layers = [
        nn.Conv2D(3, 3),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Conv2D(4, 2, pad="valid"),
        nn.ReLU(),
        nn.AvgPool2D(2, stride=1),
        nn.Flatten(),
        nn.Dense(3),
    ]
    model = nn.Sequential(layers, (6, 6, 2), seed=3, dtype=np.float64)
    for layer in model.layers:  # non-zero biases, so that no ReLU sits at its kink
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(scale=0.1, size=layer.params["b"].shape)
    X, y = rng.normal(size=(4, 6, 6, 2)), rng.integers(0, 3, size=4)
    loss, dlogits = nn.softmax_cross_entropy(model.forward(X), y)
    dX = model.backward(dlogits)
    triples = model.params_and_grads()
    assert [key for key, _, _ in triples] == ["0.W", "0.b", "3.W", "3.b", "7.W", "7.b"]
    params = {key.replace(".", "_"): param for key, param, _ in triples}
    grads = {key.replace(".", "_"): grad.copy() for key, _, grad in triples}
    grads["X"] = dX
    saved = {key: param.copy() for key, param in params.items()}

    def cost(X, **values):
        for key, param, _ in triples:
            param[...] = values[key.replace(".", "_")]
        try:
            return np.array(nn.softmax_cross_entropy(model.forward(X, training=False), y)[0])
        finally:
            for key, param, _ in triples:
                param[...] = saved[key.replace(".", "_")]

    result = check_gradients(cost, {"X": X, **params}, grads, np.array(1.0))
    assert result.passed, str(result)
    assert cost(X, **params) == pytest.approx(loss, rel=1e-12)


# --------------------------------------------------------------------------- training


def test_a_small_model_overfits_sixteen_samples(rng):
    X, y = sixteen_samples(rng)
    model = small_model(seed=1)
    history = model.fit(X, y, epochs=40, batch_size=8, optimizer=nn.Adam(lr=1e-2), seed=2)
    assert 1.0 in history["accuracy"]
    assert model.evaluate(X, y)["accuracy"] == 1.0
    np.testing.assert_array_equal(model.predict(X), y)
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    assert all(p.dtype == np.float32 for _, p, _ in model.params_and_grads())


def test_history_has_one_entry_per_epoch(rng):
    X, y = sixteen_samples(rng)
    model = small_model()
    history = model.fit(X, y, epochs=3, batch_size=5, validation_data=(X[:6], y[:6]))
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert all(len(values) == 3 for values in history.values())
    assert model.history is history
    assert history["val_loss"][-1] == pytest.approx(model.evaluate(X[:6], y[:6])["loss"])
    assert all(s >= 0 for s in history["seconds"])
    no_validation = small_model().fit(X, y, epochs=2)
    assert no_validation["val_loss"] == [] and no_validation["val_accuracy"] == []
    assert len(no_validation["loss"]) == 2


def test_the_same_seeds_train_the_same_model(rng):
    X, y = sixteen_samples(rng)
    a, b = small_model(seed=5), small_model(seed=5)
    a.fit(X, y, epochs=2, batch_size=4, seed=9)
    b.fit(X, y, epochs=2, batch_size=4, seed=9)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = small_model(seed=5)
    c.fit(X, y, epochs=2, batch_size=4, seed=10)  # another order of the batches
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_fit_leaves_x_and_y_alone(rng):
    X, y = sixteen_samples(rng)
    X64 = X.astype(np.float64)
    X_before, y_before = X64.copy(), y.copy()
    small_model().fit(X64, y, epochs=1, batch_size=4)
    np.testing.assert_array_equal(X64, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_callbacks_see_every_batch_and_epoch(rng):
    X, y = sixteen_samples(rng)
    batches, epochs = [], []
    history = small_model().fit(
        X,
        y,
        epochs=2,
        batch_size=6,
        validation_data=(X, y),
        on_batch_end=lambda i, n, loss: batches.append((i, n, loss)),
        on_epoch_end=lambda epoch, logs: epochs.append((epoch, dict(logs))),
    )
    assert [(i, n) for i, n, _ in batches] == [(0, 3), (1, 3), (2, 3)] * 2
    assert all(isinstance(loss, float) for _, _, loss in batches)
    assert [e for e, _ in epochs] == [0, 1]
    assert epochs[1][1] == {key: values[1] for key, values in history.items()}


def test_a_nan_loss_raises_training_diverged_naming_the_epoch(rng):
    X, y = sixteen_samples(rng)
    model = small_model()

    def spoil(epoch, logs):
        if epoch == 0:
            model.layers[0].params["W"][...] = np.nan

    with pytest.raises(
        nn.TrainingDiverged,
        match=r"the training loss became nan in epoch 2/5, batch 1/4: "
        r"lower the learning rate \(now 0\.001\)",
    ) as info:
        model.fit(X, y, epochs=5, batch_size=4, on_epoch_end=spoil)
    assert (info.value.epoch, info.value.batch) == (2, 1)
    assert isinstance(info.value, ValueError)


def test_a_huge_learning_rate_diverges(rng):
    X, y = sixteen_samples(rng)
    with (
        np.errstate(all="ignore"),
        pytest.raises(nn.TrainingDiverged, match=r"in epoch \d+/10.*lower the learning rate"),
    ):
        small_model().fit(X, y, epochs=10, batch_size=4, optimizer=nn.SGD(lr=1e30))


def test_nan_in_the_images_is_named_as_the_cause(rng):
    X, y = sixteen_samples(rng)
    X[3, 0, 0, 0] = np.nan
    with np.errstate(all="ignore"), pytest.raises(nn.TrainingDiverged, match=r"epoch 1/1.*images hold NaN or inf"):
        small_model().fit(X, y, epochs=1, batch_size=16)


# --------------------------------------------------------------------------- inference


def test_predict_proba_predict_and_evaluate_agree(rng):
    X, y = sixteen_samples(rng)
    model = small_model()
    proba = model.predict_proba(X, batch_size=5)  # batches that do not divide m
    assert proba.shape == (16, 4) and proba.dtype == np.float32
    n_terms, depth = model_reduction(model)
    assert_close(proba.sum(axis=1), 1.0, np.float32, n_terms=proba.shape[1])
    # batches of 5 against one batch of 16: the same sums, in other orders and kernels
    assert_close(proba, nn.softmax(model.forward(X, training=False)), np.float32, n_terms, depth)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(axis=1))
    scores = model.evaluate(X, y, batch_size=7)
    expected = nn.softmax_cross_entropy(model.forward(X).astype(np.float64), y)[0]
    assert_close(scores["loss"], expected, np.float32, n_terms=len(X) * n_terms, depth=depth)
    assert scores["accuracy"] == np.mean(model.predict(X) == y)
    assert model.predict_proba(np.zeros((0, 8, 8, 1))).shape == (0, 4)


def test_images_of_any_real_dtype_are_cast_to_the_model_dtype(rng):
    model = small_model()
    X = rng.integers(0, 255, size=(3, 8, 8, 1), dtype=np.uint8)
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X.astype(np.float32)))


# --------------------------------------------------------------------------- description


def test_summary_lists_the_layers_and_counts_the_parameters():
    model = nn.application((64, 64, 3), 6)
    text = model.summary()
    for name in ("Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"):
        assert name in text
    assert "(None, 64, 64, 8)" in text and "(None, 2, 2, 16)" in text and "(None, 6)" in text
    # 4*4*3*8 + 8, 2*2*8*16 + 16, 64*6 + 6
    assert model.count_params() == 392 + 528 + 390
    assert text.splitlines()[-1] == "Total params: 1,310"
    assert len([line for line in text.splitlines() if "Conv2D" in line]) == 2


def test_classes_default_to_indices_and_can_be_named():
    assert small_model().classes == ["0", "1", "2", "3"]
    assert small_model(classes=["a", "b", "c", "d"]).classes == ["a", "b", "c", "d"]


# --------------------------------------------------------------------------- architectures


def test_application_is_the_exercise_model():
    model = nn.application((64, 64, 3), 6)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "ReLU",
        "MaxPool2D",
        "Conv2D",
        "ReLU",
        "MaxPool2D",
        "Flatten",
        "Dense",
    ]
    assert model.output_shapes == [(64, 64, 8), (64, 64, 8), (8, 8, 8), (8, 8, 16), (8, 8, 16), (2, 2, 16), (64,), (6,)]
    assert model.layers[-1].init == "glorot" and model.layers[0].init == "he"


@pytest.mark.parametrize(
    "input_shape, pools, flat",
    [
        ((64, 64, 3), 3, 8 * 8 * 64),
        ((8, 8, 1), 2, 2 * 2 * 64),
        ((2, 2, 1), 0, 2 * 2 * 64),
        ((32, 5, 3), 1, 16 * 2 * 64),
    ],
)
def test_default_adapts_its_pooling_to_the_input_size(input_shape, pools, flat):
    model = nn.default(input_shape, 10)
    assert sum(isinstance(layer, nn.MaxPool2D) for layer in model.layers) == pools
    assert model.output_shapes[-2] == (flat,)
    assert min(min(shape[:2]) for shape in model.output_shapes if len(shape) == 3) >= 1
    assert [layer.filters for layer in model.layers if isinstance(layer, nn.Conv2D)] == [16, 32, 64]


def test_build_dispatches_by_name():
    a, b = nn.build("application", (16, 16, 3), 3, seed=4), nn.application((16, 16, 3), 3, seed=4)
    np.testing.assert_array_equal(a.layers[0].params["W"], b.layers[0].params["W"])
    assert isinstance(nn.build("default", (8, 8, 1), 2), nn.Sequential)
    with pytest.raises(
        ValueError, match=r"build: unknown architecture 'vgg', expected one of \['application', 'default'\]"
    ):
        nn.build("vgg", (8, 8, 1), 2)
    with pytest.raises(ValueError, match=r"application: n_classes must be at least 2"):
        nn.application((8, 8, 1), 1)


# --------------------------------------------------------------------------- errors


BAD_MODELS = [
    (lambda: nn.Sequential([], (8, 8, 1)), TypeError, r"Sequential: layers must be a non-empty list of layers"),
    (
        lambda: nn.Sequential([nn.Flatten(), "Dense"], (8, 8, 1)),
        TypeError,
        r"Sequential: layers\[1\] must be a layer \(Conv2D, ReLU, \.\.\.\), got 'Dense' \(str\)",
    ),
    (
        lambda: nn.Sequential([nn.Flatten(), nn.Dense(2)], (8, 8)),
        ValueError,
        r"Sequential: input_shape must have 3 items \(n_H, n_W, n_C\), got \(8, 8\)",
    ),
    (
        lambda: nn.Sequential([nn.Flatten(), nn.Dense(2)], (8, 8, 1), dtype=np.int32),
        ValueError,
        r"Sequential: dtype must be float32 or float64, got int32",
    ),
    (
        lambda: nn.Sequential([nn.Flatten(), nn.Dense(2)], (8, 8, 1), seed=1.5),
        TypeError,
        r"Sequential: seed must be an integer, got 1\.5",
    ),
    (
        lambda: nn.Sequential([nn.Conv2D(2, 3)], (8, 8, 1)),
        ValueError,
        r"Sequential: the last layer must output a flat vector of class scores \(k,\), got \(8, 8, 2\)",
    ),
    (
        lambda: nn.Sequential([nn.Conv2D(2, 9, pad="valid"), nn.Flatten(), nn.Dense(2)], (8, 8, 1)),
        ValueError,
        r"Sequential: layer 0 Conv2D\(.*\) cannot take its input of shape \(8, 8, 1\): Conv2D: window larger",
    ),
    (
        lambda: nn.Sequential([nn.Dense(2)], (8, 8, 1)),
        ValueError,
        r"Sequential: layer 0 Dense\(.*\) cannot take .*put a Flatten\(\) before Dense",
    ),
    (
        lambda: nn.Sequential([nn.Flatten(), nn.Dense(2)], (8, 8, 1), classes=["a"]),
        ValueError,
        r"Sequential: classes names 1 classes but the last layer outputs 2 scores",
    ),
    (
        lambda: nn.Sequential([nn.Flatten(), nn.Dense(2)], (8, 8, 1), classes=["a", "a"]),
        ValueError,
        r"Sequential: classes must be distinct",
    ),
    (
        lambda: nn.Sequential([nn.Flatten(), nn.Dense(2)], (8, 8, 1), classes="ab"),
        TypeError,
        r"Sequential: classes must be a list of 2 class-name strings",
    ),
]


@pytest.mark.parametrize("make, error, message", BAD_MODELS)
def test_bad_models_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_layers_are_not_shared_and_stay_usable_after_a_refused_model():
    relu = nn.ReLU()
    with pytest.raises(ValueError, match=r"layers\[2\] is the same object as an earlier layer"):
        nn.Sequential([relu, nn.Flatten(), relu], (2, 2, 1))
    layers = [nn.Flatten(), nn.Dense(4), nn.ReLU(), nn.Dense(3)]
    with pytest.raises(ValueError, match=r"classes names 1 classes"):
        nn.Sequential(layers, (2, 2, 1), classes=["a"])
    assert not any(layer.built for layer in layers) and not any(layer.params for layer in layers)
    assert layers[1].init is None and layers[3].init is None
    model = nn.Sequential(layers, (2, 2, 1))
    with pytest.raises(ValueError, match=r"layers\[0\] Flatten\(\) is already built \(part of another model\?\)"):
        nn.Sequential(model.layers, (2, 2, 1))


@pytest.mark.parametrize(
    "X, message",
    [
        (
            np.zeros((8, 8, 1)),
            r"Sequential.fit: X must have shape \(m, 8, 8, 1\) .*got shape \(8, 8, 1\) -- one image\? pass X\[None\]",
        ),
        (np.zeros((4, 1, 8, 8)), r"got shape \(4, 1, 8, 8\) -- channels first\? cnnstep is channels-last"),
        (
            np.zeros((4, 8, 8, 3)),
            r"Sequential.fit: X must have shape \(m, 8, 8, 1\) \(m examples of the model's "
            r"input_shape \(8, 8, 1\)\), got shape \(4, 8, 8, 3\)",
        ),
        (np.zeros((0, 8, 8, 1)), r"Sequential.fit: X holds no examples"),
    ],
)
def test_fit_refuses_images_of_the_wrong_shape(X, message):
    with pytest.raises(ValueError, match=message):
        small_model().fit(X, np.zeros(len(X), dtype=int))


def test_fit_predict_and_evaluate_refuse_bad_input(rng):
    X, y = sixteen_samples(rng)
    model = small_model()
    with pytest.raises(
        ValueError, match=r"Sequential.fit: y must hold class indices 0\.\.3 \(4 classes\), got \[4, 7\]"
    ):
        model.fit(X, np.r_[y[:14], 4, 7])
    with pytest.raises(ValueError, match=r"Sequential.fit: y must have shape \(16,\)"):
        model.fit(X, y[:10])
    with pytest.raises(TypeError, match=r"Sequential.fit: y must hold integer class indices"):
        model.fit(X, y.astype(float))
    with pytest.raises(ValueError, match=r"Sequential.fit: epochs must be a positive integer, got 0"):
        model.fit(X, y, epochs=0)
    with pytest.raises(TypeError, match=r"Sequential.fit: batch_size must be a positive integer, got 3\.5"):
        model.fit(X, y, batch_size=3.5)
    with pytest.raises(TypeError, match=r"Sequential.fit: optimizer must have a step\(params_and_grads\) method"):
        model.fit(X, y, optimizer="adam")
    with pytest.raises(TypeError, match=r"Sequential.fit: validation_data must be a pair \(X_val, y_val\)"):
        model.fit(X, y, validation_data=X)
    with pytest.raises(ValueError, match=r"Sequential.fit: validation_data\[1\] must hold class indices"):
        model.fit(X, y, validation_data=(X, y + 4))
    with pytest.raises(TypeError, match=r"Sequential.fit: on_epoch_end must be callable or None"):
        model.fit(X, y, on_epoch_end="print")
    with pytest.raises(ValueError, match=r"Sequential.predict_proba: X must have shape \(m, 8, 8, 1\)"):
        model.predict(X[:, :4])
    with pytest.raises(TypeError, match=r"Sequential.predict_proba: X must hold real numbers"):
        model.predict(X > 0)
    with pytest.raises(ValueError, match=r"Sequential.evaluate: y must have shape \(16,\)"):
        model.evaluate(X, y[:3])
    with pytest.raises(ValueError, match=r"Sequential.predict_proba: batch_size must be a positive integer"):
        model.predict_proba(X, batch_size=0)
