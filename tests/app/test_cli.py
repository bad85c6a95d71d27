"""The cnnstep command line, run in-process through its main()."""

import json
import re

import pytest

import cnnstep
from cnnstep import nn
from cnnstep.app import cli
from cnnstep.app.settings import TrainingSettings
from tests.app.test_train import image_folder, is_png


def test_gradcheck_passes_and_reports_every_case(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "10/10 gradient checks passed" in out
    assert "conv stride 2, pad 1" in out and "pool 3x3/1 (overlapping) max" in out


def test_gradcheck_fails_with_a_broken_backward(monkeypatch, capsys):
    right = cnnstep.conv_backward

    def off_by_a_bit(dZ, cache):
        dA, dW, db = right(dZ, cache)
        return dA, dW * 1.01, db

    monkeypatch.setattr(cnnstep, "conv_backward", off_by_a_bit)
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "6/10 gradient checks passed" in out


def test_a_user_mistake_is_one_line_and_exit_code_2(capsys):
    assert cli.main(["gradcheck", "--tol", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnstep gradcheck: error:") and err.count("\n") == 1


def test_unknown_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        cli.main(["nope"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- helpers


def one_error_line(capsys, command):
    err = capsys.readouterr().err
    assert err.startswith(f"cnnstep {command}: error:") and err.count("\n") == 1, err
    return err


def train_args(data, out, *extra):
    return ["train", "--data", str(data), "--out", str(out), "--batch-size", "8", *extra]


# --------------------------------------------------------------------------- gradcheck of the layers


def test_gradcheck_also_checks_every_layer(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "blocks: 10/10 gradient checks passed" in out and "layers: 11/11 gradient checks passed" in out
    for name in (
        "Conv2D",
        "MaxPool2D",
        "AvgPool2D",
        "ReLU",
        "Flatten",
        "Dense",
        "softmax cross-entropy",
        "Sequential + loss",
    ):
        assert name in out


def test_gradcheck_fails_with_a_broken_layer(monkeypatch, capsys):
    # ReLU's gradient, off by a bit wherever it is used: the layer on its own and the model's
    # steps that run ReLU with the layer next to it
    right = nn.steps.relu_gradient
    monkeypatch.setattr(nn.steps, "relu_gradient", lambda dout, mask: right(dout, mask) * 1.01)
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "blocks: 10/10" in out and "layers: 9/11 gradient checks passed" in out


# --------------------------------------------------------------------------- train, evaluate, predict


def test_train_evaluate_predict_end_to_end(tmp_path, rng, capsys):
    folder = image_folder(tmp_path / "colours", rng)
    out = tmp_path / "run"
    assert cli.main(train_args(folder, out, "--image-size", "8", "--epochs", "3", "--lr", "0.01")) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("data ") and "36 examples of 8x8x3, 3 classes; train 30, test 6" in printed[0]
    assert any(line.startswith("Total params:") for line in printed)
    epochs = [line for line in printed if line.startswith("epoch ")]
    assert len(epochs) == 3 and epochs[0].startswith("epoch 1/3  loss ") and " train acc " in epochs[0]
    assert printed[-1].startswith("test accuracy ") and printed[-1].endswith(f"-> {out}/")

    metrics = json.loads((out / "metrics.json").read_text())
    for key, kind in (
        ("train_accuracy", float),
        ("test_accuracy", float),
        ("seconds", float),
        ("history", dict),
        ("data", dict),
        ("model", dict),
        ("args", dict),
    ):
        assert isinstance(metrics[key], kind), key
    assert 0 <= metrics["train_accuracy"] <= 1 and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["args"]["epochs"] == 3 and metrics["args"]["lr"] == 0.01
    assert metrics["model"] == {
        "name": "default",
        "params": nn.load_model(out / "model.npz").count_params(),
        "input_shape": [8, 8, 3],
        "classes": ["blue", "green", "red"],
    }
    assert is_png(out / "curves.png") and is_png(out / "confusion.png")

    model = str(out / "model.npz")
    assert cli.main(["evaluate", model, "--data", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "evaluated on all of it" in text and "class  examples  correct  accuracy" in text
    assert text.splitlines()[-1].startswith("accuracy ") and "/36)" in text

    assert cli.main(["evaluate", model, "--data", str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 36 and 0 <= result["accuracy"] <= 1
    assert [row["class"] for row in result["per_class"]] == ["blue", "green", "red"]

    images = [str(folder / "red" / "00.png"), str(folder / "blue" / "03.png")]
    assert cli.main(["predict", model, *images]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, image in zip(lines, images, strict=False):
        assert re.fullmatch(rf"{re.escape(image)}: (blue|green|red) \(probability [01]\.\d{{3}}\)", line), line

    assert cli.main(["predict", model, *images, "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["path"] for p in predictions] == images and all(p["class"] in "blue green red" for p in predictions)


def test_train_on_digits(tmp_path, capsys):
    out = tmp_path / "digits"
    assert cli.main(["train", "--data", "digits", "--epochs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert isinstance(metrics["test_accuracy"], float) and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["data"]["examples"] == 1797 and metrics["data"]["image_shape"] == [8, 8, 1]
    assert "test accuracy " in capsys.readouterr().out


def test_demo_writes_its_figures(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert "x_pad.shape = (4, 9, 9, 2)" in capsys.readouterr().out
    assert all(is_png(tmp_path / "demo" / name) for name in ("zero_pad.png", "conv.png", "pooling.png"))


# --------------------------------------------------------------------------- mistakes and stops


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
        (["--batch-size", "-2"], "--batch-size must be an integer >= 1, got -2"),
        (["--lr", "0"], "--lr must be a positive number, got 0"),
        (["--lr", "nan"], "--lr must be a positive number, got nan"),
        (["--test-fraction", "1.5"], "--test-fraction must be a number strictly between 0 and 1"),
        (["--seed", "-1"], "--seed must be an integer >= 0"),
        (["--image-size", "16"], "--image-size resizes image folders only; 'digits' keeps its native size"),
    ],
)
def test_train_refuses_bad_flags(tmp_path, capsys, argv, pattern):
    assert cli.main(["train", "--out", str(tmp_path / "x"), *argv]) == 2
    assert pattern in one_error_line(capsys, "train")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("extra", [[], ["--image-size", "8"]])
def test_train_on_a_missing_path(tmp_path, capsys, extra):
    assert cli.main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"), *extra]) == 2
    assert "does not exist" in one_error_line(capsys, "train")


def test_a_flag_that_is_not_a_number_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "many"])
    assert exc.value.code == 2


def test_predict_and_evaluate_on_a_corrupt_model(tmp_path, rng, capsys):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    image = image_folder(tmp_path / "colours", rng, per_class=1) / "red" / "00.png"
    assert cli.main(["predict", str(bad), str(image)]) == 2
    assert "is not a cnnstep model file" in one_error_line(capsys, "predict")
    assert cli.main(["evaluate", str(bad), "--data", "digits"]) == 2
    assert "is not a cnnstep model file" in one_error_line(capsys, "evaluate")


def test_predict_on_a_file_that_is_not_an_image(tmp_path, rng, capsys):
    model = nn.build("application", (8, 8, 3), 3, seed=0)
    path = model.save(tmp_path / "m.npz")
    (tmp_path / "notes.png").write_text("hello")
    assert cli.main(["predict", path, str(tmp_path / "notes.png")]) == 2
    assert "cannot read the image" in one_error_line(capsys, "predict")


def test_evaluate_on_other_classes(tmp_path, rng, capsys):
    model = nn.build("application", (8, 8, 3), 2, seed=0, classes=["cat", "dog"])
    path = model.save(tmp_path / "m.npz")
    folder = image_folder(tmp_path / "colours", rng, per_class=1)
    assert cli.main(["evaluate", path, "--data", str(folder)]) == 2
    assert "are not among the model's classes ['cat', 'dog']" in one_error_line(capsys, "evaluate")


def test_divergence_is_one_line_naming_the_epoch(tmp_path, rng, capsys, monkeypatch):
    from cnnstep.nn import model as model_module

    right = model_module.softmax_cross_entropy
    calls = {"n": 0}

    def nan_in_epoch_2(logits, y):
        calls["n"] += 1
        loss, grad = right(logits, y)
        return (float("inf") if calls["n"] > 4 else loss), grad

    monkeypatch.setattr(model_module, "softmax_cross_entropy", nan_in_epoch_2)
    folder = image_folder(tmp_path / "colours", rng)
    out = tmp_path / "run"
    assert cli.main(train_args(folder, out, "--image-size", "8", "--epochs", "3")) == 2
    err = one_error_line(capsys, "train")
    assert (
        "in epoch 2 (batch 1)" in err
        and f"lower --lr (now {TrainingSettings().lr:g}), e.g. to {TrainingSettings().lr / 10:g}" in err
    )
    assert f"kept the model and metrics of epoch 1 in {out}/" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and len(metrics["history"]["test_accuracy"]) == 1


def test_ctrl_c_keeps_the_last_completed_epoch(tmp_path, rng, capsys, monkeypatch):
    right = nn.Sequential._train_step
    calls = {"n": 0}

    def interrupt_in_epoch_2(self, *args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return right(self, *args)

    monkeypatch.setattr(nn.Sequential, "_train_step", interrupt_in_epoch_2)
    folder = image_folder(tmp_path / "colours", rng)
    out = tmp_path / "run"
    assert cli.main(train_args(folder, out, "--image-size", "8", "--epochs", "3")) == 130
    err = capsys.readouterr().err
    assert err == f"cnnstep train: interrupted in epoch 2; kept the model and metrics of epoch 1 in {out}/\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs_completed"] == 1
    model = nn.load_model(out / "model.npz")
    assert model.evaluate(*_test_split(folder))["accuracy"] == pytest.approx(metrics["test_accuracy"])


def _test_split(folder):
    from cnnstep.app.data import load_image_folder, train_test_split

    _, test = train_test_split(load_image_folder(folder, 8), 0.2, seed=0)
    return test.X, test.y


def test_bench_outside_a_clone_says_where_the_benchmarks_are(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not part of the installed package" in err
    assert "python benchmarks/bench_kernels.py" in err


def test_bench_in_a_clone_runs_the_script_with_the_options(tmp_path, monkeypatch):
    script = tmp_path / "benchmarks" / "bench_kernels.py"
    script.parent.mkdir()
    script.write_text("import sys\nopen('ran.txt', 'w').write(' '.join(sys.argv[1:]))\nsys.exit(3)\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "--quick", "--cases", "S1"]) == 3
    assert (tmp_path / "ran.txt").read_text() == "--quick --cases S1"
