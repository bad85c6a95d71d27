"""Sequential.save and cnnstep.nn.load_model: one plain .npz, an identical model back, and a
clear error naming the file for anything else."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import cnnstep
from cnnstep import nn
from tests.helpers import assert_close, model_reduction


@pytest.fixture
def trained(rng):
    layers = [
        nn.Conv2D(4, 3, stride=(1, 2), pad=((1, 0), (0, 1))),
        nn.ReLU(),
        nn.MaxPool2D(2, ties="first"),
        nn.Conv2D(3, 2, pad="valid"),
        nn.ReLU(),
        nn.AvgPool2D(2, stride=1, pad="same"),
        nn.Flatten(),
        nn.Dense(5),
        nn.ReLU(),
        nn.Dense(3),
    ]
    model = nn.Sequential(layers, (8, 9, 2), classes=["cat", "dog", "owl"], seed=2)
    X = rng.normal(size=(12, 8, 9, 2)).astype(np.float32)
    model.fit(X, rng.integers(0, 3, size=12), epochs=2, batch_size=4)
    return model, X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_saved_model_loads_back_and_predicts_identically(tmp_path, rng, dtype):
    model = nn.application((16, 16, 3), 4, seed=1, dtype=dtype, classes=["a", "b", "c", "d"])
    path = tmp_path / "model.npz"
    assert model.save(path) == str(path)
    again = nn.load_model(path)
    X = rng.normal(size=(5, 16, 16, 3))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.input_shape == (16, 16, 3) and again.classes == ["a", "b", "c", "d"]
    assert again.dtype == dtype and again.config() == model.config()


def test_a_trained_model_with_every_layer_kind_round_trips(tmp_path, trained):
    model, X = trained
    path = model.save(str(tmp_path / "trained.npz"))
    again = nn.load_model(path)
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.summary() == model.summary()
    assert [layer.config() for layer in again.layers] == [layer.config() for layer in model.layers]


def test_the_file_is_one_plain_npz_with_the_architecture_as_json(tmp_path, trained):
    model, _ = trained
    path = model.save(tmp_path / "m.npz")
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as data:
        arch = json.loads(str(data["architecture"]))
        assert data["architecture"].dtype.kind == "U"
        np.testing.assert_array_equal(data["param.0.W"], model.layers[0].params["W"])
        assert len(data.files) == 1 + len(model.params_and_grads())
    assert arch["format"] == "cnnstep.nn.Sequential" and arch["version"] == 1
    assert arch["input_shape"] == [8, 9, 2] and arch["classes"] == ["cat", "dog", "owl"]
    assert arch["dtype"] == "float32" and len(arch["layers"]) == 10


def test_save_writes_exactly_the_path_given(tmp_path):
    model = nn.Sequential([nn.Flatten(), nn.Dense(2)], (2, 2, 1))
    model.save(tmp_path / "weights")
    assert os.listdir(tmp_path) == ["weights"]
    assert nn.load_model(tmp_path / "weights").count_params() == model.count_params()


# --------------------------------------------------------------------------- files that are not models


def _saved(tmp_path):
    model = nn.Sequential([nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(2)], (4, 4, 1))
    return model, model.save(tmp_path / "good.npz")


def _rewrite(tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not weights\n")
    with pytest.raises(ValueError, match=r"load_model: '.*notes\.npz' is not a cnnstep model file"):
        nn.load_model(path)


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"load_model: '.*empty\.npz' is not a cnnstep model file"):
        nn.load_model(path)


def test_a_truncated_file(tmp_path):
    _, good = _saved(tmp_path)
    data = Path(good).read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        nn.ModelFileError, match=r"load_model: '.*truncated\.npz' is not a cnnstep model file.*BadZipFile"
    ):
        nn.load_model(path)


def test_a_corrupt_file(tmp_path):
    _, good = _saved(tmp_path)
    data = bytearray(Path(good).read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("param.0.W.npy")
    start = info.header_offset + 30 + len(info.filename) + 140  # inside the array's bytes
    data[start : start + 8] = b"\xff" * 8
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError,
        match=r"load_model: '.*corrupt\.npz' is not a valid cnnstep model file "
        r"\(corrupt or truncated\?\).*CRC",
    ):
        nn.load_model(path)


def test_a_foreign_npz(tmp_path):
    path = _rewrite(tmp_path, "foreign.npz", x=np.zeros(3), y=np.ones(2))
    with pytest.raises(
        ValueError,
        match=r"load_model: '.*foreign\.npz' is a NumPy archive but not a cnnstep model: "
        r"it has no 'architecture' entry \(entries: \['x', 'y'\]\)",
    ):
        nn.load_model(path)


def test_a_single_npy_array(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"load_model: '.*array\.npy' is not a cnnstep model file: it holds a single "
        r"NumPy array",
    ):
        nn.load_model(path)


def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_model: no model file at '.*nowhere\.npz'"):
        nn.load_model(tmp_path / "nowhere.npz")


def _good_arrays(tmp_path):
    model, good = _saved(tmp_path)
    with np.load(good) as data:
        arrays = {key: data[key] for key in data.files}
    return model, arrays, json.loads(str(arrays["architecture"]))


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda a, arch: a.update(architecture=np.array("{not json")),
            r"not a valid cnnstep model file.*JSONDecodeError",
        ),
        (lambda a, arch: a.update(architecture=np.zeros(3)), r"the 'architecture' entry must be a JSON string"),
        (
            lambda a, arch: a.update(architecture=np.array(json.dumps({**arch, "format": "keras"}))),
            r"the architecture is not one of a cnnstep\.nn\.Sequential model",
        ),
        (
            lambda a, arch: a.update(architecture=np.array(json.dumps({**arch, "version": 2}))),
            r"has format version 2; this cnnstep reads versions 1 to 1",
        ),
        (lambda a, arch: a.pop("param.2.W"), r"lacks the parameter 'param\.2\.W' of layer 2 Dense"),
        (
            lambda a, arch: a.update({"param.0.W": np.zeros((2, 2, 1, 2), np.float32)}),
            r"the parameter 'param\.0\.W' has shape \(2, 2, 1, 2\) and dtype float32, layer 0 .* needs \(3, 3, 1, 2\) float32",
        ),
        (lambda a, arch: a.update({"param.0.W": a["param.0.W"].astype(np.float64)}), r"dtype float64"),
        (
            lambda a, arch: a.update({"param.9.W": np.zeros(2)}),
            r"holds entries that belong to no layer: \['param\.9\.W'\]",
        ),
        (
            lambda a, arch: a.update(architecture=np.array(json.dumps({**arch, "layers": [{"type": "Dropout"}]}))),
            r"unknown layer type 'Dropout'",
        ),
        (
            lambda a, arch: a.update(architecture=np.array(json.dumps({**arch, "classes": ["a"]}))),
            r"Sequential: classes names 1 classes",
        ),
        (
            lambda a, arch: a.update(
                architecture=np.array(json.dumps({k: v for k, v in arch.items() if k != "dtype"}))
            ),
            r"KeyError: 'dtype'",
        ),
    ],
)
def test_a_damaged_architecture_or_parameter_is_named(tmp_path, change, message):
    _, arrays, arch = _good_arrays(tmp_path)
    change(arrays, arch)
    path = _rewrite(tmp_path, "damaged.npz", **arrays)
    with pytest.raises(ValueError, match=r"load_model: '.*damaged\.npz'.*" + message):
        nn.load_model(path)


DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_model_file_written_before_the_redesign_still_loads_and_predicts_the_same():
    """tests/data/model-format-1.npz was written by cnnstep 0.1.0 before the package was reorganised."""
    model = cnnstep.load_model(DATA / "model-format-1.npz")
    assert model.classes == ["a", "b", "c"] and model.input_shape == (9, 9, 2)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "ReLU",
        "MaxPool2D",
        "AvgPool2D",
        "Flatten",
        "Dense",
    ]
    X = np.load(DATA / "model-format-1-inputs.npy")
    # the same weights; another machine's BLAS may round the same sums differently
    n_terms, depth = model_reduction(model)
    assert_close(model.predict_proba(X), np.load(DATA / "model-format-1-proba.npy"), np.float32, n_terms, depth)
