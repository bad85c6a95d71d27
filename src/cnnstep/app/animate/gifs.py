"""The four animated GIFs, each drawn from its walk."""

from __future__ import annotations

import numpy as np

from cnnstep.app.animate.drawing import (
    CURRENT,
    DONE,
    EMPTY,
    MASK,
    PAD,
    PLAIN,
    WINDOW,
    _colours,
    _Movie,
    _number,
    _paint,
    _path,
    _term,
)
from cnnstep.app.animate.walks import (
    _conv_backward_walk,
    _conv_forward_walk,
    _pool_backward_walk,
    _pool_forward_walk,
)

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
