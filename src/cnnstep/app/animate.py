"""Animations of the blocks: the exercise's pictures, with every number on screen.

Each function draws one small, seeded example as an animated GIF (Matplotlib renders the
frames, Pillow writes the file) and returns the path it wrote:

    conv_forward_gif      the window moves with the stride over the zero-padded input;
                          each output cell fills in as ``conv_single_step`` computes it
    pool_forward_gif      the window moves over the input; each output is the max (the
                          cells of ``create_mask_from_window`` shown) or the mean
    conv_backward_gif     each ``dZ`` cell sends ``W * dZ[h, w]`` back to its window;
                          overlapping windows add up and the padding is cut off
    pool_backward_gif     max-pooling's mask routes each gradient to the window's maxima,
                          every tied maximum included; overlaps add up

The numbers are small integers drawn from ``np.random.default_rng(seed)``, so that the
arithmetic can be followed by eye, and every value shown that a block computes comes from
the block itself (``cnnstep.conv_single_step``, ``pool_forward``, ``conv_backward``,
``create_mask_from_window``, ``pool_backward``). Each animation's numbers are computed
first, without drawing, by its ``*_walk`` function (:class:`Walk`: the inputs, the block's
result and one step per frame), which the tests check against the blocks.
:func:`write_all` writes the set that ``cnnstep demo`` and ``cnnstep explain`` use.

Needs matplotlib and Pillow (``pip install "cnnstep[app]"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import cnnstep
from cnnstep._kernels import checks as _checks

__all__ = [
    "conv_forward_gif",
    "pool_forward_gif",
    "conv_backward_gif",
    "pool_backward_gif",
    "write_all",
    "Walk",
    "conv_forward_walk",
    "pool_forward_walk",
    "conv_backward_walk",
    "pool_backward_walk",
    "ANIMATIONS",
    "MAX_SIDE",
]

INSTALL = 'pip install "cnnstep[app]"'
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
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise ImportError(f"{func} needs matplotlib ({exc}); install it with: {INSTALL}") from exc
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
        try:
            from PIL import Image
        except ImportError as exc:
            raise ImportError(f"{self.func} needs Pillow ({exc}); install it with: {INSTALL}") from exc
        self.durations[0] = self.durations[-1] = HOLD_MS
        # one palette for every frame: the flat colours of the cells and the text's grey ramp
        strip = Image.fromarray(np.concatenate(self.frames[:: max(1, len(self.frames) // 6)], axis=0))
        palette = strip.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in self.frames]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=self.durations, loop=0)
            os.replace(tmp, path)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        return os.fspath(path)


def _colours(rows: int, cols: int, base: str = PLAIN) -> list:
    return [[base] * cols for _ in range(rows)]


def _paint(colours: list, row: int, col: int, height: int, width: int, colour: str, only=None) -> None:
    for r in range(row, row + height):
        for c in range(col, col + width):
            if 0 <= r < len(colours) and 0 <= c < len(colours[0]) and (only is None or only[r - row][c - col]):
                colours[r][c] = colour


# --------------------------------------------------------------------------- the walks


@dataclass(frozen=True)
class Walk:
    """What one animation shows, computed by the blocks, before any drawing.

    ``settings`` holds the checked n, f, stride (and pad, mode); ``arrays`` the inputs and
    the block's whole result; ``steps`` one dict per frame between the first and the
    last, in the order the output cells are visited (row by row): ``h``, ``w``,
    ``vert_start``, ``horiz_start``, and what that frame shows.
    """

    settings: dict
    arrays: dict
    steps: list = field(default_factory=list)


def _cells(n_out: int, stride: int):
    for h in range(n_out):
        for w in range(n_out):
            yield {"h": h, "w": w, "vert_start": h * stride, "horiz_start": w * stride}


def _conv_settings(func, n, f, stride, pad) -> tuple:
    n, f = _side(n, func, "n"), _checks.positive_int(f, func, "f")
    stride, pad = _checks.positive_int(stride, func, "stride"), _pad(pad, func)
    return n, f, stride, pad, _geometry(func, n, f, stride, pad)


def _conv_forward_walk(func, n, f, stride, pad, seed) -> Walk:
    n, f, stride, pad, n_out = _conv_settings(func, n, f, stride, pad)
    rng = np.random.default_rng(_checks.seed(seed, func))
    A_prev = rng.integers(-2, 3, size=(1, n, n, 1)).astype(np.float64)
    W = rng.integers(-2, 3, size=(f, f, 1, 1)).astype(np.float64)
    b = rng.integers(-1, 2, size=(1, 1, 1, 1)).astype(np.float64)
    A_pad = cnnstep.zero_pad(A_prev, pad)[0, :, :, 0]
    Z, _ = cnnstep.conv_forward(A_prev, W, b, {"stride": stride, "pad": pad})
    walk = Walk(
        {"n": n, "f": f, "stride": stride, "pad": pad}, {"A_prev": A_prev, "W": W, "b": b, "A_pad": A_pad, "Z": Z}
    )
    for cell in _cells(n_out, stride):
        window = A_pad[cell["vert_start"] : cell["vert_start"] + f, cell["horiz_start"] : cell["horiz_start"] + f]
        value = cnnstep.conv_single_step(window[:, :, np.newaxis], W[:, :, :, 0], b[:, :, :, 0])
        walk.steps.append({**cell, "window": window, "value": value})
    return walk


def conv_forward_walk(n: int = 5, f: int = 3, stride: int = 2, pad: int = 1, seed: int = 0) -> Walk:
    """The numbers of :func:`conv_forward_gif`: each step's window and ``conv_single_step`` of it."""
    return _conv_forward_walk("conv_forward_walk", n, f, stride, pad, seed)


def _pool_forward_walk(func, mode, n, f, stride, seed) -> Walk:
    mode = _checks.pool_mode(mode, func)
    n, f, stride, _, n_out = _conv_settings(func, n, f, stride, 0)
    rng = np.random.default_rng(_checks.seed(seed, func))
    A_prev = rng.integers(0, 10, size=(1, n, n, 1)).astype(np.float64)
    A, _ = cnnstep.pool_forward(A_prev, {"f": f, "stride": stride}, mode=mode)
    walk = Walk({"n": n, "f": f, "stride": stride, "mode": mode}, {"A_prev": A_prev, "A": A})
    for cell in _cells(n_out, stride):
        x = A_prev[0, :, :, 0]
        window = x[cell["vert_start"] : cell["vert_start"] + f, cell["horiz_start"] : cell["horiz_start"] + f]
        mask = cnnstep.create_mask_from_window(window) if mode == "max" else None
        walk.steps.append({**cell, "window": window, "value": A[0, cell["h"], cell["w"], 0], "mask": mask})
    return walk


def pool_forward_walk(mode: str = "max", n: int = 4, f: int = 2, stride: int = 2, seed: int = 0) -> Walk:
    """The numbers of :func:`pool_forward_gif`: each window, its mask (max) and pool_forward's output."""
    return _pool_forward_walk("pool_forward_walk", mode, n, f, stride, seed)


def _conv_backward_walk(func, n, f, stride, pad, seed) -> Walk:
    n, f, stride, pad, n_out = _conv_settings(func, n, f, stride, pad)
    rng = np.random.default_rng(_checks.seed(seed, func))
    A_prev = rng.integers(-2, 3, size=(1, n, n, 1)).astype(np.float64)
    W = rng.integers(-2, 3, size=(f, f, 1, 1)).astype(np.float64)
    dZ = rng.choice(np.array([-2.0, -1.0, 1.0, 2.0]), size=(1, n_out, n_out, 1))
    _, cache = cnnstep.conv_forward(A_prev, W, np.zeros((1, 1, 1, 1)), {"stride": stride, "pad": pad})
    dA_prev, dW, db = cnnstep.conv_backward(dZ, cache)
    arrays = {"A_prev": A_prev, "W": W, "dZ": dZ, "dA_prev": dA_prev, "dW": dW, "db": db}
    walk = Walk({"n": n, "f": f, "stride": stride, "pad": pad}, arrays)
    visited = np.zeros_like(dZ)
    for cell in _cells(n_out, stride):
        visited[0, cell["h"], cell["w"], 0] = 1.0
        # the gradient is linear in dZ: conv_backward of the cells visited so far is the running sum
        so_far, _, db_so_far = cnnstep.conv_backward(dZ * visited, cache)
        sent = W[:, :, 0, 0] * dZ[0, cell["h"], cell["w"], 0]
        walk.steps.append({**cell, "sent": sent, "dA_prev": so_far[0, :, :, 0], "db": float(db_so_far.sum())})
    return walk


def conv_backward_walk(n: int = 4, f: int = 2, stride: int = 1, pad: int = 1, seed: int = 0) -> Walk:
    """The numbers of :func:`conv_backward_gif`: what each dZ cell sends back and dA_prev so far."""
    return _conv_backward_walk("conv_backward_walk", n, f, stride, pad, seed)


def _pool_backward_walk(func, n, f, stride, seed) -> Walk:
    n, f, stride, _, n_out = _conv_settings(func, n, f, stride, 0)
    rng = np.random.default_rng(_checks.seed(seed, func))
    hparameters = {"f": f, "stride": stride}
    A_prev = rng.integers(0, 5, size=(1, n, n, 1)).astype(np.float64)
    if f > 1:  # a tie in the first window, so that the picture shows one
        A_prev[0, 0, 0, 0] = A_prev[0, f - 1, f - 1, 0] = A_prev[0, :f, :f, 0].max()
    _, cache = cnnstep.pool_forward(A_prev, hparameters, mode="max")
    dA = rng.integers(1, 4, size=(1, n_out, n_out, 1)).astype(np.float64)
    dA_prev = cnnstep.pool_backward(dA, cache, mode="max")
    walk = Walk({"n": n, "f": f, "stride": stride}, {"A_prev": A_prev, "dA": dA, "dA_prev": dA_prev})
    visited = np.zeros_like(dA)
    x = A_prev[0, :, :, 0]
    for cell in _cells(n_out, stride):
        visited[0, cell["h"], cell["w"], 0] = 1.0
        window = x[cell["vert_start"] : cell["vert_start"] + f, cell["horiz_start"] : cell["horiz_start"] + f]
        so_far = cnnstep.pool_backward(dA * visited, cache, mode="max")
        walk.steps.append({**cell, "mask": cnnstep.create_mask_from_window(window), "dA_prev": so_far[0, :, :, 0]})
    return walk


def pool_backward_walk(n: int = 4, f: int = 2, stride: int = 1, seed: int = 0) -> Walk:
    """The numbers of :func:`pool_backward_gif`: each window's mask and dA_prev so far."""
    return _pool_backward_walk("pool_backward_walk", n, f, stride, seed)


# --------------------------------------------------------------------------- conv_forward


def conv_forward_gif(path, n: int = 5, f: int = 3, stride: int = 2, pad: int = 1, seed: int = 0) -> str:
    """The window of ``conv_forward`` moving over a zero-padded ``n x n`` input.

    One channel in, one filter: each frame outlines the window of output (h, w) on the
    padded input, writes out ``conv_single_step``'s sum of products, and fills that output
    cell with the value ``conv_single_step`` returns.

    Parameters
    ----------
    path : str or pathlib.Path
        The GIF file to write.
    n : int, 1..MAX_SIDE
        The input's side.
    f, stride, pad : int
        The filter's side, the stride and the zero padding (``conv_forward``'s hparameters).
    seed : int
        Draws the input and the filter (integers -2..2) and the bias (-1..1).

    Returns
    -------
    str
        The path written.
    """
    func = "conv_forward_gif"
    path = _path(path, func)
    walk = _conv_forward_walk(func, n, f, stride, pad, seed)
    A_prev, W, b, A_pad, Z_check = (walk.arrays[k] for k in ("A_prev", "W", "b", "A_pad", "Z"))
    n, f, stride, pad = A_prev.shape[1], W.shape[0], walk.settings["stride"], walk.settings["pad"]
    n_out = Z_check.shape[1]
    side = n + 2 * pad

    width = side + f + n_out + 4.5
    movie = _Movie(func, max(width, 17), side + 4.7)
    top = 1.7
    x_filter, x_out = side + 1.5, side + f + 3
    grid_in = movie.grid(1, top, side, side, f"zero_pad(A_prev, {pad})")
    grid_w = movie.grid(x_filter, top, f, f, f"W ({f}x{f})")
    grid_out = movie.grid(x_out, top, n_out, n_out, f"Z ({n_out}x{n_out})")
    movie.text(x_filter, top + f + 0.9, f"b = {_number(b[0, 0, 0, 0])}", fontsize=11)
    movie.text(x_filter, top + f + 1.8, f"stride {stride}, pad {pad}", fontsize=10, color="#555555")
    header = movie.text(1, 0.5, "conv_forward: the window moves with the stride", fontsize=12, weight="bold")
    sum_line = movie.text(1, top + side + 0.8, "", fontsize=9.5, family="monospace")
    result_line = movie.text(1, top + side + 1.8, "", fontsize=11, family="monospace")

    pad_colours = _colours(side, side)
    _paint(pad_colours, 0, 0, side, side, PAD)
    _paint(pad_colours, pad, pad, n, n, PLAIN)
    grid_in.fill(A_pad, pad_colours)
    grid_w.fill(W[:, :, 0, 0], WINDOW)
    Z = np.zeros((n_out, n_out))
    done = np.zeros((n_out, n_out), dtype=bool)
    grid_out.fill(Z, EMPTY, blank=~done)
    sum_line.set_text(f"Z[h, w] = conv_single_step(window, W, b): {n_out}x{n_out} outputs")
    movie.snap()

    for step in walk.steps:
        h, w, window, value = step["h"], step["w"], step["window"], step["value"]
        vert_start, horiz_start = step["vert_start"], step["horiz_start"]
        Z[h, w], done[h, w] = value, True
        colours = [row[:] for row in pad_colours]
        _paint(colours, vert_start, horiz_start, f, f, WINDOW)
        grid_in.colour(colours)
        grid_in.outline(vert_start, horiz_start, f, f)
        out_colours = [[DONE if done[r][c] else EMPTY for c in range(n_out)] for r in range(n_out)]
        out_colours[h][w] = CURRENT
        grid_out.fill(Z, out_colours, blank=~done)
        terms = " + ".join(_term(a, k) for a, k in zip(window.ravel(), W[:, :, 0, 0].ravel(), strict=True))
        header.set_text(
            f"conv_forward: output ({h}, {w}) reads rows {vert_start}..{vert_start + f - 1}, "
            f"columns {horiz_start}..{horiz_start + f - 1}"
        )
        bias = _number(b[0, 0, 0, 0])
        sum_line.set_text(_wrap(f"{terms} + {bias if b[0, 0, 0, 0] >= 0 else f'({bias})'}", 88))
        result_line.set_text(f"conv_single_step(window, W, b) = Z[{h}, {w}] = {_number(value)}")
        movie.snap()
    grid_in.hide_outline()
    grid_in.colour(pad_colours)
    grid_out.fill(Z, DONE)
    header.set_text("conv_forward: every window done")
    sum_line.set_text("")
    same = np.allclose(Z_check[0, :, :, 0], Z)
    result_line.set_text(f"conv_forward(A_prev, W, b) gives the same Z: {same}")
    movie.snap()
    return movie.save(path)


def _wrap(text: str, width: int) -> str:
    """Break a long sum after a ' + ' so that it fits ``width`` characters a line."""
    lines, line = [], ""
    for part in text.split(" + "):
        candidate = part if not line else f"{line} + {part}"
        if len(candidate) > width and line:
            lines.append(line + " +")
            line = part
        else:
            line = candidate
    lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------- pool_forward


def pool_forward_gif(path, mode: str = "max", n: int = 4, f: int = 2, stride: int = 2, seed: int = 0) -> str:
    """The window of ``pool_forward`` moving over an ``n x n`` input, in ``mode``.

    Max: the window's maxima (``create_mask_from_window``) are marked and the output is
    their value; average: the output is the mean of the window's cells. The outputs are
    ``pool_forward``'s own.

    Parameters
    ----------
    path : str or pathlib.Path
    mode : "max" or "average"
    n : int, 1..MAX_SIDE
    f, stride : int
        ``pool_forward``'s hparameters.
    seed : int
        Draws the input (integers 0..9).

    Returns
    -------
    str
        The path written.
    """
    func = "pool_forward_gif"
    path = _path(path, func)
    walk = _pool_forward_walk(func, mode, n, f, stride, seed)
    n, f, stride, mode = (walk.settings[k] for k in ("n", "f", "stride", "mode"))
    A_prev, A = walk.arrays["A_prev"], walk.arrays["A"]
    n_out = A.shape[1]
    x = A_prev[0, :, :, 0]

    movie = _Movie(func, max(n + n_out + 4, 15), n + 4.7)
    top, x_out = 1.7, n + 2.5
    grid_in = movie.grid(1, top, n, n, "A_prev")
    grid_out = movie.grid(x_out, top, n_out, n_out, f"A, mode={mode!r}")
    movie.text(x_out, top + n_out + 0.9, f"f {f}, stride {stride}", fontsize=10, color="#555555")
    header = movie.text(1, 0.5, f"pool_forward, mode={mode!r}", fontsize=12, weight="bold")
    line = movie.text(1, top + n + 0.9, "", fontsize=10, family="monospace")
    grid_in.fill(x)
    done = np.zeros((n_out, n_out), dtype=bool)
    grid_out.fill(A[0, :, :, 0], EMPTY, blank=~done)
    movie.snap()

    for step in walk.steps:
        h, w, window, value, mask = (step[k] for k in ("h", "w", "window", "value", "mask"))
        vert_start, horiz_start = step["vert_start"], step["horiz_start"]
        colours = _colours(n, n)
        _paint(colours, vert_start, horiz_start, f, f, WINDOW)
        if mode == "max":
            _paint(colours, vert_start, horiz_start, f, f, MASK, only=mask)
            ties = int(mask.sum())
            tie_text = f" ({ties} cells hold it)" if ties > 1 else ""
            line.set_text(f"max(window) = A[{h}, {w}] = {_number(value)}{tie_text}")
        else:
            cells = " + ".join(_number(v) for v in window.ravel())
            line.set_text(_wrap(f"({cells}) / {window.size} = A[{h}, {w}] = {_number(value)}", 60))
        grid_in.colour(colours)
        grid_in.outline(vert_start, horiz_start, f, f)
        done[h, w] = True
        out_colours = [[DONE if done[r][c] else EMPTY for c in range(n_out)] for r in range(n_out)]
        out_colours[h][w] = CURRENT
        grid_out.fill(A[0, :, :, 0], out_colours, blank=~done)
        header.set_text(f"pool_forward, mode={mode!r}: output ({h}, {w})")
        movie.snap()
    grid_in.hide_outline()
    grid_in.colour(PLAIN)
    grid_out.fill(A[0, :, :, 0], DONE)
    header.set_text(f"pool_forward, mode={mode!r}: done")
    line.set_text("")
    movie.snap()
    return movie.save(path)


# --------------------------------------------------------------------------- conv_backward


def conv_backward_gif(path, n: int = 4, f: int = 2, stride: int = 1, pad: int = 1, seed: int = 0) -> str:
    """``conv_backward``'s dA_prev, built one ``dZ`` cell at a time.

    Each frame takes one cell of dZ, shows ``W * dZ[h, w]`` -- what that output sends back
    -- outlines its window on the padded input, and shows dA_prev so far: the
    ``conv_backward`` of dZ with the cells not yet visited set to 0 (the gradient is linear
    in dZ, so this is the running sum). Overlapping windows add up; what lands on the
    padding is cut off.

    Parameters
    ----------
    path : str or pathlib.Path
    n : int, 1..MAX_SIDE
    f, stride, pad : int
    seed : int
        Draws the input and W (integers -2..2) and dZ (integers -2..2, no zero).

    Returns
    -------
    str
        The path written.
    """
    func = "conv_backward_gif"
    path = _path(path, func)
    walk = _conv_backward_walk(func, n, f, stride, pad, seed)
    n, f, stride, pad = (walk.settings[k] for k in ("n", "f", "stride", "pad"))
    W, dZ = walk.arrays["W"], walk.arrays["dZ"]
    n_out = dZ.shape[1]
    side = n + 2 * pad

    movie = _Movie(func, max(n_out + f + side + 5, 17), max(side, n_out) + 4.7)
    top = 1.7
    x_w, x_out = n_out + 2.5, n_out + f + 4
    grid_dz = movie.grid(1, top, n_out, n_out, "dZ")
    grid_w = movie.grid(x_w, top, f, f, "W · dZ[h, w]")
    grid_da = movie.grid(x_out, top, side, side, "dA_prev (inside the padding)")
    header = movie.text(1, 0.5, "conv_backward: each dZ cell sends W · dZ back", fontsize=12, weight="bold")
    line = movie.text(1, top + max(side, n_out) + 0.9, "", fontsize=10, family="monospace")
    line2 = movie.text(1, top + max(side, n_out) + 1.8, "", fontsize=10, family="monospace", color="#555555")

    pad_colours = _colours(side, side)
    _paint(pad_colours, 0, 0, side, side, PAD)
    _paint(pad_colours, pad, pad, n, n, PLAIN)
    ring = np.ones((side, side), dtype=bool)
    ring[pad : pad + n, pad : pad + n] = False
    dA_shown = np.zeros((side, side))
    grid_dz.fill(dZ[0, :, :, 0])
    grid_w.fill(W[:, :, 0, 0], WINDOW)
    grid_da.fill(dA_shown, pad_colours, blank=ring)
    line.set_text(f"W = the filter; dZ ({n_out}x{n_out}) comes from the next layer")
    movie.snap()

    visited = np.zeros_like(dZ)
    for step in walk.steps:
        h, w, vert_start, horiz_start = (step[k] for k in ("h", "w", "vert_start", "horiz_start"))
        visited[0, h, w, 0] = 1.0
        dA_shown[pad : pad + n, pad : pad + n] = step["dA_prev"]
        dz_colours = _colours(n_out, n_out, DONE)
        for r in range(n_out):
            for c in range(n_out):
                if not visited[0, r, c, 0]:
                    dz_colours[r][c] = PLAIN
        dz_colours[h][w] = CURRENT
        grid_dz.colour(dz_colours)
        grid_dz.outline(h, w, 1, 1)
        grid_w.fill(step["sent"], WINDOW)
        colours = [row[:] for row in pad_colours]
        _paint(colours, vert_start, horiz_start, f, f, WINDOW)
        grid_da.fill(dA_shown, colours, blank=ring)
        grid_da.outline(vert_start, horiz_start, f, f)
        header.set_text(f"conv_backward: dZ[{h}, {w}] = {_number(dZ[0, h, w, 0])} goes back to its window")
        line.set_text(
            f"dA_prev_pad[{vert_start}:{vert_start + f}, {horiz_start}:{horiz_start + f}] += W · dZ[{h}, {w}]"
        )
        line2.set_text(f"dW += window · dZ[{h}, {w}];  db = sum of the dZ cells so far = {_number(step['db'])}")
        movie.snap()
    grid_dz.hide_outline()
    grid_da.hide_outline()
    grid_dz.colour(DONE)
    grid_da.fill(dA_shown, pad_colours, blank=ring)
    header.set_text("conv_backward: overlaps added up, the padding cut off")
    line.set_text("dA_prev = dA_prev_pad without its padding")
    line2.set_text(f"db = sum(dZ) = {_number(walk.arrays['db'].sum())}")
    movie.snap()
    return movie.save(path)


# --------------------------------------------------------------------------- pool_backward (max)


def pool_backward_gif(path, n: int = 4, f: int = 2, stride: int = 1, seed: int = 0) -> str:
    """Max-pooling's backward pass: the mask routes each gradient, ties included.

    The input holds small integers with a tied maximum in at least one window. Each frame
    takes one cell of dA, marks the window's maxima (``create_mask_from_window``; every
    tied maximum receives the whole gradient) and shows dA_prev so far: the
    ``pool_backward`` of dA with the cells not yet visited set to 0. Overlaps add up.

    Parameters
    ----------
    path : str or pathlib.Path
    n : int, 2..MAX_SIDE
    f, stride : int
    seed : int
        Draws the input (integers 0..4) and dA (integers 1..3).

    Returns
    -------
    str
        The path written.
    """
    func = "pool_backward_gif"
    path = _path(path, func)
    walk = _pool_backward_walk(func, n, f, stride, seed)
    n, f, stride = (walk.settings[k] for k in ("n", "f", "stride"))
    A_prev, dA = walk.arrays["A_prev"], walk.arrays["dA"]
    n_out = dA.shape[1]
    x = A_prev[0, :, :, 0]

    movie = _Movie(func, max(2 * n + n_out + 6, 17), n + 4.7)
    top = 1.7
    x_da, x_prev = n + 2.5, n + n_out + 4
    grid_in = movie.grid(1, top, n, n, "A_prev")
    grid_da = movie.grid(x_da, top, n_out, n_out, "dA")
    grid_out = movie.grid(x_prev, top, n, n, "dA_prev")
    header = movie.text(1, 0.5, "pool_backward, mode='max': the mask routes dA", fontsize=12, weight="bold")
    line = movie.text(1, top + n + 0.9, "", fontsize=10, family="monospace")
    grid_in.fill(x)
    grid_da.fill(dA[0, :, :, 0])
    grid_out.fill(np.zeros((n, n)), EMPTY)
    line.set_text(f"f {f}, stride {stride}: the maxima of each window receive its gradient")
    movie.snap()

    visited = np.zeros_like(dA)
    for step in walk.steps:
        h, w, vert_start, horiz_start, mask = (step[k] for k in ("h", "w", "vert_start", "horiz_start", "mask"))
        visited[0, h, w, 0] = 1.0
        colours = _colours(n, n)
        _paint(colours, vert_start, horiz_start, f, f, WINDOW)
        _paint(colours, vert_start, horiz_start, f, f, MASK, only=mask)
        grid_in.colour(colours)
        grid_in.outline(vert_start, horiz_start, f, f)
        da_colours = [[DONE if visited[0, r, c, 0] else PLAIN for c in range(n_out)] for r in range(n_out)]
        da_colours[h][w] = CURRENT
        grid_da.colour(da_colours)
        out_colours = _colours(n, n, EMPTY)
        _paint(out_colours, vert_start, horiz_start, f, f, MASK, only=mask)
        grid_out.fill(step["dA_prev"], out_colours)
        grid_out.outline(vert_start, horiz_start, f, f)
        ties = int(mask.sum())
        who = "its maximum" if ties == 1 else f"each of its {ties} tied maxima"
        header.set_text(f"pool_backward, mode='max': dA[{h}, {w}] = {_number(dA[0, h, w, 0])}")
        line.set_text(f"mask = create_mask_from_window(window): {who} gets {_number(dA[0, h, w, 0])}")
        movie.snap()
    grid_in.hide_outline()
    grid_out.hide_outline()
    grid_in.colour(PLAIN)
    grid_out.fill(walk.arrays["dA_prev"][0, :, :, 0], DONE)
    header.set_text("pool_backward, mode='max': overlaps added up")
    line.set_text("dA_prev = pool_backward(dA, cache, mode='max')")
    movie.snap()
    return movie.save(path)


# --------------------------------------------------------------------------- the set


ANIMATIONS = {
    "conv_forward.gif": "conv_forward: the window moves with stride 2 over the input zero-padded by 1",
    "pool_max.gif": "pool_forward, mode='max': 2x2 windows, stride 2",
    "pool_average.gif": "pool_forward, mode='average': 2x2 windows, stride 2",
    "conv_backward.gif": "conv_backward: each dZ cell sends W·dZ back to its window; overlaps add up",
    "pool_backward_max.gif": "pool_backward, mode='max': the mask routes each gradient, tied maxima included",
}


def write_all(out, seed: int = 0) -> list[str]:
    """The five animations of :data:`ANIMATIONS` into the folder ``out``; their paths."""
    func = "write_all"
    if not isinstance(out, (str, os.PathLike)) or (isinstance(out, str) and not out):
        raise TypeError(f"{func}: out must be a folder path (str or pathlib.Path), got {_checks.show(out)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(ANIMATIONS)
    return [
        conv_forward_gif(out / names[0], n=5, f=3, stride=2, pad=1, seed=seed),
        pool_forward_gif(out / names[1], mode="max", n=4, f=2, stride=2, seed=seed),
        pool_forward_gif(out / names[2], mode="average", n=4, f=2, stride=2, seed=seed),
        conv_backward_gif(out / names[3], n=4, f=2, stride=1, pad=1, seed=seed),
        pool_backward_gif(out / names[4], n=4, f=2, stride=1, seed=seed),
    ]
