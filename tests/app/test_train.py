"""cnnstep.app.train: training runs, evaluation and prediction by class name, the layers' gradient checks."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from cnnstep import nn
from cnnstep.app import train
from cnnstep.app.data import load_image_folder, train_test_split

COLOURS = {"blue": (20, 40, 230), "green": (30, 200, 40), "red": (230, 30, 20)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_folder(root: Path, rng, classes=("blue", "green", "red"), per_class=12, size=8) -> Path:
    """A learnable image folder: each class a noisy solid colour, ``size`` x ``size`` PNG files."""
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.integers(-25, 26, size=(size, size, 3))
            pixels = np.clip(np.array(COLOURS[name]) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    return root


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 2000


def quiet_trainer(data, out, **settings):
    lines = []
    settings = {"epochs": 2, "batch_size": 8, "progress": False, **settings}
    return train.Trainer(data=data, out=out, log=lines.append, **settings), lines


# --------------------------------------------------------------------------- defaults and settings


def test_defaults_live_in_one_dict():
    assert set(train.DEFAULTS) >= {
        "data",
        "model",
        "image_size",
        "folder_image_size",
        "epochs",
        "batch_size",
        "lr",
        "seed",
        "test_fraction",
        "out",
    }
    trainer = train.Trainer(log=lambda line: None)
    assert trainer.settings() == {key: train.DEFAULTS[key] for key in trainer.settings()}


@pytest.mark.parametrize(
    "settings, error, pattern",
    [
        ({"epochs": 0}, ValueError, r"Trainer: epochs must be a positive integer, got 0"),
        ({"epochs": 2.5}, TypeError, r"Trainer: epochs must be a positive integer, got 2.5 \(float\)"),
        ({"batch_size": -1}, ValueError, r"Trainer: batch_size must be a positive integer"),
        ({"lr": 0.0}, ValueError, r"Trainer: lr must be a positive, finite number, got 0.0"),
        ({"lr": float("nan")}, ValueError, r"Trainer: lr must be a positive, finite number"),
        ({"test_fraction": 1.0}, ValueError, r"Trainer: test_fraction must be a number strictly between 0 and 1"),
        ({"seed": -3}, ValueError, r"Trainer: seed must be a non-negative integer"),
        ({"model": "resnet"}, ValueError, r"Trainer: model must be one of \['application', 'default'\]"),
        ({"image_size": 0}, ValueError, r"Trainer: image_size must be a positive integer"),
        ({"data": 3}, TypeError, r"Trainer: data must be 'digits' or a path"),
        ({"out": ""}, TypeError, r"Trainer: out must be a path"),
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
    assert train.is_image_folder(folder) and train.is_image_folder(str(folder))
    assert not train.is_image_folder("digits")
    assert not train.is_image_folder(pair)
    assert not train.is_image_folder(tmp_path / "missing")
    assert not train.is_image_folder(pair / "train_x.h5")


# --------------------------------------------------------------------------- a run


def test_a_run_writes_its_folder_and_returns_the_metrics(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng)
    out = tmp_path / "run"
    trainer, lines = quiet_trainer(folder, out, image_size=8, epochs=3, lr=0.01)
    metrics = trainer.run()

    assert sorted(p.name for p in out.iterdir()) == sorted(train.FILES.values())
    assert metrics == json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 3
    assert all(len(values) == 3 for values in metrics["history"].values())
    assert metrics["test_accuracy"] == metrics["history"]["test_accuracy"][-1]
    assert metrics["data"]["image_shape"] == [8, 8, 3] and metrics["data"]["classes"] == ["blue", "green", "red"]
    assert metrics["data"]["train_examples"] + metrics["data"]["test_examples"] == 36
    assert metrics["model"]["params"] == trainer.model.count_params()
    assert np.array(metrics["test_confusion"]).sum() == metrics["data"]["test_examples"]
    assert lines[0].startswith(f"data {folder}: 36 examples of 8x8x3, 3 classes; train 30, test 6")
    assert lines[1].startswith("Sequential: input (8, 8, 3)")
    assert [line.split("  ")[0] for line in lines[2:]] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(is_png(out / name) for name in ("curves.png", "confusion.png"))

    saved = nn.load_model(out / "model.npz")
    _, test = train_test_split(load_image_folder(folder, 8), 0.2, seed=0)
    assert saved.evaluate(test.X, test.y)["accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_an_image_folder_is_resized_to_64_by_default(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=3)
    trainer, _ = quiet_trainer(folder, tmp_path / "run", epochs=1)
    metrics = trainer.run()
    assert metrics["data"]["image_shape"] == [64, 64, 3] and metrics["data"]["image_size"] == 64


def test_an_h5_pair_keeps_its_own_test_set(tmp_path, rng):
    root = tmp_path / "signs"
    root.mkdir()
    for part, m in (("train", 12), ("test", 6)):
        with h5py.File(root / f"{part}_signs.h5", "w") as f:
            f.create_dataset(f"{part}_set_x", data=rng.integers(0, 256, size=(m, 6, 6, 3), dtype=np.uint8))
            f.create_dataset(f"{part}_set_y", data=np.arange(m) % 3)
            f.create_dataset("list_classes", data=np.arange(3))
    trainer, lines = quiet_trainer(root, tmp_path / "run", model="application", epochs=1)
    metrics = trainer.run()
    assert metrics["data"]["test_set"] == "the source's own test set"
    assert (metrics["data"]["train_examples"], metrics["data"]["test_examples"]) == (12, 6)
    result = train.evaluate(nn.load_model(tmp_path / "run" / "model.npz"), root)
    assert result["split"] == "test" and result["examples"] == 6


def test_an_earlier_runs_files_are_replaced(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=4)
    out = tmp_path / "run"
    out.mkdir()
    (out / "curves.png").write_bytes(b"old")
    (out / "keep.txt").write_text("mine")
    trainer, _ = quiet_trainer(folder, out, image_size=8, epochs=1)
    trainer.run()
    assert is_png(out / "curves.png") and (out / "keep.txt").read_text() == "mine"


def test_an_out_that_is_a_file_is_refused(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=4)
    (tmp_path / "run").write_text("")
    trainer, _ = quiet_trainer(folder, tmp_path / "run", image_size=8)
    with pytest.raises(ValueError, match=r"Trainer: out '.*run' is a file"):
        trainer.run()


def test_divergence_keeps_the_completed_epochs(tmp_path, rng, monkeypatch):
    from cnnstep.nn import model as model_module

    calls = {"n": 0}
    right = model_module.softmax_cross_entropy

    def nan_in_epoch_2(logits, y):
        calls["n"] += 1
        loss, grad = right(logits, y)
        return (float("nan") if calls["n"] > 4 else loss), grad  # 30 examples / batch 8 = 4 batches

    monkeypatch.setattr(model_module, "softmax_cross_entropy", nan_in_epoch_2)
    folder = image_folder(tmp_path / "colours", rng)
    out = tmp_path / "run"
    trainer, lines = quiet_trainer(folder, out, image_size=8, epochs=3)
    with pytest.raises(nn.TrainingDiverged) as excinfo:
        trainer.run()
    assert (excinfo.value.epoch, excinfo.value.batch) == (2, 1)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["epochs_completed"] == 1
    assert metrics["stopped"]["epoch"] == 2 and len(metrics["history"]["train_loss"]) == 1
    assert nn.load_model(out / "model.npz").input_shape == (8, 8, 3)
    assert is_png(out / "curves.png") and not (out / "confusion.png").exists()


def test_an_interrupt_keeps_the_last_completed_epoch(tmp_path, rng, monkeypatch):
    right = nn.Sequential._train_step
    calls = {"n": 0}
    snapshot = {}

    def interrupt_in_epoch_2(self, *args):
        calls["n"] += 1
        if calls["n"] == 5:  # the first batch of epoch 2
            snapshot.update({key: param.copy() for key, param, _ in self.params_and_grads()})
            raise KeyboardInterrupt
        return right(self, *args)

    monkeypatch.setattr(nn.Sequential, "_train_step", interrupt_in_epoch_2)
    folder = image_folder(tmp_path / "colours", rng)
    out = tmp_path / "run"
    trainer, _ = quiet_trainer(folder, out, image_size=8, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert trainer.epochs_completed == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs_completed"] == 1
    saved = nn.load_model(out / "model.npz")
    for key, param, _ in saved.params_and_grads():
        np.testing.assert_array_equal(param, snapshot[key])


# --------------------------------------------------------------------------- a trained model


@pytest.fixture
def colour_model():
    """An untrained model of the colour classes: evaluation only needs its names and shape."""
    return nn.build("application", (8, 8, 3), 3, seed=0, classes=["blue", "green", "red"])


def test_evaluate_matches_labels_by_class_name(tmp_path, rng, colour_model):
    folder = image_folder(tmp_path / "two", rng, classes=("red", "blue"), per_class=3)
    result = train.evaluate(colour_model, folder)
    predicted = colour_model.predict(load_image_folder(folder, 8).X)
    truth = np.repeat([0, 2], 3)  # the folder's classes blue, red are the model's 0 and 2
    assert result["examples"] == 6 and result["split"] == "all"
    assert result["accuracy"] == pytest.approx(np.mean(predicted == truth))
    rows = {row["class"]: row for row in result["per_class"]}
    assert rows["green"] == {"class": "green", "examples": 0, "correct": 0, "accuracy": None}
    assert rows["red"]["examples"] == 3 and np.array(result["confusion"]).sum() == 6


def test_evaluate_refuses_classes_the_model_does_not_know(tmp_path, rng, colour_model):
    folder = image_folder(tmp_path / "other", rng, classes=("red", "blue"), per_class=2)
    (folder / "blue").rename(folder / "purple")
    with pytest.raises(
        ValueError,
        match=r"evaluate: the data's classes \['purple'\] are not among the model's "
        r"classes \['blue', 'green', 'red'\]",
    ):
        train.evaluate(colour_model, folder)


def test_evaluate_refuses_images_of_another_shape(colour_model):
    with pytest.raises(
        ValueError,
        match=r"evaluate: the model takes images of shape \(8, 8, 3\) .* "
        r"holds images of shape \(8, 8, 1\)",
    ):
        train.evaluate(colour_model, "digits")


def test_evaluate_reads_a_folder_at_the_models_size_and_channels(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=2, size=12)
    gray = nn.build("application", (5, 7, 1), 3, seed=0, classes=["blue", "green", "red"])
    assert train.evaluate(gray, folder)["examples"] == 6


def test_predict_files(tmp_path, rng, colour_model):
    folder = image_folder(tmp_path / "colours", rng, per_class=1, size=16)
    paths = [folder / "red" / "00.png", str(folder / "blue" / "00.png")]
    results = train.predict_files(colour_model, paths)
    assert [r["path"] for r in results] == [str(p) for p in paths]
    for r in results:
        assert r["class"] in colour_model.classes
        assert r["probability"] == max(r["probabilities"].values())
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-5)


def test_predict_files_resizes_to_a_non_square_input(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=1, size=9)
    model = nn.build("default", (6, 10, 3), 3, seed=0)
    (result,) = train.predict_files(model, [folder / "red" / "00.png"])
    expected = model.predict_proba(train._resize(load_image_folder(folder).X[2:], 6, 10))[0]
    assert result["probability"] == pytest.approx(float(expected.max()))


def test_predict_files_wants_a_list(colour_model):
    with pytest.raises(TypeError, match=r"predict_files: paths must be a non-empty list of image paths"):
        train.predict_files(colour_model, "one.png")


# --------------------------------------------------------------------------- gradient checks of the layers


def test_check_layers_passes_for_every_layer():
    results = train.check_layers(seed=0)
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
    failed = {name for name, result in train.check_layers(seed=1) if not result.passed}
    assert failed == {"Dense", "Sequential + loss"}
