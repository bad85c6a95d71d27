"""The explainer page in a real browser: headless Chromium driven by Playwright.

Skipped only where Playwright or Chromium is absent (CI installs both). The browser is the
system's Chromium (``CNNSTEP_CHROMIUM``, default /usr/bin/chromium): Playwright's own
browser download is never used. Set ``CNNSTEP_SCREENSHOT=docs/explain.png`` to write the
README's screenshot from this run.
"""

import io
import os
from pathlib import Path

import numpy as np
import pytest

import cnnstep
from cnnstep.app import cli
from cnnstep.app.data import load_digits, train_test_split
from cnnstep.app.explain import explain, sources
from cnnstep.nn import build, load_model

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("matplotlib")
pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

CHROMIUM = os.environ.get("CNNSTEP_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}


def sum_tolerance(products: np.ndarray, bias: float, dtype) -> float:
    """How far two float sums of the same products may differ: any order or blocking of n terms
    stays within about n * eps * (sum of |terms|); Winograd's transforms get a factor 4 more."""
    n = products.size + 1
    return 4 * n * float(np.finfo(dtype).eps) * (float(np.abs(products).sum()) + abs(float(bias)))


# --------------------------------------------------------------------------- the browser and the pages


@pytest.fixture(scope="module")
def browser():
    if not os.path.isfile(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def digits_page(tmp_path_factory):
    """`cnnstep explain` with no arguments: the default model trained on the digits, a test digit."""
    out = tmp_path_factory.mktemp("digits") / "page"
    assert cli.main(["explain", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def rgb_page(tmp_path_factory):
    """The exercise's model on a 12x12 RGB array: padded convolution, 'same' max-pooling."""
    folder = tmp_path_factory.mktemp("rgb")
    build("application", (12, 12, 3), 3, seed=1, classes=["x", "y", "z"]).save(folder / "model.npz")
    x = np.random.default_rng(7).uniform(size=(12, 12, 3)).astype(np.float32)
    np.save(folder / "image.npy", x)
    explain(folder / "model.npz", folder / "image.npy", out=folder / "page", log=lambda line: None)
    return folder / "page"


class Visit:
    """A page opened from file:// with every other request refused and recorded."""

    def __init__(self, browser, folder: Path):
        self.context = browser.new_context(viewport=VIEWPORT)
        self.errors, self.requests = [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self._seen(request.url))
        self.page.goto((folder / "index.html").as_uri())
        self.page.wait_for_load_state("load")
        self.page.wait_for_function("Array.from(document.images).every(image => image.complete)")

    def _seen(self, url: str) -> None:
        if not url.startswith(("file:", "data:")):
            self.requests.append(url)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def click_cell(self, pos: int, channel: int, h: int, w: int) -> None:
        """A real click at the centre of cell (h, w); Playwright's position is within the padding box."""
        canvas = self.page.locator(f"canvas[data-pos='{pos}'][data-channel='{channel}']")
        rows, cols, width, height = canvas.evaluate("c => [c.height, c.width, c.clientWidth, c.clientHeight]")
        canvas.click(position={"x": (w + 0.5) * width / cols, "y": (h + 0.5) * height / rows})

    def result(self) -> np.float32:
        """The value the panel shows, as the float32 the page holds (its 9 digits round-trip exactly)."""
        return np.float32(self.page.get_attribute("#arith-result strong", "data-value"))

    def table(self, role: str, channel: int) -> list:
        cells = self.page.eval_on_selector_all(
            f"#panel table[data-role='{role}'][data-channel='{channel}'] tr",
            "rows => rows.map(row => Array.from(row.cells).map(cell => cell.dataset.value))",
        )
        return cells

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser):
    opened = []

    def open_page(folder):
        opened.append(Visit(browser, folder))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


def as_floats(rows) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in rows], dtype=np.float32)


# --------------------------------------------------------------------------- the page loads, offline


@pytest.mark.parametrize("which", ["digits_page", "rgb_page"])
def test_the_page_opens_offline_without_errors_and_every_image_loads(request, visit, which):
    seen = visit(request.getfixturevalue(which))
    images = seen.page.evaluate("Array.from(document.images).map(image => [image.src, image.naturalWidth])")
    assert len(images) == 6  # the input and five animations
    assert all(src.startswith("file:") and width > 0 for src, width in images), images
    assert seen.page.locator("canvas").count() > 10
    assert seen.errors == []
    assert seen.requests == []


# --------------------------------------------------------------------------- one output's arithmetic


def digits_forward(folder: Path):
    """The saved model's layers' inputs on the page's digit, computed here."""
    model = load_model(folder / "model.npz")
    _, test = train_test_split(load_digits(), test_fraction=0.2, seed=sources.DIGITS_SEED)
    batch, inputs = test.X[:1].astype(np.float32), []
    for layer in model.layers:
        inputs.append(batch)
        batch = layer.forward(batch, training=False)
    return model, inputs


@pytest.mark.parametrize(("layer", "channel", "h", "w"), [(0, 2, 0, 0), (0, 7, 3, 5), (3, 5, 1, 2), (6, 11, 1, 0)])
def test_a_conv_cell_shows_its_window_its_filter_and_conv_single_step_of_them(visit, digits_page, layer, channel, h, w):
    model, inputs = digits_forward(digits_page)
    conv = model.layers[layer]
    assert type(conv).__name__ == "Conv2D" and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
    window = cnnstep.zero_pad(inputs[layer], 1)[0, h : h + 3, w : w + 3, :]  # 3x3 'same': pad 1
    W, b = conv.params["W"][..., channel], conv.params["b"][..., channel]
    expected = cnnstep.conv_single_step(window, W, b)

    seen = visit(digits_page)
    seen.click_cell(layer + 1, channel, h, w)
    for k in range(window.shape[2]):
        np.testing.assert_array_equal(as_floats(seen.table("window", k)), window[:, :, k])
        np.testing.assert_array_equal(as_floats(seen.table("filter", k)), W[:, :, k])
    assert np.float32(seen.page.get_attribute("#arith-bias", "data-value")) == b.reshape(())
    tolerance = sum_tolerance(window * W, float(b.reshape(())), np.float32)
    assert abs(float(seen.result()) - float(expected)) <= tolerance
    assert seen.page.locator(".mark").count() == window.shape[2] + 1  # the window on each channel below, the cell
    assert seen.errors == []


def test_max_and_average_pool_cells_show_their_window_and_its_max_or_mean(visit, rgb_page):
    model = load_model(rgb_page.parent / "model.npz")
    x = np.load(rgb_page.parent / "image.npy")[np.newaxis]
    relu = model.layers[1].forward(model.layers[0].forward(x, training=False), training=False)
    seen = visit(rgb_page)
    # MaxPool2D 8x8, stride 8, 'same' on 12x12: two padded rows and columns before, two after
    padded = np.pad(relu[0], ((2, 2), (2, 2), (0, 0)), constant_values=np.nan)
    for h, w, channel in [(0, 0, 1), (1, 1, 6), (0, 1, 3)]:
        seen.click_cell(3, channel, h, w)
        window = padded[8 * h : 8 * h + 8, 8 * w : 8 * w + 8, channel]
        rows = seen.table("window", channel)
        shown_pad = np.array([[v == "pad" for v in row] for row in rows])
        np.testing.assert_array_equal(shown_pad, np.isnan(window))
        real = window[~np.isnan(window)]
        np.testing.assert_array_equal(
            np.array([float(v) for row in rows for v in row if v != "pad"], dtype=np.float32), real
        )
        assert seen.result() == real.max()
        assert seen.page.locator("#panel td.max").count() == int(np.count_nonzero(real == real.max()))
    seen.click_cell(2, 4, 5, 7)  # ReLU: max(x, 0) of the same cell below
    assert seen.result() == relu[0, 5, 7, 4]
    assert seen.errors == []


def test_a_strided_conv_and_an_average_pool_cell_show_their_windows(visit, tmp_path, rng):
    from cnnstep.nn import AvgPool2D, Conv2D, Dense, Flatten, Sequential

    layers = [Conv2D(2, 3, stride=2, pad=1), AvgPool2D(3, stride=2, pad="same"), Flatten(), Dense(2)]
    model = Sequential(layers, (7, 7, 1), seed=2)
    model.save(tmp_path / "model.npz")
    x = rng.normal(size=(7, 7, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    explain(tmp_path / "model.npz", tmp_path / "x.npy", out=tmp_path / "page", log=lambda line: None)
    seen = visit(tmp_path / "page")

    # Conv2D 3x3, stride 2, pad 1 on 7x7 -> 4x4: output (3, 0) reads padded rows 6..8, columns 0..2
    seen.click_cell(1, 1, 3, 0)
    window = cnnstep.zero_pad(x[np.newaxis], 1)[0, 6:9, 0:3, :]
    W, b = model.layers[0].params["W"][..., 1], model.layers[0].params["b"][..., 1]
    np.testing.assert_array_equal(as_floats(seen.table("window", 0)), window[:, :, 0])
    expected = cnnstep.conv_single_step(window, W, b)
    assert abs(float(seen.result()) - float(expected)) <= sum_tolerance(window * W, float(b.reshape(())), np.float32)

    # AvgPool2D 3x3, stride 2, 'same' on 4x4 -> 2x2, one padded row and column after the input
    Z = model.layers[0].forward(x[np.newaxis], training=False)[0, :, :, 1]
    seen.click_cell(2, 1, 1, 1)
    real = Z[2:4, 2:4]
    shown = [v for row in seen.table("window", 1) for v in row]
    assert shown.count("pad") == 5
    np.testing.assert_array_equal(np.array([float(v) for v in shown if v != "pad"], dtype=np.float32), real.ravel())
    assert abs(float(seen.result()) - float(real.mean())) <= sum_tolerance(real, 0.0, np.float32)
    assert seen.errors == []


# --------------------------------------------------------------------------- it looks like a page


def test_a_screenshot_is_not_blank(visit, digits_page):
    seen = visit(digits_page)
    seen.click_cell(1, 3, 4, 2)
    shot = seen.page.screenshot(full_page=False)
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=np.float64)
    assert pixels.shape == (VIEWPORT["height"], VIEWPORT["width"])
    assert pixels.std() > 20  # text, maps and bars, not one flat colour
    assert len(np.unique(pixels)) > 50
    target = os.environ.get("CNNSTEP_SCREENSHOT")
    if target:
        Path(target).write_bytes(shot)
