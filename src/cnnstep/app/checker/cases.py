"""The cases each of the eight functions is checked on.

First the exercise's own cells (:mod:`cnnstep.app.exercise`, both editions), then small
seeded cases against :mod:`cnnstep.reference`, built around one base case per function
by changing one thing at a time — the stride (1, 2, 3), the pad (0 and more), the number
of examples, the window size (overlapping windows when f > stride, tiling ones when not),
non-square inputs, tied maxima (``np.round`` of normal draws) — plus a few crossings, so
that :mod:`~cnnstep.app.checker.diagnose` can tell which of them a failure depends on.

A case is code: ``setup`` (trusted: it draws the inputs with ``np.random.seed`` and
``np.random.randn`` exactly as the notebook does) and the call, so that the smallest
failing case is shown as code the learner can paste.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from cnnstep.app.exercise import CELLS, FUNCTIONS

__all__ = ["Case", "cases_for", "ALL_CASES"]


@dataclass(frozen=True)
class Case:
    """One check of one function.

    id : unique, e.g. ``"conv_forward #4"`` or ``"cell conv_forward (edition 1)"``
    setup : statements run before the call (the inputs), never the learner's code
    code : the statements that call the function (``result = f(...)``, or a whole cell)
    returns : the names of the call's results, e.g. ``("Z", "cache")``; empty for a cell
    outputs : for a cell, the expressions it prints
    inputs : the variables that must be left unmodified
    cache_of : the variables a returned cache must hold, as the very objects
    factors : what this case varies, for the diagnosis
    n_terms : the longest sum behind one output value (for the comparison's tolerance)
    size : the number of input values (the smallest failing case is shown)
    published : for a cell, the published value of each of its outputs
    """

    id: str
    function: str
    setup: str
    code: str
    returns: tuple = ()
    outputs: tuple = ()
    inputs: tuple = ()
    cache_of: tuple = ()
    factors: dict = field(default_factory=dict)
    n_terms: int = 1
    size: int = 0
    published: tuple = ()

    @property
    def is_cell(self) -> bool:
        return not self.returns

    def as_code(self) -> str:
        """The case as code to paste into a notebook."""
        if self.is_cell:
            return self.code
        call = self.code.split("=", 1)[1].strip()
        return f"{self.setup}\n{', '.join(self.returns)} = {call}".strip()


def _cell_cases():
    for cell in CELLS:
        yield Case(
            id=f"cell {cell.name}",
            function=cell.function,
            setup="",
            code=cell.code,
            outputs=tuple(expr for expr, _ in cell.expected),
            published=tuple(value for _, value in cell.expected),
            n_terms=64,
        )


def _randn(name: str, shape: tuple, ties: bool = False) -> str:
    draw = f"np.random.randn{shape}" if len(shape) > 1 else f"np.random.randn({shape[0]})"
    return f"{name} = np.round({draw})" if ties else f"{name} = {draw}"


def _square(h: int, w: int) -> str:
    return "square" if h == w else "non-square"


def _zero_pad():
    for k, (m, h, w, c, pad) in enumerate(
        [(2, 3, 3, 2, 0), (2, 3, 3, 2, 1), (2, 3, 3, 2, 2), (1, 3, 3, 1, 1), (2, 2, 4, 1, 1), (3, 2, 4, 1, 0)]
    ):
        yield Case(
            id=f"zero_pad #{k + 1}",
            function="zero_pad",
            setup=f"np.random.seed({k + 2})\n{_randn('X', (m, h, w, c))}",
            code=f"result = zero_pad(X, {pad})",
            returns=("X_pad",),
            inputs=("X",),
            factors={"pad": pad, "m": m, "shape": _square(h, w)},
            size=m * h * w * c,
        )


def _conv_single_step():
    for k, shape in enumerate([(1, 1, 1), (2, 2, 1), (3, 3, 2), (2, 3, 4)]):
        setup = "\n".join([f"np.random.seed({k + 2})", _randn("a_slice_prev", shape), _randn("W", shape)])
        yield Case(
            id=f"conv_single_step #{k + 1}",
            function="conv_single_step",
            setup=setup + "\n" + _randn("b", (1, 1, 1)),
            code="result = conv_single_step(a_slice_prev, W, b)",
            returns=("Z",),
            inputs=("a_slice_prev", "W", "b"),
            factors={"f": shape[0], "shape": _square(shape[0], shape[1])},
            n_terms=shape[0] * shape[1] * shape[2] + 1,
            size=2 * shape[0] * shape[1] * shape[2] + 1,
        )


CONV_BASE = {"m": 2, "h": 6, "w": 6, "c": 2, "f": 3, "n_c": 2, "stride": 1, "pad": 1}
CONV_CHANGES = [
    {},
    {"stride": 2},
    {"stride": 3},
    {"pad": 0},
    {"pad": 2},
    {"m": 1},
    {"m": 3},
    {"f": 1},
    {"f": 2},
    {"w": 5},
    {"n_c": 1, "c": 1},
    {"stride": 2, "pad": 0},
    {"stride": 3, "pad": 2},
    {"stride": 2, "f": 2},
    {"m": 1, "pad": 0, "f": 2, "h": 3, "w": 3, "c": 1, "n_c": 1},
]


def _conv_factors(p: dict) -> dict:
    return {
        "stride": p["stride"],
        "pad": p["pad"],
        "m": p["m"],
        "f": p["f"],
        "shape": _square(p["h"], p["w"]),
        "overlap": p["f"] > p["stride"],
    }


def _conv(function: str):
    for k, change in enumerate(CONV_CHANGES):
        p = {**CONV_BASE, **change}
        hparameters = f'{{"stride": {p["stride"]}, "pad": {p["pad"]}}}'
        lines = [
            f"np.random.seed({k + 2})",
            _randn("A_prev", (p["m"], p["h"], p["w"], p["c"])),
            _randn("W", (p["f"], p["f"], p["c"], p["n_c"])),
            _randn("b", (1, 1, 1, p["n_c"])),
            f"hparameters = {hparameters}",
        ]
        n_h = (p["h"] + 2 * p["pad"] - p["f"]) // p["stride"] + 1
        n_w = (p["w"] + 2 * p["pad"] - p["f"]) // p["stride"] + 1
        size = p["m"] * p["h"] * p["w"] * p["c"]
        common = {"factors": _conv_factors(p), "size": size, "function": function, "id": f"{function} #{k + 1}"}
        if function == "conv_forward":
            yield Case(
                setup="\n".join(lines),
                code="result = conv_forward(A_prev, W, b, hparameters)",
                returns=("Z", "cache"),
                inputs=("A_prev", "W", "b", "hparameters"),
                cache_of=("A_prev", "W", "b", "hparameters"),
                n_terms=p["f"] * p["f"] * p["c"] + 1,
                **common,
            )
        else:
            lines += ["Z, cache = conv_forward(A_prev, W, b, hparameters)", "dZ = np.random.randn(*Z.shape)"]
            yield Case(
                setup="\n".join(lines),
                code="result = conv_backward(dZ, cache)",
                returns=("dA_prev", "dW", "db"),
                inputs=("dZ", "cache"),
                n_terms=p["m"] * n_h * n_w * max(p["n_c"], p["f"] * p["f"]) + 1,
                **common,
            )


POOL_BASE = {"m": 2, "h": 5, "w": 5, "c": 2, "f": 2, "stride": 1, "ties": False}
POOL_CHANGES = [
    {},
    {"stride": 2},
    {"f": 3, "stride": 2},
    {"f": 3, "stride": 3, "h": 7, "w": 7},
    {"f": 3},
    {"m": 1},
    {"m": 3},
    {"w": 6},
    {"c": 1},
    {"ties": True},
    {"ties": True, "stride": 2},
    {"ties": True, "f": 3, "stride": 2},
]


def _pool(function: str):
    k = 0
    for mode in ("max", "average"):
        for change in POOL_CHANGES:
            p = {**POOL_BASE, **change}
            if p["ties"] and mode == "average":
                continue
            k += 1
            lines = [
                f"np.random.seed({k + 1})",
                _randn("A_prev", (p["m"], p["h"], p["w"], p["c"]), ties=p["ties"]),
                f'hparameters = {{"stride": {p["stride"]}, "f": {p["f"]}}}',
            ]
            factors = {
                "mode": mode,
                "stride": p["stride"],
                "f": p["f"],
                "m": p["m"],
                "shape": _square(p["h"], p["w"]),
                "overlap": p["f"] > p["stride"],
                "ties": p["ties"],
            }
            common = {
                "factors": factors,
                "size": p["m"] * p["h"] * p["w"] * p["c"],
                "function": function,
                "id": f"{function} #{k}",
                "n_terms": p["f"] * p["f"],
            }
            if function == "pool_forward":
                yield Case(
                    setup="\n".join(lines),
                    code=f'result = pool_forward(A_prev, hparameters, mode="{mode}")',
                    returns=("A", "cache"),
                    inputs=("A_prev", "hparameters"),
                    cache_of=("A_prev", "hparameters"),
                    **common,
                )
            else:
                lines += [
                    f'A, cache = pool_forward(A_prev, hparameters, mode="{mode}")',
                    "dA = np.random.randn(*A.shape)",
                ]
                yield Case(
                    setup="\n".join(lines),
                    code=f'result = pool_backward(dA, cache, mode="{mode}")',
                    returns=("dA_prev",),
                    inputs=("dA", "cache"),
                    **common,
                )


MASK_WINDOWS = [
    ("np.random.randn(2, 2)", False),
    ("np.random.randn(3, 3)", False),
    ("np.random.randn(3, 2)", False),
    ("-np.abs(np.random.randn(2, 3)) - 1.0", False),
    ("np.array([[1.0, 3.0], [3.0, 0.5]])", True),
    ("np.array([[2.0, -1.0, 2.0], [0.0, 2.0, 1.0]])", True),
    ("np.array([[-1.0, -1.0], [-1.0, -1.0]])", True),
    ("np.random.randn(1, 1)", False),
]


def _mask():
    for k, (draw, ties) in enumerate(MASK_WINDOWS):
        yield Case(
            id=f"create_mask_from_window #{k + 1}",
            function="create_mask_from_window",
            setup=f"np.random.seed({k + 2})\nx = {draw}",
            code="result = create_mask_from_window(x)",
            returns=("mask",),
            inputs=("x",),
            factors={"ties": ties},
            size=4,
        )


DISTRIBUTE = [("3.0", (2, 3)), ("1.5", (3, 1)), ("-4.0", (2, 2)), ("5", (3, 3)), ("0.7", (1, 4)), ("2.5", (4, 2))]


def _distribute():
    for k, (dz, shape) in enumerate(DISTRIBUTE):
        yield Case(
            id=f"distribute_value #{k + 1}",
            function="distribute_value",
            setup=f"dz = {dz}\nshape = {shape}",
            code="result = distribute_value(dz, shape)",
            returns=("a",),
            inputs=("shape",),
            factors={"shape": _square(*shape)},
            size=1,
        )


def _generate():
    by_function = {name: [] for name in FUNCTIONS}
    for case in _cell_cases():
        by_function[case.function].append(case)
    generators = [
        _zero_pad(),
        _conv_single_step(),
        _conv("conv_forward"),
        _conv("conv_backward"),
        _pool("pool_forward"),
        _mask(),
        _distribute(),
        _pool("pool_backward"),
    ]
    for generator in generators:
        for case in generator:
            by_function[case.function].append(case)
    return {name: tuple(cases) for name, cases in by_function.items()}


ALL_CASES = _generate()


def cases_for(function: str) -> tuple:
    """The cases of one of the eight functions, the exercise's cells first."""
    return ALL_CASES[function]


@functools.cache
def expected(case_id: str):
    """The reference's outcome on a case (computed once per process)."""
    from cnnstep import reference
    from cnnstep.app.checker.runner import LineCounter, run_case

    case = next(c for cases in ALL_CASES.values() for c in cases if c.id == case_id)
    import numpy as np

    ns_base = {"np": np, **{name: getattr(reference, name) for name in FUNCTIONS}}
    return run_case(ns_base, case, {}, LineCounter())
