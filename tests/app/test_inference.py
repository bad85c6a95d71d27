"""cnnstep.app.inference: evaluation and prediction of a trained model, by class name."""

import numpy as np
import pytest

from cnnstep import nn
from cnnstep.app import inference
from cnnstep.app.data import load_image_folder
from cnnstep.app.images import resize_images
from tests.app.test_train import image_folder
from tests.helpers import assert_close

# --------------------------------------------------------------------------- a trained model


@pytest.fixture
def colour_model():
    """An untrained model of the colour classes: evaluation only needs its names and shape."""
    return nn.build("application", (8, 8, 3), 3, seed=0, classes=["blue", "green", "red"])


def test_evaluate_matches_labels_by_class_name(tmp_path, rng, colour_model):
    folder = image_folder(tmp_path / "two", rng, classes=("red", "blue"), per_class=3)
    result = inference.evaluate(colour_model, folder)
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
        inference.evaluate(colour_model, folder)


def test_evaluate_refuses_images_of_another_shape(colour_model):
    with pytest.raises(
        ValueError,
        match=r"evaluate: the model takes images of shape \(8, 8, 3\) .* "
        r"holds images of shape \(8, 8, 1\)",
    ):
        inference.evaluate(colour_model, "digits")


def test_evaluate_reads_a_folder_at_the_models_size_and_channels(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=2, size=12)
    gray = nn.build("application", (5, 7, 1), 3, seed=0, classes=["blue", "green", "red"])
    assert inference.evaluate(gray, folder)["examples"] == 6


def test_predict_files(tmp_path, rng, colour_model):
    folder = image_folder(tmp_path / "colours", rng, per_class=1, size=16)
    paths = [folder / "red" / "00.png", str(folder / "blue" / "00.png")]
    results = inference.predict_files(colour_model, paths)
    assert [r["path"] for r in results] == [str(p) for p in paths]
    for r in results:
        assert r["class"] in colour_model.classes
        assert r["probability"] == max(r["probabilities"].values())
        assert_close(sum(r["probabilities"].values()), 1.0, np.float32, n_terms=len(r["probabilities"]))


def test_predict_files_resizes_to_a_non_square_input(tmp_path, rng):
    folder = image_folder(tmp_path / "colours", rng, per_class=1, size=9)
    model = nn.build("default", (6, 10, 3), 3, seed=0)
    (result,) = inference.predict_files(model, [folder / "red" / "00.png"])
    expected = model.predict_proba(resize_images(load_image_folder(folder).X[2:], 6, 10))[0]
    assert result["probability"] == pytest.approx(float(expected.max()))


def test_predict_files_wants_a_list(colour_model):
    with pytest.raises(TypeError, match=r"predict_files: paths must be a non-empty list of image paths"):
        inference.predict_files(colour_model, "one.png")
