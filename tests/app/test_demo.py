"""cnnstep.app.demo: the exercise walked through, its text and its figures."""

import numpy as np
import pytest

from cnnstep.app import demo


def test_run_prints_the_exercise_and_draws_three_figures_and_the_animations(tmp_path):
    lines = []
    paths = demo.run(out=tmp_path / "figs", log=lines.append)
    text = "\n".join(lines)
    assert [p.rsplit("/", 1)[-1] for p in paths] == list(demo.FIGURES) + list(demo.ANIMATIONS)
    for path in paths[: len(demo.FIGURES)]:
        data = open(path, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    for path in paths[len(demo.FIGURES) :]:
        assert open(path, "rb").read(6) == b"GIF89a"
    for expected in (
        "x.shape = (4, 3, 3, 2)",
        "x_pad.shape = (4, 9, 9, 2)",
        "Z's mean =",
        "Z.shape = (2, 3, 4, 8)",
        "cache_conv[0][1][2][3] =",
        "dA_mean =",
        "dW_mean =",
        "db_mean =",
        "mode = max: A.shape = (2, 3, 3, 3)",
        "mode = average: A.shape = (2, 3, 3, 3)",
        "mask =",
        "distributed value =\n[[0.5, 0.5],\n [0.5, 0.5]]",
        "dA_prev[1, 1] =",
        f"wrote {paths[0]}",
    ):
        assert expected in text, expected


def test_run_is_seeded_and_can_skip_the_figures(tmp_path):
    first, second = [], []
    assert demo.run(out=tmp_path / "none", log=first.append, draw=False) == []
    demo.run(out=tmp_path / "none", log=second.append, draw=False)
    assert first == second
    assert not (tmp_path / "none").exists()


def test_run_wants_a_folder_path():
    with pytest.raises(TypeError, match=r"demo.run: out must be a folder path"):
        demo.run(out=None, log=lambda line: None)


def test_upsample_keeps_constant_images_and_the_identity(rng):
    image = rng.normal(size=(5, 5))
    np.testing.assert_allclose(demo.upsample(np.full((4, 4), 0.3), 3), np.full((12, 12), 0.3))
    np.testing.assert_array_equal(demo.upsample(image, 1), image)
    assert demo.upsample(image, 4).shape == (20, 20)


def test_edge_maps_see_a_vertical_step_only_in_the_vertical_map():
    image = np.zeros((8, 8))
    image[:, 4:] = 1.0
    maps = demo.edge_maps(image)
    assert maps.shape == (8, 8, 2)
    interior = maps[1:-1, 1:-1]
    assert np.abs(interior[:, :, 0]).max() == pytest.approx(4.0)
    np.testing.assert_allclose(interior[:, :, 1], 0.0)
