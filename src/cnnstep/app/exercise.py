"""The exercise's own test cells, in both of its editions, and the values it publishes.

Each :class:`Cell` is the code a learner's notebook runs after writing a function
(``np.random.seed(1)`` and ``np.random.randn`` exactly as the notebook draws them) and
the "Expected Output" the notebook prints beside it, as ``(expression, value)`` pairs.
The values are kept to the digits printed; :func:`tolerance` turns those digits into
the comparison's bound.

The tests (``tests/core/test_exercise.py``), the learner's checker
(:mod:`cnnstep.app.checker`) and ``cnnstep demo --exercise`` all read this one module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstep import reference

__all__ = ["Cell", "CELLS", "run_cell", "tolerance", "FUNCTIONS", "walkthrough"]

FUNCTIONS = tuple(reference.__all__)  # the eight, in the exercise's order


@dataclass(frozen=True)
class Cell:
    """One test cell of the exercise.

    name : what the cell tests, e.g. ``"conv_forward (edition 2)"``
    function : the function it checks (the last one it calls)
    code : the cell's statements; they call the eight functions by their names
    expected : ``(expression, published value)`` pairs; a value is a number, a shape
        tuple, a boolean/float nested list, or ``None`` where the notebook prints the
        value without a published number (the reference's value stands in for it)
    """

    name: str
    function: str
    code: str
    expected: tuple


ZERO_PAD_X11 = [[0.90085595, -0.68372786], [-0.12289023, -0.93576943], [-0.26788808, 0.53035547]]

CELLS = (
    Cell(
        "zero_pad (edition 1)",
        "zero_pad",
        "np.random.seed(1)\nx = np.random.randn(4, 3, 3, 2)\nx_pad = zero_pad(x, 2)",
        (("x.shape", (4, 3, 3, 2)), ("x_pad.shape", (4, 7, 7, 2)), ("x[1, 1]", ZERO_PAD_X11), ("x_pad[1, 1]", None)),
    ),
    Cell(
        "zero_pad (edition 2)",
        "zero_pad",
        "np.random.seed(1)\nx = np.random.randn(4, 3, 3, 2)\nx_pad = zero_pad(x, 3)",
        (("x.shape", (4, 3, 3, 2)), ("x_pad.shape", (4, 9, 9, 2)), ("x[1, 1]", ZERO_PAD_X11), ("x_pad[1, 1]", None)),
    ),
    Cell(
        "conv_single_step",
        "conv_single_step",
        "np.random.seed(1)\na_slice_prev = np.random.randn(4, 4, 3)\nW = np.random.randn(4, 4, 3)\n"
        "b = np.random.randn(1, 1, 1)\nZ = conv_single_step(a_slice_prev, W, b)",
        (("Z", -6.99908945068),),
    ),
    Cell(
        "conv_forward (edition 1)",
        "conv_forward",
        "np.random.seed(1)\nA_prev = np.random.randn(10, 4, 4, 3)\nW = np.random.randn(2, 2, 3, 8)\n"
        'b = np.random.randn(1, 1, 1, 8)\nhparameters = {"pad": 2, "stride": 2}\n'
        "Z, cache_conv = conv_forward(A_prev, W, b, hparameters)",
        (
            ("np.mean(Z)", 0.0489952035289),
            (
                "Z[3, 2, 1]",
                [-0.61490741, -6.7439236, -2.55153897, 1.75698377, 3.56208902, 0.53036437, 5.18531798, 8.75898442],
            ),
            ("cache_conv[0][1][2][3]", [-0.20075807, 0.18656139, 0.41005165]),
        ),
    ),
    Cell(
        "conv_forward (edition 2)",
        "conv_forward",
        "np.random.seed(1)\nA_prev = np.random.randn(10, 5, 7, 4)\nW = np.random.randn(3, 3, 4, 8)\n"
        'b = np.random.randn(1, 1, 1, 8)\nhparameters = {"pad": 1, "stride": 2}\n'
        "Z, cache_conv = conv_forward(A_prev, W, b, hparameters)",
        (
            ("Z.shape", (10, 3, 4, 8)),
            ("np.mean(Z)", 0.692360880758),
            (
                "Z[3, 2, 1]",
                [-1.28912231, 2.27650251, 6.61941931, 0.95527176, 8.25132576, 2.31329639, 13.00689405, 2.34576051],
            ),
            ("cache_conv[0][1][2][3]", [-1.1191154, 1.9560789, -0.3264995, -1.34267579]),
        ),
    ),
    Cell(
        "pool_forward (edition 1)",
        "pool_forward",
        'np.random.seed(1)\nA_prev = np.random.randn(2, 4, 4, 3)\nhparameters = {"stride": 2, "f": 3}\n'
        "A, cache = pool_forward(A_prev, hparameters)\n"
        'A_average, cache = pool_forward(A_prev, hparameters, mode="average")',
        (
            ("A", [[[[1.74481176, 0.86540763, 1.13376944]]], [[[1.13162939, 1.51981682, 2.18557541]]]]),
            ("A_average", [[[[0.02105773, -0.20328806, -0.40389855]]], [[[-0.22154621, 0.51716526, 0.48155844]]]]),
        ),
    ),
    Cell(
        "pool_forward (edition 2)",
        "pool_forward",
        'np.random.seed(1)\nA_prev = np.random.randn(2, 5, 5, 3)\nhparameters = {"stride": 1, "f": 3}\n'
        'A, cache = pool_forward(A_prev, hparameters, mode="max")\n'
        'A_average, cache = pool_forward(A_prev, hparameters, mode="average")',
        (
            ("A.shape", (2, 3, 3, 3)),
            (
                "A[1, 1]",
                [
                    [1.96710175, 0.84616065, 1.27375593],
                    [1.96710175, 0.84616065, 1.23616403],
                    [1.62765075, 1.12141771, 1.2245077],
                ],
            ),
            (
                "A_average[1, 1]",
                [
                    [0.44497696, -0.00261695, -0.31040307],
                    [0.50811474, -0.23493734, -0.23961183],
                    [0.11872677, 0.17255229, -0.22112197],
                ],
            ),
        ),
    ),
    Cell(
        "conv_backward",
        "conv_backward",
        "np.random.seed(1)\nA_prev = np.random.randn(10, 4, 4, 3)\nW = np.random.randn(2, 2, 3, 8)\n"
        'b = np.random.randn(1, 1, 1, 8)\nhparameters = {"pad": 2, "stride": 2}\n'
        "Z, cache_conv = conv_forward(A_prev, W, b, hparameters)\ndA, dW, db = conv_backward(Z, cache_conv)",
        (("np.mean(dA)", 1.45243777754), ("np.mean(dW)", 1.72699145831), ("np.mean(db)", 7.83923256462)),
    ),
    Cell(
        "create_mask_from_window",
        "create_mask_from_window",
        "np.random.seed(1)\nx = np.random.randn(2, 3)\nmask = create_mask_from_window(x)",
        (
            ("x", [[1.62434536, -0.61175641, -0.52817175], [-1.07296862, 0.86540763, -2.3015387]]),
            ("mask", [[True, False, False], [False, False, False]]),
        ),
    ),
    Cell(
        "distribute_value",
        "distribute_value",
        "a = distribute_value(2, (2, 2))",
        (("a", [[0.5, 0.5], [0.5, 0.5]]),),
    ),
    Cell(
        "pool_backward",
        "pool_backward",
        'np.random.seed(1)\nA_prev = np.random.randn(5, 5, 3, 2)\nhparameters = {"stride": 1, "f": 2}\n'
        "A, cache = pool_forward(A_prev, hparameters)\ndA = np.random.randn(5, 4, 2, 2)\n"
        'dA_prev = pool_backward(dA, cache, mode="max")\n'
        'dA_prev_average = pool_backward(dA, cache, mode="average")',
        (
            ("np.mean(dA)", 0.145713902729),
            ("dA_prev[1, 1]", [[0.0, 0.0], [5.05844394, -1.68282702], [0.0, 0.0]]),
            (
                "dA_prev_average[1, 1]",
                [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
            ),
        ),
    ),
)


def run_cell(cell: Cell, functions) -> dict:
    """Run ``cell`` with ``functions`` (a module or a mapping holding the eight) and return
    its namespace: the variables the cell made."""
    namespace = {"np": np}
    for name in FUNCTIONS:
        namespace[name] = functions[name] if isinstance(functions, dict) else getattr(functions, name)
    exec(compile(cell.code, f"<exercise cell {cell.name}>", "exec"), namespace)
    return namespace


def _decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text:
        return 17
    return len(text.split(".")[1]) if "." in text else 0


def tolerance(published) -> float:
    """Half a unit of the last digit printed: the bound a value that prints as
    ``published`` keeps (plus float64 rounding)."""
    values = np.ravel(np.asarray(published, dtype=np.float64))
    digits = max((_decimals(v) for v in values), default=0)
    return 0.5 * 10.0**-digits * (1 + 1e-6) + 8 * np.finfo(np.float64).eps * float(np.max(np.abs(values), initial=1))


def _text(value) -> str:
    if isinstance(value, tuple):
        return str(value)
    return np.array2string(np.asarray(value), precision=8, separator=" ", floatmode="maxprec")


def agrees(value, published) -> bool:
    """``value`` prints as the ``published`` Expected Output (to its digits)."""
    if published is None:
        return True
    if isinstance(published, tuple):
        return tuple(value) == published
    value = np.asarray(value)
    if np.asarray(published).dtype == bool:
        return value.shape == np.shape(published) and bool(np.all(value == np.asarray(published)))
    if value.shape != np.shape(published):
        return False
    return bool(np.all(np.abs(value - np.asarray(published, dtype=np.float64)) <= tolerance(published)))


def walkthrough(log=print, functions=None) -> int:
    """Run every cell with ``functions`` (default: cnnstep's) and log each printed value beside
    the published Expected Output; return how many values disagree."""
    if functions is None:
        import cnnstep as functions
    disagree = 0
    for cell in CELLS:
        log(f"== {cell.name}")
        log("\n".join(f"   >>> {line}" for line in cell.code.split("\n")))
        namespace = run_cell(cell, functions)
        for expression, published in cell.expected:
            value = eval(expression, namespace)
            ok = agrees(value, published)
            disagree += not ok
            mark = "ok" if ok else "DIFFERS"
            if np.ndim(value) == 0 or isinstance(value, tuple):
                plain = value if isinstance(value, tuple) else np.asarray(value).item()
                line = f"{expression} = {plain!r}"
                log(line if published is None else f"{line:<44}  Expected Output: {published!r:<18}  {mark}")
                continue
            shown = _text(value).replace("\n", "\n" + " " * 8)
            log(f"{expression} =\n        {shown}")
            if published is not None:
                expected = _text(published).replace("\n", "\n" + " " * 8)
                log(f"  Expected Output ({mark}):\n        {expected}")
        log("")
    log(
        f"{sum(len(c.expected) for c in CELLS) - disagree} of {sum(len(c.expected) for c in CELLS)} values as published"
    )
    return disagree
