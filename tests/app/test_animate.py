"""cnnstep.app.animate: the blocks as GIFs, one frame per output cell."""

import numpy as np
import pytest

from cnnstep.app import animate, demo

PIL = pytest.importorskip("PIL")
pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

MAX_BYTES = 400_000  # "a few hundred KB each"


def frames(path):
    with Image.open(path) as image:
        assert image.format == "GIF"
        return image.n_frames, image.size


def out_side(n, f, stride, pad=0):
    return (n + 2 * pad - f) // stride + 1


@pytest.mark.parametrize(("n", "f", "stride", "pad"), [(5, 3, 2, 1), (3, 2, 1, 0), (4, 3, 3, 2)])
def test_conv_forward_has_a_frame_per_output_cell_plus_the_first_and_last(tmp_path, n, f, stride, pad):
    path = animate.conv_forward_gif(tmp_path / "c.gif", n=n, f=f, stride=stride, pad=pad)
    count, (width, height) = frames(path)
    assert count == out_side(n, f, stride, pad) ** 2 + 2
    assert width > 300 and height > 200


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize(("n", "f", "stride"), [(4, 2, 2), (4, 3, 1)])
def test_pool_forward_has_a_frame_per_output_cell(tmp_path, mode, n, f, stride):
    path = animate.pool_forward_gif(tmp_path / "p.gif", mode=mode, n=n, f=f, stride=stride)
    assert frames(path)[0] == out_side(n, f, stride) ** 2 + 2


@pytest.mark.parametrize(("n", "f", "stride", "pad"), [(3, 2, 1, 1), (5, 3, 2, 0)])
def test_conv_backward_has_a_frame_per_dz_cell(tmp_path, n, f, stride, pad):
    path = animate.conv_backward_gif(tmp_path / "b.gif", n=n, f=f, stride=stride, pad=pad)
    assert frames(path)[0] == out_side(n, f, stride, pad) ** 2 + 2


def test_pool_backward_has_a_frame_per_da_cell(tmp_path):
    path = animate.pool_backward_gif(tmp_path / "m.gif", n=5, f=3, stride=2)
    assert frames(path)[0] == out_side(5, 3, 2) ** 2 + 2


def test_the_same_seed_draws_the_same_file_and_another_seed_another(tmp_path):
    small = {"n": 3, "f": 3, "stride": 1, "pad": 0}
    first = open(animate.conv_forward_gif(tmp_path / "a.gif", seed=3, **small), "rb").read()
    again = open(animate.conv_forward_gif(tmp_path / "b.gif", seed=3, **small), "rb").read()
    other = open(animate.conv_forward_gif(tmp_path / "c.gif", seed=4, **small), "rb").read()
    assert first == again
    assert first != other


def test_write_all_writes_the_five_small_gifs_the_demo_names(tmp_path):
    paths = animate.write_all(tmp_path / "gifs")
    assert [p.rsplit("/", 1)[-1] for p in paths] == list(animate.ANIMATIONS) == list(demo.ANIMATIONS)
    for path in paths:
        count, _ = frames(path)
        assert count >= 3
        assert (tmp_path / "gifs" / path.rsplit("/", 1)[-1]).stat().st_size < MAX_BYTES
    assert not [p for p in (tmp_path / "gifs").iterdir() if p.name.endswith(".tmp")]


def test_bad_settings_are_refused_with_the_function_and_the_value(tmp_path):
    target = tmp_path / "x.gif"
    with pytest.raises(ValueError, match=r"conv_forward_gif: n must be at most 9 .* got 12"):
        animate.conv_forward_gif(target, n=12)
    with pytest.raises(ValueError, match=r"conv_forward_gif: the window f=5 is larger than the padded input"):
        animate.conv_forward_gif(target, n=3, f=5, pad=0)
    with pytest.raises(ValueError, match=r"conv_backward_gif: pad must be an integer >= 0, got -1"):
        animate.conv_backward_gif(target, pad=-1)
    with pytest.raises(TypeError, match=r"conv_forward_gif: stride must be a positive integer, got"):
        animate.conv_forward_gif(target, stride=1.5)
    with pytest.raises(ValueError, match=r"pool_forward_gif: unknown mode 'min'"):
        animate.pool_forward_gif(target, mode="min")
    with pytest.raises(TypeError, match=r"pool_backward_gif: path must be a file path"):
        animate.pool_backward_gif(None)
    with pytest.raises(TypeError, match=r"write_all: out must be a folder path"):
        animate.write_all("")
    assert not target.exists()


# --------------------------------------------------------------------------- the numbers the frames show


@pytest.mark.parametrize(("n", "f", "stride", "pad"), [(5, 3, 2, 1), (4, 2, 1, 0), (6, 3, 3, 2)])
def test_conv_forward_walk_visits_every_window_and_its_values_are_conv_forward_s(n, f, stride, pad):
    walk = animate.conv_forward_walk(n=n, f=f, stride=stride, pad=pad, seed=2)
    A_prev, W, b, Z = (walk.arrays[k] for k in ("A_prev", "W", "b", "Z"))
    padded = np.pad(A_prev[0, :, :, 0], pad)
    n_out = out_side(n, f, stride, pad)
    assert [(s["h"], s["w"]) for s in walk.steps] == [(h, w) for h in range(n_out) for w in range(n_out)]
    for step in walk.steps:
        top, left = step["h"] * stride, step["w"] * stride
        np.testing.assert_array_equal(step["window"], padded[top : top + f, left : left + f])
        # small integers: every sum is exact
        assert step["value"] == (step["window"] * W[:, :, 0, 0]).sum() + b[0, 0, 0, 0] == Z[0, step["h"], step["w"], 0]


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pool_forward_walk_shows_each_window_s_max_and_mask_or_mean(mode):
    walk = animate.pool_forward_walk(mode=mode, n=5, f=3, stride=1, seed=4)
    x = walk.arrays["A_prev"][0, :, :, 0]
    for step in walk.steps:
        window = x[step["h"] : step["h"] + 3, step["w"] : step["w"] + 3]
        np.testing.assert_array_equal(step["window"], window)
        if mode == "max":
            assert step["value"] == window.max()
            np.testing.assert_array_equal(step["mask"], window == window.max())
        else:
            assert step["mask"] is None
            assert abs(step["value"] - window.mean()) <= 9 * np.finfo(np.float64).eps * window.max()


def test_conv_backward_walk_adds_w_dz_on_each_window_and_cuts_the_padding():
    n, f, stride, pad = 4, 3, 1, 1
    walk = animate.conv_backward_walk(n=n, f=f, stride=stride, pad=pad, seed=1)
    W, dZ = walk.arrays["W"][:, :, 0, 0], walk.arrays["dZ"][0, :, :, 0]
    running = np.zeros((n + 2 * pad, n + 2 * pad))
    for step in walk.steps:
        h, w = step["h"], step["w"]
        np.testing.assert_array_equal(step["sent"], W * dZ[h, w])
        running[h * stride : h * stride + f, w * stride : w * stride + f] += W * dZ[h, w]
        np.testing.assert_array_equal(step["dA_prev"], running[pad:-pad, pad:-pad])  # pad >= 1 here
    np.testing.assert_array_equal(walk.steps[-1]["dA_prev"], walk.arrays["dA_prev"][0, :, :, 0])
    assert walk.steps[-1]["db"] == dZ.sum() == walk.arrays["db"].sum()


def test_pool_backward_walk_routes_each_gradient_through_the_mask_ties_included():
    walk = animate.pool_backward_walk(n=4, f=2, stride=1, seed=0)
    x, dA = walk.arrays["A_prev"][0, :, :, 0], walk.arrays["dA"][0, :, :, 0]
    assert walk.steps[0]["mask"].sum() >= 2  # the first window holds a tied maximum
    running = np.zeros_like(x)
    for step in walk.steps:
        h, w = step["h"], step["w"]
        window = x[h : h + 2, w : w + 2]
        np.testing.assert_array_equal(step["mask"], window == window.max())
        running[h : h + 2, w : w + 2] += step["mask"] * dA[h, w]
        np.testing.assert_array_equal(step["dA_prev"], running)
    np.testing.assert_array_equal(running, walk.arrays["dA_prev"][0, :, :, 0])
