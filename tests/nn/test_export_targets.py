"""The export's promise: onnxruntime and torch agree with predict_proba within 1e-5 (float32).

On the two ready-made models, for digits (8x8x1, trained a little on scikit-learn's digits)
and for 64x64x3 images, the last layer's weights scaled so that the predictions are far from a
uniform guess, in batches of 1 and 37.
"""

import numpy as np
import pytest

from cnnstep import nn
from tests.nn.export_cases import TARGET, probability_tolerance

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

BATCHES = (1, 37)


@pytest.fixture(scope="module")
def digits():
    from cnnstep.app.data import load_digits

    pytest.importorskip("sklearn")
    data = load_digits()
    return data.X[:400].astype(np.float32), data.y[:400]


def sharpen(model, X, spread=3.0):
    """Scale the last layer so that the logits on ``X`` spread by about ``spread`` around their mean."""
    logits = model.forward(X, training=False)
    scale = spread / float(np.std(logits - logits.mean(axis=1, keepdims=True)))
    model.layers[-1].params["W"] *= np.float32(scale)
    model.layers[-1].params["b"] *= np.float32(scale)
    return model


def target_model(name, shape, digits):
    if shape == (8, 8, 1):
        X, y = digits
        model = nn.build(name, shape, 10, seed=0)
        model.fit(X, y, epochs=2, batch_size=32, optimizer=nn.Adam(lr=1e-2), seed=0)
        return sharpen(model, X), X
    X = np.random.default_rng(64).random((max(BATCHES), *shape), dtype=np.float32)
    return sharpen(nn.build(name, shape, 6, seed=0), X), X


@pytest.mark.parametrize("shape", [(8, 8, 1), (64, 64, 3)], ids=["digits 8x8x1", "images 64x64x3"])
@pytest.mark.parametrize("name", ["default", "application"])
def test_onnxruntime_and_torch_agree_within_the_target(name, shape, digits, tmp_path):
    model, X = target_model(name, shape, digits)
    tolerance = probability_tolerance(model)
    assert tolerance <= TARGET
    onnx_model = nn.OnnxModel(nn.to_onnx(model, tmp_path / "m.onnx"))
    net = nn.to_torch(model)
    for m in BATCHES:
        batch = X[:m]
        expected = model.predict_proba(batch)
        with torch.no_grad():
            from_torch = torch.softmax(net(torch.from_numpy(batch)), dim=1).numpy()
        for engine, got in (("onnxruntime", onnx_model.predict_proba(batch)), ("torch", from_torch)):
            assert got.shape == expected.shape and got.dtype == np.float32
            error = float(np.max(np.abs(got - expected)))
            assert error <= tolerance, (engine, m, error)
        assert np.array_equal(onnx_model.predict(batch), expected.argmax(axis=1))
    assert model.predict_proba(X).max(axis=1).mean() > 0.5  # a sharp test: far from uniform
