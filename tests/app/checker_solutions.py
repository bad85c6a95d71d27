"""Learners' solutions for the checker's tests: a correct loop solution and mutants made from it."""

import json
from pathlib import Path

SOLUTION_PATH = Path(__file__).resolve().parent / "checker_data" / "solution.py"
SOLUTION = SOLUTION_PATH.read_text(encoding="utf-8")
EIGHT = (
    "zero_pad",
    "conv_single_step",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "create_mask_from_window",
    "distribute_value",
    "pool_backward",
)


def function_block(source: str, name: str) -> tuple[int, int]:
    """Where ``def name(`` starts and ends in ``source``."""
    start = source.index(f"\ndef {name}(") + 1
    end = source.find("\ndef ", start)
    stop = source.find("\nnp.random.seed", start)
    ends = [e for e in (end, stop) if e >= 0]
    return start, min(ends) + 1 if ends else len(source)


def mutate(name: str, *edits, source: str = SOLUTION) -> str:
    """``source`` with each (old, new) edit made inside function ``name`` (each old must be there)."""
    start, end = function_block(source, name)
    body = source[start:end]
    for old, new in edits:
        if old not in body:
            raise AssertionError(f"{old!r} is not in {name}")
        body = body.replace(old, new)
    return source[:start] + body + source[end:]


def without(name: str, source: str = SOLUTION) -> str:
    start, end = function_block(source, name)
    return source[:start] + source[end:]


def notebook(source: str = SOLUTION) -> str:
    """The solution as a learner's notebook: one cell per function, with magics, shell
    escapes, display and plot cells, and a markdown cell around them."""
    blocks = []
    for name in EIGHT:
        start, end = function_block(source, name)
        blocks.append(source[start:end])
    header = source[: function_block(source, EIGHT[0])[0]]
    code_cells = [
        "%matplotlib inline\n" + header,
        "!pip install --quiet numpy\n%load_ext autoreload\n%autoreload 2",
        *blocks,
        "%%bash\necho 'def zero_pad(X, pad):'\nwhile true; do sleep 1; done",
        "%%time\nsmall = zero_pad(np.ones((1, 1, 1, 1)), 1)",
        "x_pad = zero_pad(np.zeros((1, 2, 2, 1)), 1)\nplt.imshow(x_pad[0, :, :, 0])\ndisplay(x_pad)",
        "zero_pad?",
    ]
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Convolution model, step by step\n"]}]
    for text in code_cells:
        lines = text.splitlines(keepends=True)
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": lines})
    document = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1)


# One mutant per classic mistake: the function it breaks, the source edits, words its diagnosis must hold.
MUTANTS = {
    "zero_pad pads the wrong axes": (
        "zero_pad",
        [("((0, 0), (pad, pad), (pad, pad), (0, 0))", "((pad, pad), (pad, pad), (0, 0), (0, 0))")],
        ["example and height axes"],
    ),
    "float(b) under NumPy 2": ("conv_single_step", [("b.item()", "float(b)")], ["float(b)", "NumPy 2"]),
    "the bias left out": ("conv_single_step", [("Z = Z + b.item()", "Z = Z")], ["bias"]),
    "conv_forward ignores the stride": (
        "conv_forward",
        [("vert_start = h * stride", "vert_start = h"), ("horiz_start = w * stride", "horiz_start = w")],
        ["stride is ignored", "passes at stride 1, fails at stride 2 and 3"],
    ),
    "conv_forward drops the example index": (
        "conv_forward",
        [("a_prev_pad = A_prev_pad[i]", "a_prev_pad = A_prev_pad[0]")],
        ["example 0", "m > 1"],
    ),
    "conv_forward caches the padded input": (
        "conv_forward",
        [("cache = (A_prev, W", "cache = (A_prev_pad, W")],
        ["cache holds the padded input"],
    ),
    "conv_backward slices [pad:-pad]": (
        "conv_backward",
        [("da_prev_pad[pad : pad + n_H_prev, pad : pad + n_W_prev, :]", "da_prev_pad[pad:-pad, pad:-pad, :]")],
        ["[pad:-pad]", "fails only with pad 0"],
    ),
    "conv_backward assigns where it must add": (
        "conv_backward",
        [("horiz_start:horiz_end, :] +=", "horiz_start:horiz_end, :] =")],
        ["'=' instead of '+='"],
    ),
    "conv_backward ignores the stride": (
        "conv_backward",
        [("vert_start = h * stride", "vert_start = h"), ("horiz_start = w * stride", "horiz_start = w")],
        ["stride is ignored", "passes at stride 1"],
    ),
    "pool_forward drops the example index": (
        "pool_forward",
        [("A_prev[i, vert_start", "A_prev[vert_start")],
        ["without the example index i"],
    ),
    "pool_forward ignores the stride": (
        "pool_forward",
        [("vert_start = h * stride", "vert_start = h"), ("horiz_start = w * stride", "horiz_start = w")],
        ["stride is ignored", "passes at stride 1, fails at stride 2 and 3"],
    ),
    "the mask marks only the first maximum": (
        "create_mask_from_window",
        [("mask = x == np.max(x)", "mask = np.zeros(x.shape, dtype=bool)\n    mask.flat[np.argmax(x)] = True")],
        ["ties", "fails only when a window holds its maximum more than once"],
    ),
    "distribute_value divides wrongly": (
        "distribute_value",
        [("dz / (n_H * n_W)", "dz / n_H * n_W")],
        ["dz / n_H * n_W"],
    ),
    "distribute_value adds dz again": (
        "distribute_value",
        [("a = np.ones(shape) * average", "a = np.ones(shape) * average + dz")],
        ["adds dz again"],
    ),
    "pool_backward assigns where it must add": (
        "pool_backward",
        [("c] += np.multiply", "c] = np.multiply"), ("c] += distribute_value", "c] = distribute_value")],
        ["'=' instead of '+='", "fails only where windows overlap"],
    ),
    "pool_backward drops the example index": (
        "pool_backward",
        [("a_prev = A_prev[i]", "a_prev = A_prev")],
        ["without the example index i"],
    ),
    "pool_backward ignores the stride": (
        "pool_backward",
        [("vert_start = h * stride", "vert_start = h"), ("horiz_start = w * stride", "horiz_start = w")],
        ["stride is ignored"],
    ),
    "conv_forward gives every example one example's output": (
        "conv_forward",
        [("a_prev_pad = A_prev_pad[i]", "a_prev_pad = A_prev_pad[-1]")],
        ["every example gets the same output", "example index i"],
    ),
    "conv_backward cuts the padding once, after the loop": (
        "conv_backward",
        [("        dA_prev[i, :, :, :] = da_prev_pad", "    dA_prev[i, :, :, :] = da_prev_pad")],
        ["only the last example", "m > 1"],
    ),
    "conv_backward leaves the padding on": (
        "conv_backward",
        [("da_prev_pad[pad : pad + n_H_prev, pad : pad + n_W_prev, :]", "da_prev_pad")],
        ["padding is not cut off", "passes at pad 0"],
    ),
    "pool_forward ignores the mode": (
        "pool_forward",
        [("A[i, h, w, c] = np.mean(a_prev_slice)", "A[i, h, w, c] = np.max(a_prev_slice)")],
        ["mode is ignored", 'fails only in mode "average"'],
    ),
    "the mask holds integers": (
        "create_mask_from_window",
        [("mask = x == np.max(x)", "mask = (x == np.max(x)).astype(int)")],
        ["0/1 integers"],
    ),
    "distribute_value divides with //": (
        "distribute_value",
        [("dz / (n_H * n_W)", "dz // (n_H * n_W)")],
        ["integer division"],
    ),
    "distribute_value uses n_H twice": (
        "distribute_value",
        [("dz / (n_H * n_W)", "dz / (n_H * n_H)")],
        ["n_H * n_H", "non-square"],
    ),
    "pool_backward sends the gradient to the first maximum only": (
        "pool_backward",
        [
            (
                "mask = create_mask_from_window(a_prev_slice)",
                "mask = np.zeros(a_prev_slice.shape, dtype=bool)\n"
                "                        mask.flat[np.argmax(a_prev_slice)] = True",
            )
        ],
        ["only the first maximum", "ties"],
    ),
    "pool_backward adds da again": (
        "pool_backward",
        [("+= distribute_value(da, shape)", "+= distribute_value(da, shape) + da")],
        ["adds da again", 'mode "average"'],
    ),
}
