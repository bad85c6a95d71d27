"""cnnstep.nn.to_onnx and OnnxModel: the graph, checked by onnx and run by onnxruntime."""

import json
import os
import subprocess
import sys
import tempfile

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

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run_onnx(path, X):
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"images": X})[0]


def assert_agrees(model, path, X):
    got = run_onnx(path, X)
    assert got.dtype == np.float32 and got.shape == (len(X), model.n_classes)
    error = float(np.max(np.abs(got - model.predict_proba(X))))
    assert error <= probability_tolerance(model), error


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_layer_kind_and_padding_form_agrees(name, tmp_path, rng):
    model = case_model(name)
    path = nn.to_onnx(model, tmp_path / "m.onnx")
    assert_agrees(model, path, images(rng, model, 5))


@pytest.mark.parametrize("make", [dense_only_model, flatten_last_model])
def test_models_without_a_convolution_or_without_a_dense_agree(make, tmp_path, rng):
    model = make()
    assert_agrees(model, nn.to_onnx(model, tmp_path / "m.onnx"), images(rng, model, 6))


def test_a_float64_model_is_exported_in_float32(tmp_path, rng):
    model = case_model("conv same, stride 2", dtype=np.float64)
    path = nn.to_onnx(model, tmp_path / "m.onnx")
    weights = onnx.load(path).graph.initializer
    assert {w.data_type for w in weights} == {onnx.TensorProto.FLOAT}
    assert_agrees(model, path, images(rng, model, 4))


def test_the_padding_semantics_are_cnnsteps_not_onnxs_defaults(tmp_path, rng):
    """Zero-padded max-pooling or average-pooling that counts padding would give other numbers."""
    for name, wrong in (("max pool pad 1", {}), ("average pool pad 1", {"count_include_pad": 1})):
        model = case_model(name)
        X = images(rng, model, 3)
        if not wrong:
            X = -np.abs(X)  # all negative: zero padding would win every border window
        path = nn.to_onnx(model, tmp_path / "m.onnx")
        assert_agrees(model, path, X)
        proto = onnx.load(path)
        (pool,) = [n for n in proto.graph.node if n.op_type in ("MaxPool", "AveragePool")]
        if not wrong:  # max-pooling the explicitly zero-padded input instead
            pads = [a for a in pool.attribute if a.name == "pads"][0]
            pad = onnx.helper.make_node("Pad", [pool.input[0], "zero_pads"], ["zero_padded"], mode="constant")
            proto.graph.initializer.append(
                onnx.numpy_helper.from_array(np.array([0, 0, *pads.ints[:2], 0, 0, *pads.ints[2:]]), "zero_pads")
            )
            pool.input[0] = "zero_padded"
            pads.ints[:] = [0, 0, 0, 0]
            proto.graph.node.insert(list(proto.graph.node).index(pool), pad)
        else:
            for attribute in pool.attribute:
                if attribute.name == "count_include_pad":
                    attribute.i = 1
        onnx.save(proto, tmp_path / "wrong.onnx")
        error = np.max(np.abs(run_onnx(tmp_path / "wrong.onnx", X) - model.predict_proba(X)))
        assert error > 100 * probability_tolerance(model), name


@given(conv_configs())
def test_any_convolution_agrees(config):
    A_prev, W, b, hp = config
    model = conv_model(A_prev, W, b, hp)
    with tempfile.TemporaryDirectory() as folder:  # Hypothesis runs many examples in one test
        assert_agrees(model, nn.to_onnx(model, os.path.join(folder, "m.onnx")), A_prev.astype(np.float32))


@given(pool_configs(), st.sampled_from(["max", "average"]))
def test_any_pooling_agrees(config, mode):
    A_prev, hp = config
    model = pool_model(A_prev, hp, mode)
    with tempfile.TemporaryDirectory() as folder:
        assert_agrees(model, nn.to_onnx(model, os.path.join(folder, "m.onnx")), A_prev.astype(np.float32))


# --------------------------------------------------------------------------- the graph


def test_the_graph_is_checked_typed_and_has_a_free_batch(tmp_path, rng):
    model = case_model("conv relu pool")
    proto = onnx.load(nn.to_onnx(model, tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [21]
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "images" and out.name == "probabilities"
    assert inp.type.tensor_type.elem_type == out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["batch", 7, 9, 3] and out_dims == ["batch", 4]
    assert proto.graph.node[-1].op_type == "Softmax"
    for m in (1, 2, 37):
        probabilities = run_onnx(tmp_path / "m.onnx", images(rng, model, m))
        assert probabilities.shape == (m, 4)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=probability_tolerance(model))


def test_class_names_and_input_shape_are_in_the_metadata(tmp_path):
    model = nn.build("application", (8, 8, 1), 3, seed=0, classes=["cat", "dog", "émeu"])
    proto = onnx.load(nn.to_onnx(model, tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["cnnstep.classes"]) == ["cat", "dog", "émeu"]
    assert json.loads(meta["cnnstep.input_shape"]) == [8, 8, 1]
    assert "channels-last" in meta["cnnstep.input_layout"] and "probabilities" in meta["cnnstep.output"]
    assert proto.producer_name == "cnnstep"


def test_the_model_is_left_as_it_was(tmp_path, rng):
    model = case_model("conv asymmetric")
    before = [p.copy() for layer in model.layers for p in layer.params.values()]
    nn.to_onnx(model, tmp_path / "m.onnx")
    after = [p for layer in model.layers for p in layer.params.values()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


# --------------------------------------------------------------------------- OnnxModel


def test_onnx_model_predicts_as_the_model_does(tmp_path, rng):
    model = nn.build("default", (8, 8, 1), 10, seed=2, classes=[f"digit {i}" for i in range(10)])
    onnx_model = nn.OnnxModel(nn.to_onnx(model, tmp_path / "m.onnx"))
    assert onnx_model.input_shape == (8, 8, 1) and onnx_model.classes == model.classes
    assert onnx_model.n_classes == 10
    X = images(rng, model, 11)
    error = np.max(np.abs(onnx_model.predict_proba(X, batch_size=4) - model.predict_proba(X)))
    assert error <= probability_tolerance(model)
    assert np.array_equal(onnx_model.predict(X), model.predict(X))
    assert onnx_model.predict_proba(X[:0]).shape == (0, 10)
    assert onnx_model.predict_proba(X.astype(np.float64)).dtype == np.float32


def test_onnx_model_refuses_images_of_another_shape(tmp_path, rng):
    model = case_model("max pool")
    onnx_model = nn.OnnxModel(nn.to_onnx(model, tmp_path / "m.onnx"))
    with pytest.raises(
        ValueError, match=r"OnnxModel.predict_proba: X must have shape \(m, 7, 9, 3\).*got shape \(2, 9, 7, 3\)"
    ):
        onnx_model.predict_proba(np.zeros((2, 9, 7, 3), np.float32))
    with pytest.raises(ValueError, match=r"OnnxModel.predict_proba: batch_size must be"):
        onnx_model.predict_proba(np.zeros((2, 7, 9, 3), np.float32), batch_size=0)


def test_load_predictor_picks_the_reader_by_suffix(tmp_path):
    model = case_model("average pool")
    npz = model.save(tmp_path / "m.npz")
    onnx_path = nn.to_onnx(model, tmp_path / "m.ONNX")
    assert isinstance(nn.load_predictor(npz), nn.Sequential)
    assert isinstance(nn.load_predictor(onnx_path), nn.OnnxModel)
    with pytest.raises(TypeError, match=r"load_predictor: path must be a file path .*got 3 \(int\)"):
        nn.load_predictor(3)


def test_onnx_model_refuses_files_it_cannot_use(tmp_path):
    with pytest.raises(TypeError, match=r"OnnxModel: path must be a file path \(str or os.PathLike\), got 7 \(int\)"):
        nn.OnnxModel(7)
    with pytest.raises(FileNotFoundError, match=r"OnnxModel: no ONNX model file at '.*missing.onnx'"):
        nn.OnnxModel(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all")
    with pytest.raises(nn.ModelFileError, match=r"OnnxModel: '.*junk.onnx' is not an ONNX model onnxruntime can load"):
        nn.OnnxModel(junk)
    # a valid ONNX model that cnnstep did not write
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
    )
    other = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10), other)
    with pytest.raises(nn.ModelFileError, match=r"is an ONNX model but not one cnnstep exported: it takes \['x'\]"):
        nn.OnnxModel(other)
    # the right names but no metadata
    model = case_model("max pool")
    proto = onnx.load(nn.to_onnx(model, tmp_path / "m.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, tmp_path / "bare.onnx")
    with pytest.raises(nn.ModelFileError, match=r"its metadata lacks a readable cnnstep.classes"):
        nn.OnnxModel(tmp_path / "bare.onnx")


# --------------------------------------------------------------------------- bad input


def test_to_onnx_refuses_what_is_not_a_cnnstep_model(tmp_path):
    with pytest.raises(TypeError, match=r"to_onnx: model must be a cnnstep.nn.Sequential .*got 'model.npz' \(str\)"):
        nn.to_onnx("model.npz", tmp_path / "m.onnx")
    with pytest.raises(TypeError, match=r"to_onnx: path must be a file path .*got None"):
        nn.to_onnx(case_model("max pool"), None)
    assert os.listdir(tmp_path) == []


def test_to_onnx_refuses_a_layer_of_an_unknown_kind(tmp_path):
    class Doubling(nn.ReLU):
        def forward(self, x, training=True):
            return 2 * super().forward(x, training)

    model = nn.Sequential([nn.Flatten(), Doubling(), nn.Dense(2)], (2, 2, 1))
    with pytest.raises(
        TypeError,
        match=r"to_onnx: layer 1 is a Doubling, which cannot be exported; the kinds that can: Conv2D, MaxPool2D, AvgPool2D, ReLU, Flatten, Dense",
    ):
        nn.to_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("where", ["no folder", "a folder"])
def test_an_unwritable_path_is_an_os_error_and_leaves_nothing(where, tmp_path):
    model = case_model("max pool")
    target = tmp_path / "missing" / "m.onnx" if where == "no folder" else tmp_path / "taken"
    if where == "a folder":
        target.mkdir()
    with pytest.raises(OSError, match=r"to_onnx: cannot write '.*(missing/m.onnx|taken)'"):
        nn.to_onnx(model, target)
    assert sorted(os.listdir(tmp_path)) == ([] if where == "no folder" else ["taken"])
    assert not target.is_file()


def test_a_failing_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    old = case_model("max pool")
    path = nn.to_onnx(old, tmp_path / "m.onnx")
    before = open(path, "rb").read()

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match=r"to_onnx: cannot write .*No space left on device"):
        nn.to_onnx(case_model("average pool"), path)
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["m.onnx"]


def test_missing_packages_are_one_line_naming_the_install(tmp_path, monkeypatch):
    model = case_model("max pool")
    path = nn.to_onnx(model, tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(
        ImportError, match=r'^to_onnx: needs the onnx package, which is not installed: pip install "cnnstep\[export\]"$'
    ):
        nn.to_onnx(model, tmp_path / "again.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(
        ImportError, match=r'^OnnxModel: needs the onnxruntime package, .*pip install "cnnstep\[export\]"$'
    ):
        nn.load_predictor(path)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_importing_cnnstep_nn_imports_neither_onnx_nor_torch():
    code = "import sys, cnnstep.nn; print(sorted(m for m in ('onnx', 'onnxruntime', 'torch') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"
