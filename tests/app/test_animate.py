"""cnnstep.app.animate: the blocks as GIFs, one frame per output cell."""

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
