"""cnnstep export, and cnnstep evaluate / predict on the .onnx it writes."""

import json
import os
import sys

import numpy as np
import pytest

from cnnstep import nn
from cnnstep.app import cli
from tests.app.test_cli import one_error_line
from tests.app.test_train import image_folder
from tests.nn.export_cases import TARGET

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture
def saved(tmp_path, rng):
    """A model of the colour folder's classes with spread-out probabilities, saved as .npz."""
    folder = image_folder(tmp_path / "colours", rng, per_class=4)
    model = nn.build("default", (8, 8, 3), 3, seed=0, classes=["blue", "green", "red"])
    model.layers[-1].params["W"] *= np.float32(20)
    return model.save(tmp_path / "model.npz"), folder


def test_export_writes_an_onnx_file_and_says_what_it_takes(saved, tmp_path, capsys):
    npz, _ = saved
    out = tmp_path / "model.onnx"
    assert cli.main(["export", npz, str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == (
        f"{out}: ONNX, input images float32 (batch, 8, 8, 3) channels-last, output probabilities (batch, 3)\n"
    )
    onnx_model = nn.OnnxModel(out)
    assert onnx_model.classes == ["blue", "green", "red"] and onnx_model.input_shape == (8, 8, 3)


def test_evaluate_and_predict_print_the_same_for_the_onnx_file(saved, tmp_path, capsys):
    npz, folder = saved
    onnx_path = str(tmp_path / "model.onnx")
    assert cli.main(["export", npz, onnx_path]) == 0
    capsys.readouterr()
    images = [str(folder / "red" / "00.png"), str(folder / "blue" / "01.png"), str(folder / "green" / "02.png")]
    for argv in (["evaluate", "{}", "--data", str(folder)], ["predict", "{}", *images]):
        outputs = []
        for model in (npz, onnx_path):
            assert cli.main([a.format(model) if a == "{}" else a for a in argv]) == 0
            outputs.append(capsys.readouterr().out.replace(model, "MODEL"))
        assert outputs[0] == outputs[1], argv[0]

    for argv in (["evaluate", "{}", "--data", str(folder), "--json"], ["predict", "{}", *images, "--json"]):
        results = []
        for model in (npz, onnx_path):
            assert cli.main([a.format(model) if a == "{}" else a for a in argv]) == 0
            results.append(json.loads(capsys.readouterr().out))
        npz_result, onnx_result = results
        if argv[0] == "evaluate":
            npz_result.pop("model"), onnx_result.pop("model")
            assert npz_result == onnx_result
        else:
            for a, b in zip(npz_result["predictions"], onnx_result["predictions"], strict=True):
                assert a["class"] == b["class"] and a["path"] == b["path"]
                assert abs(a["probability"] - b["probability"]) <= TARGET
                assert all(abs(a["probabilities"][k] - b["probabilities"][k]) <= TARGET for k in a["probabilities"])


def test_export_of_a_file_that_is_not_a_cnnstep_model(tmp_path, capsys):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert cli.main(["export", str(bad), str(tmp_path / "out.onnx")]) == 2
    assert "is not a cnnstep model file" in one_error_line(capsys, "export")
    assert cli.main(["export", str(tmp_path / "missing.npz"), str(tmp_path / "out.onnx")]) == 2
    assert "no model file at" in one_error_line(capsys, "export")
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_export_writes_only_onnx_files(saved, capsys):
    npz, _ = saved
    before = open(npz, "rb").read()
    assert cli.main(["export", npz, npz]) == 2
    assert "OUT must end in .onnx (evaluate and predict pick the reader by the suffix), got '" in one_error_line(
        capsys, "export"
    )
    assert open(npz, "rb").read() == before


def test_export_to_a_path_that_cannot_be_written(saved, tmp_path, capsys):
    npz, _ = saved
    before = sorted(os.listdir(tmp_path))
    assert cli.main(["export", npz, str(tmp_path / "no" / "such" / "m.onnx")]) == 2
    err = one_error_line(capsys, "export")
    assert "to_onnx: cannot write" in err and "No such file or directory" in err
    assert sorted(os.listdir(tmp_path)) == before


def test_export_without_onnx_names_the_install(saved, tmp_path, capsys, monkeypatch):
    npz, folder = saved
    onnx_path = str(tmp_path / "m.onnx")
    assert cli.main(["export", npz, onnx_path]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert cli.main(["export", npz, str(tmp_path / "again.onnx")]) == 2
    assert 'needs the onnx package, which is not installed: pip install "cnnstep[export]"' in one_error_line(
        capsys, "export"
    )
    assert cli.main(["predict", onnx_path, str(folder / "red" / "00.png")]) == 2
    assert 'needs the onnxruntime package, which is not installed: pip install "cnnstep[export]"' in one_error_line(
        capsys, "predict"
    )
    assert not (tmp_path / "again.onnx").exists()


def test_evaluate_on_a_corrupt_onnx_file(tmp_path, capsys):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07 not an onnx graph")
    assert cli.main(["evaluate", str(bad), "--data", "digits"]) == 2
    assert "is not an ONNX model onnxruntime can load" in one_error_line(capsys, "evaluate")
