"""cnnstep.nn layers: gradients against finite differences, the blocks underneath, shapes,
initialisation, configs, and every promised error."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnstep
from cnnstep import nn
from cnnstep.gradcheck import check_gradients


def distinct(rng, shape, scale=0.1):
    """Values without ties (max-pooling is differentiable there), shuffled."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * scale - 1.0


def built(layer, input_shape, rng, dtype=np.float64):
    layer.build(input_shape, rng, dtype)
    return layer


def gradcheck_layer(layer, x, rng):
    """Check dx and every parameter gradient of a built float64 layer at x."""
    out = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    grads = {"x": dx, **{name: g.copy() for name, g in layer.grads.items()}}
    saved = dict(layer.params)

    def fun(x, **params):
        layer.params.update(params)
        try:
            return layer.forward(x, training=False)
        finally:
            layer.params.update(saved)

    return check_gradients(fun, {"x": x, **saved}, grads, dout)


# --------------------------------------------------------------------------- gradients

CONV_CASES = [
    dict(filters=3, kernel_size=3),  # 'same', stride 1
    dict(filters=2, kernel_size=(3, 2), stride=2, pad="valid"),
    dict(filters=3, kernel_size=4, stride=2, pad="same"),  # even kernel, odd extra pixel
    dict(filters=2, kernel_size=2, stride=(1, 2), pad=((1, 0), (2, 1))),  # asymmetric
    dict(filters=2, kernel_size=3, pad=0),  # pad 0
]


@pytest.mark.parametrize("kwargs", CONV_CASES, ids=lambda k: str(k))
def test_conv2d_gradients(rng, kwargs):
    layer = built(nn.Conv2D(**kwargs), (5, 6, 2), rng)
    layer.params["b"] = rng.normal(size=layer.params["b"].shape)  # non-zero biases too
    result = gradcheck_layer(layer, rng.normal(size=(2, 5, 6, 2)), rng)
    assert result.passed, str(result)
    assert set(result.errors) == {"x", "W", "b"}


POOL_CASES = [
    dict(f=2),  # tiled
    dict(f=3, stride=1),  # overlapping
    dict(f=3, stride=2, pad="same"),  # padded
    dict(f=(3, 2), stride=(2, 1), pad="valid"),
]


@pytest.mark.parametrize("kwargs", POOL_CASES, ids=lambda k: str(k))
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda **k: nn.MaxPool2D(**k), id="max"),
        pytest.param(lambda **k: nn.MaxPool2D(**k, ties="first"), id="max-first"),
        pytest.param(lambda **k: nn.AvgPool2D(**k), id="average"),
    ],
)
def test_pool_gradients(rng, make, kwargs):
    layer = built(make(**kwargs), (6, 5, 2), rng)
    result = gradcheck_layer(layer, distinct(rng, (2, 6, 5, 2)), rng)
    assert result.passed, str(result)


def test_relu_gradient(rng):
    layer = built(nn.ReLU(), (4, 4, 3), rng)
    x = rng.normal(size=(2, 4, 4, 3))
    x += np.where(x >= 0, 0.1, -0.1)  # keep finite differences away from the kink
    result = gradcheck_layer(layer, x, rng)
    assert result.passed, str(result)


def test_flatten_gradient(rng):
    layer = built(nn.Flatten(), (3, 2, 4), rng)
    result = gradcheck_layer(layer, rng.normal(size=(2, 3, 2, 4)), rng)
    assert result.passed, str(result)


@pytest.mark.parametrize("init", ["he", "glorot"])
def test_dense_gradients(rng, init):
    layer = built(nn.Dense(4, init=init), (5,), rng)
    layer.params["b"] = rng.normal(size=(1, 4))
    result = gradcheck_layer(layer, rng.normal(size=(3, 5)), rng)
    assert result.passed, str(result)
    assert set(result.errors) == {"x", "W", "b"}


def test_a_wrong_layer_gradient_is_caught(rng):
    layer = built(nn.Dense(3), (4,), rng)
    x = rng.normal(size=(2, 4))
    dout = rng.normal(size=(2, 3))
    layer.forward(x)
    layer.backward(dout)
    saved = dict(layer.params)

    def fun(x, W, b):
        layer.params.update(W=W, b=b)
        try:
            return layer.forward(x)
        finally:
            layer.params.update(saved)

    wrong = {"W": layer.grads["W"] * 1.01, "b": layer.grads["b"]}
    assert not check_gradients(fun, {"x": x, **saved}, wrong, dout).passed


# --------------------------------------------------------------------------- the blocks underneath


def spy(monkeypatch, name, calls, module=cnnstep):
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append((name, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize(
    "layer, shape, expected",
    [
        (nn.Conv2D(2, 3), (4, 4, 1), ["conv_forward", "conv_backward"]),
        (nn.Dense(2), (5,), ["conv_forward", "conv_backward"]),
        # training: the pooling kernels, keeping the maxima's routing; inference: pool_forward
        (nn.MaxPool2D(2), (4, 4, 1), ["max_forward_routed", "max_backward_routed", "pool_forward"]),
        (nn.AvgPool2D(2), (4, 4, 1), ["pool_forward", "pool_backward", "pool_forward"]),
    ],
)
def test_layers_compute_with_the_blocks(monkeypatch, rng, layer, shape, expected):
    calls = []
    for name in ("conv_forward", "conv_backward", "pool_forward", "pool_backward"):
        spy(monkeypatch, name, calls)
    for name in ("max_forward_routed", "max_backward_routed"):
        spy(monkeypatch, name, calls, module=cnnstep.pool)
    built(layer, shape, rng)
    out = layer.forward(rng.normal(size=(2,) + shape))
    layer.backward(rng.normal(size=out.shape))
    if isinstance(layer, nn.layers._Pool2D):
        layer.forward(rng.normal(size=(2,) + shape), training=False)
    assert [name for name, _ in calls] == expected


def test_pool_layers_pass_their_mode_and_tie_rule(monkeypatch, rng):
    calls = []
    spy(monkeypatch, "pool_backward", calls)
    spy(monkeypatch, "max_backward_routed", calls, module=cnnstep.pool)
    for layer in (nn.MaxPool2D(2), nn.MaxPool2D(2, ties="first"), nn.AvgPool2D(2)):
        built(layer, (4, 4, 1), rng)
        out = layer.forward(rng.normal(size=(1, 4, 4, 1)))
        layer.backward(np.ones_like(out))
    assert [kw for _, kw in calls] == [{"ties": "all"}, {"ties": "first"}, {"mode": "average", "ties": "all"}]


def test_max_pool_tie_rules(rng):
    x = np.ones((1, 2, 2, 1))  # one window, four tied maxima
    every, first = built(nn.MaxPool2D(2), (2, 2, 1), rng), built(nn.MaxPool2D(2, ties="first"), (2, 2, 1), rng)
    every.forward(x)
    first.forward(x)
    dout = np.full((1, 1, 1, 1), 3.0)
    np.testing.assert_array_equal(every.backward(dout)[0, :, :, 0], [[3.0, 3.0], [3.0, 3.0]])
    np.testing.assert_array_equal(first.backward(dout)[0, :, :, 0], [[3.0, 0.0], [0.0, 0.0]])


# --------------------------------------------------------------------------- shapes and dtypes


@settings(max_examples=25)
@given(
    n_H=st.integers(1, 9),
    n_W=st.integers(1, 9),
    f=st.integers(1, 4),
    s=st.integers(1, 3),
    pad=st.sampled_from(["same", "valid", 0, 1, (1, 0)]),
    pool=st.booleans(),
)
def test_output_shape_is_what_forward_returns(n_H, n_W, f, s, pad, pool):
    rng = np.random.default_rng(7)
    if pool:
        layer = nn.MaxPool2D(f, stride=s, pad=pad if isinstance(pad, str) else 0)
    else:
        layer = nn.Conv2D(2, f, stride=s, pad=pad)
    try:
        shape = layer.output_shape((n_H, n_W, 3))
    except ValueError as exc:
        assert "window larger than the padded input" in str(exc)
        return
    built(layer, (n_H, n_W, 3), rng, np.float32)
    assert layer.forward(np.zeros((2, n_H, n_W, 3), np.float32)).shape == (2,) + shape


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.Conv2D(3, 2), (4, 4, 2)),
        (nn.MaxPool2D(2), (4, 4, 2)),
        (nn.AvgPool2D(2), (4, 4, 2)),
        (nn.ReLU(), (4, 4, 2)),
        (nn.Flatten(), (4, 4, 2)),
        (nn.Dense(3), (6,)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_dtype_and_never_modify_x_or_dout(rng, layer, shape, dtype):
    layer.build(shape, rng, dtype)
    assert all(p.dtype == dtype for p in layer.params.values())
    x = rng.normal(size=(3,) + shape).astype(dtype)
    x_before = x.copy()
    out = layer.forward(x)
    assert out.dtype == dtype and out.shape == (3,) + layer.output_shape(shape)
    dout = rng.normal(size=out.shape).astype(dtype)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)
    assert set(layer.grads) == set(layer.params)
    assert all(layer.grads[k].shape == layer.params[k].shape for k in layer.params)


@pytest.mark.parametrize("layer, shape", [(nn.Flatten(), (2, 3, 1)), (nn.ReLU(), (2, 3, 1))])
def test_outputs_never_share_memory_with_x_or_dout(rng, layer, shape):
    built(layer, shape, rng)
    x = rng.normal(size=(2,) + shape)
    out = layer.forward(x)
    dout = rng.normal(size=out.shape)
    assert not np.shares_memory(out, x)
    assert not np.shares_memory(layer.backward(dout), dout)


def test_relu_backward_returns_a_new_array(rng):
    layer = built(nn.ReLU(), (3,), rng)
    layer.forward(np.array([[-1.0, 2.0, 3.0]]))
    dout = np.array([[5.0, 6.0, 7.0]])
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx, [[0.0, 6.0, 7.0]])
    np.testing.assert_array_equal(dout, [[5.0, 6.0, 7.0]])
    assert not np.shares_memory(dx, dout)


# --------------------------------------------------------------------------- initialisation


def test_he_initialisation_has_the_promised_spread(rng):
    layer = built(nn.Conv2D(64, 3), (8, 8, 32), rng, np.float32)
    W = layer.params["W"]
    assert W.shape == (3, 3, 32, 64) and layer.params["b"].shape == (1, 1, 1, 64)
    assert abs(W.std() / np.sqrt(2 / (3 * 3 * 32)) - 1) < 0.05
    assert abs(W.mean()) < 0.01
    assert not layer.params["b"].any()


def test_glorot_initialisation_is_uniform_within_its_limit(rng):
    layer = built(nn.Dense(100, init="glorot"), (300,), rng, np.float32)
    W, limit = layer.params["W"], np.sqrt(6 / (300 + 100))
    assert W.shape == (300, 100) and layer.params["b"].shape == (1, 100)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.95 * limit
    assert abs(W.std() / (limit / np.sqrt(3)) - 1) < 0.05


def test_dense_init_defaults_to_he_alone_and_glorot_last_in_a_model(rng):
    alone = built(nn.Dense(3), (4,), rng)
    assert alone.init == "he"
    hidden, last = nn.Dense(5), nn.Dense(3)
    nn.Sequential([nn.Flatten(), hidden, nn.ReLU(), last], (2, 2, 1))
    assert (hidden.init, last.init) == ("he", "glorot")
    explicit = nn.Dense(3, init="he")
    nn.Sequential([nn.Flatten(), explicit], (2, 2, 1))
    assert explicit.init == "he"


def test_the_same_seed_gives_the_same_weights():
    a = built(nn.Conv2D(4, 3), (5, 5, 2), np.random.default_rng(3))
    b = built(nn.Conv2D(4, 3), (5, 5, 2), np.random.default_rng(3))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "layer",
    [
        nn.Conv2D(8, (4, 2), stride=(1, 2), pad=((1, 0), (0, 1)), init="glorot"),
        nn.Conv2D(8, 3, pad="valid"),
        nn.MaxPool2D(3, stride=2, pad="same", ties="first"),
        nn.AvgPool2D(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dense(10, init="glorot"),
        nn.Dense(10),
    ],
    ids=repr,
)
def test_config_rebuilds_the_layer_through_json(layer):
    config = layer.config()
    assert json.loads(json.dumps(config)) == config
    again = nn.layer_from_config(json.loads(json.dumps(config)))
    assert type(again) is type(layer) and again.config() == config and repr(again) == repr(layer)


def test_layer_from_config_refuses_unknown_types_and_arguments():
    with pytest.raises(ValueError, match=r"layer_from_config: unknown layer type 'Dropout', expected one of"):
        nn.layer_from_config({"type": "Dropout", "rate": 0.5})
    with pytest.raises(TypeError, match=r"layer_from_config: a Dense cannot be made from the arguments \['size'\]"):
        nn.layer_from_config({"type": "Dense", "size": 3})
    with pytest.raises(TypeError, match=r"layer_from_config: config must be a dict"):
        nn.layer_from_config("Dense")


# --------------------------------------------------------------------------- errors

BAD_LAYERS = [
    (lambda: nn.Conv2D(0, 3), ValueError, r"Conv2D: filters must be a positive integer, got 0"),
    (lambda: nn.Conv2D(8.0, 3), TypeError, r"Conv2D: filters must be a positive integer, got 8\.0 \(float\)"),
    (lambda: nn.Conv2D(True, 3), TypeError, r"Conv2D: filters must be a positive integer, got True"),
    (lambda: nn.Conv2D(8, 0), ValueError, r"Conv2D: kernel_size must be a positive integer or a pair"),
    (lambda: nn.Conv2D(8, (3, 3, 3)), ValueError, r"Conv2D: kernel_size must be .* with 3 items"),
    (lambda: nn.Conv2D(8, 3, stride=1.5), TypeError, r"Conv2D: stride must be a positive integer or a pair"),
    (lambda: nn.Conv2D(8, 3, pad="full"), ValueError, r"Conv2D: pad must be .*got the unknown form 'full'"),
    (lambda: nn.Conv2D(8, 3, pad=-1), ValueError, r"Conv2D: pad must not be negative, got -1"),
    (lambda: nn.Conv2D(8, 3, init="xavier"), ValueError, r"Conv2D: init must be \"he\" or \"glorot\", got 'xavier'"),
    (lambda: nn.MaxPool2D(0), ValueError, r"MaxPool2D: f must be a positive integer or a pair"),
    (lambda: nn.MaxPool2D("2"), TypeError, r"MaxPool2D: f must be a positive integer or a pair"),
    (lambda: nn.MaxPool2D(2, stride=0), ValueError, r"MaxPool2D: stride must be a positive integer"),
    (lambda: nn.MaxPool2D(2, pad=2), ValueError, r"MaxPool2D: pad must be smaller than the window f=\(2, 2\)"),
    (lambda: nn.MaxPool2D(2, ties="last"), ValueError, r"MaxPool2D: unknown ties rule 'last'"),
    (lambda: nn.AvgPool2D(2, pad="wide"), ValueError, r"AvgPool2D: pad must be .*'wide'"),
    (lambda: nn.Dense(0), ValueError, r"Dense: units must be a positive integer, got 0"),
    (lambda: nn.Dense("10"), TypeError, r"Dense: units must be a positive integer, got '10' \(str\)"),
    (lambda: nn.Dense(10, init="lecun"), ValueError, r"Dense: init must be \"he\" or \"glorot\" \(or None\)"),
]


@pytest.mark.parametrize("make, error, message", BAD_LAYERS)
def test_bad_constructor_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_build_arguments_are_refused(rng):
    with pytest.raises(ValueError, match=r"Conv2D: input_shape must have 3 items \(n_H, n_W, n_C\), got \(4, 4\)"):
        nn.Conv2D(2, 3).build((4, 4), rng, np.float32)
    with pytest.raises(ValueError, match=r"Conv2D: window larger than the padded input"):
        nn.Conv2D(2, 5, pad="valid").build((3, 3, 1), rng, np.float32)
    with pytest.raises(
        ValueError,
        match=r"Dense: the input must be flat, shape \(n,\), got \(2, 2, 3\): "
        r"put a Flatten\(\) before Dense",
    ):
        nn.Dense(2).build((2, 2, 3), rng, np.float32)
    with pytest.raises(ValueError, match=r"ReLU.build: dtype must be float32 or float64, got float16"):
        nn.ReLU().build((3,), rng, np.float16)
    with pytest.raises(TypeError, match=r"ReLU.build: rng must be a numpy.random.Generator or an int seed"):
        nn.ReLU().build((3,), "seed", np.float32)
    with pytest.raises(
        ValueError, match=r"Flatten.build: input_shape must be a tuple of positive integers, got \(0, 3\)"
    ):
        nn.Flatten().build((0, 3), rng, np.float32)


def test_forward_and_backward_out_of_order_or_of_the_wrong_shape(rng):
    with pytest.raises(RuntimeError, match=r"Conv2D.forward: the layer is not built; call build"):
        nn.Conv2D(2, 3).forward(np.zeros((1, 4, 4, 1)))
    layer = built(nn.Conv2D(2, 3), (4, 4, 1), rng)
    with pytest.raises(RuntimeError, match=r"Conv2D.backward: no forward pass to differentiate"):
        layer.backward(np.zeros((1, 4, 4, 2)))
    with pytest.raises(
        ValueError, match=r"Conv2D.forward: x must have shape \(m, 4, 4, 1\) .*got shape \(1, 4, 4, 3\)"
    ):
        layer.forward(np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"Conv2D.forward: x must have shape \(m, 4, 4, 1\) .*got shape \(4, 4, 1\)"):
        layer.forward(np.zeros((4, 4, 1)))
    with pytest.raises(TypeError, match=r"Conv2D.forward: x must hold real numbers"):
        layer.forward(np.zeros((1, 4, 4, 1), dtype=bool))
    layer.forward(np.zeros((1, 4, 4, 1)), training=False)
    with pytest.raises(RuntimeError, match=r"call forward\(x, training=True\) first"):
        layer.backward(np.zeros((1, 4, 4, 2)))
    layer.forward(np.zeros((1, 4, 4, 1)))
    with pytest.raises(
        ValueError, match=r"Conv2D.backward: dout must have shape \(1, 4, 4, 2\) .*got shape \(1, 4, 4, 1\)"
    ):
        layer.backward(np.zeros((1, 4, 4, 1)))
    relu = built(nn.ReLU(), (3,), rng)
    relu.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"ReLU.backward: dout must have shape \(2, 3\)"):
        relu.backward(np.zeros((3, 3)))
