"""cnnstep.nn.to_torch and from_torch: the same predictions in torch, and back again."""

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnstep import nn
from tests.nn.export_cases import (
    CASE_NAMES,
    case_model,
    conv_model,
    dense_only_model,
    flatten_last_model,
    images,
    pool_model,
    probability_tolerance,
)
from tests.strategies import conv_configs, pool_configs

torch = pytest.importorskip("torch")
from cnnstep.nn.export.torch_layers import ChannelsLast  # noqa: E402  (needs torch)


def torch_probabilities(net, X):
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(X)), dim=1).numpy()


def assert_agrees(model, net, X, tolerance=None):
    got = torch_probabilities(net, X)
    assert got.dtype == model.dtype and got.shape == (len(X), model.n_classes)
    error = float(np.max(np.abs(got - model.predict_proba(X))))
    assert error <= (probability_tolerance(model) if tolerance is None else tolerance), error


# --------------------------------------------------------------------------- to_torch


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_layer_kind_and_padding_form_agrees(name, rng):
    model = case_model(name)
    assert_agrees(model, nn.to_torch(model), images(rng, model, 5))


@pytest.mark.parametrize("make", [dense_only_model, flatten_last_model])
def test_models_without_a_convolution_or_without_a_dense_agree(make, rng):
    model = make()
    assert_agrees(model, nn.to_torch(model), images(rng, model, 6))


def test_the_network_is_torchs_own_layers_and_returns_logits(rng):
    model = nn.build("application", (64, 64, 3), 6, seed=0)
    net = nn.to_torch(model)
    kinds = [type(m).__name__ for m in net]
    assert kinds == [
        "ChannelsFirst",
        "ZeroPad2d",  # 'same' for a 4x4 kernel: 1 before, 2 after
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "ZeroPad2d",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "ChannelsLast",
        "Flatten",
        "Linear",
    ]
    assert net[1].padding == (1, 2, 1, 2)
    X = images(rng, model, 3)
    with torch.no_grad():
        logits = net(torch.from_numpy(X)).numpy()
    tolerance = probability_tolerance(model) * max(1.0, float(np.abs(logits).max()))
    np.testing.assert_allclose(logits, model.forward(X, training=False), rtol=0, atol=tolerance)


def test_a_float64_model_gives_a_float64_network(rng):
    model = case_model("average pool asymmetric", dtype=np.float64)
    net = nn.to_torch(model)
    assert {p.dtype for p in net.parameters()} == {torch.float64}
    X = images(rng, model, 4).astype(np.float64)
    assert_agrees(model, net, X, tolerance=probability_tolerance(model, np.float64))


def test_the_network_owns_its_weights(rng):
    model = case_model("conv pad 1")
    net = nn.to_torch(model)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    X = images(rng, model, 2)
    assert np.max(np.abs(torch_probabilities(net, X) - model.predict_proba(X))) > 100 * probability_tolerance(model)


def test_the_network_trains_in_torch_and_comes_back(rng):
    model = nn.build("default", (8, 8, 1), 3, seed=1)
    net = nn.to_torch(model)
    X = torch.from_numpy(images(rng, model, 16))
    y = torch.from_numpy(rng.integers(0, 3, size=16))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    trained = nn.from_torch(net, model.input_shape, model.classes)
    assert_agrees(trained, net, X.numpy())
    assert not np.allclose(trained.predict_proba(X.numpy()), model.predict_proba(X.numpy()))


@given(conv_configs())
def test_any_convolution_agrees_and_comes_back(config):
    A_prev, W, b, hp = config
    model = conv_model(A_prev, W, b, hp)
    X = A_prev.astype(np.float32)
    net = nn.to_torch(model)
    assert_agrees(model, net, X)
    assert np.array_equal(nn.from_torch(net, model.input_shape).predict_proba(X), model.predict_proba(X))


@given(pool_configs(), st.sampled_from(["max", "average"]))
def test_any_pooling_agrees_and_comes_back(config, mode):
    A_prev, hp = config
    model = pool_model(A_prev, hp, mode)
    X = A_prev.astype(np.float32)
    net = nn.to_torch(model)
    assert_agrees(model, net, X)
    assert np.array_equal(nn.from_torch(net, model.input_shape).predict_proba(X), model.predict_proba(X))


def test_a_geometry_torchs_channels_last_convolution_gets_wrong(rng):
    """One channel, 4x3 images, a 3x3 filter, stride (1, 2): wrong in torch 2.13's channels_last float32
    convolution on the CPU, which a permuted view of the NHWC batch would run into."""
    for _ in range(5):
        A_prev = rng.normal(size=(2, 4, 3, 1)).astype(np.float32)
        W, b = rng.normal(size=(3, 3, 1, 1)), rng.normal(size=(1, 1, 1, 1))
        model = conv_model(A_prev, W, b, {"stride": (1, 2), "pad": 0})
        assert_agrees(model, nn.to_torch(model), A_prev)


# --------------------------------------------------------------------------- the round trip


@pytest.mark.parametrize("name", CASE_NAMES)
def test_npz_to_torch_to_npz_predicts_identically(name, tmp_path, rng):
    model = nn.load_model(case_model(name).save(tmp_path / "m.npz"))
    back = nn.from_torch(nn.to_torch(model), model.input_shape, model.classes)
    back = nn.load_model(back.save(tmp_path / "back.npz"))
    X = images(rng, model, 5)
    assert np.array_equal(back.predict_proba(X), model.predict_proba(X))
    assert back.classes == model.classes and back.dtype == model.dtype
    assert [type(a) for a in back.layers] == [type(b) for b in model.layers]
    assert back.output_shapes == model.output_shapes


@pytest.mark.parametrize("make", [dense_only_model, flatten_last_model])
def test_the_round_trip_without_a_convolution_or_a_dense(make, rng):
    model = make()
    back = nn.from_torch(nn.to_torch(model), model.input_shape)
    X = images(rng, model, 4)
    assert np.array_equal(back.predict_proba(X), model.predict_proba(X))


def test_the_round_trip_of_the_ready_made_models(rng):
    for name, shape in (("default", (64, 64, 3)), ("application", (8, 8, 1))):
        model = nn.build(name, shape, 5, seed=7, classes=list("abcde"))
        back = nn.from_torch(nn.to_torch(model), shape, model.classes)
        X = images(rng, model, 3)
        assert np.array_equal(back.predict(X), model.predict(X))
        assert np.array_equal(back.predict_proba(X), model.predict_proba(X))


# --------------------------------------------------------------------------- from_torch of torch's own networks


def nchw_probabilities(net, X):
    """A torch network written for channels-first images, fed cnnstep's images transposed."""
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(X).permute(0, 3, 1, 2)), dim=1).numpy()


def with_linear(torch_layers, input_shape, n_classes, scale=4.0):
    """``torch_layers`` then Flatten and a Linear sized for their output on ``input_shape`` (NHWC)."""
    body = torch.nn.Sequential(*torch_layers)
    with torch.no_grad():
        n = body(torch.zeros(1, input_shape[2], *input_shape[:2])).numel()
        linear = torch.nn.Linear(n, n_classes)
        linear.weight.mul_(scale)  # probabilities far from uniform: a sharper test
    return torch.nn.Sequential(*torch_layers, torch.nn.Flatten(), linear)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note on its speed
def test_a_plain_torch_network_in_its_own_flatten_order(rng):
    torch.manual_seed(0)
    layers = [
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 6, 2, padding="same"),
        torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        torch.nn.ZeroPad2d((0, 1, 2, 0)),
        torch.nn.Conv2d(6, 5, (2, 3), stride=(1, 2), bias=False),
        torch.nn.ConstantPad2d((1, 0, 0, 1), float("-inf")),
        torch.nn.MaxPool2d(3, stride=1, padding=1),
    ]
    net = with_linear(layers, (7, 9, 3), 3)  # its Flatten is in (c, h, w) order: the Linear is reordered
    model = nn.from_torch(net, (7, 9, 3), ["a", "b", "c"])
    assert model.classes == ["a", "b", "c"] and model.layers[4].pad == ((2, 0), (0, 1))
    assert model.layers[5].pad == ((1, 2), (2, 1)) and not model.layers[4].params["b"].any()
    X = images(rng, model, 4)
    error = np.max(np.abs(nchw_probabilities(net, X) - model.predict_proba(X)))
    assert error <= probability_tolerance(model), error


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note on its speed
def test_torch_same_padding_after_a_pad_layer(rng):
    torch.manual_seed(1)
    net = with_linear([torch.nn.ZeroPad2d((1, 0, 0, 2)), torch.nn.Conv2d(2, 3, 4, padding="same")], (5, 5, 2), 2)
    model = nn.from_torch(net, (5, 5, 2))
    assert model.layers[0].pad == ((1, 4), (2, 2))
    X = images(rng, model, 3)
    assert np.max(np.abs(nchw_probabilities(net, X) - model.predict_proba(X))) <= probability_tolerance(model)


def test_nested_sequentials_are_read_in_place(rng):
    torch.manual_seed(2)
    block = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    net = with_linear([block, torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU())], (8, 8, 1), 4)
    model = nn.from_torch(net, (8, 8, 1))
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "Flatten", "Dense"
    ]  # fmt: skip
    X = images(rng, model, 3)
    assert np.max(np.abs(nchw_probabilities(net, X) - model.predict_proba(X))) <= probability_tolerance(model)
    bad = torch.nn.Sequential(block, torch.nn.Sequential(torch.nn.Identity()))
    with pytest.raises(ValueError, match=r"from_torch: module\[1\]\[0\] Identity is a layer cnnstep does not have"):
        nn.from_torch(bad, (8, 8, 1))


def test_a_float64_torch_network_gives_a_float64_model():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)).double()
    assert nn.from_torch(net, (2, 2, 3)).dtype == np.float64


# --------------------------------------------------------------------------- bad input


def test_from_torch_refuses_what_is_not_a_sequential():
    with pytest.raises(TypeError, match=r"from_torch: module must be a torch.nn.Sequential, got Linear\("):
        nn.from_torch(torch.nn.Linear(3, 2), (1, 1, 3))


@pytest.mark.parametrize(
    "layer",
    [torch.nn.Dropout(0.5), torch.nn.BatchNorm2d(3), torch.nn.Sigmoid(), torch.nn.Softmax(dim=1)],
    ids=lambda m: type(m).__name__,
)
def test_a_layer_cnnstep_does_not_have_is_named_with_the_kinds_it_supports(layer):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3), layer, torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 2))
    name = type(layer).__name__
    with pytest.raises(
        ValueError,
        match=rf"from_torch: module\[1\] {name} is a layer cnnstep does not have; the kinds it supports: Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Linear, ZeroPad2d",
    ):
        nn.from_torch(net, (5, 5, 3))


@pytest.mark.parametrize(
    "net, pattern",
    [
        (torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, dilation=2)), r"module\[0\] Conv2d: dilation \(2, 2\)"),
        (torch.nn.Sequential(torch.nn.Conv2d(4, 2, 3, groups=2)), r"module\[0\] Conv2d: groups=2"),
        (torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect")), r"padding_mode='reflect'"),
        (
            torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3)),
            r"module\[0\] Conv2d: takes 2 channels but its input has shape \(5, 5, 3\)",
        ),
        (torch.nn.Sequential(torch.nn.MaxPool2d(2, ceil_mode=True)), r"module\[0\] MaxPool2d: ceil_mode=True"),
        (torch.nn.Sequential(torch.nn.MaxPool2d(3, dilation=2)), r"MaxPool2d: dilation 2"),
        (torch.nn.Sequential(torch.nn.AvgPool2d(3, padding=1)), r"AvgPool2d: count_include_pad=True with padding"),
        (torch.nn.Sequential(torch.nn.AvgPool2d(2, divisor_override=3)), r"AvgPool2d: divisor_override=3"),
        (torch.nn.Sequential(torch.nn.Flatten(0)), r"module\[0\] Flatten: start_dim=0, end_dim=-1"),
        (
            torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(7, 2)),
            r"module\[1\] Linear: takes 7 features but its input has shape \(75,\)",
        ),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 2)),
            r"module\[0\] Linear: takes 3 features but its input has shape \(5, 5, 3\): flatten before it",
        ),
        (
            torch.nn.Sequential(torch.nn.ZeroPad2d(1), torch.nn.MaxPool2d(2)),
            r"module\[0\] ZeroPad2d \(value 0.0\) is a layer cnnstep does not have on its own; it must come right before a Conv2d \(value 0\) or a MaxPool2d \(value -inf\)",
        ),
        (torch.nn.Sequential(torch.nn.ZeroPad2d(-1), torch.nn.Conv2d(3, 2, 2)), r"negative padding \(cropping\)"),
        (
            torch.nn.Sequential(torch.nn.ConstantPad2d(2, float("-inf")), torch.nn.MaxPool2d(2)),
            r"module\[1\] MaxPool2d: MaxPool2D: pad must be smaller than the window f=\(2, 2\)",
        ),
        (
            torch.nn.Sequential(ChannelsLast(), torch.nn.ReLU()),
            r"module\[0\] ChannelsLast: must come right before a Flatten of an image",
        ),
        (
            torch.nn.Sequential(torch.nn.MaxPool2d(2), torch.nn.Conv2d(3, 2, 4)),
            r"module\[1\] Conv2d cannot take its input of shape \(2, 2, 3\): .*window larger than the padded input",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_settings_cnnstep_layers_lack_are_refused_by_name(net, pattern):
    with pytest.raises(ValueError, match=rf"^from_torch: {pattern}" if pattern.startswith("module") else pattern):
        nn.from_torch(net, (5, 5, 3))


def test_an_image_flattened_in_torchs_order_cannot_be_the_output():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 2), torch.nn.Flatten())
    with pytest.raises(
        ValueError, match=r"from_torch: the module ends with an image flattened in torch's \(c, h, w\) order"
    ):
        nn.from_torch(net, (3, 3, 3))


def test_from_torch_checks_input_shape_and_classes():
    with pytest.raises(ValueError, match=r"from_torch: module holds no layers"):
        nn.from_torch(torch.nn.Sequential(), (2, 2, 3))
    half = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2).half())
    with pytest.raises(
        ValueError, match=r"from_torch: module\[1\] Linear: parameters must be float32 or float64, got torch.float16"
    ):
        nn.from_torch(half, (2, 2, 3))
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with pytest.raises(ValueError, match=r"from_torch: input_shape must have 3 items \(n_H, n_W, n_C\), got \(12,\)"):
        nn.from_torch(net, (12,))
    with pytest.raises(ValueError, match=r"Sequential: classes names 3 classes but the last layer outputs 2 scores"):
        nn.from_torch(net, (2, 2, 3), ["a", "b", "c"])


def test_to_torch_refuses_what_is_not_a_cnnstep_model():
    with pytest.raises(TypeError, match=r"to_torch: model must be a cnnstep.nn.Sequential .*got 'model.npz' \(str\)"):
        nn.to_torch("model.npz")


def test_a_missing_torch_is_one_line_naming_the_install(monkeypatch):
    model = case_model("max pool")
    monkeypatch.setitem(sys.modules, "torch", None)
    for call in (lambda: nn.to_torch(model), lambda: nn.from_torch(object(), (1, 1, 1))):
        with pytest.raises(
            ImportError,
            match=r'^(to|from)_torch: needs the torch package, which is not installed: pip install "cnnstep\[torch\]"$',
        ):
            call()
