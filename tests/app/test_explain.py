"""cnnstep explain without a browser: the folder it writes, its data, and every refusal."""

import base64
import json
import re

import numpy as np
import pytest

import cnnstep
from cnnstep.app import cli
from cnnstep.app.explain import explain, page, sources
from cnnstep.nn import build, load_model

pytest.importorskip("matplotlib")
PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

SHAPE = (12, 12, 3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The exercise's model for 12x12 RGB images (untrained, seeded), saved; and an RGB image file."""
    folder = tmp_path_factory.mktemp("model")
    model = build("application", SHAPE, 4, seed=3, classes=["a", "b", "c", "d"])
    model.save(folder / "model.npz")
    pixels = np.random.default_rng(5).integers(0, 256, size=(30, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "photo.png")
    return folder


def page_data(folder):
    html = (folder / "index.html").read_text(encoding="utf-8")
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    return html, json.loads(found.group(1).replace("<\\/", "</"))


def floats(text, shape):
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


def test_a_model_and_an_image_file_give_the_whole_folder_and_nothing_else(saved, tmp_path):
    lines = []
    path = explain(saved / "model.npz", saved / "photo.png", out=tmp_path / "page", log=lines.append)
    assert path == str(tmp_path / "page" / "index.html")
    names = sorted(p.name for p in (tmp_path / "page").iterdir())
    assert names == ["animations", "index.html", "input.png"]
    assert sorted(p.name for p in (tmp_path / "page" / "animations").iterdir()) == sorted(
        a["file"].split("/")[1] for a in page_data(tmp_path / "page")[1]["animations"]
    )
    assert [p.name for p in tmp_path.iterdir()] == ["page"]  # no staging folder left beside it
    assert any(line.startswith("predicted class ") for line in lines)


def test_the_page_is_self_contained(saved, tmp_path):
    explain(saved / "model.npz", saved / "photo.png", out=tmp_path / "page", log=lambda line: None)
    html, data = page_data(tmp_path / "page")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    assert "<style>" in html and "/*PAGE_CSS*/" not in html and "/*PAGE_JS*/" not in html
    assert data["generator"] == page.GENERATOR and data["version"] == cnnstep.__version__
    assert data["image"]["file"] == "input.png"
    assert "resized from 20x30 to 12x12 pixels" in data["image"]["note"]


def test_the_page_holds_the_model_s_own_outputs(saved, tmp_path):
    explain(saved / "model.npz", saved / "photo.png", out=tmp_path / "page", log=lambda line: None)
    _, data = page_data(tmp_path / "page")
    model = load_model(saved / "model.npz")
    x = sources.read_image(saved / "photo.png", model.input_shape).x
    views = data["layers"]
    np.testing.assert_array_equal(floats(views[0]["data"], SHAPE), x)
    batch = x[np.newaxis]
    for layer, view in zip(model.layers, views[1:], strict=True):
        batch = layer.forward(batch, training=False)
        assert view["name"] == type(layer).__name__ and view["shape"] == list(batch.shape[1:])
        if batch.ndim == 4:
            np.testing.assert_array_equal(floats(view["data"], batch.shape[1:]), batch[0])
    conv = views[1]
    assert conv["kind"] == "conv" and conv["pad"] == [1, 2, 1, 2]  # 4x4 'same': one before, two after
    np.testing.assert_array_equal(floats(conv["W"], conv["W_shape"]), model.layers[0].params["W"])
    probabilities = np.asarray(data["probabilities"])
    np.testing.assert_allclose(probabilities, model.predict_proba(x[np.newaxis])[0], rtol=1e-5)
    assert data["predicted"] == int(np.argmax(probabilities))
    assert views[3]["kind"] == "pool" and views[3]["pad"] == [2, 2, 2, 2] and views[3]["mode"] == "max"


def test_an_earlier_page_is_replaced_but_another_folder_is_refused(saved, tmp_path):
    out = tmp_path / "page"
    explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    first = (out / "index.html").stat().st_mtime_ns
    explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    assert (out / "index.html").stat().st_mtime_ns >= first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"explain: --out '.*mine' holds other files than an earlier page"):
        explain(saved / "model.npz", saved / "photo.png", out=tmp_path / "mine", log=lambda line: None)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def cli_error(capsys, argv):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cnnstep explain: error: ")
    return err


def test_bad_input_is_one_line_and_exit_2_with_nothing_written(saved, tmp_path, capsys):
    out = str(tmp_path / "page")
    model, photo = str(saved / "model.npz"), str(saved / "photo.png")
    assert "no model file" in cli_error(capsys, ["explain", str(tmp_path / "missing.npz"), photo, "--out", out])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    assert "is not a cnnstep model file" in cli_error(capsys, ["explain", str(junk), photo, "--out", out])
    assert "no image file at" in cli_error(capsys, ["explain", model, str(tmp_path / "none.png"), "--out", out])
    text = tmp_path / "text.png"
    text.write_text("hello")
    assert "cannot read the image" in cli_error(capsys, ["explain", model, str(text), "--out", out])
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((8, 8, 1), dtype=np.float32))
    err = cli_error(capsys, ["explain", model, str(wrong), "--out", out])
    assert "the model takes images of shape (12, 12, 3)" in err and "(8, 8, 1)" in err
    assert "resized to 12x12 with Lanczos" in err
    assert "no IMAGE given" in cli_error(capsys, ["explain", model, "--out", out])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "is a file" in cli_error(capsys, ["explain", model, photo, "--out", str(blocker)])
    assert "cannot write the page's folder" in cli_error(
        capsys, ["explain", model, photo, "--out", str(blocker / "below" / "page")]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "junk.npz", "text.png", "wrong.npy"]


def test_a_model_run_folder_gives_a_test_image_of_its_own_data(tmp_path):
    from cnnstep.app.train import Trainer

    Trainer(data="digits", epochs=1, out=tmp_path / "run", log=lambda line: None, progress=False).run()
    model = load_model(tmp_path / "run" / "model.npz")
    source = sources.saved_model(tmp_path / "run" / "model.npz", log=lambda line: None)
    picture = sources.picture_from_test_set(source, tmp_path / "run" / "model.npz")
    assert picture.x.shape == model.input_shape
    assert picture.label in model.classes and "model's own data (digits)" in picture.source


def test_an_array_image_of_the_model_s_shape_is_taken_as_it_is(saved, tmp_path, rng):
    x = rng.uniform(size=SHAPE).astype(np.float32)
    np.save(tmp_path / "x.npy", x[np.newaxis])
    picture = sources.read_image(tmp_path / "x.npy", SHAPE)
    np.testing.assert_array_equal(picture.x, x)
    assert "taken as it is" in picture.note


def test_image_files_cannot_feed_a_two_channel_model(tmp_path):
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "g.png")
    with pytest.raises(ValueError, match=r"explain: the model takes 2-channel images of 4x4; .* give a \.npy array"):
        sources.read_image(tmp_path / "g.png", (4, 4, 2))


def test_inputs_inside_out_and_the_root_folder_are_refused(saved, tmp_path):
    out = tmp_path / "page"
    explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    (tmp_path / "page" / "input.png").replace(tmp_path / "kept.png")
    explain(saved / "model.npz", tmp_path / "kept.png", out=out, log=lambda line: None)
    with pytest.raises(
        ValueError, match=r"explain: IMAGE '.*input.png' is inside --out '.*page', which the new page replaces"
    ):
        explain(saved / "model.npz", out / "input.png", out=out, log=lambda line: None)
    with pytest.raises(ValueError, match=r"explain: --out '/' is the root folder"):
        explain(saved / "model.npz", saved / "photo.png", out="/", log=lambda line: None)
    assert (out / "index.html").is_file()


def test_an_image_needs_a_model_and_out_must_be_a_path(tmp_path):
    with pytest.raises(ValueError, match=r"explain: an IMAGE needs a MODEL"):
        explain(None, tmp_path / "x.png", out=tmp_path / "p")
    with pytest.raises(TypeError, match=r"explain: out must be a folder path"):
        explain(out=None)
    with pytest.raises(TypeError, match=r"explain: model must be a path"):
        explain(3, out=tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_the_default_model_s_page_on_a_64x64_image_weighs_under_5_mb(tmp_path):
    build("default", (64, 64, 3), 6, seed=0).save(tmp_path / "model.npz")
    pixels = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "image.png")
    explain(tmp_path / "model.npz", tmp_path / "image.png", out=tmp_path / "page", log=lambda line: None)
    files = [p for p in (tmp_path / "page").rglob("*") if p.is_file()]
    assert len(files) == 7  # index.html, input.png, five animations
    assert sum(p.stat().st_size for p in files) < 5 * 1024 * 1024


def test_a_failure_while_building_leaves_the_earlier_page_and_nothing_beside_it(saved, tmp_path, monkeypatch):
    out = tmp_path / "page"
    explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    before = (out / "index.html").read_bytes()

    def interrupted(data):
        raise KeyboardInterrupt

    monkeypatch.setattr(page, "render", interrupted)
    with pytest.raises(KeyboardInterrupt):
        explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    assert (out / "index.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["page"]


def test_a_failure_while_moving_the_page_in_puts_the_earlier_one_back(saved, tmp_path, monkeypatch):
    import os

    out = tmp_path / "page"
    explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    before = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    replace = os.replace

    def full_disk(src, dst):
        moving_in = os.path.dirname(os.path.abspath(dst)) == str(out) and os.fspath(src).endswith(".tmp/index.html")
        if moving_in:
            raise OSError(28, "No space left on device")
        return replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        explain(saved / "model.npz", saved / "photo.png", out=out, log=lambda line: None)
    monkeypatch.undo()
    assert sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["page"]


def test_a_model_with_nan_weights_is_refused_with_a_reason(tmp_path):
    model = build("application", (8, 8, 1), 2, seed=0)
    model.layers[-1].params["W"][0, 0] = np.nan
    model.save(tmp_path / "model.npz")
    np.save(tmp_path / "x.npy", np.ones((8, 8, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"explain: the model's class scores on '.*x.npy' are not finite"):
        explain(tmp_path / "model.npz", tmp_path / "x.npy", out=tmp_path / "page", log=lambda line: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "x.npy"]
