"""A short training run on real photos: the sign-digits data set beside the repository.

Skipped only where the data set is absent (a user's machine); CI has it, so this runs there.
"""

import json

import pytest

from cnnstep import nn
from cnnstep.app import cli
from tests.helpers import SIGN_DIGITS


@pytest.fixture
def sign_digits():
    if not SIGN_DIGITS.is_dir():
        pytest.skip(f"the sign-digits data set is not at {SIGN_DIGITS}")
    return SIGN_DIGITS


def test_a_short_training_on_the_sign_digit_photos_learns(sign_digits, tmp_path, capsys):
    out = tmp_path / "signs"
    code = cli.main(["train", "--data", str(sign_digits), "--image-size", "24", "--epochs", "4", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["examples"] == 2062 and len(metrics["data"]["classes"]) == 10
    assert metrics["data"]["test_examples"] == 411  # a stratified 20%
    assert metrics["test_accuracy"] > 0.5  # ten classes: chance is 0.1
    model = nn.load_model(out / "model.npz")
    assert model.input_shape == (24, 24, 3) and model.classes == [str(k) for k in range(10)]
    photo = sorted((sign_digits / "7").iterdir())[0]
    assert cli.main(["predict", str(out / "model.npz"), str(photo)]) == 0
    assert str(photo) in capsys.readouterr().out
