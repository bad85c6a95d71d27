"""cnnstep.app.train: a training run writes its folder and keeps what it finished."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from cnnstep import nn
from cnnstep.app import inference, train
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
    result = inference.evaluate(nn.load_model(tmp_path / "run" / "model.npz"), root)
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
