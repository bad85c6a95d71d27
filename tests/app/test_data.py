"""Data sets: loaders (digits, image folders, the course's .h5 pair, the CLI's --data),
the stratified seeded split and mini-batches -- values, order, and every promised error."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from cnnstep.app.data import (
    Dataset,
    batches,
    load,
    load_digits,
    load_h5,
    load_image,
    load_image_folder,
    train_test_split,
)
from tests.helpers import SIGN_DIGITS

F32_ROUNDING = float(np.finfo(np.float32).eps)  # pixel / 255 rounded once to float32

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 160, 0)


def save_image(path: Path, color, size=(6, 5), mode="RGB", format=None) -> Path:
    """A solid image of ``size`` (height, width) written at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = size
    Image.new(mode, (width, height), color).save(path, format=format)
    return path


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def folder(tmp_path):
    """Two classes, 6x5 images: PNG and JPEG, a grayscale PNG, upper-case extensions, things to ignore."""
    root = tmp_path / "pets"
    save_image(root / "cat" / "b.png", RED)
    save_image(root / "cat" / "a.JPG", BLUE)
    save_image(root / "cat" / "c.PNG", 128, mode="L")
    save_image(root / "dog" / "x.jpeg", GREEN)
    save_image(root / "dog" / "y.png", RED)
    # ignored: hidden files and folders, other extensions, nested folders, loose files at the root
    save_image(root / "cat" / ".hidden.png", BLUE)
    save_image(root / "cat" / "anim.gif", BLUE, format="GIF")
    (root / "cat" / "notes.txt").write_text("not an image")
    save_image(root / "cat" / "nested" / "deep.png", BLUE)
    save_image(root / ".thumbnails" / "t.png", BLUE)
    save_image(root / "loose.png", BLUE)
    return root


def write_h5(path: Path, part: str, x, y, classes=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset(f"{part}_set_x", data=x)
        f.create_dataset(f"{part}_set_y", data=y)
        if classes is not None:
            f.create_dataset("list_classes", data=classes)
    return path


@pytest.fixture
def signs_h5(tmp_path, rng):
    """The course's layout: uint8 (m, 64, 64, 3) images, labels 0..5, list_classes 0..5."""
    root = tmp_path / "signs"
    classes = np.arange(6)
    for part, m in (("train", 12), ("test", 6)):
        x = rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8)
        y = np.arange(m) % 6
        write_h5(root / f"{part}_signs.h5", part, x, y, classes)
    return root


def make_dataset(counts, classes=None) -> Dataset:
    """A data set whose example i carries its id i in X[i, 0, 0, 0] * 1000 and in X[i, 0, 0, 1]."""
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    m = len(y)
    X = np.zeros((m, 2, 2, 2), dtype=np.float32)
    X[:, 0, 0, 0] = np.arange(m) / 1000
    X[:, 0, 0, 1] = np.arange(m)
    names = classes or [f"c{k}" for k in range(len(counts))]
    return Dataset(X, y, names, "made")


def ids(dataset: Dataset) -> np.ndarray:
    return dataset.X[:, 0, 0, 1].astype(np.int64)


# --------------------------------------------------------------------------- Dataset


def test_dataset_len_summary_and_repr():
    data = make_dataset([3, 1, 0], classes=["a", "b", "c"])
    summary = data.summary()
    assert len(data) == 4
    assert summary == {
        "source": "made",
        "examples": 4,
        "image_shape": [2, 2, 2],
        "classes": ["a", "b", "c"],
        "class_counts": {"a": 3, "b": 1, "c": 0},
    }
    assert json.loads(json.dumps(summary)) == summary
    assert "examples=4" in repr(data) and "image_shape=(2, 2, 2)" in repr(data)


def test_import_has_no_side_effects():
    code = (
        "import sys, cnnstep.app.data; "
        "sys.exit(sorted(m for m in ('PIL', 'h5py', 'sklearn') if m in sys.modules) != [])"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# --------------------------------------------------------------------------- digits


def test_load_digits():
    from sklearn.datasets import load_digits as sklearn_digits

    data = load_digits()
    assert data.X.shape == (1797, 8, 8, 1) and data.X.dtype == np.float32
    assert data.y.shape == (1797,) and data.y.dtype == np.int64
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    assert data.classes == [str(k) for k in range(10)]
    assert data.source == "digits"
    reference = sklearn_digits()
    np.testing.assert_array_equal(data.X[..., 0], reference.images / 16)
    np.testing.assert_array_equal(data.y, reference.target)


# --------------------------------------------------------------------------- image folders


def test_image_folder_shapes_labels_and_values(folder):
    data = load_image_folder(folder)
    assert data.X.shape == (5, 6, 5, 3) and data.X.dtype == np.float32
    assert data.y.dtype == np.int64 and data.y.tolist() == [0, 0, 0, 1, 1]
    assert data.classes == ["cat", "dog"]
    assert data.source == str(folder)
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    # sorted file names within a class: a.JPG (blue), b.png (red), c.PNG (gray)
    np.testing.assert_allclose(data.X[0], np.broadcast_to([0, 0, 1], (6, 5, 3)), atol=0.02)  # JPEG: lossy
    np.testing.assert_array_equal(data.X[1], np.broadcast_to(np.float32([1, 0, 0]), (6, 5, 3)))
    np.testing.assert_array_equal(data.X[2], np.full((6, 5, 3), np.float32(128) / np.float32(255)))
    assert data.summary()["class_counts"] == {"cat": 3, "dog": 2}


def test_image_folder_ignores_hidden_nested_and_other_files(folder):
    data = load_image_folder(folder)
    assert len(data) == 5
    assert ".thumbnails" not in data.classes


def test_image_folder_resizes_mixed_sizes(tmp_path):
    root = tmp_path / "mixed"
    save_image(root / "a" / "big.png", RED, size=(40, 30))
    save_image(root / "a" / "wide.jpg", BLUE, size=(10, 24))
    save_image(root / "b" / "small.png", GREEN, size=(3, 3))
    data = load_image_folder(root, image_size=8)
    assert data.X.shape == (3, 8, 8, 3) and data.X.dtype == np.float32
    np.testing.assert_allclose(data.X[0], np.broadcast_to([1, 0, 0], (8, 8, 3)), atol=F32_ROUNDING)
    np.testing.assert_allclose(data.X[2], np.broadcast_to([0, 160 / 255, 0], (8, 8, 3)), atol=F32_ROUNDING)


def test_image_folder_grayscale(folder):
    data = load_image_folder(folder, image_size=4, channels=1)
    assert data.X.shape == (5, 4, 4, 1)
    red = 0.299 * 255 / 255  # ITU-R 601-2 luma, as Pillow's "L"
    np.testing.assert_allclose(data.X[1], red, atol=1 / 255)
    np.testing.assert_allclose(data.X[2], 128 / 255, atol=F32_ROUNDING)


def test_integer_class_names_sort_numerically(tmp_path):
    for name in ("10", "9", "2"):
        save_image(tmp_path / "numbers" / name / "i.png", RED)
    for name in ("10", "9", "b"):
        save_image(tmp_path / "mixed" / name / "i.png", RED)
    numbers = load_image_folder(tmp_path / "numbers")
    assert numbers.classes == ["2", "9", "10"]
    assert numbers.y.tolist() == [0, 1, 2]
    assert load_image_folder(tmp_path / "mixed").classes == ["10", "9", "b"]


def test_load_image(tmp_path):
    gray = save_image(tmp_path / "g.png", 51, size=(20, 10), mode="L")
    image = load_image(gray, image_size=16)
    assert image.shape == (16, 16, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image, 0.2, atol=F32_ROUNDING)
    assert load_image(str(gray), 5, channels=1).shape == (5, 5, 1)
    assert load_image(gray, None).shape == (20, 10, 3)


def test_loaders_leave_the_folder_as_it_was(folder):
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    load_image_folder(folder, image_size=3)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_real_sign_digits():
    if not SIGN_DIGITS.is_dir():
        pytest.skip(f"the sign-digits data set is not at {SIGN_DIGITS}")
    data = load_image_folder(SIGN_DIGITS, image_size=32)
    assert data.classes == [str(k) for k in range(10)]
    assert data.X.shape == (2062, 32, 32, 3) and data.X.dtype == np.float32
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    counts = data.summary()["class_counts"]
    assert sum(counts.values()) == 2062
    assert all(204 <= n <= 208 for n in counts.values())


# --------------------------------------------------------------------------- the course's .h5 files


def test_load_h5_course_layout(signs_h5):
    with h5py.File(signs_h5 / "train_signs.h5", "r") as f:
        raw = f["train_set_x"][()]
    for train, test in (
        load_h5(signs_h5),
        load_h5(signs_h5 / "train_signs.h5", signs_h5 / "test_signs.h5"),
        load_h5(str(signs_h5 / "train_signs.h5")),
    ):
        assert train.X.shape == (12, 64, 64, 3) and test.X.shape == (6, 64, 64, 3)
        assert train.X.dtype == test.X.dtype == np.float32
        np.testing.assert_array_equal(train.X, raw.astype(np.float32) / np.float32(255))
        assert train.classes == test.classes == ["0", "1", "2", "3", "4", "5"]
        assert train.y.dtype == np.int64 and train.y.tolist() == [0, 1, 2, 3, 4, 5] * 2
        assert train.source == str(signs_h5 / "train_signs.h5")


def test_load_h5_maps_label_values_to_indices(tmp_path, rng):
    x = rng.integers(0, 256, size=(4, 3, 3, 3), dtype=np.uint8)
    write_h5(tmp_path / "train_odd.h5", "train", x, [7, 3, 5, 7], [3, 5, 7])
    write_h5(tmp_path / "test_odd.h5", "test", x[:2], [5, 3], [3, 5, 7])
    train, test = load_h5(tmp_path)
    assert train.classes == ["3", "5", "7"]
    assert train.y.tolist() == [2, 0, 1, 2] and test.y.tolist() == [1, 0]


def test_load_h5_decodes_byte_names(tmp_path, rng):
    x = rng.integers(0, 256, size=(3, 4, 4, 3), dtype=np.uint8)
    names = np.array([b"non-cat", b"cat"])
    write_h5(tmp_path / "train_cats.h5", "train", x, [1, 0, 1], names)
    write_h5(tmp_path / "test_cats.h5", "test", x, [0, 0, 1], names)
    train, test = load_h5(tmp_path / "train_cats.h5")
    assert train.classes == ["non-cat", "cat"]
    assert train.y.tolist() == [1, 0, 1] and test.y.tolist() == [0, 0, 1]


# --------------------------------------------------------------------------- the CLI's --data


def test_load_dispatches_on_what_data_names(folder, signs_h5):
    digits, none = load("digits")
    assert none is None and digits.source == "digits"
    images, none = load(str(folder), image_size=7)
    assert none is None and images.X.shape == (5, 7, 7, 3)
    for data in (signs_h5, str(signs_h5), signs_h5 / "train_signs.h5"):
        train, test = load(data)
        assert (len(train), len(test)) == (12, 6)


def test_load_prefers_train_signs_among_pairs(signs_h5, rng):
    x = rng.integers(0, 256, size=(2, 4, 4, 3), dtype=np.uint8)
    write_h5(signs_h5 / "train_other.h5", "train", x, [0, 1], [0, 1])
    write_h5(signs_h5 / "test_other.h5", "test", x, [0, 1], [0, 1])
    train, _ = load(signs_h5)
    assert train.source.endswith("train_signs.h5")


# --------------------------------------------------------------------------- train_test_split


def test_split_is_stratified_and_complete():
    data = make_dataset([10, 20, 5, 2, 1])
    train, test = train_test_split(data, test_fraction=0.2, seed=3)
    assert test.summary()["class_counts"] == {"c0": 2, "c1": 4, "c2": 1, "c3": 1, "c4": 0}
    assert train.summary()["class_counts"] == {"c0": 8, "c1": 16, "c2": 4, "c3": 1, "c4": 1}
    train_ids, test_ids = ids(train), ids(test)
    assert not set(train_ids) & set(test_ids)
    assert sorted(np.concatenate([train_ids, test_ids])) == list(range(len(data)))
    np.testing.assert_array_equal(data.y[train_ids], train.y)
    np.testing.assert_array_equal(data.y[test_ids], test.y)
    assert train.classes == test.classes == data.classes


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.75])
def test_split_proportions_per_class(fraction):
    counts = [40, 13, 7]
    _, test = train_test_split(make_dataset(counts), test_fraction=fraction, seed=0)
    expected = [max(round(fraction * n), 1) for n in counts]
    assert list(test.summary()["class_counts"].values()) == expected


def test_split_is_seeded():
    data = make_dataset([30, 30, 30])
    state = np.random.get_state()[1].copy()
    first, again, other = (train_test_split(data, seed=s)[1] for s in (7, 7, 8))
    np.testing.assert_array_equal(ids(first), ids(again))
    assert set(ids(first)) != set(ids(other))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_split_leaves_the_input_alone():
    data = make_dataset([6, 6])
    X, y = data.X.copy(), data.y.copy()
    train, test = train_test_split(data, 0.5, seed=1)
    train.X[:] = -1
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [1, 4, 7, 10, 64])
def test_batches_cover_every_example_once(rng, shuffle, batch_size):
    X = np.arange(10, dtype=np.float64).reshape(10, 1) * np.ones((1, 3))
    y = np.arange(10) * 10
    got = list(batches(X, y, batch_size, shuffle=shuffle, rng=rng))
    sizes = [len(xb) for xb, _ in got]
    assert sizes == [batch_size] * (10 // batch_size) + ([10 % batch_size] if 10 % batch_size else [])
    seen = np.concatenate([xb[:, 0] for xb, _ in got]).astype(int)
    assert sorted(seen) == list(range(10))
    for xb, yb in got:
        np.testing.assert_array_equal(yb, xb[:, 0] * 10)
    if not shuffle:
        assert seen.tolist() == list(range(10))


def test_batches_shuffle_is_seeded():
    X, y = np.arange(50.0), np.arange(50)
    first = [yb.tolist() for _, yb in batches(X, y, 8, rng=np.random.default_rng(5))]
    again = [yb.tolist() for _, yb in batches(X, y, 8, rng=5)]
    other = [yb.tolist() for _, yb in batches(X, y, 8, rng=6)]
    assert first == again != other
    assert sum(first, []) != list(range(50))


def test_batches_of_nothing():
    assert list(batches(np.zeros((0, 2, 2, 1)), np.zeros(0, dtype=np.int64), 4)) == []


# --------------------------------------------------------------------------- every promised error


def class_folders(root: Path, *specs) -> Path:
    """``specs``: (class name, file name, image size) for each image to write under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, file, size in specs:
        (root / name).mkdir(exist_ok=True)
        if file:
            save_image(root / name / file, RED, size=size)
    return root


def broken_image_folder(root: Path, content: bytes) -> Path:
    class_folders(root, ("a", "fine.png", (6, 5)), ("b", "fine.png", (6, 5)))
    (root / "b" / "broken.png").write_bytes(content)
    return root


def truncated_png(tmp_path) -> bytes:
    """The first 200 bytes of a noisy 60x60 PNG: a valid header, then the data stops."""
    noisy = Image.frombytes("RGB", (60, 60), bytes(range(256)) * 42 + bytes(48))
    noisy.save(tmp_path / "noisy.png")
    return (tmp_path / "noisy.png").read_bytes()[:200]


def empty_class_folder(root: Path) -> Path:
    class_folders(root, ("a", "i.png", (4, 4)), ("empty", None, None))
    (root / "empty" / "notes.txt").write_text("not an image")
    return root


def h5_pair(root: Path, name="a", train_y=(0, 1), classes=(0, 1), test_part="test") -> Path:
    """A small train/test pair in the course's layout; ``classes=None`` leaves list_classes out."""
    x = np.zeros((2, 2, 2, 3), dtype=np.uint8)
    write_h5(root / f"train_{name}.h5", "train", x, list(train_y), classes)
    write_h5(root / f"test_{name}.h5", test_part, x, [0, 0], classes)
    return root


def lone_h5(path: Path) -> Path:
    return write_h5(path, "train", np.zeros((1, 1, 1, 1), dtype=np.uint8), [0], [0, 1])


def not_hdf5(root: Path) -> Path:
    for part in ("train", "test"):
        (root / f"{part}_x.h5").write_text("hello")
    return root


def split(counts, *args, **kwargs):
    return train_test_split(make_dataset(counts), *args, **kwargs)


def dataset(X_shape=(2, 2, 2, 1), y=(0, 1), classes=("a", "b")):
    return Dataset(np.zeros(X_shape, dtype=np.float32), np.array(y, dtype=np.int64), list(classes), "made")


ERROR_CASES = [
    # image folders and image files
    (
        "folder missing",
        lambda p: load_image_folder(p / "nowhere"),
        FileNotFoundError,
        r"load_image_folder: path '.*nowhere' does not exist; expected a folder with one subfolder of images per class",
    ),
    (
        "folder is a file",
        lambda p: load_image_folder(save_image(p / "one.png", RED)),
        ValueError,
        r"load_image_folder: path '.*one\.png' is a file, expected a folder",
    ),
    (
        "path type",
        lambda p: load_image_folder(42),
        TypeError,
        r"load_image_folder: path must be a path \(str or pathlib\.Path\), got 42 \(int\)",
    ),
    (
        "empty class folder",
        lambda p: load_image_folder(empty_class_folder(p / "d")),
        ValueError,
        r"load_image_folder: the class folder '.*empty' holds no images \(\.jpg, \.jpeg, \.png\)",
    ),
    (
        "corrupt image",
        lambda p: load_image_folder(broken_image_folder(p / "c", b"not an image at all")),
        ValueError,
        r"load_image_folder: cannot read the image '.*broken\.png': Pillow cannot identify it as an image",
    ),
    (
        "truncated image",
        lambda p: load_image_folder(broken_image_folder(p / "t", truncated_png(p))),
        ValueError,
        r"load_image_folder: cannot read the image '.*broken\.png': .*(truncated|broken|data)",
    ),
    (
        "one class",
        lambda p: load_image_folder(class_folders(p / "solo", ("only", "i.png", (4, 4)))),
        ValueError,
        r"load_image_folder: path '.*solo' must hold one subfolder per class and at least two classes, "
        r"found 1 subfolder\(s\) \['only'\]",
    ),
    (
        "no class folders",
        lambda p: load_image_folder(save_image(p / "flat" / "i.png", RED).parent),
        ValueError,
        r"found 0 subfolder\(s\) \[\]; its 1 image file\(s\) must go into class subfolders",
    ),
    (
        "mixed sizes",
        lambda p: load_image_folder(class_folders(p / "m", ("a", "i.png", (4, 4)), ("b", "j.png", (5, 4)))),
        ValueError,
        r"load_image_folder: images differ in size: '.*j\.png' is 5x4 \(height x width\) but '.*i\.png' "
        r"is 4x4; pass image_size",
    ),
    (
        "image_size zero",
        lambda p: load_image_folder(p, image_size=0),
        ValueError,
        r"load_image_folder: image_size must be a positive integer .*got 0",
    ),
    (
        "image_size negative",
        lambda p: load_image(p, image_size=-3),
        ValueError,
        r"load_image: image_size must be a positive integer .*got -3",
    ),
    (
        "image_size float",
        lambda p: load_image_folder(p, image_size=2.5),
        TypeError,
        r"load_image_folder: image_size must be a positive integer .*got 2\.5 \(float\)",
    ),
    (
        "image_size bool",
        lambda p: load_image_folder(p, image_size=True),
        TypeError,
        r"image_size must be a positive integer .*got True \(bool\)",
    ),
    (
        "image_size str",
        lambda p: load("digits", image_size="32"),
        TypeError,
        r"load: image_size must be a positive integer .*got '32' \(str\)",
    ),
    (
        "channels",
        lambda p: load_image_folder(p, channels=2),
        ValueError,
        r"load_image_folder: channels must be 3 \(RGB\) or 1 \(grayscale\), got 2",
    ),
    (
        "image missing",
        lambda p: load_image(p / "gone.png", 8),
        FileNotFoundError,
        r"load_image: path '.*gone\.png' does not exist; expected an image file",
    ),
    (
        "image is a folder",
        lambda p: load_image(p, 8),
        ValueError,
        r"load_image: path '.*' is a folder, expected an image file",
    ),
    (
        "image corrupt",
        lambda p: load_image(broken_image_folder(p, b"\xff\xd8junk") / "b" / "broken.png", 8),
        ValueError,
        r"load_image: cannot read the image '.*broken\.png'",
    ),
    # the course's .h5 files
    (
        "h5 not hdf5",
        lambda p: load_h5(not_hdf5(p)),
        ValueError,
        r"load_h5: '.*train_x\.h5' is not a readable HDF5 file \(.*\)",
    ),
    (
        "h5 missing dataset",
        lambda p: load_h5(h5_pair(p, classes=None)),
        ValueError,
        r"load_h5: '.*train_a\.h5' has no dataset 'list_classes' \(it holds \['train_set_x', 'train_set_y'\]\); "
        r"expected the course's layout",
    ),
    (
        "h5 wrong part",
        lambda p: load_h5(h5_pair(p, test_part="train") / "train_a.h5", p / "test_a.h5"),
        ValueError,
        r"load_h5: '.*test_a\.h5' has no dataset 'test_set_x'",
    ),
    (
        "h5 one class",
        lambda p: load_h5(h5_pair(p, train_y=(0, 0), classes=(0,))),
        ValueError,
        r"load_h5: list_classes in '.*train_a\.h5' must name at least two classes, got \['0'\]",
    ),
    (
        "h5 unknown label",
        lambda p: load_h5(h5_pair(p, train_y=(0, 9))),
        ValueError,
        r"load_h5: train_set_y in '.*train_a\.h5' holds labels \['9'\] that are not in list_classes \['0', '1'\]",
    ),
    (
        "h5 no pair",
        lambda p: load_h5(p),
        ValueError,
        r"load_h5: train_path '.*' holds no train_<name>\.h5 file with its test_<name>\.h5 sibling",
    ),
    (
        "h5 two pairs",
        lambda p: load_h5(h5_pair(h5_pair(p, "a"), "b")),
        ValueError,
        r"load_h5: the folder '.*' holds 2 train/test \.h5 pairs \(train_a\.h5/test_a\.h5, train_b\.h5/test_b\.h5\); "
        r"pass the path of the train file",
    ),
    (
        "h5 test file missing",
        lambda p: load_h5(lone_h5(p / "train_a.h5")),
        FileNotFoundError,
        r"load_h5: train_path '.*train_a\.h5' has no test set beside it: '.*test_a\.h5' does not exist",
    ),
    # load(): the CLI's --data
    (
        "data missing",
        lambda p: load(str(p / "nope")),
        FileNotFoundError,
        r"load: data '.*nope' does not exist; expected 'digits', a folder with one subfolder of images per class",
    ),
    (
        "data other file",
        lambda p: load(save_image(p / "cat.png", RED)),
        ValueError,
        r"load: data '.*cat\.png' is a file that is not a train_<name>\.h5 file; expected 'digits'",
    ),
    (
        "data test h5",
        lambda p: load(lone_h5(p / "test_a.h5")),
        ValueError,
        r"load: data '.*test_a\.h5' is a test file; expected a train_<name>\.h5 file with its test_<name>\.h5 sibling",
    ),
    (
        "data odd h5",
        lambda p: load(lone_h5(p / "weights.h5")),
        ValueError,
        r"load: data '.*weights\.h5' is not named train_<name>\.h5",
    ),
    (
        "data unpaired h5 folder",
        lambda p: load(lone_h5(p / "train_a.h5").parent),
        ValueError,
        r"found 0 subfolder\(s\) \[\]; \.h5 files must come as one train_<name>\.h5 / test_<name>\.h5 pair",
    ),
    (
        "data digits resized",
        lambda p: load("digits", image_size=16),
        ValueError,
        r"load: image_size=16 cannot be applied to 'digits' \(8x8 images\).*pass image_size=None",
    ),
    # splits
    (
        "split type",
        lambda p: train_test_split((np.zeros((2, 1, 1, 1)), np.zeros(2))),
        TypeError,
        r"train_test_split: dataset must be a cnnstep\.app\.data\.Dataset, got \(array",
    ),
    (
        "split fraction 0",
        lambda p: split([5, 5], 0),
        ValueError,
        r"train_test_split: test_fraction must be a number strictly between 0 and 1, e\.g\. 0\.2, got 0",
    ),
    (
        "split fraction 1",
        lambda p: split([5, 5], 1.0),
        ValueError,
        r"test_fraction must be a number strictly between 0 and 1, e\.g\. 0\.2, got 1\.0",
    ),
    (
        "split fraction nan",
        lambda p: split([5, 5], float("nan")),
        ValueError,
        r"test_fraction must be a number strictly between 0 and 1, e\.g\. 0\.2, got nan",
    ),
    (
        "split fraction str",
        lambda p: split([5, 5], "0.2"),
        TypeError,
        r"train_test_split: test_fraction must be a number .*got '0\.2' \(str\)",
    ),
    (
        "split seed",
        lambda p: split([5, 5], seed=-1),
        ValueError,
        r"train_test_split: seed must be a non-negative integer, got -1",
    ),
    (
        "split starves a class",
        lambda p: split([10, 2], 0.8),
        ValueError,
        r"train_test_split: test_fraction=0\.8 would leave class 'c1' \(2 example\(s\)\) with no training example",
    ),
    (
        "split starves a singleton",
        lambda p: split([10, 1], 0.6),
        ValueError,
        r"would leave class 'c1' \(1 example\(s\)\) with no training example",
    ),
    (
        "split empty test",
        lambda p: split([1, 1], 0.2),
        ValueError,
        r"train_test_split: test_fraction=0\.2 would leave the test set empty",
    ),
    # batches: checked on the call, before any batch is asked for
    (
        "batches lengths",
        lambda p: batches(np.zeros((4, 2)), np.zeros(3), 2),
        ValueError,
        r"batches: X and y must have the same length .*got X\.shape=\(4, 2\) and y\.shape=\(3,\)",
    ),
    (
        "batches size 0",
        lambda p: batches(np.zeros((4, 2)), np.zeros(4), 0),
        ValueError,
        r"batches: batch_size must be a positive integer, got 0",
    ),
    (
        "batches size float",
        lambda p: batches(np.zeros((4, 2)), np.zeros(4), 2.0),
        TypeError,
        r"batches: batch_size must be a positive integer, got 2\.0 \(float\)",
    ),
    (
        "batches rng",
        lambda p: batches(np.zeros((4, 2)), np.zeros(4), 2, rng="seed"),
        TypeError,
        r"batches: rng must be a numpy\.random\.Generator, a non-negative integer seed or None, got 'seed' \(str\)",
    ),
    (
        "batches X",
        lambda p: batches(np.array(["a", "b"]), np.zeros(2), 1),
        TypeError,
        r"batches: X must hold real numbers",
    ),
    # Dataset
    (
        "dataset y length",
        lambda p: dataset(X_shape=(3, 2, 2, 1)),
        ValueError,
        r"Dataset: y must have shape \(m,\) = \(3,\) to match X\.shape=\(3, 2, 2, 1\), got shape \(2,\)",
    ),
    (
        "dataset labels",
        lambda p: dataset(y=(0, 2)),
        ValueError,
        r"Dataset: labels must lie in 0\.\.1 \(one per class name\), got labels from 0 to 2",
    ),
    (
        "dataset X rank",
        lambda p: dataset(X_shape=(2, 2, 2)),
        ValueError,
        r"Dataset: X must be a 4-D array \(m, n_H, n_W, n_C\), got shape \(2, 2, 2\)",
    ),
    (
        "dataset classes",
        lambda p: dataset(classes=("a", "a")),
        ValueError,
        r"Dataset: class names must be unique, got \['a'\] more than once",
    ),
]


@pytest.mark.parametrize(
    "make, error, pattern", [case[1:] for case in ERROR_CASES], ids=[case[0] for case in ERROR_CASES]
)
def test_errors(tmp_path, make, error, pattern):
    with pytest.raises(error, match=pattern) as excinfo:
        make(tmp_path)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("module", ["h5py", "PIL", "sklearn.datasets"])
def test_missing_optional_dependency(tmp_path, signs_h5, monkeypatch, module):
    image = save_image(tmp_path / "i.png", RED)
    calls = {"h5py": lambda: load_h5(signs_h5), "PIL": lambda: load_image(image, 4), "sklearn.datasets": load_digits}
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(
        ImportError, match=r'needs the .* package, which is not installed: pip install "cnnstep\[app\]"$'
    ):
        calls[module]()
