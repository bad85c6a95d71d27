"""cnnstep.app.settings: one checked object holds a training run's settings and the command line's defaults."""

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from cnnstep.app import train
from cnnstep.app.data import is_image_folder
from cnnstep.app.settings import FOLDER_IMAGE_SIZE, RULES, TrainingSettings
from tests.app.test_train import image_folder

# --------------------------------------------------------------------------- defaults and settings


def test_the_defaults_live_in_one_checked_object():
    defaults = TrainingSettings()
    assert set(TrainingSettings.names()) == set(RULES)
    assert (defaults.data, defaults.model, defaults.image_size, defaults.epochs, defaults.batch_size) == (
        "digits",
        "default",
        None,
        30,
        32,
    )
    assert defaults.out == Path("cnnstep-run") and FOLDER_IMAGE_SIZE == 64
    trainer = train.Trainer(log=lambda line: None)
    assert trainer.settings == defaults
    assert trainer.settings.as_dict()["out"] == "cnnstep-run"
    with pytest.raises(FrozenInstanceError):
        defaults.epochs = 3  # type: ignore[misc]


def test_the_command_line_gets_its_defaults_from_the_settings():
    from cnnstep.app import cli

    args = cli.build_parser().parse_args(["train"])
    assert TrainingSettings(**{name: getattr(args, name) for name in TrainingSettings.names()}) == TrainingSettings()


def test_the_effective_image_size():
    assert TrainingSettings().effective_image_size(is_image_folder=True) == FOLDER_IMAGE_SIZE
    assert TrainingSettings().effective_image_size(is_image_folder=False) is None
    assert TrainingSettings(image_size=12).effective_image_size(is_image_folder=True) == 12


def test_settings_name_the_flag_when_made_for_the_command_line():
    with pytest.raises(ValueError, match=r"^--batch-size must be an integer >= 1, got 0$"):
        TrainingSettings(batch_size=0, where="--")
    with pytest.raises(ValueError, match=r"^TrainingSettings: seed must be an integer >= 0, got -1$"):
        TrainingSettings(seed=-1)


def test_trainer_takes_settings_or_keywords_not_both():
    with pytest.raises(TypeError, match="give either a TrainingSettings or the settings as keywords"):
        train.Trainer(TrainingSettings(), epochs=3)


@pytest.mark.parametrize(
    "settings, error, pattern",
    [
        ({"epochs": 0}, ValueError, r"Trainer: epochs must be an integer >= 1, got 0"),
        ({"epochs": 2.5}, TypeError, r"Trainer: epochs must be an integer >= 1, got 2.5 \(float\)"),
        ({"batch_size": -1}, ValueError, r"Trainer: batch_size must be an integer >= 1"),
        ({"lr": 0.0}, ValueError, r"Trainer: lr must be a positive number, got 0.0"),
        ({"lr": float("nan")}, ValueError, r"Trainer: lr must be a positive number, got nan"),
        ({"test_fraction": 1.0}, ValueError, r"Trainer: test_fraction must be a number strictly between 0 and 1"),
        ({"seed": -3}, ValueError, r"Trainer: seed must be an integer >= 0"),
        ({"model": "resnet"}, ValueError, r"Trainer: model must be one of \['application', 'default'\]"),
        ({"image_size": 0}, ValueError, r"Trainer: image_size must be an integer >= 1"),
        ({"data": 3}, TypeError, r"Trainer: data must be 'digits' or a path"),
        ({"out": ""}, TypeError, r"Trainer: out must be a path naming a folder"),
        ({"log": "print"}, TypeError, r"Trainer: log must be callable"),
    ],
)
def test_settings_are_checked_at_once(settings, error, pattern):
    with pytest.raises(error, match=pattern):
        train.Trainer(**settings)


def test_is_image_folder(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=2)
    pair = tmp_path / "pair"
    pair.mkdir()
    (pair / "train_x.h5").write_bytes(b"")
    (pair / "test_x.h5").write_bytes(b"")
    assert is_image_folder(folder) and is_image_folder(str(folder))
    assert not is_image_folder("digits")
    assert not is_image_folder(pair)
    assert not is_image_folder(tmp_path / "missing")
    assert not is_image_folder(pair / "train_x.h5")
