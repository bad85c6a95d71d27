"""The drawing of the animations: numbered grids on one Matplotlib figure, frames, the GIF file, and
the argument checks the animations share."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.app.common import optional
from cnnstep.nn.io import atomic_write

MAX_SIDE = 9  # the largest input side drawn: beyond it the numbers no longer fit
CELL = 38  # pixels per grid cell
FRAME_MS = 650
HOLD_MS = 2200  # the first and last frames stay longer

# The colours of the cells
PLAIN, PAD, WINDOW, DONE, CURRENT, MASK, EMPTY = (
    "#f4f4f4",
    "#d9d9d9",
    "#ffd59b",
    "#cfe3f7",
    "#ff9f43",
    "#9be3a5",
    "#ffffff",
)
EDGE = "#e8590c"


# --------------------------------------------------------------------------- checks


def _side(value, func: str, name: str) -> int:
    n = _checks.positive_int(value, func, name)
    if n > MAX_SIDE:
        raise ValueError(f"{func}: {name} must be at most {MAX_SIDE} so that the numbers stay readable, got {n}")
    return n


def _pad(value, func: str) -> int:
    if not _checks.is_int(value):
        raise TypeError(f"{func}: pad must be an integer >= 0, got {_checks.show(value)}")
    if value < 0:
        raise ValueError(f"{func}: pad must be an integer >= 0, got {value!r}")
    return int(value)


def _geometry(func: str, n: int, f: int, stride: int, pad: int) -> int:
    """The output side, after checking that the window fits the padded input."""
    if f > n + 2 * pad:
        raise ValueError(f"{func}: the window f={f} is larger than the padded input (n={n} + 2*pad={2 * pad})")
    return (n + 2 * pad - f) // stride + 1


def _path(value, func: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value):
        raise TypeError(f"{func}: path must be a file path (str or pathlib.Path), got {_checks.show(value)}")
    return Path(value)


# --------------------------------------------------------------------------- drawing


def _number(value) -> str:
    """Integers without decimals, other values with two."""
    value = float(value)
    if value == 0:
        return "0"
    return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"


def _term(a, w) -> str:
    """One product of a sum, negative factors in parentheses."""
    left, right = _number(a), _number(w)
    return f"{left if a >= 0 else f'({left})'}·{right if w >= 0 else f'({right})'}"


class _Grid:
    """A grid of numbered cells at (x0, y0) on the canvas, in cell units (y down)."""

    def __init__(self, ax, x0: float, y0: float, rows: int, cols: int, title: str, fontsize: float = 10):
        from matplotlib.patches import Rectangle

        self.ax, self.x0, self.y0, self.rows, self.cols = ax, x0, y0, rows, cols
        self.cells, self.texts = {}, {}
        for r in range(rows):
            for c in range(cols):
                patch = Rectangle((x0 + c, y0 + r), 1, 1, facecolor=PLAIN, edgecolor="#9a9a9a", linewidth=0.8)
                ax.add_patch(patch)
                self.cells[r, c] = patch
                self.texts[r, c] = ax.text(
                    x0 + c + 0.5, y0 + r + 0.5, "", ha="center", va="center", fontsize=fontsize, family="monospace"
                )
        self.title = ax.text(x0, y0 - 0.35, title, ha="left", va="bottom", fontsize=10.5, weight="bold")
        self.frame = Rectangle((x0, y0), 1, 1, fill=False, edgecolor=EDGE, linewidth=3, visible=False)
        ax.add_patch(self.frame)

    def fill(self, values, colours=None, blank=None) -> None:
        """Write ``values`` (rows, cols); ``colours`` per cell or one; ``blank`` hides cells (True)."""
        for (r, c), text in self.texts.items():
            hidden = blank is not None and blank[r, c]
            text.set_text("" if hidden else _number(values[r, c]))
        self.colour(PLAIN if colours is None else colours)

    def colour(self, colours) -> None:
        for (r, c), patch in self.cells.items():
            patch.set_facecolor(colours if isinstance(colours, str) else colours[r][c])

    def outline(self, row: int, col: int, height: int, width: int) -> None:
        self.frame.set_bounds(self.x0 + col, self.y0 + row, width, height)
        self.frame.set_visible(True)

    def hide_outline(self) -> None:
        self.frame.set_visible(False)


class _Movie:
    """One figure whose artists are updated frame by frame, then written as a GIF."""

    def __init__(self, func: str, width: float, height: float):
        FigureCanvasAgg = optional("matplotlib.backends.backend_agg", func).FigureCanvasAgg
        Figure = optional("matplotlib.figure", func).Figure
        self.func = func
        self.fig = Figure(figsize=(width * CELL / 100, height * CELL / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.ax.set_axis_off()
        self.frames, self.durations = [], []

    def text(self, x: float, y: float, value: str = "", **kwargs):
        kwargs.setdefault("fontsize", 10)
        return self.ax.text(x, y, value, ha="left", va="center", **kwargs)

    def grid(self, x0, y0, rows, cols, title, fontsize=10) -> _Grid:
        return _Grid(self.ax, x0, y0, rows, cols, title, fontsize)

    def snap(self, ms: int = FRAME_MS) -> None:
        self.canvas.draw()
        self.frames.append(np.asarray(self.canvas.buffer_rgba())[..., :3].copy())
        self.durations.append(ms)

    def save(self, path: Path) -> str:
        Image = optional("PIL.Image", self.func)
        self.durations[0] = self.durations[-1] = HOLD_MS
        # one palette for every frame: the flat colours of the cells and the text's grey ramp
        strip = Image.fromarray(np.concatenate(self.frames[:: max(1, len(self.frames) // 6)], axis=0))
        palette = strip.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in self.frames]
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as file:
            images[0].save(file, format="GIF", save_all=True, append_images=images[1:], duration=self.durations, loop=0)
        return os.fspath(path)


def _colours(rows: int, cols: int, base: str = PLAIN) -> list:
    return [[base] * cols for _ in range(rows)]


def _paint(colours: list, row: int, col: int, height: int, width: int, colour: str, only=None) -> None:
    for r in range(row, row + height):
        for c in range(col, col + width):
            if 0 <= r < len(colours) and 0 <= c < len(colours[0]) and (only is None or only[r - row][c - col]):
                colours[r][c] = colour
