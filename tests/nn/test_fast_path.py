"""The network's fast path against the plain composition of the blocks.

A Sequential runs some neighbouring layers as one step (ReLU after the max-pooling that
follows it, ReLU in place on a convolution's output) and its max-pooling layers keep the
routing of their forward. Each is compared with the eight functions composed one layer at
a time -- ``conv_forward``, ``np.maximum(x, 0)``, ``pool_forward``, ``pool_backward``,
``dout * (x > 0)`` -- in float32 and float64, on inputs with ties after ReLU, NaN,
infinities and windows that do not tile; layer gradients against finite differences.

The fast path does the same arithmetic in a different order of *layers*, not of sums, so
the results are the same numbers: the comparisons are exact (``assert_array_equal`` treats
NaN in the same place as equal). Where a whole training run is compared, the bound is
``rounding_bound`` below.
"""

import numpy as np
import pytest

import cnnstep
from cnnstep import nn
from cnnstep.gradcheck import check_gradients
from cnnstep.nn.layers import Step

DTYPES = (np.float32, np.float64)


def rounding_bound(dtype, n_terms: int, k: float = 8.0) -> float:
    """A relative bound for results that went through reductions of ``n_terms`` terms."""
    return k * n_terms * float(np.finfo(dtype).eps)


def after_relu(rng, shape, dtype, nan=False, inf=False):
    """Mostly negative values (so ReLU leaves whole windows of tied zeros), a few repeats of the
    largest values (ties among positive maxima), optionally NaN and +-inf cells."""
    x = rng.normal(-0.5, 1.0, size=shape)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=max(1, flat.size // 10), replace=False)
    flat[picks] = np.round(flat[picks])  # repeated small integers: ties, positive ones too
    if nan:
        flat[rng.choice(flat.size, size=max(1, flat.size // 50), replace=False)] = np.nan
    if inf:
        flat[rng.choice(flat.size, size=2, replace=False)] = [np.inf, -np.inf]
    return x.astype(dtype)


def built(layer, shape, rng, dtype):
    layer.build(shape, rng, dtype)
    return layer


def composed_relu_pool(x, dout, hparameters, ties):
    """ReLU then max-pooling, as the blocks compose them."""
    r = np.maximum(x, 0)
    A, cache = cnnstep.pool_forward(r, hparameters, mode="max")
    dr = cnnstep.pool_backward(dout, cache, mode="max", ties=ties)
    return A, dr * (x > 0)


POOLS = [
    dict(f=2),  # side by side
    dict(f=3, stride=2),  # overlapping, the last row and column left out on odd sizes
    dict(f=2, stride=3),  # gaps between windows
    dict(f=3, stride=1, pad=1),  # padded with -inf
    dict(f=(2, 3), stride=(2, 1), pad="same"),
]
SHAPES = [(7, 9, 3), (8, 8, 2), (5, 6, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("ties", ["all", "first"])
def test_relu_moved_past_max_pooling_gives_the_same_values_and_gradients(rng, dtype, pool, shape, ties):
    relu, maxpool = built(nn.ReLU(), shape, rng, dtype), built(nn.MaxPool2D(ties=ties, **pool), shape, rng, dtype)
    step = relu.fuse(maxpool)
    assert isinstance(step, Step) and step.layers == (relu, maxpool)
    for nan, inf in ((False, False), (True, False), (False, True)):
        x = after_relu(rng, (3,) + shape, dtype, nan=nan, inf=inf)
        x_before = x.copy()
        A = step.forward(x, training=True)
        dout = rng.normal(size=A.shape).astype(dtype)
        dx = step.backward(dout)
        A_ref, dx_ref = composed_relu_pool(x, dout, maxpool.hparameters, ties)
        np.testing.assert_array_equal(A, A_ref)
        np.testing.assert_array_equal(dx, dx_ref)
        assert A.dtype == dx.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(x, x_before)  # the input is left as it was


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_nan_or_infinite_gradient_spreads_over_its_window_as_in_the_composition(rng, dtype):
    shape = (6, 6, 2)
    relu, maxpool = built(nn.ReLU(), shape, rng, dtype), built(nn.MaxPool2D(2), shape, rng, dtype)
    step = relu.fuse(maxpool)
    x = after_relu(rng, (2,) + shape, dtype)
    A = step.forward(x)
    dout = rng.normal(size=A.shape).astype(dtype)
    dout.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
    with np.errstate(invalid="ignore"):  # 0 * inf, on both sides
        dx, (_, dx_ref) = step.backward(dout), composed_relu_pool(x, dout, maxpool.hparameters, "all")
    assert np.isnan(dx).any()
    np.testing.assert_array_equal(dx, dx_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS, ids=str)
@pytest.mark.parametrize("ties", ["all", "first"])
def test_the_max_pool_layer_routes_as_pool_backward(rng, dtype, pool, ties):
    shape = (7, 9, 3)
    layer = built(nn.MaxPool2D(ties=ties, **pool), shape, rng, dtype)
    for nan in (False, True):
        x = after_relu(rng, (4,) + shape, dtype, nan=nan)
        A = layer.forward(x, training=True)
        dout = rng.normal(size=A.shape).astype(dtype)
        A_ref, cache = cnnstep.pool_forward(x, layer.hparameters, mode="max")
        np.testing.assert_array_equal(A, A_ref)
        np.testing.assert_array_equal(layer.backward(dout), cnnstep.pool_backward(dout, cache, "max", ties))
        np.testing.assert_array_equal(layer.forward(x, training=False), A_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(filters=4, kernel_size=3), dict(filters=3, kernel_size=4, stride=2)], ids=str)
def test_relu_in_place_on_a_convolution_output(rng, dtype, kwargs):
    shape = (9, 8, 3)
    conv = built(nn.Conv2D(**kwargs), shape, rng, dtype)
    relu = built(nn.ReLU(), conv.output_shape(shape), rng, dtype)
    step = conv.fuse(relu)
    assert isinstance(step, Step) and step.layers == (conv, relu)
    x = after_relu(rng, (2,) + shape, dtype, nan=True)
    x_before = x.copy()
    out = step.forward(x)
    dout = rng.normal(size=out.shape).astype(dtype)
    dx = step.backward(dout)
    dW, db = conv.grads["W"].copy(), conv.grads["b"].copy()
    Z, cache = cnnstep.conv_forward(x, conv.params["W"], conv.params["b"], conv.hparameters)
    dx_ref, dW_ref, db_ref = cnnstep.conv_backward(dout * (Z > 0), cache)
    np.testing.assert_array_equal(out, np.maximum(Z, 0))
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_array_equal(dW, dW_ref)
    np.testing.assert_array_equal(db, db_ref)
    np.testing.assert_array_equal(x, x_before)


def test_steps_refuse_a_backward_before_a_forward(rng):
    shape = (4, 4, 1)
    step = built(nn.ReLU(), shape, rng, np.float64).fuse(built(nn.MaxPool2D(2), shape, rng, np.float64))
    with pytest.raises(RuntimeError, match="ReLU.backward: no forward pass"):
        step.backward(np.ones((1, 2, 2, 1)))
    step.forward(np.ones((1, 4, 4, 1)), training=False)
    with pytest.raises(RuntimeError, match="ReLU.backward: no forward pass"):
        step.backward(np.ones((1, 2, 2, 1)))
    conv = built(nn.Conv2D(2, 3), shape, rng, np.float64)
    in_place = conv.fuse(built(nn.ReLU(), (4, 4, 2), rng, np.float64))
    in_place.forward(np.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"ReLU.backward: dout"):
        in_place.backward(np.ones((1, 4, 4, 3)))


def test_only_layers_that_declare_it_are_fused(rng):
    shape = (4, 4, 2)
    relu = built(nn.ReLU(), shape, rng, np.float64)
    assert relu.fuse(built(nn.AvgPool2D(2), shape, rng, np.float64)) is None  # averages do not commute
    assert relu.fuse(built(nn.Flatten(), shape, rng, np.float64)) is None
    assert built(nn.MaxPool2D(2), shape, rng, np.float64).fuse(relu) is None
    assert built(nn.Conv2D(2, 3), shape, rng, np.float64).fuse(built(nn.MaxPool2D(2), shape, rng, np.float64)) is None


class Halve(nn.Layer):
    """A layer of a user's own that commutes with ReLU (a positive scaling)."""

    commutes_with_relu = True

    def forward(self, x, training=True):
        x = self._input(x)
        self._keep(True, training, x.shape)
        return x * 0.5

    def backward(self, dout, input_gradient=True):
        _, dout = self._cached(dout)
        return dout * 0.5 if input_gradient else None


def test_the_plan_comes_from_the_layers_capabilities():
    model = nn.Sequential(
        [nn.Conv2D(2, 3), nn.ReLU(), Halve(), nn.Conv2D(2, 3), nn.ReLU(), nn.Flatten(), nn.Dense(3)], (6, 6, 1)
    )
    kinds = [
        (indices, [type(layer).__name__ for layer in getattr(step, "layers", [step])]) for indices, step in model.plan
    ]
    assert kinds == [
        ((0,), ["Conv2D"]),
        ((1, 2), ["ReLU", "Halve"]),
        ((3, 4), ["Conv2D", "ReLU"]),  # no layer after it commutes: ReLU in place on the output
        ((5,), ["Flatten"]),
        ((6,), ["Dense"]),
    ]
    default = nn.default((64, 64, 3), 6)
    assert [indices for indices, _ in default.plan] == [(0,), (1, 2), (3,), (4, 5), (6,), (7, 8), (9,), (10,)]


def unfused_run(model, X, dlogits):
    """The model's layers one by one, each through its own forward and backward."""
    x = X.astype(model.dtype)
    for layer in model.layers:
        x = layer.forward(x, training=True)
    logits = x
    grad = dlogits
    for i in range(len(model.layers) - 1, 0, -1):
        grad = model.layers[i].backward(grad, input_gradient=True)
    model.layers[0].backward(grad, input_gradient=False)
    return logits, {key: g.copy() for key, _, g in model.params_and_grads()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["default", "application"])
def test_a_model_step_equals_its_layers_one_by_one(rng, dtype, name):
    model = nn.build(name, (20, 20, 3), 4, seed=1, dtype=dtype)
    X = rng.normal(size=(5, 20, 20, 3))
    logits = model.forward(X)
    dlogits = rng.normal(size=logits.shape).astype(dtype)
    model.backward(dlogits, input_gradient=False)
    fast = {key: g.copy() for key, _, g in model.params_and_grads()}
    logits_ref, plain = unfused_run(model, X, dlogits)
    np.testing.assert_array_equal(logits, logits_ref)
    for key in plain:
        np.testing.assert_array_equal(fast[key], plain[key], err_msg=key)
    np.testing.assert_array_equal(model.forward(X, training=False), logits_ref)


def test_fused_steps_pass_finite_differences(rng):
    shape = (6, 7, 2)
    conv = built(nn.Conv2D(3, 3), shape, rng, np.float64)
    relu = built(nn.ReLU(), conv.output_shape(shape), rng, np.float64)
    maxpool = built(nn.MaxPool2D(2), conv.output_shape(shape), rng, np.float64)
    # values away from 0 and from each other: ReLU and the maxima are differentiable there
    x = rng.permutation(np.arange(2 * 6 * 7 * 2, dtype=np.float64)).reshape(2, 6, 7, 2) * 0.05 - 4.0
    for step, first in ((relu.fuse(maxpool), None), (conv.fuse(relu), conv)):
        inputs = x if first is not None else conv.forward(x, training=False)
        out = step.forward(inputs)
        dout = rng.normal(size=out.shape)
        dx = step.backward(dout)
        grads = {"x": dx, **({k: v.copy() for k, v in first.grads.items()} if first else {})}
        saved = dict(first.params) if first else {}

        def fun(x, _step=step, _first=first, _saved=saved, **params):
            if _first is not None:
                _first.params.update(params)
            try:
                return _step.forward(x, training=False)
            finally:
                if _first is not None:
                    _first.params.update(_saved)

        result = check_gradients(fun, {"x": inputs, **saved}, grads, dout)
        assert result.passed, result


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_training_is_unchanged(rng, dtype):
    X = rng.normal(size=(24, 12, 12, 3))
    y = rng.integers(0, 3, size=24)
    fast = nn.default((12, 12, 3), 3, seed=2, dtype=dtype)
    plain = nn.default((12, 12, 3), 3, seed=2, dtype=dtype)
    plain.plan = [((i,), layer) for i, layer in enumerate(plain.layers)]  # the layers one by one
    h_fast = fast.fit(X, y, epochs=2, batch_size=8, seed=3)
    h_plain = plain.fit(X, y, epochs=2, batch_size=8, seed=3)
    bound = rounding_bound(dtype, X[0].size)
    np.testing.assert_allclose(h_fast["loss"], h_plain["loss"], rtol=bound)
    for (key, p_fast, _), (_, p_plain, _) in zip(fast.params_and_grads(), plain.params_and_grads(), strict=True):
        np.testing.assert_allclose(p_fast, p_plain, rtol=bound, atol=bound, err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_C", [3, 16, 33])
def test_side_by_side_windows_route_as_the_loops(rng, dtype, n_C):
    from cnnstep import reference

    shape = (7, 5, n_C)  # odd sizes: the last row and column are in no window
    layer = built(nn.MaxPool2D(2), shape, rng, dtype)
    for nan in (False, True):
        x = after_relu(rng, (2,) + shape, dtype, nan=nan)
        A = layer.forward(x)
        dout = rng.normal(size=A.shape).astype(dtype)
        A_loops, cache = reference.pool_forward(x, layer.hparameters, mode="max")
        dx_loops = reference.pool_backward(dout, cache, mode="max")
        np.testing.assert_array_equal(A, A_loops)
        np.testing.assert_array_equal(layer.backward(dout), dx_loops)
        np.testing.assert_array_equal(cnnstep.pool_backward(dout, cache, mode="max"), dx_loops)
