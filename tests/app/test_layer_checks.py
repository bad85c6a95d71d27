"""cnnstep.app.layer_checks: every layer's backward against finite differences, and a wrong one caught."""

from cnnstep import nn
from cnnstep.app import layer_checks

# --------------------------------------------------------------------------- gradient checks of the layers


def test_check_layers_passes_for_every_layer():
    results = layer_checks.check_layers(seed=0)
    names = [name for name, _ in results]
    for kind in ("Conv2D", "MaxPool2D", "AvgPool2D", "ReLU", "Flatten", "Dense", "softmax cross-entropy", "Sequential"):
        assert any(name.startswith(kind) for name in names), kind
    assert all(result.passed for _, result in results), [(n, str(r)) for n, r in results if not r.passed]


def test_check_layers_catches_a_wrong_backward(monkeypatch):
    right = nn.Dense.backward

    def off_by_a_bit(self, dout, input_gradient=True):
        dx = right(self, dout, input_gradient)
        self.grads["W"] = self.grads["W"] * 1.01
        return dx

    monkeypatch.setattr(nn.Dense, "backward", off_by_a_bit)
    failed = {name for name, result in layer_checks.check_layers(seed=1) if not result.passed}
    assert failed == {"Dense", "Sequential + loss"}
