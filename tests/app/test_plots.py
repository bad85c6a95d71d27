"""cnnstep.app.plots: confusion counts, and figures written as real PNG files without pyplot."""

import subprocess
import sys

import numpy as np
import pytest

from cnnstep.app import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = open(path, "rb").read()
    assert data[:8] == PNG_SIGNATURE and len(data) > 2000


# --------------------------------------------------------------------------- confusion


def test_confusion_counts_rows_are_true_classes():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    matrix = plots.confusion_counts(y_true, y_pred, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 1], [1, 0, 0]]
    assert matrix.dtype == np.int64


def test_confusion_counts_agree_with_a_loop(rng):
    y_true, y_pred = rng.integers(0, 5, size=200), rng.integers(0, 5, size=200)
    expected = np.zeros((5, 5), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=False):
        expected[t, p] += 1
    np.testing.assert_array_equal(plots.confusion_counts(y_true, y_pred, 5), expected)


def test_confusion_matrix_draws_and_returns_the_counts(tmp_path, rng):
    y_true, y_pred = rng.integers(0, 3, size=40), rng.integers(0, 3, size=40)
    path = tmp_path / "confusion.png"
    matrix = plots.confusion_matrix(y_true, y_pred, ["cat", "dog", "bird"], path)
    np.testing.assert_array_equal(matrix, plots.confusion_counts(y_true, y_pred, 3))
    assert_png(path)
    assert plots.confusion_matrix(y_true, y_pred, ["cat", "dog", "bird"]).sum() == 40


def test_confusion_matrix_leaves_the_labels_alone(rng):
    y_true, y_pred = rng.integers(0, 3, size=10), rng.integers(0, 3, size=10)
    before = y_true.copy(), y_pred.copy()
    plots.confusion_matrix(y_true, y_pred, ["a", "b", "c"])
    np.testing.assert_array_equal(y_true, before[0])
    np.testing.assert_array_equal(y_pred, before[1])


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: plots.confusion_counts([0, 3], [0, 1], 3),
            ValueError,
            r"confusion_counts: y_true must hold class indices 0..2, got values from 0 to 3",
        ),
        (
            lambda: plots.confusion_counts([0.0, 1.0], [0, 1], 2),
            TypeError,
            r"confusion_counts: y_true must hold integer class indices, got dtype float64",
        ),
        (
            lambda: plots.confusion_counts([0, 1], [0, 1, 1], 2),
            ValueError,
            r"confusion_counts: y_true and y_pred must have the same shape",
        ),
        (lambda: plots.confusion_counts([[0]], [[0]], 2), ValueError, r"confusion_counts: y_true must be a 1-D array"),
        (
            lambda: plots.confusion_counts([0], [0], 0),
            ValueError,
            r"confusion_counts: n_classes must be a positive integer",
        ),
        (
            lambda: plots.confusion_matrix([0], [0], "ab"),
            TypeError,
            r"confusion_matrix: classes must be a non-empty list",
        ),
        (
            lambda: plots.confusion_matrix([0, 2], [0, 1], ["a", "b"]),
            ValueError,
            r"y_true must hold class indices 0..1",
        ),
    ],
)
def test_confusion_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# --------------------------------------------------------------------------- training figures


def test_learning_curves_with_and_without_test_data(tmp_path):
    history = {
        "loss": [1.2, 0.7, 0.4],
        "accuracy": [0.5, 0.8, 0.9],
        "val_loss": [1.0, 0.8, 0.6],
        "val_accuracy": [0.6, 0.7, 0.8],
        "seconds": [1.0, 1.0, 1.0],
    }
    assert plots.learning_curves(history, tmp_path / "a.png") == str(tmp_path / "a.png")
    assert_png(tmp_path / "a.png")
    plots.learning_curves({"loss": [0.5], "accuracy": [0.7]}, tmp_path / "b.png")
    assert_png(tmp_path / "b.png")


@pytest.mark.parametrize(
    "history, error, pattern",
    [
        ({"loss": [], "accuracy": []}, ValueError, r"learning_curves: history\['loss'\] must hold at least one epoch"),
        ([1, 2], TypeError, r"learning_curves: history must be a dict"),
        ({"loss": "0.5"}, TypeError, r"learning_curves: history\['loss'\] must be a list of numbers"),
    ],
)
def test_learning_curves_errors(tmp_path, history, error, pattern):
    with pytest.raises(error, match=pattern):
        plots.learning_curves(history, tmp_path / "c.png")


# --------------------------------------------------------------------------- block figures


def test_block_figures_are_written(tmp_path, rng):
    image = rng.normal(size=(6, 6))
    padded = np.pad(image, 2)
    assert_png(plots.padding_figure(image, padded, tmp_path / "pad.png"))
    assert_png(plots.feature_maps(image, rng.normal(size=(6, 6, 2)), tmp_path / "maps.png", titles=["a", "b"]))
    assert_png(plots.pooling_figure(image, image[::2, ::2], image[1::2, 1::2], tmp_path / "pool.png"))
    assert_png(plots.filters(rng.normal(size=(3, 3, 2, 10)), tmp_path / "filters.png", channel=1))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda p: plots.padding_figure(np.zeros((1, 4, 4)), np.zeros((6, 6)), p),
            ValueError,
            r"padding_figure: image must be a 2-D array \(n_H, n_W\), got shape \(1, 4, 4\)",
        ),
        (
            lambda p: plots.feature_maps(np.zeros((4, 4)), np.zeros((4, 4)), p),
            ValueError,
            r"feature_maps: maps must be a 3-D array \(n_H, n_W, n_C\)",
        ),
        (
            lambda p: plots.feature_maps(np.zeros((4, 4)), np.zeros((4, 4, 2)), p, titles=["one"]),
            ValueError,
            r"feature_maps: titles must be a list of 2 strings",
        ),
        (
            lambda p: plots.filters(np.zeros((3, 3, 2, 4)), p, channel=2),
            ValueError,
            r"filters: channel must be an integer in 0..1",
        ),
        (
            lambda p: plots.pooling_figure(np.zeros((4, 4)), np.zeros((2, 2)), "x", p),
            TypeError,
            r"pooling_figure: pooled_average must be a NumPy array of real numbers",
        ),
        (
            lambda p: plots.padding_figure(np.zeros((4, 4)), np.zeros((6, 6)), 7),
            TypeError,
            r"padding_figure: path must be a file path",
        ),
    ],
)
def test_figure_errors(tmp_path, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(tmp_path / "x.png")


def test_no_pyplot_and_no_import_time_matplotlib(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "import cnnstep.app.plots, cnnstep.app.cli, cnnstep.app.train, cnnstep.app.demo\n"
        "assert 'matplotlib' not in sys.modules, 'imported at import time'\n"
        "cnnstep.app.plots.learning_curves({'loss': [1.0], 'accuracy': [0.5]}, sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    # a real file: the figure is written to a temporary file renamed over the target, which would
    # replace a device such as /dev/null with a PNG
    target = tmp_path / "curves.png"
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert target.read_bytes().startswith(b"\x89PNG")


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(
        ImportError,
        match=r'^learning_curves: needs the matplotlib package, which is not installed: pip install "cnnstep\[app\]"$',
    ):
        plots.learning_curves({"loss": [1.0], "accuracy": [0.5]}, tmp_path / "x.png")
